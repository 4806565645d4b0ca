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
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator

DatasetName = Literal["ring8", "grid25", "digits", "mnist", "fashion_mnist"]
ModelName = Literal["gan", "wgan", "avb", "vae"]
MODELS: tuple[str, ...] = ("gan", "wgan", "avb", "vae")


class ParamsError(ValueError):
    """A params.yaml problem, phrased as one line for the user."""


INCEPTION_DIMS = (64, 192, 768, 2048)  # pytorch-fid's InceptionV3.BLOCK_INDEX_BY_DIM


class _Section(BaseModel):
    # Unknown keys are errors: a misspelt `n_critc` must not be silently ignored.
    model_config = ConfigDict(extra="forbid", frozen=True)


def _widths(v: list[int]) -> list[int]:
    if not v or any(w < 1 for w in v):
        raise ValueError("must be a non-empty list of positive layer widths")
    return v


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
        return _widths(v)


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
    beta2: float = Field(0.9, ge=0, lt=1)  # adam only; (0.5, 0.9) is WGAN-GP's Adam (Gulrajani et al. 2017)
    n_critic: int = Field(5, ge=1)
    # clip: weights in [-clip, clip] (top-level `clip`); gp: gradient penalty (Gulrajani et al. 2017);
    # sn: spectral normalisation of the critic's layers (Miyato et al. 2018)
    constraint: Literal["clip", "gp", "sn"] = "clip"
    gp_weight: float = Field(10.0, gt=0)  # lambda of the gradient penalty; constraint = gp only
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


# --- eval: evaluation against the held-out split -----------------------------------


class InceptionParams(_Section):
    enabled: bool = True  # False: report the Inception FID as unavailable without looking for weights
    dims: int = 2048  # pytorch-fid's feature blocks: 64, 192, 768 or 2048 (pool3, the standard FID)
    weights: Optional[str] = None  # path to pt_inception-2015-12-05-6726825d.pth; None: $FID_WEIGHTS, hub cache
    download: bool = True  # try pytorch-fid's download when no file is found
    batch_size: int = Field(50, ge=1)

    @field_validator("dims")
    @classmethod
    def _block(cls, v: int) -> int:
        if v not in INCEPTION_DIMS:
            raise ValueError(f"must be one of {list(INCEPTION_DIMS)} (pytorch-fid's InceptionV3 blocks)")
        return v


class ClassifierParams(_Section):
    """The domain classifier whose features give the offline ('domain') FID on images."""

    hidden: int = Field(256, ge=1)
    features: int = Field(64, ge=1)  # the Frechet distance's feature dimension
    epochs: int = Field(30, ge=1)
    batch_size: int = Field(128, ge=1)
    lr: float = Field(1e-3, gt=0)


class LoglikParams(_Section):
    """Importance-sampled log p(x) for AVB and the VAE (one estimator for both)."""

    samples: int = Field(256, ge=2)  # K: encoder draws to fit the proposal, and importance draws
    std_scale: float = Field(1.2, ge=1.0)  # proposal std = scale * moment-matched std (heavier than q)
    max_points: int = Field(1000, ge=2)  # test points used (a seeded subset when the split is larger)
    chunk: int = Field(100, ge=1)  # test points per forward pass (memory: chunk * samples rows)


class EvalParams(_Section):
    inception: InceptionParams = InceptionParams()
    classifier: ClassifierParams = ClassifierParams()
    loglik: LoglikParams = LoglikParams()
    sliced_samples: int = Field(10_000, ge=2)  # generated samples for the sliced W1
    sliced_projections: int = Field(200, ge=1)
    snapshot_samples: int = Field(1000, ge=2)  # per generator snapshot, for W1 during training
    mode_n_std: float = Field(3.0, gt=0)  # high quality: within this many std of a mode (VEEGAN)
    mode_min_fraction: float = Field(0.2, gt=0, le=1)  # covered: >= this share of N/K samples (PacGAN)
    # Last, so that the validator below sees the feature dimensions.
    n_samples: int = Field(2500, ge=2)  # generated samples for FID, W1 and modes (VEEGAN/PacGAN: 2,500)

    @field_validator("n_samples")
    @classmethod
    def _more_than_feature_dims(cls, v: int, info: ValidationInfo) -> int:
        clf, inc = info.data.get("classifier"), info.data.get("inception")
        if clf is not None and v <= clf.features:
            raise ValueError(f"must exceed the domain classifier's {clf.features} feature dims "
                             "(eval.classifier.features): a Frechet distance needs more samples than dimensions")
        if inc is not None and inc.enabled and v <= inc.dims:
            raise ValueError(f"must exceed the {inc.dims} Inception feature dims (eval.inception.dims): "
                             "a Frechet distance needs more samples than dimensions")
        return v


