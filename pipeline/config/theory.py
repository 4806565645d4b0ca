"""The theory part's schema: params.yaml's `theory:` section, one sub-section per reproduced claim.

Self-contained: every value a part reads is under `theory:` (its mixture's data and nets, its WGAN and
GAN settings), so the main models' settings neither change nor rerun a theory part. The WGAN runs of
parts 3-5 are overlays: keys over `theory.wgan`, validated once merged onto it.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, ValidationError, field_validator, model_validator

from pipeline.config.core import (
    Bool, DataParams, Float, GanParams, Int, KeyProblems, NetParams, WganParams, _Section, _widths, overlay_problems)

# --- theory: the papers' claims, one sub-section per part (Each theory stage declares
# only its own sub-section in dvc.yaml, so changing one reruns that part alone; parts 3-5
# also declare theory.mixture and theory.wgan.) ---

Constraint = Literal["clip", "gp", "sn"]  # weight clipping | gradient penalty | spectral normalisation
Beta = Annotated[Float, Field(ge=0, lt=1)]


class CriticUpdate(_Section):
    """One critic update of parts 1-2 as the core's `make_optimizer` and `critic_step` read it, built
    from the part's own keys (`critic`): not a params.yaml section."""

    optimizer: Literal["rmsprop", "adam"]
    lr: Float = Field(gt=0)
    beta1: Beta  # adam only
    beta2: Beta  # adam only
    constraint: Constraint
    gp_weight: Float = Field(gt=0)  # constraint = gp only


def _paper_critic(constraint: str, lr_clip: float, lr_other: float, betas: tuple[float, float],
                  gp_weight: float) -> CriticUpdate:
    """The papers' pairing: RMSProp for a clipped critic (WGAN section 3), Adam(betas) otherwise (WGAN-GP)."""
    clip = constraint == "clip"
    return CriticUpdate(optimizer="rmsprop" if clip else "adam", lr=lr_clip if clip else lr_other,
                        beta1=betas[0], beta2=betas[1], constraint=constraint, gp_weight=gp_weight)


class LinesParams(_Section):
    """Part 1: parallel lines, Arjovsky, Chintala & Bottou 2017, Example 1."""

    n_theta: Int = Field(ge=3)  # grid points over [-1, 1] (odd: theta = 0 is on it)
    hidden: list[Int]  # critic / discriminator widths
    batch_size: Int = Field(ge=8)
    critic_steps: Int = Field(ge=1)  # updates of each critic / discriminator on a fixed theta
    critic_lr: Float = Field(gt=0)  # Adam, for GP / SN critics and for the discriminator
    critic_betas: tuple[Beta, Beta]  # Adam's for GP / SN critics
    d_betas: tuple[Beta, Beta]  # Adam's for the discriminator
    gp_weight: Float = Field(gt=0)  # lambda of the gradient penalty
    clip: Float = Field(gt=0)  # clipped critic: weights in [-clip, clip]
    clip_lr: Float = Field(gt=0)  # RMSProp for the clipped critic
    n_eval: Int = Field(ge=100)  # fresh samples for each estimate
    demo_steps: Int = Field(ge=1)  # generator (theta) updates in the learning demo
    demo_inner_steps: Int = Field(ge=1)  # critic / discriminator updates per theta update
    demo_warmup: Int = Field(ge=1)  # critic / discriminator updates before the first theta update
    demo_lr: Float = Field(gt=0)  # plain SGD on theta, decaying linearly to 0: the step is the gradient
    demo_constraint: Constraint  # how the demo's WGAN critic is kept Lipschitz

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

    def critic(self, constraint: str) -> CriticUpdate:
        """The update of a lines critic kept Lipschitz by `constraint`."""
        return _paper_critic(constraint, self.clip_lr, self.critic_lr, self.critic_betas, self.gp_weight)


class VanishingParams(_Section):
    """Part 2: Arjovsky & Bottou 2017, Figure 2; Arjovsky et al. 2017, Figure 2."""

    real_mean: Float  # 1-D real distribution N(real_mean, std^2)
    fake_mean: Float  # fixed generator x = fake_mean + std * z
    std: Float = Field(gt=0)
    hidden: list[Int]
    batch_size: Int = Field(ge=8)
    d_steps: Int = Field(ge=10)  # discriminator / critic updates, gradients logged on a log grid
    d_lr: Float = Field(gt=0)  # Adam, for the discriminator
    d_betas: tuple[Beta, Beta]  # the discriminator's Adam
    critic_constraint: Constraint  # the paper's Figure 2 critic is clipped
    clip: Float = Field(gt=0)
    critic_lr: Float = Field(gt=0)  # RMSProp for a clipped critic, Adam otherwise
    critic_betas: tuple[Beta, Beta]  # Adam's for a GP / SN critic
    gp_weight: Float = Field(gt=0)
    n_eval: Int = Field(ge=100)  # fake samples for each generator-gradient norm
    n_log_points: Int = Field(ge=2)  # points on the log-spaced step axis

    @field_validator("hidden")
    @classmethod
    def _w(cls, v):
        return _widths(v)

    def critic(self) -> CriticUpdate:
        return _paper_critic(self.critic_constraint, self.critic_lr, self.critic_lr, self.critic_betas, self.gp_weight)


class MixtureParams(_Section):
    """The 2D mixture of parts 3-5 (PacGAN's 2D-ring / 2D-grid, known density) and the nets trained on it:
    `data` and `net` are whole sections of the core's `data:` / `net:` schema, the theory's own (not the
    top-level ones, so the main models' settings neither change nor rerun the theory parts)."""

    dataset: Literal["ring8", "grid25"]
    data: DataParams  # toy_test: the real side of every exact W1 (POT, ~n^2 to n^3)
    net: NetParams


