"""The theory records: one per theory part, written by `python -m stages theory <part>` to
metrics/theory/<part>.json and read back by the theory report, and the parts' numbers over seeds
(TheorySeeds). `metrics()`: every scalar result the report states (flat keys; the summary nests them
under theory.<part>). NaN where undefined (null in the JSON). The base in pipeline/records/base.py."""

from __future__ import annotations

import math
from typing import Optional

from pipeline.records.base import Float, Record, finite_or_none


class DemoRun(Record):
    """Part 1's learning demo: g_theta(z) = (theta, z) trained from theta = 1 with one generator loss."""

    loss: str  # wgan | minimax | nonsaturating
    thetas: list[Float] = []  # after each generator step (index 0: the start)
    grad_norms: list[Float] = []  # |dL_G/dtheta| at each generator step

    @property
    def theta_final(self) -> float:
        return self.thetas[-1]


class LinesResult(Record):
    """Part 1: parallel lines (WGAN Example 1); the analytic curves are functions of `thetas`."""

    thetas: list[Float]
    w1_gp: list[Float]  # gradient-penalty critic: ~ |theta|
    w1_clip: list[Float]  # clipped critic: K(c) * |theta|
    js_gan: list[Float]  # (log 4 - L_D) / 2 of a trained discriminator
    clip_scale: Float  # least-squares K in w1_clip ~ K |theta|
    w1_rel_error_max: Float  # max |w1_gp - |theta|| / |theta| over |theta| >= 0.2
    clip_rel_error_max: Float  # the same for w1_clip against K |theta|
    js_min_nonzero: Float  # smallest JS estimate at theta != 0
    demos: dict[str, DemoRun]
    seconds: Float = 0.0

    def metrics(self) -> dict[str, Optional[float]]:
        mm, ns = self.demos["minimax"], self.demos.get("nonsaturating")
        at = lambda v, i: finite_or_none(v[i]) if v else None  # noqa: E731  (an empty list: None)
        return {
            "w1_rel_error_max": finite_or_none(self.w1_rel_error_max),
            "clip_rel_error_max": finite_or_none(self.clip_rel_error_max),
            "js_min_nonzero": finite_or_none(self.js_min_nonzero),
            "wgan_theta_final": finite_or_none(self.demos["wgan"].theta_final),
            "minimax_theta_final": finite_or_none(self.demos["minimax"].theta_final),
            # what the report's text states besides (the nonsaturating demo is optional: None without it)
            "clip_scale": finite_or_none(self.clip_scale),
            "minimax_grad_first": at(mm.grad_norms, 0),
            "minimax_grad_last": at(mm.grad_norms, -1),
            "nonsaturating_theta_final": at(ns.thetas, -1) if ns else None,
            "nonsaturating_grad_last": at(ns.grad_norms, -1) if ns else None,
        }


class VanishingResult(Record):
    """Part 2: generator gradient norms while D / the critic train against a fixed generator."""

    steps: list[int]  # discriminator / critic updates so far
    grad_minimax: list[Float]
    grad_nonsaturating: list[Float]
    grad_wgan: list[Float]
    js_estimate: list[Float]  # (log 4 - L_D) / 2 at the same steps: D's progress to optimality
    x: list[Float]  # grid for the function plot
    d_of_x: list[Float]  # sigmoid of the final discriminator
    f_of_x: list[Float]  # the final critic
    real: tuple[Float, Float]  # (mean, std)
    fake: tuple[Float, Float]
    seconds: Float = 0.0

    @staticmethod
    def last_over_max(g: list[float]) -> float:
        return g[-1] / max(g) if max(g) > 0 else math.nan

    def metrics(self) -> dict[str, Optional[float]]:
        return {
            "minimax_grad_last": finite_or_none(self.grad_minimax[-1]),
            "minimax_last_over_max": finite_or_none(self.last_over_max(self.grad_minimax)),
            "nonsaturating_grad_first": finite_or_none(self.grad_nonsaturating[0]),
            "nonsaturating_grad_last": finite_or_none(self.grad_nonsaturating[-1]),
            "wgan_grad_last": finite_or_none(self.grad_wgan[-1]),
            "wgan_last_over_max": finite_or_none(self.last_over_max(self.grad_wgan)),
        }


class W1Checkpoint(Record):
    step: int  # generator steps done
    w1: Float  # exact W1 of the generator's samples against held-out real ones
    estimate: Float = math.nan  # the training estimate there (W or JS), a mean over the last log rows


class RunTrace(Record):
    """One training run of part 3: its log and the exact W1 at checkpoints."""

    model: str  # wgan | gan
    estimate_key: str  # w_estimate | js_estimate
    rows: list[dict[str, Float]]  # the core loop's log rows (step counted over the whole run)
    checkpoints: list[W1Checkpoint]
    pearson: Float  # estimate vs exact W1 over the checkpoints (NaN: undefined)
    spearman: Float
    error: str = ""

    @property
    def w1_final(self) -> float:
        return self.checkpoints[-1].w1 if self.checkpoints else math.nan


