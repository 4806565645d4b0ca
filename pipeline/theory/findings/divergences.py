"""Parts 1 and 2, the claims about the distances themselves: on the parallel lines the critics track
W1 while JS saturates at log 2 (`lines`), and the minimax GAN's gradient vanishes where the WGAN's
does not (`vanishing`)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Sequence

from pipeline.records import LinesResult, TheorySeeds, VanishingResult
from pipeline.theory.findings.common import (
    JS_SHARE,
    REL_TOL,
    STEADY,
    TARGET,
    VANISHED,
    PerSeed,
    Stat,
    Verdict,
    finite,
)

# --- part 1: parallel lines ----------------------------------------------------------------


@dataclass(frozen=True)
class GridPoint:
    theta: float
    w1_gp: float  # the gradient-penalty critic's estimate
    w1_clip: float  # the clipped critic's
    js_gan: float  # the trained discriminator's JS


@dataclass(frozen=True)
class Demo:
    loss: str
    steps: int
    theta_final: float
    first_below: Optional[int]  # first step with |theta| < TARGET
    grad_first: float
    grad_last: float


@dataclass(frozen=True)
class Lines:
    first_seed: Optional[int]
    points: tuple[GridPoint, ...]
    rel_tol: float
    gp_error: Stat
    gp_within: Verdict
    clip_scale: Stat
    clip_error: Stat
    clip_within: Verdict
    log2: float
    js_share: float
    js_min: Stat
    js_saturates: Verdict
    target: float
    demos: tuple[Demo, ...]
    wgan: Demo  # the first seed's WGAN demo: where |theta| first fell below TARGET
    wgan_ends_below: bool  # ... and whether it was still below at the end
    wgan_theta: Stat  # |theta| at the end
    wgan_reaches: Verdict
    minimax_theta: Stat
    minimax_stays: Verdict  # |theta| >= TARGET at the end
    minimax_grad_first: Stat
    minimax_grad_last: Stat
    nonsaturating_theta: Optional[Stat]  # None without the -log D demo
    nonsaturating_grad_last: Optional[Stat]


def _first_below(values: Sequence[float], bound: float) -> Optional[int]:
    return next((i for i, v in enumerate(values) if abs(v) < bound), None)


def lines(d: LinesResult, ts: Optional[TheorySeeds] = None) -> Lines:
    s = PerSeed.of(d, ts)
    demos = {name: Demo(name, len(r.grad_norms), r.theta_final, _first_below(r.thetas, TARGET), r.grad_norms[0],
                        r.grad_norms[-1]) for name, r in d.demos.items()}
    within = lambda v: finite(v) and v <= REL_TOL  # noqa: E731
    ns = "nonsaturating" in d.demos
    return Lines(
        first_seed=s.first_seed,
        points=tuple(GridPoint(*p) for p in zip(d.thetas, d.w1_gp, d.w1_clip, d.js_gan)),
        rel_tol=REL_TOL,
        gp_error=s.stat("w1_rel_error_max"),
        gp_within=s.verdict(["w1_rel_error_max"], within),
        clip_scale=s.stat("clip_scale"),
        clip_error=s.stat("clip_rel_error_max"),
        clip_within=s.verdict(["clip_rel_error_max"], within),
        log2=math.log(2.0),
        js_share=JS_SHARE,
        js_min=s.stat("js_min_nonzero"),
        js_saturates=s.verdict(["js_min_nonzero"], lambda v: finite(v) and v > JS_SHARE * math.log(2.0)),
        target=TARGET,
        demos=tuple(demos.values()),
        wgan=demos["wgan"],
        wgan_ends_below=abs(demos["wgan"].theta_final) < TARGET,
        wgan_theta=s.stat("wgan_theta_final", fn=abs),
        wgan_reaches=s.verdict(["wgan_theta_final"], lambda v: finite(v) and abs(v) < TARGET),
        minimax_theta=s.stat("minimax_theta_final"),
        minimax_stays=s.verdict(["minimax_theta_final"], lambda v: finite(v) and abs(v) >= TARGET),
        minimax_grad_first=s.stat("minimax_grad_first"),
        minimax_grad_last=s.stat("minimax_grad_last"),
        nonsaturating_theta=s.stat("nonsaturating_theta_final") if ns else None,
        nonsaturating_grad_last=s.stat("nonsaturating_grad_last") if ns else None,
    )


# --- part 2: vanishing gradients -----------------------------------------------------------


@dataclass(frozen=True)
class GradientStep:
    step: int
    js: float
    minimax: float
    nonsaturating: float
    wgan: float


@dataclass(frozen=True)
class Vanishing:
    first_seed: Optional[int]
    real: tuple[float, float]  # (mean, std)
    fake: tuple[float, float]
    steps: tuple[GradientStep, ...]
    vanished: float
    minimax_ratio: Stat  # last gradient over the largest
    minimax_vanishes: Verdict
    nonsaturating_first: Stat
    nonsaturating_last: Stat
    nonsaturating_grows: Verdict
    steady: float
    wgan_ratio: Stat
    wgan_steady: Verdict


def vanishing(d: VanishingResult, ts: Optional[TheorySeeds] = None) -> Vanishing:
    s = PerSeed.of(d, ts)
    return Vanishing(
        first_seed=s.first_seed,
        real=tuple(d.real),
        fake=tuple(d.fake),
        steps=tuple(GradientStep(*x) for x in zip(d.steps, d.js_estimate, d.grad_minimax, d.grad_nonsaturating,
                                                  d.grad_wgan)),
        vanished=VANISHED,
        minimax_ratio=s.stat("minimax_last_over_max"),
        minimax_vanishes=s.verdict(["minimax_last_over_max"], lambda v: finite(v) and v < VANISHED),
        nonsaturating_first=s.stat("nonsaturating_grad_first"),
        nonsaturating_last=s.stat("nonsaturating_grad_last"),
        nonsaturating_grows=s.verdict(["nonsaturating_grad_first", "nonsaturating_grad_last"],
                                      lambda a, b: finite(a) and finite(b) and b > a),
        steady=STEADY,
        wgan_ratio=s.stat("wgan_last_over_max"),
        wgan_steady=s.verdict(["wgan_last_over_max"], lambda v: finite(v) and v > STEADY),
    )
