"""pipeline/perf/blas.py: when MKL's AMD shim loads, and that the records say so."""

import subprocess
import sys

import pytest

from pipeline.perf import blas
from pipeline.training import loop as train


def test_not_loaded_after_torch(monkeypatch, tmp_path):
    # torch is imported by now: MKL has chosen its kernels, so loading the shim would change nothing
    lib = tmp_path / "libmkl_amd.so"
    lib.write_bytes(b"")
    monkeypatch.setattr(blas, "loaded", False)
    monkeypatch.setattr(blas, "applies", lambda: True)
    assert "torch" in sys.modules
    assert blas.load_shim(lib) is False


def test_off_unless_asked_for_or_missing(monkeypatch, tmp_path):
    lib = tmp_path / "libmkl_amd.so"
    lib.write_bytes(b"")
    opened = []
    monkeypatch.setattr(blas.ctypes, "CDLL", lambda path, mode: opened.append(path))
    monkeypatch.setattr(blas, "loaded", False)
    monkeypatch.setattr(blas, "applies", lambda: True)
    monkeypatch.delitem(sys.modules, "torch")  # as in a fresh process; restored after the test
    monkeypatch.delenv(blas.ENV, raising=False)  # the default: off, in every process alike
    assert blas.load_shim(lib) is False and opened == []
    monkeypatch.setenv(blas.ENV, "0")
    assert blas.load_shim(lib) is False
    monkeypatch.setenv(blas.ENV, "1")
    assert blas.load_shim(tmp_path / "absent.so") is False
    assert blas.load_shim(lib) is True and opened == [str(lib)]


def test_cpu_name_says_which_kernels(monkeypatch):
    monkeypatch.setattr(blas, "loaded", False)
    plain = train.cpu_name()
    monkeypatch.setattr(blas, "loaded", True)
    shimmed = train.cpu_name()
    assert "MKL's Intel path" in shimmed and "MKL's Intel path" not in plain
    assert shimmed.endswith(plain[plain.rindex(" ("):])  # the kernel set stays last


@pytest.mark.skipif(not (blas.SHIM.is_file() and blas.applies()), reason="needs an AMD CPU with AVX-512 and `make setup`'s shim")
@pytest.mark.parametrize("switch, expected", [("1", "True"), ("0", "False")])
def test_fresh_process_loads_it(switch, expected):
    code = "import stages, pipeline.perf.blas as b, torch; print(b.loaded)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={"PATH": "", blas.ENV: switch})
    assert out.stdout.strip() == expected


def test_stays_out_without_avx512(monkeypatch, tmp_path):
    # measured on an AVX2-only EPYC (Zen 1): MKL's Intel kernels ran 0.63x as fast as its generic ones
    lib = tmp_path / "libmkl_amd.so"
    lib.write_bytes(b"")
    opened = []
    monkeypatch.setattr(blas.ctypes, "CDLL", lambda path, mode: opened.append(path))
    monkeypatch.setattr(blas, "loaded", False)
    monkeypatch.delitem(sys.modules, "torch")
    monkeypatch.setenv(blas.ENV, "1")
    monkeypatch.setattr(blas, "_amd", lambda: True)
    monkeypatch.setattr(blas, "_avx512", lambda: False)
    assert blas.load_shim(lib) is False and opened == []
    monkeypatch.setattr(blas, "_avx512", lambda: True)
    assert blas.load_shim(lib) is True and opened == [str(lib)]
