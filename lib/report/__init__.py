"""The offline HTML report: bounded extracts (extract), chart specs (charts), page (html), flow (build)."""
