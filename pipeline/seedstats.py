"""Statistics over seeds: the spread of a metric and paired comparisons between models.

Every model is trained once per seed in params `seeds` and evaluated on the same
held-out points with the same evaluation draws, so two models' values at one seed
form a pair. With n seeds, the paired t-test (Student 1908) has n - 1 degrees of
freedom; it is exact when the per-seed differences are normal and says little at
n = 3 (|t| must exceed 4.30 for p < 0.05), which is why the reports write "not
distinguishable with n seeds" far more often than a verdict.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np


@dataclass(frozen=True)
class Spread:
    mean: float
    std: float  # sample standard deviation (ddof = 1); 0 for a single value
    n: int


def spread(values: Sequence[Optional[float]]) -> Spread:
    """Mean and sample std of the finite values (None and NaN are left out, and not counted in n)."""
    v = np.array([x for x in values if x is not None and math.isfinite(x)], float)
    if len(v) == 0:
        return Spread(float("nan"), float("nan"), 0)
    return Spread(float(v.mean()), float(v.std(ddof=1)) if len(v) > 1 else 0.0, len(v))


@dataclass(frozen=True)
class Paired:
    """a - b over the seeds where both have a value."""

    mean_diff: float
    std_diff: float
    n: int
    t: Optional[float]  # None when undefined (n < 2, or every difference equal)
    p: Optional[float]  # two-sided

    def separates(self, alpha: float) -> bool:
        return self.p is not None and self.p < alpha


def paired_test(a: dict[int, Optional[float]], b: dict[int, Optional[float]]) -> Paired:
    """Two-sided paired t-test of a - b over the seeds both hold a finite value for."""
    from scipy import stats

    seeds = [s for s in a if s in b and _finite(a[s]) and _finite(b[s])]
    d = np.array([a[s] - b[s] for s in seeds], float)
    if len(d) == 0:
        return Paired(float("nan"), float("nan"), 0, None, None)
    sd = float(d.std(ddof=1)) if len(d) > 1 else 0.0
    # differences equal up to rounding (sd ~ 1e-17 of the mean) make t explode: treat them as equal
    if len(d) < 2 or sd <= 1e-9 * max(abs(float(d.mean())), 1e-12):
        # all differences equal: the test is undefined; n identical signs still say nothing at this n
        return Paired(float(d.mean()), sd, len(d), None, None)
    res = stats.ttest_1samp(d, 0.0)
    return Paired(float(d.mean()), sd, len(d), float(res.statistic), float(res.pvalue))


def _finite(v: Optional[float]) -> bool:
    return v is not None and math.isfinite(v)