def _steps_from_the_part(v):
    if v is not None:
        raise ValueError("set by each part (theory.<part>.steps), not per run")
    return v


class TheoryWgan(WganParams):
    """A WGAN of parts 3-5: the core's `wgan:` keys, plus its own batch size and lr schedule (the core
    sets those for every model from `budget` and `train`) and clip bound (the core's is the top-level
    `clip`). Its length is the part's `steps`."""

    batch_size: Int = Field(ge=1)
    lr_decay: Literal["constant", "linear"]
    clip: Float = Field(gt=0)  # constraint = clip only

    _no_steps = field_validator("steps")(_steps_from_the_part)


class TheoryGan(GanParams):
    """The GAN of part 3: the core's `gan:` keys, plus its own batch size and lr schedule. Its length is
    the part's `steps`."""

    batch_size: Int = Field(ge=1)
    lr_decay: Literal["constant", "linear"]

    _no_steps = field_validator("steps")(_steps_from_the_part)


Overlay = dict[str, Any]  # keys over theory.wgan, validated merged onto it (TheoryParams)


class MeaningfulParams(_Section):
    """Part 3: Arjovsky et al. 2017, Figures 3 and 4."""

    steps: Int = Field(ge=10)  # generator updates of each run
    checkpoints: Int = Field(ge=3)  # exact-W1 evaluations along each run, log-spaced from step 10
    wgan: Overlay  # keys over theory.wgan
    gan: TheoryGan


class EnergyParams(_Section):
    """Part 4: is the trained critic an energy, f(x) ~ log p_real(x)?"""

    steps: Int = Field(ge=10)
    checkpoints: Int = Field(ge=2)  # Spearman along training (log-spaced)
    runs: dict[str, Overlay]  # keys over theory.wgan
    main: str  # the run whose final Spearman is the headline `spearman`
    grid: Int = Field(ge=10)  # grid points per axis
    margin: Float = Field(ge=0)  # the grid spans the data's bounding box plus this margin (in data units)
    near_stds: Float = Field(gt=0)  # "near the data": within this many std of a mode centre

    @model_validator(mode="after")
    def _main_is_a_run(self):
        if self.main not in self.runs:
            raise ValueError(f"main = {self.main!r} is not one of runs: {sorted(self.runs)}")
        return self


class AblationParams(_Section):
    """Part 5: the WGAN critic's optimiser and Lipschitz constraint, one row each."""

    steps: Int = Field(ge=10)
    last_fraction: Float = Field(gt=0, le=1)  # stability: spread of W estimate over this tail
    checkpoints: Int = Field(ge=2)  # exact W1 along each run (log-spaced), for corr(W estimate, W1)
    # keys over theory.wgan (the paper's setting: RMSProp, clip 0.01), so a row differs only by what its name says
    rows: dict[str, Overlay]

    @field_validator("rows")
    @classmethod
    def _names(cls, v: dict) -> dict:
        bad = [k for k in v if not k.replace("_", "").replace(".", "").replace("-", "").isalnum()]
        if bad or not v:
            raise ValueError(f"row names must be letters, digits, '_', '.', '-' (got {bad or 'no rows'})")
        return v


class AvbToyParams(_Section):
    """Part 6: Mescheder, Nowozin & Geiger 2017, section 6.1 (four 2x2 images, 2-D latent)."""

    hidden: list[Int]
    eps_dim: Int = Field(ge=1)  # noise input of AVB's encoder z = f(x, eps)
    steps: Int = Field(ge=1)
    batch_size: Int = Field(ge=4)
    lr: Float = Field(gt=0)
    adversary_lr: Float = Field(gt=0)
    adversary_steps: Int = Field(ge=1)
    adaptive_contrast: Bool  # AVB section 3.3, as avb.adaptive_contrast
    contrast_samples: Int = Field(ge=2)
    is_samples: Int = Field(ge=100)  # importance samples per data point for log p(x)
    n_plot: Int = Field(ge=10)  # posterior draws per data point in the figure

    @field_validator("hidden")
    @classmethod
    def _w(cls, v):
        return _widths(v)


class TheoryParams(_Section):
    lines: LinesParams
    vanishing: VanishingParams
    mixture: MixtureParams
    wgan: TheoryWgan  # the base of every WGAN run of parts 3-5
    meaningful: MeaningfulParams
    energy: EnergyParams
    ablation: AblationParams
    avb_toy: AvbToyParams

    @model_validator(mode="after")
    def _overlays_merge(self):
        """Every WGAN run's keys validated merged onto theory.wgan, one line per problem."""
        problems = []
        for where, keys in (("meaningful.wgan", self.meaningful.wgan),
                            *((f"energy.runs.{n}", k) for n, k in self.energy.runs.items()),
                            *((f"ablation.rows.{n}", k) for n, k in self.ablation.rows.items())):
            try:
                self._merged(keys)
            except ValidationError as err:
                problems += overlay_problems(err, where)
        if problems:
            raise KeyProblems(problems)
        return self

    def _merged(self, keys: dict) -> TheoryWgan:
        return TheoryWgan.model_validate(self.wgan.model_dump(exclude={"steps"}) | keys)

    def wgan_run(self, keys: dict, steps: int) -> TheoryWgan:
        """theory.wgan with a run's own keys on top, for `steps` generator steps."""
        return self._merged(keys).model_copy(update={"steps": steps})

    def wgan_runs(self, runs: dict[str, dict], steps: int) -> dict[str, TheoryWgan]:
        return {name: self.wgan_run(keys, steps) for name, keys in runs.items()}
