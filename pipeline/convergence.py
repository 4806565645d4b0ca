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
A diverged run has not converged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np

from .records import Convergence, EvalRecord

TAIL = 2 / 3  # the window starts at this fraction of the run's generator steps


@dataclass(frozen=True)
class Trend:
    change: float  # |fitted W1 change| over the window
    points: int  # snapshots in the window


def tail_trend(steps: Sequence[int], w1: Sequence[float], total: int) -> Optional[Trend]:
    """The fitted change of W1 over [TAIL * total, total]; None with fewer than 3 finite snapshots there."""
    s = np.asarray(steps, float)
    v = np.asarray(w1, float)
    keep = (s >= TAIL * total - 1e-9) & np.isfinite(v)
    if keep.sum() < 3:
        return None
    slope = np.polyfit(s[keep], v[keep], 1)[0]
    return Trend(float(abs(slope) * total * (1 - TAIL)), int(keep.sum()))


def tolerance(final_w1: Sequence[float], rtol: float, floor: float) -> float:
    """max(1.4826 x the median absolute deviation of the final W1 over seeds, rtol * (its median - floor))."""
    v = np.array([x for x in final_w1 if x is not None and math.isfinite(x)], float)
    if len(v) == 0:
        return float("nan")
    med = float(np.median(v))
    return max(1.4826 * float(np.median(np.abs(v - med))), rtol * max(med - floor, 0.0))


def mark_convergence(records: list[EvalRecord], rtol: float, floor_w1: float) -> None:
    """Set each run's `convergence` by the criterion above: the tolerance from every seed's final W1
    (the evaluation's) and the real-data floor's W1 at the same sample size."""
    finals = [r.scores.w1 for r in records if r.ok and r.scores is not None]
    tol = tolerance(finals, rtol, floor_w1)
    for r in records:
        trend = tail_trend([t.step for t in r.trajectory], [t.w1 for t in r.trajectory], r.train_steps) \
            if r.ok else None
        r.convergence = Convergence(
            converged=trend is not None and math.isfinite(tol) and trend.change < tol,
            change=None if trend is None else round(trend.change, 6), tolerance=round(tol, 6),
            window_from=int(math.ceil(TAIL * r.train_steps)), points=0 if trend is None else trend.points)