# --- theory: the papers' claims, one sub-section per part (Each theory stage declares
# only its own sub-section in dvc.yaml, so changing one reruns that part alone.) ---

Constraint = Literal["clip", "gp", "sn"]  # weight clipping | gradient penalty | spectral normalisation
Optimizer = Literal["rmsprop", "adam"]


class LinesParams(_Section):
    """Part 1: parallel lines, Arjovsky, Chintala & Bottou 2017, Example 1."""

    n_theta: int = Field(11, ge=3)  # grid points over [-1, 1] (odd: theta = 0 is on it)
    hidden: list[int] = [64, 64]  # critic / discriminator widths
    batch_size: int = Field(128, ge=8)
    critic_steps: int = Field(300, ge=1)  # updates of each critic / discriminator on a fixed theta
    critic_lr: float = Field(1e-3, gt=0)  # Adam(0.5, 0.9) as in Gulrajani et al. 2017
    gp_weight: float = Field(10.0, gt=0)  # lambda of the gradient penalty
    clip: float = Field(0.01, gt=0)  # clipped critic: weights in [-clip, clip]
    clip_lr: float = Field(5e-3, gt=0)  # RMSProp for the clipped critic
    n_eval: int = Field(4096, ge=100)  # fresh samples for each estimate
    demo_steps: int = Field(200, ge=1)  # generator (theta) updates in the learning demo
    demo_inner_steps: int = Field(10, ge=1)  # critic / discriminator updates per theta update
    demo_warmup: int = Field(100, ge=1)  # critic / discriminator updates before the first theta update
    demo_lr: float = Field(0.02, gt=0)  # plain SGD on theta, decaying linearly to 0: the step is the gradient
    demo_constraint: Constraint = "gp"  # how the demo's WGAN critic is kept Lipschitz

    @field_validator("hidden")
    @classmethod
    def _w(cls, v):
        return _widths(v)

    @field_validator("n_theta")
    @classmethod
    def _odd(cls, v: int) -> int:
        if v % 2 == 0:
            raise ValueError("must be odd so that theta = 0 is a grid point")
        return v


class VanishingParams(_Section):
    """Part 2: Arjovsky & Bottou 2017, Figure 2; Arjovsky et al. 2017, Figure 2."""

    real_mean: float = -2.0  # 1-D real distribution N(real_mean, std^2)
    fake_mean: float = 2.0  # fixed generator x = fake_mean + std * z
    std: float = Field(0.3, gt=0)
    hidden: list[int] = [64, 64]
    batch_size: int = Field(128, ge=8)
    d_steps: int = Field(1000, ge=10)  # discriminator / critic updates, gradients logged on a log grid
    d_lr: float = Field(1e-3, gt=0)  # Adam for the discriminator
    critic_constraint: Constraint = "clip"  # the paper's Figure 2 critic is clipped
    clip: float = Field(0.01, gt=0)
    critic_lr: float = Field(5e-3, gt=0)  # RMSProp for a clipped critic, Adam otherwise
    gp_weight: float = Field(10.0, gt=0)
    n_eval: int = Field(4096, ge=100)  # fake samples for each generator-gradient norm
    n_log_points: int = Field(12, ge=2)  # points on the log-spaced step axis

    @field_validator("hidden")
    @classmethod
    def _w(cls, v):
        return _widths(v)


class MixtureParams(_Section):
    """The 2D mixture of parts 3-5 (PacGAN's 2D-ring / 2D-grid), with a known density."""

    kind: Literal["ring8", "grid25"] = "ring8"
    radius: float = Field(1.0, gt=0)  # ring8
    spacing: float = Field(2.0, gt=0)  # grid25
    std: float = Field(0.05, gt=0)
    n_train: int = Field(5000, ge=100)
    n_eval: int = Field(500, ge=100)  # samples on each side of an exact W1 (POT network simplex, ~n^2 to n^3)
    z_dim: int = Field(2, ge=1)
    g_hidden: list[int] = [64, 64]
    d_hidden: list[int] = [64, 64]

    @field_validator("g_hidden", "d_hidden")
    @classmethod
    def _w(cls, v):
        return _widths(v)


class WganRun(_Section):
    """One WGAN training run on the mixture (an ablation row, or a run of parts 3 and 4)."""

    optimizer: Optimizer = "rmsprop"
    lr: float = Field(1e-4, gt=0)  # critic and generator (the paper: 5e-5, for longer runs)
    beta1: float = Field(0.5, ge=0, lt=1)  # adam only
    constraint: Constraint = "clip"
    clip: float = Field(0.01, gt=0)  # constraint = clip only
    gp_weight: float = Field(10.0, gt=0)  # constraint = gp only
    n_critic: int = Field(5, ge=1)
    warmup: int = Field(5, ge=0)  # 100 critic steps for the first `warmup` generator steps (reference code: 25)


