"""The core schema: params.yaml's sections for data, nets, training, budget, models and evaluation.

Typed, validated configuration: ``params.yaml`` is read once, at the edge.

Every stage calls :func:`load_params` before doing any work, so a typo or a
value out of range stops the stage with one line naming the key and what is
allowed, and nothing is written. Core functions take these models (or
explicit arguments), never the raw dict. Several problems give several lines,
one each: YAML syntax (`params.yaml:LINE:COL: problem`), a key given twice,
a missing key, an empty file or section, a value out of range, and constraints
between keys (checked only where they apply, e.g. FID feature dims only with
image data).

params.yaml is the one source of values: every key a user sets is required here,
with no default that could disagree with the file. Only what the comparison
derives (a model section's `steps`, `batch_size`, `lr_decay`) starts as None, and
`per_dataset` overlays start empty. Numbers are strict: `true` is not 1.
"""

from __future__ import annotations

import math
from typing import Annotated, Literal, Optional

from pydantic import (BaseModel, BeforeValidator, ConfigDict, Field, StrictBool, Strict, ValidationError, ValidationInfo,
                      field_validator, model_validator)
from pydantic_core import PydanticCustomError

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


def _not_a_bool(v):
    # YAML's true/false are Python bools, which are ints: pydantic would take `seed: true` as 1
    if isinstance(v, bool):
        raise PydanticCustomError("bool_not_number", "must be a number, not a boolean")
    return v


# Numbers as params.yaml may write them: an int is an int (not `true`, 3.0 or "3"); a float is a float, an
# int (YAML reads `gp_weight: 10` as int) or a number PyYAML leaves as text (`1e-4`), never `true`; a bool
# is true or false, never 1.
Int = Annotated[int, Strict(), BeforeValidator(_not_a_bool)]
Float = Annotated[float, BeforeValidator(_not_a_bool)]
Bool = StrictBool


class KeyProblems(ValueError):
    """Problems found after the fields validated (constraints between keys, overlays merged onto their
    section): (key, value, what is allowed), one line each in ParamsError, the key below the failing
    section's own path."""

    def __init__(self, problems: list[tuple[str, object, str]]):
        super().__init__("; ".join(f"{k} = {v!r}: {m}" for k, v, m in problems))
        self.problems = problems


def message(error: dict) -> str:
    """pydantic's message for one error, without the 'Value error, ' it puts before our validators' own words."""
    return error["msg"].removeprefix("Value error, ")


def overlay_problems(err: ValidationError, where: str) -> list[tuple[str, object, str]]:
    """An overlay's errors after merging, each keyed `where.key`: what KeyProblems takes."""
    out = []
    for e in err.errors():
        key = ".".join([where, *(str(p) for p in e["loc"])])
        out.append((key, e.get("input"), "unknown key" if e["type"] == "extra_forbidden" else message(e)))
    return out


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
    root: Optional[str]  # folder of raw MNIST/Fashion-MNIST IDX files; None (required all the same): download
    download: Bool  # allow torchvision's downloader when `root` lacks the files
    toy_train: Int = Field(ge=100)  # samples drawn for the 2D mixtures' training split
    toy_test: Int = Field(ge=100)  # ... and for their held-out split
    ring_radius: Float = Field(gt=0)  # ring8: 8 modes on a circle (PacGAN 2D-ring)
    ring_std: Float = Field(gt=0)
    grid_spacing: Float = Field(gt=0)  # grid25: modes at spacing * {-2..2}^2 (PacGAN 2D-grid)
    grid_std: Float = Field(gt=0)
    test_fraction: Float  # digits has no official split

    @field_validator("test_fraction")
    @classmethod
    def _every_class_on_both_sides(cls, v: float) -> float:
        if not TEST_FRACTION_MIN <= v <= TEST_FRACTION_MAX:
            raise ValueError(f"must be within {TEST_FRACTION_MIN:.5f}..{TEST_FRACTION_MAX:.5f} (1/174 .. 1 - 1/174) "
                             f"so that digits' smallest class ({DIGITS_SMALLEST_CLASS} images) is in both splits")
        return v


