"""Typed, validated configuration: ``params.yaml`` is read once, at the edge.

Every stage calls :func:`load_params` before doing any work, so a typo or a
value out of range stops the stage with one line naming the key and what is
allowed, and nothing is written. Core functions take these models (or
explicit arguments), never the raw dict. Several problems give several lines,
one each: YAML syntax (`params.yaml:LINE:COL: problem`), a key given twice,
an empty file or section, a value out of range, and constraints between keys
(checked only where they apply, e.g. FID feature dims only with image data).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Literal, Optional

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator

DatasetName = Literal["ring8", "grid25", "digits", "mnist", "fashion_mnist"]


class ParamsError(ValueError):
    """params.yaml problems, phrased as one line each for the user."""


INCEPTION_DIMS = (64, 192, 768, 2048)  # pytorch-fid's InceptionV3.BLOCK_INDEX_BY_DIM
IMAGE_DATASETS = ("digits", "mnist", "fashion_mnist")  # evaluated with FID features (domain classifier, Inception)
DCGAN_DATASETS = ("mnist", "fashion_mnist")  # the DCGAN nets are built for 28x28 images

# sklearn's random_state must be < 2**32 (numpy's default_rng and torch.manual_seed take up to 2**64 - 1).
SEED_MAX = 2**32 - 1
# sklearn's digits: 1797 images, 10 classes of 174..183 (load_digits().target counts, fixed with the package).
# A stratified split gives each class about fraction * its size test images: the smallest class must keep
# at least one image on each side, so 1/174 <= test_fraction <= 1 - 1/174 (sklearn itself fails otherwise).
DIGITS_SMALLEST_CLASS = 174
TEST_FRACTION_MIN, TEST_FRACTION_MAX = 1 / DIGITS_SMALLEST_CLASS, 1 - 1 / DIGITS_SMALLEST_CLASS
# The exact W1 (POT's emd2) needs the n x n float64 cost matrix of n generated and at most n held-out samples:
# n**2 * 8 bytes must stay within this budget, so n <= 23170.
W1_COST_BUDGET_BYTES = 4 * 2**30
W1_MAX_SAMPLES = math.isqrt(W1_COST_BUDGET_BYTES // 8)


class _Section(BaseModel):
    # Unknown keys are errors: a misspelt `n_critc` must not be silently ignored.
    # inf and nan are errors too: `lr: .inf` would train to nan, not fail.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


def _w1_fits(v: int) -> int:
    if v > W1_MAX_SAMPLES:
        raise ValueError(f"must be at most {W1_MAX_SAMPLES}: the exact W1's n x n float64 cost matrix (POT emd2) "
                         f"needs n**2 * 8 bytes, over the {W1_COST_BUDGET_BYTES // 2**30} GiB budget")
    return v


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
    test_fraction: float = 0.2  # digits has no official split

    @field_validator("test_fraction")
    @classmethod
    def _every_class_on_both_sides(cls, v: float) -> float:
        if not TEST_FRACTION_MIN <= v <= TEST_FRACTION_MAX:
            raise ValueError(f"must be within {TEST_FRACTION_MIN:.5f}..{TEST_FRACTION_MAX:.5f} (1/174 .. 1 - 1/174) "
                             f"so that digits' smallest class ({DIGITS_SMALLEST_CLASS} images) is in both splits")
        return v


class NetParams(_Section):
    arch: Literal["mlp", "dcgan"] = "mlp"  # dcgan needs 28x28 images
    z_dim: int = Field(16, ge=1)  # latent size of G and of the AVB/VAE code
    g_hidden: list[int] = [256, 256]  # generator / decoder MLP widths
    d_hidden: list[int] = [256, 256]  # discriminator / critic / encoder / adversary widths
    g_batchnorm: bool = False  # BatchNorm in the MLP generator (the DCGAN net always has it)
    width: int = Field(64, ge=8)  # dcgan: channels of the first conv layer
    # Training precision: bf16 runs every net's forward under torch.autocast(bfloat16) in train mode (matmuls
    # and convs in bf16, outputs and losses in float32, weights and optimiser state float32); in eval mode
    # (sampling, evaluation) the nets run in float32, so checkpoints and evaluated numbers do not depend on
    # it. No fp16: it needs loss scaling. On CPU bf16 was slower (docs/performance.md); CUDA needs Ampere or later.
    autocast: Literal["none", "bf16"] = "none"
    # dcgan only: conv weights and image activations in torch.channels_last (NHWC), faster convs on tensor
    # cores; the same numbers up to float rounding (tests/test_precision.py)
    channels_last: bool = False

    @field_validator("g_hidden", "d_hidden")
    @classmethod
    def _positive_widths(cls, v: list[int]) -> list[int]:
        return _widths(v)

    @field_validator("channels_last")
    @classmethod
    def _convs_only(cls, v: bool, info: ValidationInfo) -> bool:
        if v and info.data.get("arch", "dcgan") != "dcgan":  # a bad arch is its own line
            raise ValueError("only with net.arch = 'dcgan': the MLP nets have no image tensors to lay out")
        return v


class TrainParams(_Section):
    log_every: int = Field(10, ge=1)  # rows in the per-step log; NaN/inf is checked (and a good state kept) at each
    # seeds trained at once, one process each (with `threads` threads); 0: one per CPU core. Capped at len(seeds).
    workers: int = Field(0, ge=0)
    # CPU intra-op threads (torch.set_num_threads): 1 was fastest for these small nets on a shared 2-core CPU
    # (300 WGAN steps, 256x256 MLPs: 2.8-3.9 s with 1 thread, 21-109 s with 2); a thread count can change
    # float reductions, hence a param that reruns training
    threads: int = Field(1, ge=1)
    # generator steps between resume checkpoints (.resume/<ds>/<model>.pt, outside DVC's outputs; 0: none).
    # A resumed run is bitwise the same as an uninterrupted one, so this does not change results.
    checkpoint_every: int = Field(500, ge=0)
    # every model's learning-rate schedule, one policy for all: constant (the papers') or linear, falling from
    # each optimiser's lr to 0 over the run (the WGAN-GP authors' gan_cifar_resnet.py DECAY)
    lr_schedule: Literal["constant", "linear"] = "constant"


class BudgetParams(_Section):
    """The compute every model gets (pipeline/budget.py): on each data set the same training FLOPs (Lucic et
    al. 2018), the same batch size, and snapshots at the same compute points."""

    gflop: dict[DatasetName, float] = {"ring8": 1000.0, "grid25": 1000.0, "digits": 1000.0, "mnist": 8000.0,
                                       "fashion_mnist": 8000.0}
    scale: float = Field(1.0, gt=0)  # every data set's budget times this: `-S budget.scale=8` for the long run
    batch_size: int = Field(64, ge=1)  # every model's (WGAN Algorithm 1's m; the AVB authors' MNIST runs)
    octaves: int = Field(8, ge=1)  # the curves reach down to budget / 2**octaves ...
    per_octave: int = Field(2, ge=1)  # ... with this many compute points per halving

    @field_validator("gflop")
    @classmethod
    def _positive(cls, v: dict) -> dict:
        if bad := [k for k, g in v.items() if not g > 0]:
            raise ValueError(f"{bad[0]}: must be a positive GFLOP budget")
        return v

    def flops(self, dataset: str) -> float:
        """The training FLOPs of every model on `dataset`."""
        if dataset not in self.gflop:
            raise ParamsError(f"params.yaml: budget.gflop has no entry for data set {dataset!r}")
        return self.gflop[dataset] * self.scale * 1e9


class _ModelSection(_Section):
    """A model's section. `per_dataset` sets some of its keys for one data set only (a step budget,
    a penalty weight that suits 2-D points but not images); `for_dataset` applies them."""

    per_dataset: dict[DatasetName, dict] = {}

    @model_validator(mode="after")
    def _overrides_are_valid(self):
        for ds in self.per_dataset:
            try:
                self.for_dataset(ds)
            except ValidationError as err:
                e = err.errors()[0]
                key = ".".join(str(p) for p in e["loc"])
                raise ValueError(f"per_dataset.{ds}.{key}: {e['msg']}") from None
        return self

    def for_dataset(self, name: str):
        """This section as it applies to data set `name`; its `per_dataset` emptied (not defaulted: a
        section may give `per_dataset` a default, as `ClassifierParams` does)."""
        base = self.model_dump(exclude={"per_dataset"})
        return type(self).model_validate(base | self.per_dataset.get(name, {}) | {"per_dataset": {}})


class _TrainedSection(_ModelSection):
    """A trained model's section: what every model's training schedule shares."""

    # constant: every optimiser keeps its lr (the papers'); linear: every optimiser's lr falls linearly
    # from `lr` to 0 over the run's generator steps, as in the WGAN-GP authors' CIFAR-10 code
    # (improved_wgan_training, gan_cifar_resnet.py, DECAY), so that a run settles by its end (params.yaml
    # says where, and what it measured)
    lr_decay: Literal["constant", "linear"] = "constant"


class GanParams(_TrainedSection):
    """Goodfellow et al. 2014, with DCGAN's Adam settings."""

    steps: int = Field(3000, ge=1)  # generator updates
    batch_size: int = Field(64, ge=1)
    lr: float = Field(2e-4, gt=0)
    beta1: float = Field(0.5, ge=0, lt=1)
    beta2: float = Field(0.999, ge=0, lt=1)
    d_steps: int = Field(1, ge=1)  # discriminator updates per generator update
    g_loss: Literal["nonsaturating", "minimax"] = "nonsaturating"


