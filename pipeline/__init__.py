"""Shared torch core for the GAN / WGAN / AVB comparison pipeline.

No CLI and no decisions about where files go: `stages/` owns those.
"""

from pipeline.perf.blas import load_shim

load_shim()  # before anything imports torch (pipeline/perf/blas.py)
