"""Atomic writers: a crash mid-write never leaves a half-written output behind."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any


def _atomic(path: Path, write) -> None:
    """Write through `.<name>.*.tmp` beside `path`, then rename. The file is fsynced before the rename
    and the folder after it, so that after a power cut or `kill -9` the path holds the old bytes or
    the new ones, never a renamed but empty file (ext4/xfs may reorder data and rename otherwise)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; outputs are ordinary files
        os.replace(tmp, path)  # atomic on POSIX: readers see the old file or the new one
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def _fsync_dir(folder: Path) -> None:
    """Make a rename or unlink in `folder` durable (POSIX; Windows cannot open a folder)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:  # some file systems refuse fsync on a folder
        pass
    finally:
        os.close(fd)


def remove_stale_temps(path: Path) -> list[Path]:
    """Delete the temp files a killed writer of `path` left behind (`.<name>.*.tmp`, see `_atomic`).

    Only `path`'s own: another process may be writing its neighbours right now."""
    path = Path(path)
    stale = sorted(path.parent.glob(f".{path.name}.*.tmp")) if path.parent.is_dir() else []
    for p in stale:
        p.unlink(missing_ok=True)
    return stale


def remove(path: Path) -> None:
    """Delete `path` if present, durably (the folder is fsynced)."""
    path = Path(path)
    path.unlink(missing_ok=True)
    if path.parent.is_dir():
        _fsync_dir(path.parent)


def write_bytes(path: Path, data: bytes) -> None:
    _atomic(path, lambda f: f.write(data))


def write_text(path: Path, text: str) -> None:
    write_bytes(path, text.encode())


def write_npy(path: Path, array) -> None:
    import numpy as np

    _atomic(path, lambda f: np.save(f, array, allow_pickle=False))


def write_png(path: Path, fig, dpi: int = 100) -> None:
    """A matplotlib figure as PNG, without the version stamp (same figure, same bytes); closes it."""
    import matplotlib.pyplot as plt

    _atomic(path, lambda f: fig.savefig(f, format="png", dpi=dpi, bbox_inches="tight",
                                        metadata={"Software": None}))
    plt.close(fig)


def write_json(path: Path, obj: Any) -> None:
    write_text(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")


def read_json(path: Path) -> Any:
    return json.loads(Path(path).read_text())


def save_torch(path: Path, obj: Any) -> None:
    """torch.save through a temp file; keep `obj` to tensors and plain types so
    that :func:`load_torch` can use ``weights_only=True``."""
    import torch

    _atomic(path, lambda f: torch.save(obj, f))


def load_torch(path: Path, map_location="cpu") -> Any:
    import torch

    # weights_only: a checkpoint is data, never code to execute.
    return torch.load(path, map_location=map_location, weights_only=True)
