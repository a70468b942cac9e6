"""Ingest: raw shop exports into the canonical `events` and `items` tables, with every row accounted for."""
