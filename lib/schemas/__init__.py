"""Table names and their schemas: the contracts between jobs. One module per topic."""
