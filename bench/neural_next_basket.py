"""A small GRU next-item model in JAX (CPU): the neural yardstick of bench/bench_paths.py --neural.

Bench code, not lib/: it is measured against the Spark-native next-purchase recommender, not served.
Optional dependency: `pip install -e '.[neural]'` (jax[cpu] + optax; CPU wheels from PyPI, no CUDA).

Model (GRU4Rec-like, one layer): item embedding (dim `embed`) -> GRU (`hidden` units) -> a dense
softmax over the training catalogue; trained with cross-entropy on the next item at every position
of each user's time-ordered item sequence (a basket's items in item-id order, baskets in time order),
Adam, `epochs` passes. Top-k for a user come from the hidden state after the last `max_len` items.

Data to the driver, bounded: `collect_sequences` returns at most `max_users` rows (an error beyond
that, never a silent cut), each the user's last `history` items; training cuts them into windows of
`max_len`. Everything is seeded (weights, batch order); XLA runs on at most 2 cores
(`limit_to_two_cores`, called before jax is imported).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

PAD = 0  # index 0 of the vocabulary: padding, never recommended


@dataclass(frozen=True)
class NeuralParams:
    embed: int = 64
    hidden: int = 64
    max_len: int = 50  # items fed per window / for prediction
    history: int = 200  # items per user collected for training (last ones), cut into max_len windows
    epochs: int = 10
    batch: int = 128
    learning_rate: float = 2e-3
    seed: int = 7
    max_users: int = 50_000  # bound on the rows collected to the driver


def limit_to_two_cores() -> None:
    """Pin this process's future threads (XLA's pool) to at most 2 CPUs; call before importing jax."""
    cpus = sorted(os.sched_getaffinity(0))[:2]
    os.sched_setaffinity(0, cpus)
    os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=1")
    os.environ.setdefault("JAX_PLATFORMS", "cpu")


def collect_sequences(baskets: DataFrame, as_of, params: NeuralParams) -> pd.DataFrame:
    """(user_id, items: list[str]) per user: the last `history` items of their baskets up to `as_of`
    (a basket's items are already item-id sorted by lib.paths.sequences.user_baskets)."""
    in_order = Window.partitionBy("user_id").orderBy("seq").rowsBetween(Window.unboundedPreceding,
                                                                        Window.unboundedFollowing)
    per_user = (
        baskets.where(F.col("basket_date") <= F.lit(as_of))
        .select("user_id", F.flatten(F.collect_list("items").over(in_order)).alias("all_items"))
        .dropDuplicates(["user_id"])
        # slice(-n) of an array shorter than n is empty in Spark: start at max(size - n + 1, 1) instead
        .select("user_id", F.slice("all_items", F.greatest(F.size("all_items") - F.lit(params.history - 1), F.lit(1)),
                                   F.lit(params.history)).alias("items"))
    )
    n_users = per_user.count()
    if n_users > params.max_users:
        raise ValueError(f"{n_users:,} users with training baskets > max_users {params.max_users:,}: "
                         "raise it knowingly, or sample users, before collecting their sequences")
    return per_user.orderBy("user_id").toPandas()


def vocabulary(sequences: pd.DataFrame) -> list[str]:
    """Item ids of the training sequences, sorted; position + 1 is the item's index (0 = PAD)."""
    return sorted({item for items in sequences["items"] for item in items})


def _windows(sequences: pd.DataFrame, index: dict[str, int], max_len: int) -> np.ndarray:
    """int32 [n, max_len + 1], left-padded: non-overlapping windows from each sequence's end, each
    one item longer than max_len so that inputs = w[:, :-1], targets = w[:, 1:]."""
    rows = []
    for items in sequences["items"]:
        ids = [index[i] for i in items]
        end = len(ids)
        while end > 1:
            start = max(0, end - max_len - 1)
            window = ids[start:end]
            rows.append([PAD] * (max_len + 1 - len(window)) + window)
            end = start + 1 if start > 0 else 0
    return np.asarray(rows, dtype=np.int32).reshape(-1, max_len + 1)


def _last_items(sequences: pd.DataFrame, index: dict[str, int], max_len: int) -> np.ndarray:
    rows = []
    for items in sequences["items"]:
        ids = [index[i] for i in items if i in index][-max_len:]
        rows.append([PAD] * (max_len - len(ids)) + ids)
    return np.asarray(rows, dtype=np.int32).reshape(-1, max_len)


class GRUModel:
    """Init, train and score; the arrays live in `self.weights` (a dict of jax arrays)."""

    def __init__(self, n_items: int, params: NeuralParams):
        import jax
        import jax.numpy as jnp
        import optax

        self.jax, self.jnp, self.optax, self.params = jax, jnp, optax, params
        self.n_vocab = n_items + 1
        e, h, v = params.embed, params.hidden, self.n_vocab
        keys = jax.random.split(jax.random.PRNGKey(params.seed), 4)
        glorot = jax.nn.initializers.glorot_uniform()
        self.weights = {
            "emb": jax.random.normal(keys[0], (v, e)) * 0.05,
            "wx": glorot(keys[1], (e, 3 * h)), "wh": glorot(keys[2], (h, 3 * h)),
            "bx": jnp.zeros(3 * h), "bh": jnp.zeros(3 * h),
            "wo": glorot(keys[3], (h, v)), "bo": jnp.zeros(v),
        }
        self.optimizer = optax.adam(params.learning_rate)
        self._step = jax.jit(self._train_step)
        self._final = jax.jit(self._final_state)

    def n_weights(self) -> int:
        return int(sum(w.size for w in self.weights.values()))

    def _hidden_states(self, w, x):
        """[B, L] item indices -> [B, L, H] GRU states (padding positions keep the previous state)."""
        jnp, jax = self.jnp, self.jax
        h_dim = self.params.hidden
        gx = w["emb"][x] @ w["wx"] + w["bx"]  # [B, L, 3H]
        mask = (x != PAD)[..., None]

        def cell(h, inputs):
            g, m = inputs
            gh = h @ w["wh"] + w["bh"]
            r = jax.nn.sigmoid(g[:, :h_dim] + gh[:, :h_dim])
            z = jax.nn.sigmoid(g[:, h_dim:2 * h_dim] + gh[:, h_dim:2 * h_dim])
            n = jnp.tanh(g[:, 2 * h_dim:] + r * gh[:, 2 * h_dim:])
            h_new = jnp.where(m, (1.0 - z) * n + z * h, h)
            return h_new, h_new

        h0 = jnp.zeros((x.shape[0], h_dim))
        _, states = jax.lax.scan(cell, h0, (jnp.swapaxes(gx, 0, 1), jnp.swapaxes(mask, 0, 1)))
        return jnp.swapaxes(states, 0, 1)

    def _loss(self, w, batch):
        jnp, jax = self.jnp, self.jax
        x, y = batch[:, :-1], batch[:, 1:]
        logits = self._hidden_states(w, x) @ w["wo"] + w["bo"]  # [B, L, V]
        logp = jax.nn.log_softmax(logits.at[..., PAD].set(-1e9))
        nll = -jnp.take_along_axis(logp, y[..., None], axis=-1)[..., 0]
        valid = ((x != PAD) & (y != PAD)).astype(nll.dtype)
        return jnp.sum(nll * valid) / jnp.maximum(jnp.sum(valid), 1.0)

    def _train_step(self, w, opt_state, batch):
        loss, grads = self.jax.value_and_grad(self._loss)(w, batch)
        updates, opt_state = self.optimizer.update(grads, opt_state, w)
        return self.optax.apply_updates(w, updates), opt_state, loss

    def _final_state(self, w, x):
        logits = self._hidden_states(w, x)[:, -1, :] @ w["wo"] + w["bo"]
        return self.jax.nn.softmax(logits.at[:, PAD].set(-1e9))

    def fit(self, windows: np.ndarray, log=print) -> list[float]:
        rng = np.random.RandomState(self.params.seed)
        opt_state = self.optimizer.init(self.weights)
        b = self.params.batch
        losses = []
        for epoch in range(self.params.epochs):
            started, order, total, n = time.monotonic(), rng.permutation(len(windows)), 0.0, 0
            for i in range(0, len(order), b):
                chunk = windows[order[i:i + b]]
                if len(chunk) < b:  # one shape for jit: pad the last batch with all-PAD rows (no loss)
                    chunk = np.vstack([chunk, np.zeros((b - len(chunk), chunk.shape[1]), np.int32)])
                self.weights, opt_state, loss = self._step(self.weights, opt_state, chunk)
                total, n = total + float(loss), n + 1
            losses.append(total / max(n, 1))
            log(f"    epoch {epoch + 1}/{self.params.epochs}: mean loss {losses[-1]:.4f} "
                f"({time.monotonic() - started:.1f}s)")
        return losses

    def scores(self, last: np.ndarray) -> np.ndarray:
        """[U, V] next-item probabilities from each row of last items (batched, one jit shape)."""
        b, out = self.params.batch, []
        for i in range(0, len(last), b):
            chunk = last[i:i + b]
            n = len(chunk)
            if n < b:
                chunk = np.vstack([chunk, np.zeros((b - n, chunk.shape[1]), np.int32)])
            out.append(np.asarray(self._final(self.weights, chunk))[:n])
        return np.vstack(out) if out else np.zeros((0, self.n_vocab), np.float32)


@dataclass
class Fitted:
    model: GRUModel
    items: list[str]  # index - 1 -> item_id
    index: dict[str, int]
    n_windows: int
    losses: list[float]


def fit_neural(sequences: pd.DataFrame, params: NeuralParams, log=print) -> Fitted:
    items = vocabulary(sequences)
    index = {item: i + 1 for i, item in enumerate(items)}
    windows = _windows(sequences, index, params.max_len)
    model = GRUModel(len(items), params)
    log(f"    {len(sequences):,} users, {len(items):,} items, {len(windows):,} windows of "
        f"{params.max_len}, {model.n_weights():,} weights")
    losses = model.fit(windows, log)
    return Fitted(model, items, index, len(windows), losses)


def recommend_neural(fitted: Fitted, sequences: pd.DataFrame, users: list[str], k: int,
                     exclude: dict[str, set[str]] | None = None) -> pd.DataFrame:
    """RECOMMENDATIONS_SCHEMA rows (pandas) for `users` that have a training sequence: top-k by
    probability, ties by item_id; items in `exclude[user]` are never listed (None: exclude nothing)."""
    wanted = sequences[sequences["user_id"].isin(set(users))].reset_index(drop=True)
    probs = fitted.model.scores(_last_items(wanted, fitted.index, fitted.model.params.max_len))
    rows = []
    for u, user in enumerate(wanted["user_id"]):
        p = probs[u, 1:].astype(np.float64)
        if exclude:
            for item in exclude.get(user, ()):
                if item in fitted.index:
                    p[fitted.index[item] - 1] = -1.0
        top = np.lexsort((np.arange(len(p)), -p))[:k]  # items are sorted, so index order = item_id order
        rows.extend((user, r + 1, fitted.items[i], float(p[i]), "neural_gru") for r, i in enumerate(top)
                    if p[i] >= 0)
    return pd.DataFrame(rows, columns=["user_id", "rank", "item_id", "score", "source"])
