"""Where the tensors live: `device` in params.yaml, resolved once per stage."""

from __future__ import annotations

from pipeline.config import ParamsError


def resolve_device(name: str):
    """`auto` takes CUDA when present; `cuda` without a GPU is an error, not a silent CPU run."""
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ParamsError("params.yaml: device = 'cuda' but no CUDA device is available (use 'auto' or 'cpu')")
    return torch.device(name)
