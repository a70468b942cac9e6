"""Training-free graph propagation of item embeddings (LightGCN / SGC style), as joins.

    x_0(i)     = [ text_weight * unit(text_i) , behaviour_weight * unit(behaviour_i) ]   (0 block if absent)
    A_hat      = D^-1/2 (A + self_loop * I) D^-1/2,   D = diag(row sums of A + self_loop)
    x_{k+1}    = A_hat x_k                              (k = 0 .. steps - 1)
    z          = sum_k layer_weights[k] * x_k           (LightGCN: equal weights; SGC: only x_K)

A is the symmetric fused weight (fusion.symmetric_weights). An item with a text vector but no
purchases starts with a zero behaviour block and gets its neighbours' behaviour from the first step.
An item without edges keeps its vector (its only neighbour is itself). Each step is one join of the
edge table with the current vectors and one group-by that sums arrays; no part of the graph reaches
the driver.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from lib.graph.arrays import cut_lineage, scaled, sum_arrays, unit


@dataclass(frozen=True)
class PropagationParams:
    steps: int = 2
    layer_weights: tuple[float, ...] = ()  # steps + 1 weights for x_0..x_K; empty = equal (LightGCN)
    self_loop: float = 1.0
    text_weight: float = 1.0
    behaviour_weight: float = 1.0

    def weights(self) -> tuple[float, ...]:
        if not self.layer_weights:
            return tuple(1.0 / (self.steps + 1) for _ in range(self.steps + 1))
        return tuple(float(w) for w in self.layer_weights)

    def validate(self) -> None:
        if self.steps < 0:
            raise ValueError(f"propagation.steps must be >= 0, got {self.steps}")
        if self.layer_weights and len(self.layer_weights) != self.steps + 1:
            raise ValueError(
                f"propagation.layer_weights needs steps + 1 = {self.steps + 1} values, got {len(self.layer_weights)}"
            )
        if any(w < 0 for w in self.layer_weights) or self.self_loop < 0:
            raise ValueError("propagation: layer_weights and self_loop must be >= 0")
        if self.text_weight < 0 or self.behaviour_weight < 0:
            raise ValueError("propagation: text_weight and behaviour_weight must be >= 0")


def vector_dimension(embeddings: DataFrame) -> int:
    """The length of the first vector (one row to the driver); 0 when the frame is empty."""
    row = embeddings.select(F.size("vector").alias("d")).first()
    return 0 if row is None else int(row["d"])


def initial_vectors(text: DataFrame | None, behaviour: DataFrame | None, params: PropagationParams) -> DataFrame:
    """(item_id, vector array<double>): the two unit-normalised blocks side by side (docstring above).

    Either input may be None (a missing signal); at least one must have rows.
    """
    blocks = [(frame, weight) for frame, weight in ((text, params.text_weight), (behaviour, params.behaviour_weight))
              if frame is not None]
    dims = [vector_dimension(frame) for frame, _ in blocks]
    if not any(dims):
        raise ValueError("propagation needs text or behaviour embeddings; both are missing or empty")
    parts = []
    for index, (frame, weight) in enumerate(blocks):
        if dims[index] == 0:
            continue
        normalised = frame.select("item_id", scaled(unit(F.col("vector")), F.lit(float(weight))).alias("block"))
        parts.append((index, normalised.where(F.col("block").isNotNull())))
    keys = parts[0][1].select("item_id")
    for _, part in parts[1:]:
        keys = keys.unionByName(part.select("item_id"))
    joined = keys.distinct()
    pieces = []
    for index, part in parts:
        joined = joined.join(part.withColumnRenamed("block", f"block_{index}"), on="item_id", how="left")
        zeros = F.array_repeat(F.lit(0.0).cast("double"), dims[index])
        pieces.append(F.coalesce(F.col(f"block_{index}"), zeros))
    return joined.select("item_id", F.concat(*pieces).alias("vector"))


def normalised_adjacency(symmetric: DataFrame, nodes: DataFrame, self_loop: float) -> DataFrame:
    """(src_item_id, dst_item_id, weight) of A_hat, self-loops included, for `nodes` ∪ graph items."""
    degree = symmetric.groupBy(F.col("src_item_id").alias("item_id")).agg(F.sum("weight").alias("degree"))
    everyone = (
        nodes.select("item_id")
        .unionByName(symmetric.select(F.col("src_item_id").alias("item_id")))
        .distinct()
        .join(degree, on="item_id", how="left")
        .select("item_id", (F.coalesce(F.col("degree"), F.lit(0.0)) + F.lit(float(self_loop))).alias("degree"))
    )
    src_degree = everyone.select(F.col("item_id").alias("src_item_id"), F.col("degree").alias("d_src"))
    dst_degree = everyone.select(F.col("item_id").alias("dst_item_id"), F.col("degree").alias("d_dst"))
    off_diagonal = (
        symmetric.join(src_degree, on="src_item_id", how="inner")
        .join(dst_degree, on="dst_item_id", how="inner")
        .select("src_item_id", "dst_item_id", (F.col("weight") / F.sqrt(F.col("d_src") * F.col("d_dst"))).alias("weight"))
    )
    # an isolated item (degree 0, no self-loop) keeps its vector: weight 1 on itself
    diagonal = everyone.select(
        F.col("item_id").alias("src_item_id"), F.col("item_id").alias("dst_item_id"),
        F.when(F.col("degree") > 0, F.lit(float(self_loop)) / F.col("degree")).otherwise(F.lit(1.0)).alias("weight"),
    ).where(F.col("weight") > F.lit(0.0))
    return off_diagonal.unionByName(diagonal)


def propagation_step(adjacency: DataFrame, vectors: DataFrame) -> DataFrame:
    """A_hat x: for each src, sum over dst of weight * x(dst)."""
    return (
        adjacency.join(vectors.withColumnRenamed("item_id", "dst_item_id"), on="dst_item_id", how="inner")
        .groupBy(F.col("src_item_id").alias("item_id"))
        .agg(sum_arrays(F.collect_list(scaled(F.col("vector"), F.col("weight")))).alias("vector"))
    )


def propagate(initial: DataFrame, symmetric: DataFrame, params: PropagationParams) -> DataFrame:
    """(item_id, vector array<double>) = z of the module docstring, for every item reached."""
    params.validate()
    weights = params.weights()
    adjacency = cut_lineage(normalised_adjacency(symmetric, initial, params.self_loop))
    current = cut_lineage(initial.select("item_id", F.col("vector").cast("array<double>")))
    layers = [current.select("item_id", scaled(F.col("vector"), F.lit(weights[0])).alias("vector"))]
    for step in range(1, params.steps + 1):
        current = cut_lineage(propagation_step(adjacency, current))
        layers.append(current.select("item_id", scaled(F.col("vector"), F.lit(weights[step])).alias("vector")))
    combined = layers[0]
    for layer in layers[1:]:
        combined = combined.unionByName(layer)
    return combined.groupBy("item_id").agg(sum_arrays(F.collect_list("vector")).alias("vector"))