class WganParams(_TrainedSection):
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
    warmup: int = Field(0, ge=0)  # 100 critic steps for the first `warmup` G steps (as the reference code's first 25)


class WganGpParams(WganParams):
    """WGAN-GP (Gulrajani et al. 2017, Algorithm 1 defaults): the same WGAN with a gradient penalty of
    weight lambda = 10 on real-fake interpolates, Adam(1e-4, beta1 0.5, beta2 0.9), n_critic 5."""

    lr: float = Field(1e-4, gt=0)
    optimizer: Literal["rmsprop", "adam"] = "adam"
    constraint: Literal["clip", "gp", "sn"] = "gp"


class AvbParams(_TrainedSection):
    """Mescheder, Nowozin & Geiger 2017."""

    steps: int = Field(3000, ge=1)  # encoder/decoder updates
    batch_size: int = Field(64, ge=1)
    lr: float = Field(1e-3, gt=0)
    adversary_lr: float = Field(1e-3, gt=0)
    adversary_steps: int = Field(1, ge=1)  # T updates per encoder/decoder update
    # T's form: `product`, <theta(x), s(z)> + T_x(x) + T_z(z), the authors' (nets.ProductAdversary);
    # `concat`, one MLP on (x, z). Product by default: measured better on ring8 and digits (params.yaml)
    adversary: Literal["concat", "product"] = "product"
    eps_dim: int = Field(16, ge=1)  # noise fed to the black-box encoder z = f(x, eps)
    min_std: float = Field(0.01, gt=0)  # floor of the Gaussian decoder's std
    # adaptive contrast (section 3.3): T contrasts q(z|x) with a Gaussian of its own moments, estimated
    # from `contrast_samples` encoder draws per x, instead of with the prior. Off: measured with 3 seeds it
    # was better on ring8, worse on the section 6.1 toy and on digits, and 2.3x slower (docs/models.md)
    adaptive_contrast: bool = False
    contrast_samples: int = Field(16, ge=2)


