"""The theory part's schema: params.yaml's `theory:` section, one sub-section per reproduced claim."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, ValidationInfo, field_validator, model_validator

from pipeline.config.core import DataParams, GanParams, NetParams, WganParams, _Section, _widths

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