class MeaningfulResult(Record):
    """Part 3: does the training loss track sample quality (WGAN Figures 3 and 4)?"""

    runs: dict[str, RunTrace]
    w1_floor: Float  # exact W1 between two real samples of the evaluation size
    seconds: Float = 0.0

    def metrics(self) -> dict[str, Optional[float]]:
        w, g = self.runs["wgan"], self.runs["gan"]
        return {
            "wgan_spearman": finite_or_none(w.spearman),
            "wgan_pearson": finite_or_none(w.pearson),
            "gan_spearman": finite_or_none(g.spearman),
            "gan_pearson": finite_or_none(g.pearson),
            "wgan_w1_final": finite_or_none(w.w1_final),
            "w1_floor": finite_or_none(self.w1_floor),
        }


class EnergyCheckpoint(Record):
    step: int
    all: Float  # Spearman(f, log p_real) over the whole grid
    near: Float  # ... within `near_stds` of a mode
    far: Float  # ... elsewhere
    w1: Float  # exact W1 of the generator's samples


class EnergyRun(Record):
    checkpoints: list[EnergyCheckpoint]
    error: str = ""

    @property
    def final(self) -> Optional[EnergyCheckpoint]:
        return self.checkpoints[-1] if self.checkpoints else None


class EnergyResult(Record):
    """Part 4: trained critics against log p_real on a grid (the maps themselves are only drawn)."""

    grid: int  # points per axis
    near_fraction: Float  # share of grid points counted as near a mode
    main: str  # the run of the headline number
    runs: dict[str, EnergyRun]
    seconds: Float = 0.0

    def metrics(self) -> dict[str, Optional[float]]:
        fin = self.runs[self.main].final
        out = {"spearman": fin.all if fin else None, "spearman_near": fin.near if fin else None,
               "spearman_far": fin.far if fin else None,
               "spearman_peak": max((c.all for c in self.runs[self.main].checkpoints if math.isfinite(c.all)),
                                    default=None)}
        for name, r in ((n, r) for n, r in self.runs.items() if n != self.main):
            out[f"{name}_spearman"] = r.final.all if r.final else None
        return {k: finite_or_none(v) for k, v in out.items()}


class AblationRow(Record):
    """One WGAN setting of part 5, trained from the same seed as every other row."""

    run: dict  # the row's full WGAN settings (theory.wgan with the row's keys on top)
    status: str  # ok | diverged
    message: str = ""
    w1: Float = math.nan  # exact W1 of the final generator
    w_final: Float = math.nan  # the critic's W estimate over the last `last_fraction` of steps
    w_std: Float = math.nan  # its spread there
    w_rel_std: Float = math.nan  # spread / |mean| (the estimate's scale is the critic's K)
    corr_w_w1: Float = math.nan  # Pearson(W estimate, exact W1) at the checkpoints
    lipschitz: Float = math.nan  # largest input-gradient norm on real-fake interpolates
    energy_spearman: Float = math.nan  # Spearman(f, log p_real) on a grid
    checkpoints: list[W1Checkpoint] = []


class AblationResult(Record):
    """Part 5: the WGAN critic's optimiser and Lipschitz constraint, one row each."""

    steps: int
    last_fraction: Float
    rows: dict[str, AblationRow]
    seconds: Float = 0.0

    def metrics(self) -> dict[str, Optional[float]]:
        return {f"{name}_{key}": finite_or_none(getattr(r, key)) for key in ("w1", "w_rel_std")
                for name, r in self.rows.items()}


class LogLik(Record):
    """log p(x) of a toy decoder, averaged over the four images."""

    mean: Float  # importance-sampling estimate, prior as proposal
    mc_stderr: Float  # Monte Carlo standard error of `mean` (delta method on each image's mean weight)
    per_point: list[Float]
    ess_fraction: Float  # effective sample size / K of the prior proposal
    quadrature: Float  # the same integral on a 2-D grid


class AvbToyResult(Record):
    """Part 6: AVB vs VAE on four 2x2 images (AVB section 6.1); the posterior draws are only drawn."""

    avb: LogLik
    vae: LogLik
    elbo: dict[str, Float]  # final training ELBO (mean of the last 10% of steps)
    optimum: Float  # -log 4
    seconds: Float = 0.0

    def metrics(self) -> dict[str, Optional[float]]:
        return {
            "avb_loglik": finite_or_none(self.avb.mean),
            "vae_loglik": finite_or_none(self.vae.mean),
            "avb_loglik_stderr": finite_or_none(self.avb.mc_stderr),
            "vae_loglik_stderr": finite_or_none(self.vae.mc_stderr),
            "optimum": self.optimum,
            "avb_quadrature": finite_or_none(self.avb.quadrature),
            "vae_quadrature": finite_or_none(self.vae.quadrature),
            "avb_elbo": finite_or_none(self.elbo.get("avb", math.nan)),
            "vae_elbo": finite_or_none(self.elbo.get("vae", math.nan)),
        }


THEORY_RECORDS: dict[str, type[Record]] = {
    "lines": LinesResult,
    "vanishing": VanishingResult,
    "meaningful": MeaningfulResult,
    "energy": EnergyResult,
    "ablation": AblationResult,
    "avb_toy": AvbToyResult,
}


class TheorySeeds(Record):
    """theory <part> -> summary, theory report: the part's headline numbers (its record's `metrics()`)
    for every seed in params `seeds`, in that order; the part's own record is the first seed's."""

    part: str
    seeds: list[int]
    metrics: dict[str, list[Optional[Float]]]  # metric -> one value per seed (None: undefined there)