class MeaningfulParams(_Section):
    """Part 3: Arjovsky et al. 2017, Figures 3 and 4."""

    steps: int = Field(800, ge=10)  # generator updates of each run
    batch_size: int = Field(64, ge=1)
    checkpoints: int = Field(12, ge=3)  # exact-W1 evaluations along each run, log-spaced from step 10
    wgan: WganRun = WganRun()
    gan_lr: float = Field(2e-4, gt=0)  # Adam(0.5, 0.999), the core's GAN settings
    gan_g_loss: Literal["nonsaturating", "minimax"] = "nonsaturating"


class EnergyParams(_Section):
    """Part 4: is the trained critic an energy, f(x) ~ log p_real(x)?"""

    steps: int = Field(400, ge=10)
    batch_size: int = Field(64, ge=1)
    checkpoints: int = Field(3, ge=2)  # Spearman along training (log-spaced)
    runs: dict[str, WganRun] = {
        "clip": WganRun(constraint="clip"),
        "gp": WganRun(constraint="gp", optimizer="adam"),
    }
    main: str = "clip"  # the run whose final Spearman is the metric energy_spearman
    grid: int = Field(50, ge=10)  # grid points per axis
    margin: float = Field(0.5, ge=0)  # the grid spans the data's bounding box plus this margin (in data units)
    near_stds: float = Field(3.0, gt=0)  # "near the data": within this many std of a mode centre

    @model_validator(mode="after")
    def _main_is_a_run(self):
        if self.main not in self.runs:
            raise ValueError(f"main = {self.main!r} is not one of runs: {sorted(self.runs)}")
        return self


class AblationParams(_Section):
    """Part 5: the WGAN critic's optimiser and Lipschitz constraint, one row each."""

    steps: int = Field(400, ge=10)
    batch_size: int = Field(64, ge=1)
    last_fraction: float = Field(0.2, gt=0, le=1)  # stability: spread of W estimate over this tail
    checkpoints: int = Field(5, ge=2)  # exact W1 along each run (log-spaced), for corr(W estimate, W1)
    # every row is the paper's setting (RMSProp, clip 0.01) but for what its name says
    rows: dict[str, WganRun] = {
        "rmsprop_clip0.01": WganRun(),
        "adam_clip0.01": WganRun(optimizer="adam"),
        "rmsprop_clip0.001": WganRun(clip=0.001),
        "rmsprop_clip0.1": WganRun(clip=0.1),
        "adam_gp": WganRun(optimizer="adam", constraint="gp"),
        "adam_sn": WganRun(optimizer="adam", constraint="sn"),
    }

    @field_validator("rows")
    @classmethod
    def _names(cls, v: dict) -> dict:
        bad = [k for k in v if not k.replace("_", "").replace(".", "").replace("-", "").isalnum()]
        if bad or not v:
            raise ValueError(f"row names must be letters, digits, '_', '.', '-' (got {bad or 'no rows'})")
        return v


class AvbToyParams(_Section):
    """Part 6: Mescheder, Nowozin & Geiger 2017, section 6.1 (four 2x2 images, 2-D latent)."""

    hidden: list[int] = [64, 64]
    eps_dim: int = Field(8, ge=1)  # noise input of AVB's encoder z = f(x, eps)
    steps: int = Field(2000, ge=1)
    batch_size: int = Field(128, ge=4)
    lr: float = Field(1e-3, gt=0)
    adversary_lr: float = Field(1e-3, gt=0)
    adversary_steps: int = Field(2, ge=1)
    is_samples: int = Field(100_000, ge=100)  # importance samples per data point for log p(x)
    n_plot: int = Field(400, ge=10)  # posterior draws per data point in the figure

    @field_validator("hidden")
    @classmethod
    def _w(cls, v):
        return _widths(v)


class TheoryParams(_Section):
    lines: LinesParams = LinesParams()
    vanishing: VanishingParams = VanishingParams()
    mixture: MixtureParams = MixtureParams()
    meaningful: MeaningfulParams = MeaningfulParams()
    energy: EnergyParams = EnergyParams()
    ablation: AblationParams = AblationParams()
    avb_toy: AvbToyParams = AvbToyParams()


# --- the whole file --------------------------------------------------------------


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
    eval: EvalParams = EvalParams()
    theory: TheoryParams = TheoryParams()

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
    return params


def load_params(path: str | Path = "params.yaml") -> Params:
    path = Path(path)
    if not path.exists():
        raise ParamsError(f"{path}: not found (run from the repository root)")
    with path.open() as f:
        raw = yaml.safe_load(f) or {}
    return parse_params(raw, str(path))


def resolve_device(name: str):
    """`auto` takes CUDA when present; `cuda` without a GPU is an error, not a silent CPU run."""
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ParamsError("params.yaml: device = 'cuda' but no CUDA device is available (use 'auto' or 'cpu')")
    return torch.device(name)
