"""Has a run converged? A criterion on the exact W1 of its generator snapshots.

A run has converged when, over the last third of its training, the exact W1
of its snapshots (the `train.tail_snapshots` evenly spaced there, and any
log-spaced one that falls there) moves by less than the tolerance: the
least-squares line through them changes by `|slope| * (T - 2T/3)`, and the
tolerance is the larger of
- the seed-to-seed spread of the final W1 (the evaluation's, on `eval.n_samples`):
  a trend smaller than the spread between seeds cannot change a comparison over
  those seeds. The spread is robust, 1.4826 x the median absolute deviation (the
  std for normal data): one seed that collapsed onto a mode must not widen the
  tolerance until every other run passes;
- `rtol` x (median final W1 - the real-data floor's W1 at the same sample size):
  a tenth of the distance still to go, so that three seeds that agree by chance
  do not demand an impossible flatness. Relative to the floor, not to W1 itself:
  on 64-dimensional digits every W1 sits near 1.3-1.9 and 10% of W1 would call
  any run converged.
and, per run, never below what the snapshots can resolve: 2 x the standard error
that the snapshot W1's own sampling noise gives the fitted change, sd * W / sqrt(Sxx)
(W the window's length, Sxx the spread of its snapshot steps), where sd is the
standard deviation of the final generator's W1 at the snapshot sample size over
fresh noise draws (`eval.snapshot_noise_draws`, measured by the evaluation).
Every snapshot uses the same noise, but once SGD has moved the weights that noise
lands on new points, so a generator whose distribution no longer changes still
shows a W1 that wanders by about sd from snapshot to snapshot (on ring8, 1000
samples: sd 0.007-0.016, while a tenth of the way to the floor can be 0.003).
For a generator that barely moves the errors are shared and the band is
generous, but such a run has no trend to hide. A run that drifts or oscillates
by more than sampling noise is still caught: its generator's own jitter is not
in sd.
A diverged run has not converged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np

from .records import Convergence, EvalRecord

TAIL = 2 / 3  # the window starts at this fraction of the run's generator steps
NOISE_Z = 2.0  # a fitted change within this many standard errors of measurement noise is not a trend


@dataclass(frozen=True)
class Trend:
    change: float  # |fitted W1 change| over the window
    rising: bool  # the fitted line goes up: W1 got worse over the window
    points: int  # snapshots in the window
    # the fitted change's standard error per unit of noise sd on each snapshot: W / sqrt(Sxx)
    se_per_sd: float


def tail_trend(steps: Sequence[int], w1: Sequence[float], total: int) -> Optional[Trend]:
    """The fitted change of W1 over [TAIL * total, total]; None with fewer than 3 finite snapshots there."""
    s = np.asarray(steps, float)
    v = np.asarray(w1, float)
    keep = (s >= TAIL * total - 1e-9) & np.isfinite(v)
    if keep.sum() < 3:
        return None
    slope = np.polyfit(s[keep], v[keep], 1)[0]
    window = total * (1 - TAIL)
    sxx = float(((s[keep] - s[keep].mean()) ** 2).sum())
    return Trend(float(abs(slope) * window), bool(slope > 0), int(keep.sum()), window / math.sqrt(sxx))


def tolerance(final_w1: Sequence[float], rtol: float, floor: float) -> float:
    """max(1.4826 x the median absolute deviation of the final W1 over seeds, rtol * (its median - floor))."""
    v = np.array([x for x in final_w1 if x is not None and math.isfinite(x)], float)
    if len(v) == 0:
        return float("nan")
    med = float(np.median(v))
    return max(1.4826 * float(np.median(np.abs(v - med))), rtol * max(med - floor, 0.0))


def resolution(trend: Trend, noise_sd: Optional[float]) -> Optional[float]:
    """NOISE_Z standard errors of the fitted change under the snapshots' measurement noise alone
    (sd per snapshot, independent); None when the noise was not measured."""
    if noise_sd is None or not math.isfinite(noise_sd):
        return None
    return NOISE_Z * noise_sd * trend.se_per_sd


def mark_convergence(records: list[EvalRecord], rtol: float, floor_w1: float) -> None:
    """Set each run's `convergence` by the criterion above: the tolerance from every seed's final W1
    (the evaluation's) and the real-data floor's W1 at the same sample size, raised for a run to what
    its snapshots resolve."""
    finals = [r.scores.w1 for r in records if r.ok and r.scores is not None]
    tol = tolerance(finals, rtol, floor_w1)
    for r in records:
        trend = tail_trend([t.step for t in r.trajectory], [t.w1 for t in r.trajectory], r.train_steps) \
            if r.ok else None
        res = None if trend is None else resolution(trend, r.snapshot_w1_sd)
        run_tol = tol if res is None else max(tol, res)
        r.convergence = Convergence(
            converged=trend is not None and math.isfinite(run_tol) and trend.change < run_tol,
            change=None if trend is None else round(trend.change, 6), tolerance=round(run_tol, 6),
            window_from=int(math.ceil(TAIL * r.train_steps)), points=0 if trend is None else trend.points,
            shared_tolerance=round(tol, 6), resolution=None if res is None else round(res, 6),
            direction=None if trend is None else ("rising" if trend.rising else "falling"))