class NetParams(_Section):
    arch: Literal["mlp", "dcgan"]  # dcgan needs 28x28 images
    z_dim: Int = Field(ge=1)  # latent size of G and of the AVB/VAE code
    g_hidden: list[Int]  # generator / decoder MLP widths
    d_hidden: list[Int]  # discriminator / critic / encoder / adversary widths
    g_batchnorm: Bool  # BatchNorm in the MLP generator (the DCGAN net always has it)
    width: Int = Field(ge=8)  # dcgan: channels of the first conv layer
    # bf16: train-mode forwards under torch.autocast(bfloat16), weights, losses and eval-mode passes in
    # float32, so checkpoints and evaluated numbers do not depend on it; no fp16, which needs loss scaling
    autocast: Literal["none", "bf16"]
    # dcgan only: NHWC convs for tensor cores, the same numbers up to float rounding (tests/test_precision.py)
    channels_last: Bool

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
    log_every: Int = Field(ge=1)  # rows in the per-step log; NaN/inf is checked (and a good state kept) at each
    # seeds trained at once, one process each (with `threads` threads); 0: one per CPU core. Capped at len(seeds).
    workers: Int = Field(ge=0)
    # CPU intra-op threads (torch.set_num_threads; docs/decisions.md); a thread count can change float
    # reductions, hence a param that reruns training
    threads: Int = Field(ge=1)
    # generator steps between resume checkpoints (.resume/, outside DVC's outputs; 0: none). A resumed
    # run is bitwise the same as an uninterrupted one, so this does not change results.
    checkpoint_every: Int = Field(ge=0)
    # every model's learning-rate schedule, one policy for all: constant (the papers') or linear, falling from
    # each optimiser's lr to 0 over the run (the WGAN-GP authors' gan_cifar_resnet.py DECAY)
    lr_schedule: Literal["constant", "linear"]


class BudgetParams(_Section):
    """The compute every model gets (pipeline/training/budget.py): on each data set the same training FLOPs (Lucic et
    al. 2018), the same batch size, and snapshots at the same compute points."""

    gflop: dict[DatasetName, Float]  # training GFLOP per model, per data set
    scale: Float = Field(gt=0)  # every data set's budget times this: `-S budget.scale=8` for the long run
    batch_size: Int = Field(ge=1)  # every model's (WGAN Algorithm 1's m; the AVB authors' MNIST runs)
    octaves: Int = Field(ge=1)  # the curves reach down to budget / 2**octaves ...
    per_octave: Int = Field(ge=1)  # ... with this many compute points per halving

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
    """A model's section. `per_dataset` sets some of its keys for one data set only (a penalty weight
    that suits 2-D points but not images, an epoch budget); `for_dataset` applies them. It is an
    overlay, so leaving it out is no fallback: the section's own keys then hold for every data set."""

    per_dataset: dict[DatasetName, dict] = {}

    @model_validator(mode="after")
    def _overrides_are_valid(self):
        problems = []
        for ds in self.per_dataset:
            try:
                self.for_dataset(ds)
            except ValidationError as err:
                problems += overlay_problems(err, f"per_dataset.{ds}")
        if problems:
            raise KeyProblems(problems)
        return self

    def for_dataset(self, name: str):
        """This section as it applies to data set `name` (its keys and that data set's overlay, validated
        together), its `per_dataset` emptied."""
        base = self.model_dump(exclude={"per_dataset"})
        return type(self).model_validate(base | self.per_dataset.get(name, {}) | {"per_dataset": {}})


class _TrainedSection(_ModelSection):
    """A trained model's section: what every model's training schedule shares. `steps`, `batch_size` and
    `lr_decay` are not keys of params.yaml's model sections (params.py refuses them there): the comparison
    derives them for every model alike (pipeline/models/registry.py `section`: `budget.batch_size`,
    `train.lr_schedule`; the training stage: the steps the FLOP budget buys). Until then they are None."""

    # constant: every optimiser keeps its lr (the papers'); linear: every optimiser's lr falls linearly
    # from `lr` to 0 over the run's generator steps (the WGAN-GP authors' gan_cifar_resnet.py, DECAY)
    lr_decay: Optional[Literal["constant", "linear"]] = None