class VaeParams(_TrainedSection):
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


class ClassifierParams(_ModelSection):
    """The domain classifier whose features give the offline ('domain') FID and precision/recall on
    images (pipeline/features.py). `per_dataset` sets some keys for one data set: an epoch budget, since
    MNIST's 60,000 training images need 3 epochs (469 steps each) where digits' 1,437 take 100 (12 steps
    each). Measured on the 2-core CPU with one thread: the CNN reached 99.17% on MNIST's test set in 103 s;
    on digits (seeds 0-4) 98.2% in about 9 s, against the MLP's 97.0% (30 or 100 epochs)."""

    arch: Literal["mlp", "cnn"] = "cnn"  # cnn: two conv + pool layers before `hidden`; mlp: flattened pixels
    channels: int = Field(24, ge=1)  # cnn: channels of the first conv layer (the second has twice as many)
    hidden: int = Field(256, ge=1)
    features: int = Field(64, ge=1)  # the Frechet distance's feature dimension
    epochs: int = Field(100, ge=1)
    batch_size: int = Field(128, ge=1)
    lr: float = Field(2e-3, gt=0)  # Adam, annealed to 0 along a cosine over the epochs
    per_dataset: dict[DatasetName, dict] = {"mnist": {"epochs": 3}, "fashion_mnist": {"epochs": 3}}


