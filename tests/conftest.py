"""Shared fixtures: params from the shipped params.yaml, the MNIST files of DATA_ROOT, a scratch repo copy."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# The MNIST tests read real IDX files from an optional folder (a test never downloads).
DATA_ROOT = os.environ.get("DATA_ROOT")


@pytest.fixture
def mnist_dir(tmp_path: Path) -> Path:
    """A scratch copy of $DATA_ROOT's MNIST IDX files (train-images-idx3-ubyte.gz and the other three)."""
    if not DATA_ROOT:
        pytest.skip("MNIST tests need the raw IDX files: run with DATA_ROOT=/path/to/mnist "
                    "(e.g. `make test DATA_ROOT=~/data/mnist`)")
    src = Path(DATA_ROOT).expanduser()
    if not (src / "train-images-idx3-ubyte.gz").exists() and not (src / "train-images-idx3-ubyte").exists():
        pytest.skip(f"DATA_ROOT={src} holds no MNIST IDX files (train-images-idx3-ubyte[.gz], ...)")
    dst = tmp_path / "mnist"
    shutil.copytree(src, dst)
    return dst


MODEL_SECTIONS = ("gan", "wgan", "wgan_gp", "avb", "vae")


def shipped() -> dict:
    """params.yaml as a fresh mapping: the one source of values every test's params start from."""
    import yaml

    return yaml.safe_load((REPO / "params.yaml").read_text())


def overlaid(base: dict, keys: dict) -> dict:
    """`keys` on top of `base`, a mapping into a mapping key by key: a section keeps the keys `keys` leaves
    out (per_dataset and theory overlays too); any other value, None included, replaces."""
    out = dict(base)
    for k, v in keys.items():
        out[k] = overlaid(base[k], v) if isinstance(v, dict) and isinstance(base.get(k), dict) else v
    return out


def shipped_with(keys: dict) -> dict:
    """params.yaml's mapping with `keys` on top, unvalidated (for a test of what validation refuses)."""
    return overlaid(shipped(), keys)


def params_with(raw: dict | None = None):
    """Validated Params: params.yaml with a test's keys on top (model sections' `batch_size` and
    `lr_decay` moved where params.yaml says them, through `shared_keys`)."""
    from pipeline.config import parse_params

    return parse_params(shipped_with(shared_keys(raw or {})))


def section_with(path: str, **keys):
    """The section at dotted `path` (`net`, `eval.ais`, `theory.lines`): params.yaml's keys with `keys` on
    top, validated as that section alone (without the checks between sections, e.g. dcgan's data sets)."""
    from pipeline.config import Params

    cls, raw = Params, shipped()
    for name in path.split("."):
        cls, raw = cls.model_fields[name].annotation, raw[name]
    return cls.model_validate(overlaid(raw, keys))


def shared_keys(raw: dict) -> dict:
    """A params mapping whose model sections set `batch_size`, `lr_decay` or `steps` (a unit test's tiny
    model), rewritten as params.yaml must say them: one batch size (`budget.batch_size`) and lr schedule
    (`train.lr_schedule`) for every model; `steps` is dropped (the budget sets it; `fit` takes it)."""
    out = {k: dict(v) if isinstance(v, dict) else v for k, v in raw.items()}
    for name in MODEL_SECTIONS:
        sec = out.get(name)
        if not isinstance(sec, dict):
            continue
        if "batch_size" in sec:
            out["budget"] = out.get("budget", {}) | {"batch_size": sec.pop("batch_size")}
        if "lr_decay" in sec:
            out["train"] = out.get("train", {}) | {"lr_schedule": sec.pop("lr_decay")}
        sec.pop("steps", None)
    return out


def build_tiny(model: str, raw: dict, meta, steps: int | None = None):
    """The step object `build` makes from params.yaml with `raw` on top (`params_with`), seeded, with
    `steps` for a linear lr schedule (the training stage sets it from the FLOP budget)."""
    import torch

    from pipeline.models.core import build

    torch.manual_seed(0)
    step = build(model, params_with(raw), meta)
    if steps is not None:
        step.p = step.p.model_copy(update={"steps": steps})
    return step


@pytest.fixture
def torch_settings_restored():
    """torch's thread count and deterministic mode as they were before the test (stages pin them)."""
    import torch

    threads, det = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    yield
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(det)


def venv_env() -> dict:
    """Environment where `python` and `dvc` are this interpreter's (DVC stages call `python`)."""
    env = dict(os.environ)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    env["PYTHONPATH"] = ""  # the copy's own packages, from its working directory
    return env


def copy_repo(dst: Path) -> Path:
    """A fresh git + DVC repository holding the tracked sources of this one (no outputs)."""
    # the sources git knows (tracked, or new and not ignored); not the committed results (the run under
    # test must write its own) nor any output a stage writes
    outputs = ("metrics/", "logs/", "reports/", "models/", "data/")
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=REPO, check=True,
                            capture_output=True, text=True).stdout.split("\n")
    for rel in listed:
        if rel and not rel.startswith(outputs) and (REPO / rel).is_file():
            (dst / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / rel, dst / rel)
    for p in ("dvc.lock",):
        (dst / p).unlink(missing_ok=True)
    run = lambda *a: subprocess.run(a, cwd=dst, check=True, capture_output=True, env=venv_env())
    run("git", "init", "-q")
    run("git", "config", "user.email", "test@example.com")
    run("git", "config", "user.name", "test")
    run("git", "add", "-A")
    run("git", "commit", "-qm", "copy")
    return dst


# pytest-xdist (pyproject.toml) gives each worker whole files (`--dist loadfile`), so a module fixture is
# built once, and in the order collected (`--no-loadscope-reorder`; by default the files with the most
# tests go first). test_pipeline's fixture is a whole tiny `dvc repro` (about 4.5 minutes on 2 cores):
# collected first, it starts at once and the other workers take every other file meanwhile, instead of it
# starting last and running alone at the end. (Not `--dist loadgroup`: with pytest 9.2 it silently stops
# grouping, pytest-xdist issue #1386.)
LONG_FILES_FIRST = ("test_pipeline.py",)


def pytest_collection_modifyitems(config, items):
    items.sort(key=lambda item: item.path.name not in LONG_FILES_FIRST)  # stable: the order within stays
