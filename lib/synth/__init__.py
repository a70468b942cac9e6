"""The synthetic shop: realistic raw events with planted ground truth, generated with Spark."""