class LoglikParams(_Section):
    """Importance-sampled log p(x) for AVB and the VAE (one estimator for both)."""

    samples: int = Field(256, ge=2)  # K: encoder draws to fit the proposal, and importance draws
    std_scale: float = Field(1.2, ge=1.0)  # proposal std = scale * moment-matched std (heavier than q)
    max_points: int = Field(1000, ge=2)  # test points used (a seeded subset when the split is larger)
    chunk: int = Field(100, ge=1)  # test points per forward pass (memory: chunk * samples rows)


class AisParams(_Section):
    """Annealed importance sampling of log p(x) (Neal 2001; Wu et al. 2017) for AVB and the VAE, on a
    seeded subset of the test points. Its cost is points x chains x steps x leapfrog decoder passes
    (forward and backward); the settings params.yaml ships take about 7 s (ring8) to 13 s (digits)
    per run on the 2-core CPU. On a closed-form linear-Gaussian decoder they are 0.04 (sigma 0.5) to
    0.39 nats (sigma 0.1) below the truth on average, K=64 and 1000 steps within 0.05 (tests/test_ais.py);
    `bdmc_points` measures the same on each trained model. The code's default stays off."""

    enabled: bool = False
    points: int = Field(100, ge=2)
    chains: int = Field(16, ge=1)  # K per point
    steps: int = Field(200, ge=1)  # T annealing steps (sigmoid schedule)
    leapfrog: int = Field(5, ge=1)  # L per HMC transition
    step_size: float = Field(0.05, gt=0)  # initial; adapted toward 65% acceptance (Wu et al.)
    # points simulated from the model, x ~ p(x|z): forward and reverse AIS bound their log p(x) from both
    # sides (BDMC, Grosse et al. 2015), so the gap says how far these settings can be off; 0: not run
    bdmc_points: int = Field(0, ge=0)


class EvalParams(_Section):
    inception: InceptionParams = InceptionParams()
    classifier: ClassifierParams = ClassifierParams()
    loglik: LoglikParams = LoglikParams()
    ais: AisParams = AisParams()
    sliced_samples: int = Field(10_000, ge=2)  # generated samples for the sliced W1
    sliced_projections: int = Field(200, ge=1)
    snapshot_samples: int = Field(1000, ge=2)  # per generator snapshot, for W1 during training
    # subsets of real training samples at snapshot_samples: the floor's W1 there and its sd, the scale of the
    # run-state tolerance (pipeline/convergence.py)
    snapshot_noise_draws: int = Field(8, ge=2)
    mode_n_std: float = Field(3.0, gt=0)  # high quality: within this many std of a mode (VEEGAN)
    mode_min_fraction: float = Field(0.2, gt=0, le=1)  # covered: >= this share of N/K samples (PacGAN)
    # More than the FID feature dims when an image data set is listed: checked by Params, which knows `datasets`.
    n_samples: int = Field(2500, ge=2)  # generated samples for FID, W1 and modes (VEEGAN/PacGAN: 2,500)
    # a run is settled at the budget when its snapshots' W1 moves over the budget's second half by less than
    # max(settle_rtol * the floor's W1, 2 standard errors of sampling noise): pipeline/convergence.py
    settle_rtol: float = Field(0.1, gt=0)
    alpha: float = Field(0.05, gt=0, lt=1)  # significance level of the paired tests over seeds in the reports
    # precision and recall (Kynkaanniemi et al. 2019): each sample's manifold ball reaches its k-th nearest
    # neighbour in its own set (the paper's k = 3); on the domain FID's features, raw coordinates for 2-D
    pr_k: int = Field(3, ge=1)

    @field_validator("n_samples", "snapshot_samples")
    @classmethod
    def _w1_cost_fits(cls, v: int) -> int:
        return _w1_fits(v)

    @model_validator(mode="after")
    def _pr_k_below_samples(self):
        if self.pr_k >= self.n_samples:
            raise ValueError(f"pr_k = {self.pr_k} must be below n_samples = {self.n_samples}: a k-th nearest "
                             "neighbour needs k + 1 samples")
        return self


# --- theory: the papers' claims, one sub-section per part (Each theory stage declares
# only its own sub-section in dvc.yaml, so changing one reruns that part alone; parts 3-5
# also declare theory.mixture and theory.wgan.) ---

Constraint = Literal["clip", "gp", "sn"]  # weight clipping | gradient penalty | spectral normalisation


