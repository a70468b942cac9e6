"""The product graph: fused item-item edges, communities, PageRank hubs, bridges, bundles, propagation.

Graph algorithms are DataFrame iterations (joins + aggregations, fixed iteration counts, lineage cut
with localCheckpoint); GraphFrames is not used (docs/graph.md says why).
"""