class GanParams(_TrainedSection):
    """Goodfellow et al. 2014, with DCGAN's Adam settings."""

    steps: Optional[Int] = Field(None, ge=1)  # generator updates (derived)
    batch_size: Optional[Int] = Field(None, ge=1)  # (derived)
    lr: Float = Field(gt=0)
    beta1: Float = Field(ge=0, lt=1)
    beta2: Float = Field(ge=0, lt=1)
    d_steps: Int = Field(ge=1)  # discriminator updates per generator update
    g_loss: Literal["nonsaturating", "minimax"]


class WganParams(_TrainedSection):
    """Arjovsky, Chintala & Bottou 2017, Algorithm 1. The clip bound is top-level `clip`."""

    steps: Optional[Int] = Field(None, ge=1)  # generator updates (derived)
    batch_size: Optional[Int] = Field(None, ge=1)  # (derived)
    lr: Float = Field(gt=0)
    optimizer: Literal["rmsprop", "adam"]
    beta1: Float = Field(ge=0, lt=1)  # adam only
    beta2: Float = Field(ge=0, lt=1)  # adam only; (0.5, 0.9) is WGAN-GP's Adam (Gulrajani et al. 2017)
    n_critic: Int = Field(ge=1)
    # clip: weights in [-clip, clip] (top-level `clip`); gp: gradient penalty (Gulrajani et al. 2017);
    # sn: spectral normalisation of the critic's layers (Miyato et al. 2018)
    constraint: Literal["clip", "gp", "sn"]
    gp_weight: Float = Field(gt=0)  # lambda of the gradient penalty; constraint = gp only
    reference_schedule: Bool  # 100 critic steps for the first 25 G steps and every 500th
    warmup: Int = Field(ge=0)  # 100 critic steps for the first `warmup` G steps (as the reference code's first 25)


class WganGpParams(WganParams):
    """WGAN-GP (Gulrajani et al. 2017): the same WGAN, its section in params.yaml set to the paper's
    Algorithm 1 (a gradient penalty on real-fake interpolates, Adam(1e-4, 0.5, 0.9), n_critic 5)."""


class AvbParams(_TrainedSection):
    """Mescheder, Nowozin & Geiger 2017."""

    steps: Optional[Int] = Field(None, ge=1)  # encoder/decoder updates (derived)
    batch_size: Optional[Int] = Field(None, ge=1)  # (derived)
    lr: Float = Field(gt=0)
    adversary_lr: Float = Field(gt=0)
    adversary_steps: Int = Field(ge=1)  # T updates per encoder/decoder update
    # T's form: `product`, <theta(x), s(z)> + T_x(x) + T_z(z), the authors' (nets.ProductAdversary);
    # `concat`, one MLP on (x, z). The choice was measured: docs/decisions.md
    adversary: Literal["concat", "product"]
    eps_dim: Int = Field(ge=1)  # noise fed to the black-box encoder z = f(x, eps)
    min_std: Float = Field(gt=0)  # floor of the Gaussian decoder's std
    # adaptive contrast (section 3.3): T contrasts q(z|x) with a Gaussian of its own moments, estimated
    # from `contrast_samples` encoder draws per x, instead of with the prior (measured: docs/decisions.md)
    adaptive_contrast: Bool
    contrast_samples: Int = Field(ge=2)


class VaeParams(_TrainedSection):
    """Kingma & Welling 2014; same encoder/decoder widths as AVB."""

    steps: Optional[Int] = Field(None, ge=1)  # (derived)
    batch_size: Optional[Int] = Field(None, ge=1)  # (derived)
    lr: Float = Field(gt=0)
    min_std: Float = Field(gt=0)


# --- eval: evaluation against the held-out split -----------------------------------


class InceptionParams(_Section):
    enabled: Bool  # False: report the Inception FID as unavailable without looking for weights
    dims: Int  # pytorch-fid's feature blocks: 64, 192, 768 or 2048 (pool3, the standard FID)
    weights: Optional[str]  # path to pt_inception-2015-12-05-6726825d.pth; None (required all the same): search
    download: Bool  # try pytorch-fid's download when no file is found
    batch_size: Int = Field(ge=1)

    @field_validator("dims")
    @classmethod
    def _block(cls, v: int) -> int:
        if v not in INCEPTION_DIMS:
            raise ValueError(f"must be one of {list(INCEPTION_DIMS)} (pytorch-fid's InceptionV3 blocks)")
        return v