def _paper_critic(constraint: str, lr_clip: float, lr_other: float, gp_weight: float) -> WganParams:
    """The papers' pairing: RMSProp for a clipped critic (WGAN section 3), Adam(0.5, 0.9) otherwise (WGAN-GP)."""
    clip = constraint == "clip"
    return WganParams(optimizer="rmsprop" if clip else "adam", lr=lr_clip if clip else lr_other,
                      constraint=constraint, gp_weight=gp_weight)


class LinesParams(_Section):
    """Part 1: parallel lines, Arjovsky, Chintala & Bottou 2017, Example 1."""

    n_theta: int = Field(11, ge=3)  # grid points over [-1, 1] (odd: theta = 0 is on it)
    hidden: list[int] = [64, 64]  # critic / discriminator widths
    batch_size: int = Field(128, ge=8)
    critic_steps: int = Field(300, ge=1)  # updates of each critic / discriminator on a fixed theta
    critic_lr: float = Field(1e-3, gt=0)  # Adam: (0.5, 0.9) for GP / SN critics, (0.5, 0.999) for the discriminator
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

    def critic(self, constraint: str) -> WganParams:
        """The core WGAN settings of a lines critic kept Lipschitz by `constraint`."""
        return _paper_critic(constraint, self.clip_lr, self.critic_lr, self.gp_weight)


class VanishingParams(_Section):
    """Part 2: Arjovsky & Bottou 2017, Figure 2; Arjovsky et al. 2017, Figure 2."""

    real_mean: float = -2.0  # 1-D real distribution N(real_mean, std^2)
    fake_mean: float = 2.0  # fixed generator x = fake_mean + std * z
    std: float = Field(0.3, gt=0)
    hidden: list[int] = [64, 64]
    batch_size: int = Field(128, ge=8)
    d_steps: int = Field(1000, ge=10)  # discriminator / critic updates, gradients logged on a log grid
    d_lr: float = Field(1e-3, gt=0)  # Adam(0.5, 0.999) for the discriminator
    critic_constraint: Constraint = "clip"  # the paper's Figure 2 critic is clipped
    clip: float = Field(0.01, gt=0)
    critic_lr: float = Field(5e-3, gt=0)  # RMSProp for a clipped critic, Adam(0.5, 0.9) otherwise
    gp_weight: float = Field(10.0, gt=0)
    n_eval: int = Field(4096, ge=100)  # fake samples for each generator-gradient norm
    n_log_points: int = Field(12, ge=2)  # points on the log-spaced step axis

    @field_validator("hidden")
    @classmethod
    def _w(cls, v):
        return _widths(v)

    def critic(self) -> WganParams:
        return _paper_critic(self.critic_constraint, self.critic_lr, self.critic_lr, self.gp_weight)


# theory.mixture.data / .net: keys of the core's `data:` / `net:`, over these defaults (not over
# the top-level sections, so the main models' settings do not rerun the theory parts)
_MIXTURE_DATA = {"toy_train": 5000, "toy_test": 500}  # toy_test: the real side of every exact W1 (POT, ~n^2 to n^3)
_MIXTURE_NET = {"z_dim": 2, "g_hidden": [64, 64], "d_hidden": [64, 64]}


class MixtureParams(_Section):
    """The 2D mixture of parts 3-5 (PacGAN's 2D-ring / 2D-grid, known density) and the nets trained on it."""

    dataset: Literal["ring8", "grid25"] = "ring8"
    data: DataParams = DataParams(**_MIXTURE_DATA)
    net: NetParams = NetParams(**_MIXTURE_NET)

    @field_validator("data", "net", mode="before")
    @classmethod
    def _over_theory_defaults(cls, v, info: ValidationInfo):
        defaults = _MIXTURE_DATA if info.field_name == "data" else _MIXTURE_NET
        return defaults | v if isinstance(v, dict) else v


class TheoryWgan(WganParams):
    """A WGAN of parts 3-5: the core's `wgan:` keys with shorter-run defaults, plus its own clip bound
    (the core's is the top-level `clip`). Its length is the part's `steps`."""

    lr: float = Field(1e-4, gt=0)  # critic and generator (the paper: 5e-5, for longer runs)
    warmup: int = Field(5, ge=0)  # 100 critic steps for the first `warmup` generator steps (reference code: 25)
    clip: float = Field(0.01, gt=0)  # constraint = clip only

    @model_validator(mode="after")
    def _steps_from_the_part(self):
        if "steps" in self.model_fields_set:
            raise ValueError("steps is set by each part (theory.<part>.steps), not per WGAN run")
        return self


