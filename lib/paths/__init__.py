"""Purchase paths: what customers buy next (sequences, PrefixSpan paths, bought-after, item2vec)."""
