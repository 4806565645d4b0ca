"""Typed, validated configuration: ``params.yaml`` is read once, at the edge.

Every stage calls :func:`load_params` before doing any work, so a typo or a
value out of range stops the stage with one line naming the key and what is
allowed, and nothing is written. Core functions take these models (or
explicit arguments), never the raw dict.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Optional

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

DatasetName = Literal["ring8", "grid25", "digits", "mnist", "fashion_mnist"]
ModelName = Literal["gan", "wgan", "avb", "vae"]
MODELS: tuple[str, ...] = ("gan", "wgan", "avb", "vae")


class ParamsError(ValueError):
    """A params.yaml problem, phrased as one line for the user."""


class _Section(BaseModel):
    # Unknown keys are errors: a misspelt `n_critc` must not be silently ignored.
    model_config = ConfigDict(extra="forbid", frozen=True)


class DataParams(_Section):
    root: Optional[str] = None  # folder of raw MNIST/Fashion-MNIST IDX files; None -> torchvision download
    download: bool = True  # allow torchvision's downloader when `root` lacks the files
    toy_train: int = Field(10_000, ge=100)  # samples drawn for the 2D mixtures' training split
    toy_test: int = Field(2_000, ge=100)  # ... and for their held-out split
    ring_radius: float = Field(1.0, gt=0)  # ring8: 8 modes on a circle (PacGAN 2D-ring)
    ring_std: float = Field(0.05, gt=0)  # PacGAN uses 0.01; wider so a CPU-minute run can cover it
    grid_spacing: float = Field(2.0, gt=0)  # grid25: modes at spacing * {-2..2}^2 (PacGAN 2D-grid)
    grid_std: float = Field(0.05, gt=0)
    test_fraction: float = Field(0.2, gt=0, lt=1)  # digits has no official split


class NetParams(_Section):
    arch: Literal["mlp", "dcgan"] = "mlp"  # dcgan needs 28x28 images
    z_dim: int = Field(16, ge=1)  # latent size of G and of the AVB/VAE code
    g_hidden: list[int] = [256, 256]  # generator / decoder MLP widths
    d_hidden: list[int] = [256, 256]  # discriminator / critic / encoder / adversary widths
    g_batchnorm: bool = False  # BatchNorm in the MLP generator (the DCGAN net always has it)
    width: int = Field(64, ge=8)  # dcgan: channels of the first conv layer

    @field_validator("g_hidden", "d_hidden")
    @classmethod
    def _positive_widths(cls, v: list[int]) -> list[int]:
        if not v or any(w < 1 for w in v):
            raise ValueError("must be a non-empty list of positive layer widths")
        return v


class TrainParams(_Section):
    log_every: int = Field(10, ge=1)  # rows in the per-step log
    snapshots: int = Field(10, ge=0)  # generator snapshots kept for W1-during-training


class GanParams(_Section):
    """Goodfellow et al. 2014, with DCGAN's Adam settings."""

    steps: int = Field(3000, ge=1)  # generator updates
    batch_size: int = Field(64, ge=1)
    lr: float = Field(2e-4, gt=0)
    beta1: float = Field(0.5, ge=0, lt=1)
    beta2: float = Field(0.999, ge=0, lt=1)
    d_steps: int = Field(1, ge=1)  # discriminator updates per generator update
    g_loss: Literal["nonsaturating", "minimax"] = "nonsaturating"


class WganParams(_Section):
    """Arjovsky, Chintala & Bottou 2017, Algorithm 1 defaults. The clip bound is top-level `clip`."""

    steps: int = Field(3000, ge=1)  # generator updates
    batch_size: int = Field(64, ge=1)
    lr: float = Field(5e-5, gt=0)
    optimizer: Literal["rmsprop", "adam"] = "rmsprop"
    beta1: float = Field(0.5, ge=0, lt=1)  # adam only
    n_critic: int = Field(5, ge=1)
    reference_schedule: bool = False  # 100 critic steps for the first 25 G steps and every 500th