def _no_steps(p: BaseModel, where: str) -> None:
    if "steps" in p.model_fields_set:
        raise ValueError(f"{where}.steps: set by the part's `steps`")


class MeaningfulParams(_Section):
    """Part 3: Arjovsky et al. 2017, Figures 3 and 4."""

    steps: int = Field(800, ge=10)  # generator updates of each run
    checkpoints: int = Field(12, ge=3)  # exact-W1 evaluations along each run, log-spaced from step 10
    wgan: TheoryWgan = TheoryWgan()  # keys over theory.wgan
    gan: GanParams = GanParams()  # the core's `gan:` keys (Adam(0.5, 0.999), lr 2e-4)

    @model_validator(mode="after")
    def _gan_steps(self):
        _no_steps(self.gan, "gan")
        return self


class EnergyParams(_Section):
    """Part 4: is the trained critic an energy, f(x) ~ log p_real(x)?"""

    steps: int = Field(400, ge=10)
    checkpoints: int = Field(3, ge=2)  # Spearman along training (log-spaced)
    runs: dict[str, TheoryWgan] = {  # keys over theory.wgan
        "clip": TheoryWgan(constraint="clip"),
        "gp": TheoryWgan(constraint="gp", optimizer="adam"),
    }
    main: str = "clip"  # the run whose final Spearman is the headline `spearman`
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
    last_fraction: float = Field(0.2, gt=0, le=1)  # stability: spread of W estimate over this tail
    checkpoints: int = Field(5, ge=2)  # exact W1 along each run (log-spaced), for corr(W estimate, W1)
    # keys over theory.wgan (the paper's setting: RMSProp, clip 0.01), so a row differs only by what its name says
    rows: dict[str, TheoryWgan] = {
        "rmsprop_clip0.01": TheoryWgan(),
        "adam_clip0.01": TheoryWgan(optimizer="adam"),
        "rmsprop_clip0.001": TheoryWgan(clip=0.001),
        "rmsprop_clip0.1": TheoryWgan(clip=0.1),
        "adam_gp": TheoryWgan(optimizer="adam", constraint="gp"),
        "adam_sn": TheoryWgan(optimizer="adam", constraint="sn"),
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
    adaptive_contrast: bool = False  # AVB section 3.3, as avb.adaptive_contrast
    contrast_samples: int = Field(16, ge=2)
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
    wgan: TheoryWgan = TheoryWgan()  # the base of every WGAN run of parts 3-5
    meaningful: MeaningfulParams = MeaningfulParams()
    energy: EnergyParams = EnergyParams()
    ablation: AblationParams = AblationParams()
    avb_toy: AvbToyParams = AvbToyParams()

    def wgan_run(self, keys: TheoryWgan, steps: int) -> TheoryWgan:
        """theory.wgan with a run's own keys (only those it sets) on top, for `steps` generator steps."""
        return self.wgan.model_copy(update=keys.model_dump(exclude_unset=True) | {"steps": steps})

    def wgan_runs(self, runs: dict[str, TheoryWgan], steps: int) -> dict[str, TheoryWgan]:
        return {name: self.wgan_run(keys, steps) for name, keys in runs.items()}


# --- the whole file --------------------------------------------------------------


# keys that the comparison sets for every model alike, and where
_SHARED = {"steps": "budget.gflop (the steps follow from each model's FLOPs per step)",
           "batch_size": "budget.batch_size", "lr_decay": "train.lr_schedule"}


class _KeyProblems(ValueError):
    """Constraints between keys that failed: (key, value, what is allowed), one line each in ParamsError."""

    def __init__(self, problems: list[tuple[str, object, str]]):
        super().__init__("; ".join(f"{k} = {v!r}: {m}" for k, v, m in problems))
        self.problems = problems


class Params(_Section):
    seed: int = 0  # 0..2**32 - 1 (SEED_MAX): the data split and the evaluation's draws (test points, noise)
    # one training run per seed (weight init, batches, noise): reports show mean ± std over them
    seeds: list[int] = [0, 1, 2]
    device: Literal["auto", "cpu", "cuda"] = "auto"
    # torch.use_deterministic_algorithms(True); on CUDA also cuDNN deterministic, no benchmark, and
    # CUBLAS_WORKSPACE_CONFIG=:4096:8: same params and device, same weights
    deterministic: bool = True
    clip: float = Field(0.01, gt=0)  # WGAN weight clipping bound c, top-level for `dvc exp run -S clip=...`
    datasets: list[DatasetName] = ["ring8", "digits"]
    data: DataParams = DataParams()
    net: NetParams = NetParams()
    train: TrainParams = TrainParams()
    budget: BudgetParams = BudgetParams()
    gan: GanParams = GanParams()
    wgan: WganParams = WganParams()
    wgan_gp: WganGpParams = WganGpParams()
    avb: AvbParams = AvbParams()
    vae: VaeParams = VaeParams()
    eval: EvalParams = EvalParams()
    theory: TheoryParams = TheoryParams()

    @field_validator("seed")
    @classmethod
    def _seed_range(cls, v: int) -> int:
        if not 0 <= v <= SEED_MAX:
            raise ValueError(f"must be within 0..{SEED_MAX} (2**32 - 1: scikit-learn's random_state limit)")
        return v

    @field_validator("seeds")
    @classmethod
    def _seed_list(cls, v: list[int]) -> list[int]:
        if not v:
            raise ValueError("must list at least one seed")
        if len(set(v)) != len(v):
            raise ValueError("must not repeat a seed (a repeated run adds no information and breaks the pairing)")
        if bad := [s for s in v if not 0 <= s <= SEED_MAX]:
            raise ValueError(f"{bad[0]} is outside 0..{SEED_MAX}")
        return v

    @field_validator("datasets")
    @classmethod
    def _non_empty(cls, v: list[str]) -> list[str]:
        if not v:
            raise ValueError("must name at least one data set")
        return v

    @model_validator(mode="after")
    def _between_keys(self):
        """Constraints that hold only for some data sets, checked only when such a data set is listed."""
        problems: list[tuple[str, object, str]] = []
        # one budget and schedule for every model: a model section may not set its own
        for name in ("gan", "wgan", "wgan_gp", "avb", "vae"):
            sec = getattr(self, name)
            for key, where, value in (*((k, k, getattr(sec, k)) for k in sorted(sec.model_fields_set & set(_SHARED))),
                                      *((k, f"per_dataset.{ds}.{k}", v) for ds, o in sec.per_dataset.items()
                                        for k, v in o.items() if k in _SHARED)):
                problems.append((f"{name}.{where}", value, f"set for every model alike by {_SHARED[key]}"))
        missing = [d for d in self.datasets if d not in self.budget.gflop]
        if missing:
            problems.append(("budget.gflop", sorted(self.budget.gflop), f"has no budget for {', '.join(missing)}"))
        images = [d for d in self.datasets if d in IMAGE_DATASETS]
        n, clf, inc = self.eval.n_samples, self.eval.classifier, self.eval.inception
        why = f"with image data in datasets ({', '.join(images)}): a Frechet distance needs more samples than dimensions"
        if images and n <= clf.features:
            problems.append(("eval.n_samples", n, f"must exceed the domain classifier's {clf.features} feature dims "
                                                  f"(eval.classifier.features) {why}"))
        if images and inc.enabled and n <= inc.dims:
            problems.append(("eval.n_samples", n, f"must exceed the {inc.dims} Inception feature dims "
                                                  f"(eval.inception.dims) {why}"))
        not_28 = [d for d in self.datasets if d not in DCGAN_DATASETS]
        if self.net.arch == "dcgan" and not_28:
            problems.append(("net.arch", "dcgan", f"needs 28x28 images ({', '.join(DCGAN_DATASETS)}), but datasets "
                                                  f"lists {', '.join(not_28)}: use net.arch = 'mlp'"))
        if problems:
            raise _KeyProblems(problems)
        return self


def _lines(err: ValidationError, source: str) -> list[str]:
    """Every error as `source: key.path = value: what is allowed`, one line each, in the models' field order."""
    lines: list[str] = []
    for e in err.errors():
        key = ".".join(str(p) for p in e["loc"])
        value, msg = e.get("input"), e["msg"]
        problem = e.get("ctx", {}).get("error")
        if isinstance(problem, _KeyProblems):
            lines += [f"{source}: {k} = {v!r}: {m}" for k, v, m in problem.problems]
        elif e["type"] == "extra_forbidden":
            lines.append(f"{source}: unknown key '{key}'")
        elif value is None and e["type"] in ("model_type", "dict_type"):
            # `gan:` with nothing under it: YAML reads None
            lines.append(f"{source}: {key} = None: an empty section; indent its keys under it, "
                         "or delete the line for the defaults")
        elif isinstance(value, dict):  # a whole section's check: its keys are in the message
            lines.append(f"{source}: {key}: {msg}")
        else:
            lines.append(f"{source}: {key} = {value!r}: {msg}")
    return list(dict.fromkeys(lines))  # one line per problem, even if pydantic repeats one


def parse_params(raw: dict, source: str = "params.yaml") -> Params:
    """Validate a params mapping; raise :class:`ParamsError` with one line per problem."""
    if not isinstance(raw, dict):
        raise ParamsError(f"{source}: expected a mapping at the top level, got {type(raw).__name__}")
    try:
        params = Params.model_validate(raw)
    except ValidationError as err:
        raise ParamsError("\n".join(_lines(err, source))) from None
    return params


class _UniqueKeyLoader(yaml.SafeLoader):
    """yaml's SafeLoader, but a key given twice in one mapping is an error (SafeLoader keeps the last)."""

    def construct_document(self, node):
        self._refuse_duplicates(node, "", set())
        return super().construct_document(node)

    def _refuse_duplicates(self, node, path: str, seen: set[int]) -> None:
        if id(node) in seen:  # an alias: already walked (and a recursive one must not loop)
            return
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            first: dict[tuple[str, str], yaml.Node] = {}
            for key_node, value_node in node.value:
                name = str(key_node.value) if isinstance(key_node, yaml.ScalarNode) else "?"
                where = f"{path}.{name}" if path else name
                if isinstance(key_node, yaml.ScalarNode) and key_node.value != "<<":
                    was = first.setdefault((key_node.tag, key_node.value), key_node)
                    if was is not key_node:
                        raise yaml.constructor.ConstructorError(
                            None, None, f"duplicate key '{where}' (first on line {was.start_mark.line + 1})",
                            key_node.start_mark)
                self._refuse_duplicates(value_node, where, seen)
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                self._refuse_duplicates(item, f"{path}.{i}" if path else str(i), seen)


def _yaml_line(err: yaml.YAMLError, source: str) -> str:
    """`source:LINE:COL: problem` for a syntax error (1-based, as editors count)."""
    if isinstance(err, yaml.reader.ReaderError):  # bytes that are not UTF-8/16 text, or a control character
        return f"{source}: byte {err.position}: not YAML text ({err.reason})"
    mark = getattr(err, "problem_mark", None) or getattr(err, "context_mark", None)
    problem = getattr(err, "problem", None) or getattr(err, "context", None)
    if mark is None or problem is None:
        return f"{source}: " + " ".join(str(err).split())
    line = f"{source}:{mark.line + 1}:{mark.column + 1}: {problem}"
    context, at = getattr(err, "context", None), getattr(err, "context_mark", None)
    if context and at is not None and problem is not context and at.line != mark.line:
        line += f" ({context} on line {at.line + 1})"
    return line


def load_params(path: str | Path = "params.yaml") -> Params:
    """Read and validate params.yaml; raise :class:`ParamsError` with one line per problem."""
    path = Path(path)
    if not path.exists():
        raise ParamsError(f"{path}: not found (run from the repository root)")
    try:
        with path.open("rb") as f:  # bytes: yaml's reader reports bad encodings with a position
            raw = yaml.load(f, Loader=_UniqueKeyLoader)
    except yaml.YAMLError as err:
        raise ParamsError(_yaml_line(err, str(path))) from None
    except OSError as err:
        raise ParamsError(f"{path}: cannot be read: {err.strerror}") from None
    if raw is None:  # empty, or only comments: refused rather than silently all defaults
        raise ParamsError(f"{path}: is empty: expected the params mapping (see the repository's params.yaml)")
    return parse_params(raw, str(path))


def resolve_device(name: str):
    """`auto` takes CUDA when present; `cuda` without a GPU is an error, not a silent CPU run."""
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ParamsError("params.yaml: device = 'cuda' but no CUDA device is available (use 'auto' or 'cpu')")
    return torch.device(name)
