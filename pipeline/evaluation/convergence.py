"""A run's state at the budget: settled, still improving, or getting worse.

This describes a run; it never sets a budget (every model gets the same compute,
pipeline/training/budget.py). Over the second half of the budget, [budget/2, budget], the
snapshots sit at the same compute points for every model. A least-squares line
through their exact W1 against compute gives the signed change over that window:

    change = slope * (budget - budget/2)

and the run is
- "improving" when change < -tolerance (W1 still falling: more compute would help),
- "getting worse" when change > +tolerance (rising: a drift or an oscillation),
- "settled" otherwise,
- "diverged" when training hit NaN/inf (pipeline/training/loop.py).

The tolerance is the same for every model on a data set, so it is no looser for a
noisier or a worse model:

    tolerance = max(rtol * floor, NOISE_Z * floor_sd * W / sqrt(Sxx))

where `floor` is the exact W1 of real training samples at the snapshots' sample size
(what a perfect generator's snapshot scores), `floor_sd` its sd over subsets (how much
one snapshot's W1 moves by sampling alone, pipeline/evaluation/real_stats.py), W the window's
length and Sxx the spread of its compute points: the second term is NOISE_Z standard
errors of the fitted change when every snapshot carries that sampling noise. A model
whose own snapshots are noisier than real data's is not given a wider band: its
fitted change will more often read as improving or worse, which is what its curve shows.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from pipeline.records import Convergence, SnapshotFloor

TAIL_FROM = 0.5  # the state is read over [TAIL_FROM * budget, budget]

NOISE_Z = 2.0  # a fitted change within this many standard errors of sampling noise is not a trend
STATES = {"settled": "settled", "improving": "still improving", "worse": "getting worse", "diverged": "diverged"}


def fitted_change(gflop: Sequence[float], w1: Sequence[float], budget: float) -> tuple[float, int, float]:
    """(signed fitted change of W1 over [TAIL_FROM * budget, budget], points in the window, W / sqrt(Sxx));
    the change is NaN with fewer than 3 finite points there."""
    x, y = np.asarray(gflop, float), np.asarray(w1, float)
    keep = (x >= TAIL_FROM * budget * (1 - 1e-9)) & np.isfinite(y)
    window = budget * (1 - TAIL_FROM)
    if keep.sum() < 3:
        return math.nan, int(keep.sum()), math.nan
    slope = np.polyfit(x[keep], y[keep], 1)[0]
    sxx = float(((x[keep] - x[keep].mean()) ** 2).sum())
    return float(slope * window), int(keep.sum()), window / math.sqrt(sxx)


def tolerance(floor: SnapshotFloor, se_per_sd: float, rtol: float) -> float:
    """max(rtol * the floor's W1, NOISE_Z standard errors of the fitted change from the floor's sampling noise)."""
    noise = NOISE_Z * floor.w1_sd * se_per_sd if math.isfinite(se_per_sd) else 0.0
    return max(rtol * floor.w1, noise)


def run_state(gflop: Sequence[float], w1: Sequence[float], budget: float, floor: SnapshotFloor, rtol: float,
              ok: bool = True) -> Convergence:
    """The state of one run at the budget from its snapshots' (GFLOP, W1), by the rule above."""
    change, points, se_per_sd = fitted_change(gflop, w1, budget)
    tol = tolerance(floor, se_per_sd, rtol)
    if not ok:
        state = "diverged"
    elif not math.isfinite(change):
        state = "worse"  # no finite W1 to fit in the window: the samples went bad
    else:
        state = "improving" if change < -tol else "worse" if change > tol else "settled"
    return Convergence(state=state, change=None if not math.isfinite(change) else round(change, 6),
                       tolerance=round(tol, 6), window_from=TAIL_FROM * budget, points=points)
