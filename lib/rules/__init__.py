"""Association rules: baskets -> FPGrowth itemsets -> rules with metrics, significance and pruning.

One small module per step: baskets, mining, metrics, significance, pruning, outputs, report;
`pipeline` chains them for the job and the benchmarks.
"""
