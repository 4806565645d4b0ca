"""Typer commands, one module per DVC stage; thin over `pipeline/`."""

import pipeline  # noqa: F401  first: it loads MKL's AMD shim before torch (pipeline/perf/blas.py)