class AvbParams(_Section):
    """Mescheder, Nowozin & Geiger 2017."""

    steps: int = Field(3000, ge=1)  # encoder/decoder updates
    batch_size: int = Field(64, ge=1)
    lr: float = Field(1e-3, gt=0)
    adversary_lr: float = Field(1e-3, gt=0)
    adversary_steps: int = Field(1, ge=1)  # T updates per encoder/decoder update
    eps_dim: int = Field(16, ge=1)  # noise fed to the black-box encoder z = f(x, eps)
    min_std: float = Field(0.01, gt=0)  # floor of the Gaussian decoder's std


class VaeParams(_Section):
    """Kingma & Welling 2014; same encoder/decoder widths as AVB."""

    steps: int = Field(3000, ge=1)
    batch_size: int = Field(64, ge=1)
    lr: float = Field(1e-3, gt=0)
    min_std: float = Field(0.01, gt=0)


class Params(_Section):
    seed: int = 0
    device: Literal["auto", "cpu", "cuda"] = "auto"
    clip: float = Field(0.01, gt=0)  # WGAN weight clipping bound c, top-level for `dvc exp run -S clip=...`
    datasets: list[DatasetName] = ["ring8", "digits"]
    data: DataParams = DataParams()
    net: NetParams = NetParams()
    train: TrainParams = TrainParams()
    gan: GanParams = GanParams()
    wgan: WganParams = WganParams()
    avb: AvbParams = AvbParams()
    vae: VaeParams = VaeParams()
    # Sections owned by evaluation and the theory stages; validated by their
    # own models with `validate_section`.
    eval: dict = {}
    theory: dict = {}

    @field_validator("datasets")
    @classmethod
    def _non_empty(cls, v: list[str]) -> list[str]:
        if not v:
            raise ValueError("must name at least one data set")
        return v


def _one_line(err: ValidationError, source: str) -> str:
    """The first error as `source: key.path = value: what is allowed`."""
    e = err.errors()[0]
    key = ".".join(str(p) for p in e["loc"])
    msg = e["msg"]
    if e["type"] == "extra_forbidden":
        return f"{source}: unknown key '{key}'"
    value = e.get("input")
    return f"{source}: {key} = {value!r}: {msg}"


def parse_params(raw: dict, source: str = "params.yaml") -> Params:
    """Validate a params mapping; raise :class:`ParamsError` with one line."""
    if not isinstance(raw, dict):
        raise ParamsError(f"{source}: expected a mapping at the top level, got {type(raw).__name__}")
    try:
        params = Params.model_validate(raw)
    except ValidationError as err:
        raise ParamsError(_one_line(err, source)) from None
    # The sections other parts own are checked here too, so a typo under
    # `eval:` stops a training stage as well, before any work.
    from .evaluate import EvalParams
    from .theory.params import TheoryParams

    validate_section(EvalParams, params.eval, "eval", source)
    validate_section(TheoryParams, params.theory, "theory", source)
    return params


def load_params(path: str | Path = "params.yaml") -> Params:
    path = Path(path)
    if not path.exists():
        raise ParamsError(f"{path}: not found (run from the repository root)")
    with path.open() as f:
        raw = yaml.safe_load(f) or {}
    return parse_params(raw, str(path))


def validate_section(model: type[BaseModel], raw: object, key: str, source: str = "params.yaml"):
    """Validate one extra section (e.g. `eval`) with its own model, same one-line errors."""
    try:
        return model.model_validate(raw if raw is not None else {})
    except ValidationError as err:
        e = err.errors()[0]
        sub = ".".join(str(p) for p in e["loc"])
        full = f"{key}.{sub}" if sub else key
        if e["type"] == "extra_forbidden":
            raise ParamsError(f"{source}: unknown key '{full}'") from None
        raise ParamsError(f"{source}: {full} = {e.get('input')!r}: {e['msg']}") from None


def resolve_device(name: str):
    """`auto` takes CUDA when present; `cuda` without a GPU is an error, not a silent CPU run."""
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ParamsError("params.yaml: device = 'cuda' but no CUDA device is available (use 'auto' or 'cpu')")
    return torch.device(name)