class ClassifierParams(_ModelSection):
    """The domain classifier whose features give the offline ('domain') FID and precision/recall on
    images (pipeline/evaluation/features.py). `per_dataset` sets some keys for one data set: an epoch budget,
    since MNIST's 60,000 training images need far fewer epochs than digits' 1,437 (measured: docs/decisions.md)."""

    arch: Literal["mlp", "cnn"]  # cnn: two conv + pool layers before `hidden`; mlp: flattened pixels
    channels: Int = Field(ge=1)  # cnn: channels of the first conv layer (the second has twice as many)
    hidden: Int = Field(ge=1)
    features: Int = Field(ge=1)  # the Frechet distance's feature dimension
    epochs: Int = Field(ge=1)
    batch_size: Int = Field(ge=1)
    lr: Float = Field(gt=0)  # Adam, annealed to 0 along a cosine over the epochs


class LoglikParams(_Section):
    """Importance-sampled log p(x) for AVB and the VAE (one estimator for both)."""

    samples: Int = Field(ge=2)  # K: encoder draws to fit the proposal, and importance draws
    std_scale: Float = Field(ge=1.0)  # proposal std = scale * moment-matched std (heavier than q)
    max_points: Int = Field(ge=2)  # test points used (a seeded subset when the split is larger)
    chunk: Int = Field(ge=1)  # test points per forward pass (memory: chunk * samples rows)


class AisParams(_Section):
    """Annealed importance sampling of log p(x) (Neal 2001; Wu et al. 2017) for AVB and the VAE, on a
    seeded subset of the test points. Its cost is points x chains x steps x leapfrog decoder passes
    (forward and backward); what the shipped settings cost and how close they come: docs/decisions.md."""

    enabled: Bool
    points: Int = Field(ge=2)
    chains: Int = Field(ge=1)  # K per point
    steps: Int = Field(ge=1)  # T annealing steps (sigmoid schedule)
    leapfrog: Int = Field(ge=1)  # L per HMC transition
    step_size: Float = Field(gt=0)  # initial; adapted toward 65% acceptance (Wu et al.)
    # points simulated from the model, x ~ p(x|z): forward and reverse AIS bound their log p(x) from both
    # sides (BDMC, Grosse et al. 2015), so the gap says how far these settings can be off; 0: not run
    bdmc_points: Int = Field(ge=0)


class EvalParams(_Section):
    inception: InceptionParams
    classifier: ClassifierParams
    loglik: LoglikParams
    ais: AisParams
    sliced_samples: Int = Field(ge=2)  # generated samples for the sliced W1
    sliced_projections: Int = Field(ge=1)
    snapshot_samples: Int = Field(ge=2)  # per generator snapshot, for W1 during training
    # subsets of real training samples at snapshot_samples: the floor's W1 there and its sd, the scale of the
    # run-state tolerance (pipeline/evaluation/convergence.py)
    snapshot_noise_draws: Int = Field(ge=2)
    mode_n_std: Float = Field(gt=0)  # high quality: within this many std of a mode (VEEGAN)
    mode_min_fraction: Float = Field(gt=0, le=1)  # covered: >= this share of N/K samples (PacGAN)
    # More than the FID feature dims when an image data set is listed: checked by Params, which knows `datasets`.
    n_samples: Int = Field(ge=2)  # generated samples for FID, W1 and modes (VEEGAN/PacGAN: 2,500)
    # a run is settled at the budget when its snapshots' W1 moves over the budget's second half by less than
    # max(settle_rtol * the floor's W1, 2 standard errors of sampling noise): pipeline/evaluation/convergence.py
    settle_rtol: Float = Field(gt=0)
    alpha: Float = Field(gt=0, lt=1)  # significance level of the paired tests over seeds in the reports
    # precision and recall (Kynkaanniemi et al. 2019): each sample's manifold ball reaches its k-th nearest
    # neighbour in its own set (the paper's k = 3); on the domain FID's features, raw coordinates for 2-D
    pr_k: Int = Field(ge=1)

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
