"""Typed params for the `theory:` section of params.yaml, one sub-section per part.

Each theory stage declares only its own sub-section (and `seed`) in dvc.yaml,
so changing `theory.lines.critic_steps` reruns the parallel-lines stage alone.
Validate with ``pipeline.config.validate_section(TheoryParams, params.theory, "theory")``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from ..config import _Section

Constraint = Literal["clip", "gp", "sn"]  # weight clipping | gradient penalty | spectral normalisation
Optimizer = Literal["rmsprop", "adam"]


def _widths(v: list[int]) -> list[int]:
    if not v or any(w < 1 for w in v):
        raise ValueError("must be a non-empty list of positive layer widths")
    return v


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
