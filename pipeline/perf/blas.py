"""MKL's fast kernels on AMD CPUs, for the pipeline's processes.

torch's x86 wheels link Intel's MKL for float32 matmuls, and MKL runs its
generic AVX2 kernels on any CPU that is not Intel's, AVX-512 or not. The
small shared library that `make setup` builds on AMD machines
(`pipeline/perf/native/mkl_amd.c`, into `<venv>/lib/`) answers MKL's vendor check
with "Intel", so MKL chooses its kernels by the CPU's features instead; on the
2-core AMD EPYC (family 26, Zen 5) of this project's runs that made the nets'
matmuls 2.3x and their training steps 1.5-1.7x faster. It applies only where the
CPU has AVX-512: on an AVX2-only EPYC (family 23, Zen 1) MKL's Intel AVX2
kernels ran the same matmuls at 0.63x the speed of its generic ones (24 against
38 GFLOP/s, one thread), so there the shim stays out.

It is off by default, and opt-in with `GAN_COMPARE_MKL_SHIM=1` in the
environment of the whole run. It must be in a process before torch is, and
`pipeline/__init__.py` loads it first thing, but a process that imported torch
first (a test runner, a notebook) cannot get it: with the shim on by default
such a process and the workers it spawns ran different kernels, so the same run
wrote other bytes and a resume checkpoint looked like another configuration.
Off by default, every process of a run makes the same choice. The training
records say which (`cpu` in `metrics/train/...`), since other kernels round
otherwise. This module must not import torch.
"""

from __future__ import annotations

import ctypes
import os
import sys
from pathlib import Path

SHIM = Path(sys.prefix) / "lib" / "libmkl_amd.so"
ENV = "GAN_COMPARE_MKL_SHIM"

loaded = False  # whether this process runs MKL with the shim


def _cpuinfo_has(prefix: str, word: str) -> bool:
    """Whether the first `prefix` line of /proc/cpuinfo holds `word` as a whole word."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith(prefix):
                    return word in line.split(":", 1)[-1].split()
    except OSError:
        pass
    return False


def _amd() -> bool:
    return _cpuinfo_has("vendor_id", "AuthenticAMD")


def _avx512() -> bool:
    return _cpuinfo_has("flags", "avx512f")


def applies() -> bool:
    """An AMD CPU with AVX-512: the only kind where the shim was measured to help."""
    return _amd() and _avx512()


def load_shim(path: Path = SHIM) -> bool:
    """Load the shim if asked for (GAN_COMPARE_MKL_SHIM=1) and it applies: an AMD CPU with AVX-512, the library
    built, torch not yet loaded (afterwards MKL has made its choice). Returns whether this process now runs with it."""
    global loaded
    if loaded:
        return True
    if os.environ.get(ENV, "0") != "1" or "torch" in sys.modules or not path.is_file() or not applies():
        return False
    try:
        ctypes.CDLL(str(path), mode=os.RTLD_GLOBAL)
    except OSError:
        return False
    loaded = True
    return True
