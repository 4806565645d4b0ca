"""Statistics over seeds: the spread of a metric and paired comparisons between models.

Every model is trained once per seed in params `seeds` and evaluated on the same
held-out points with the same evaluation draws, so two models' values at one seed
form a pair. With n seeds, the paired t-test (Student 1908) has n - 1 degrees of
freedom; it is exact when the per-seed differences are normal and says little at
n = 3 (|t| must exceed 4.30 for p < 0.05), which is why the reports write "not
distinguishable with n seeds" far more often than a verdict.

Beyond the single test this module gives what a report needs to say how much a
"not distinguishable" means: the confidence interval of the mean difference, the
Holm (1979) adjustment over the comparisons of one metric within one data set, and
the power of the paired t-test (Cohen 1988), as the smallest difference it would
detect (`min_detectable_difference`) or the chance it detects a given one (`power_of`).
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
    """a - b over the seeds where both have a value.

    `ci_low`, `ci_high` bound the mean difference at confidence `level` (Student 1908):
    mean_diff -/+ t_{(1 + level)/2, n-1} * std_diff / sqrt(n). Like t and p they are None
    when the test is undefined (n < 2, or every difference equal). The interval excludes 0
    exactly when p < 1 - level; it is per comparison, not adjusted for multiplicity.
    """

    mean_diff: float
    std_diff: float
    n: int
    t: Optional[float]  # None when undefined (n < 2, or every difference equal)
    p: Optional[float]  # two-sided
    ci_low: Optional[float] = None
    ci_high: Optional[float] = None
    level: float = 0.95  # confidence level of [ci_low, ci_high]

    def separates(self, alpha: float) -> bool:
        return self.p is not None and self.p < alpha


def paired_test(a: dict[int, Optional[float]], b: dict[int, Optional[float]], level: float = 0.95) -> Paired:
    """Two-sided paired t-test of a - b over the seeds both hold a finite value for (Student 1908).

    t = mean(d) / (sd(d) / sqrt(n)) with n - 1 degrees of freedom, d the per-seed differences;
    with it the `level` confidence interval of the mean difference (see `Paired`).
    """
    from scipy import stats

    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level}")
    seeds = [s for s in a if s in b and _finite(a[s]) and _finite(b[s])]
    d = np.array([a[s] - b[s] for s in seeds], float)
    if len(d) == 0:
        return Paired(float("nan"), float("nan"), 0, None, None, level=level)
    sd = float(d.std(ddof=1)) if len(d) > 1 else 0.0
    # differences equal up to rounding (sd ~ 1e-17 of the mean) make t explode: treat them as equal
    if len(d) < 2 or sd <= 1e-9 * max(abs(float(d.mean())), 1e-12):
        # all differences equal: the test is undefined; n identical signs still say nothing at this n
        return Paired(float(d.mean()), sd, len(d), None, None, level=level)
    res = stats.ttest_1samp(d, 0.0)
    ci = res.confidence_interval(confidence_level=level)
    return Paired(float(d.mean()), sd, len(d), float(res.statistic), float(res.pvalue),
                  float(ci.low), float(ci.high), level)


def _finite(v: Optional[float]) -> bool:
    return v is not None and math.isfinite(v)


# --- multiplicity and power ---------------------------------------------------------------


def holm(pvalues: Sequence[Optional[float]]) -> list[Optional[float]]:
    """Holm-Bonferroni step-down adjusted p-values (Holm 1979), in the input order.

    With the m p-values that are not None sorted ascending, p_(1) <= ... <= p_(m):
        adjusted p_(i) = max_{j <= i} min(1, (m - j + 1) * p_(j))
    Rejecting the hypotheses with adjusted p < alpha controls the family-wise error rate at
    alpha, for any dependence between the tests. None (no test) stays None and is not counted in m.
    """
    idx = sorted((i for i, p in enumerate(pvalues) if p is not None), key=lambda i: pvalues[i])
    m = len(idx)
    out: list[Optional[float]] = [None] * len(pvalues)
    running = 0.0
    for j, i in enumerate(idx):  # j is 0-based, so the multiplier m - j is (m - j + 1) 1-based
        # the running max keeps the adjusted values in the order of the raw ones (step-down)
        running = max(running, min(1.0, (m - j) * float(pvalues[i])))
        out[i] = running
    return out


def power_of(n: int, effect_over_sd: float, alpha: float = 0.05) -> Optional[float]:
    """Power of the two-sided paired t-test over n pairs at level alpha (Cohen 1988, ch. 2).

    With the standardised effect d = delta / sd (Cohen's d of the differences), the statistic is
    noncentral t: T ~ t'(df = n - 1, nc = d * sqrt(n)), and
        power = P(|T| > t_{1 - alpha/2, n-1}) = P(T > t_crit) + P(T < -t_crit),
    the chance the test says p < alpha when the true mean difference is delta (either sign of
    rejection counts, as in the test itself). At d = 0 it is alpha. None when n < 2 or d not finite.
    """
    from scipy import stats

    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    if n < 2 or not math.isfinite(effect_over_sd):
        return None
    df = n - 1
    t_crit = float(stats.t.ppf(1.0 - alpha / 2.0, df))
    nc = abs(effect_over_sd) * math.sqrt(n)
    if nc == 0.0:
        return alpha  # the central t: the test's own level
    # P(T < -t_crit) is written as P(-T > t_crit), -T ~ t'(df, -nc): nct.cdf's far lower tail returns
    # NaN for large nc (scipy 1.17, e.g. df = 2, nc = 17.65) where this form underflows to 0 cleanly
    return float(stats.nct.sf(t_crit, df, nc) + stats.nct.sf(t_crit, df, -nc))


def min_detectable_difference(sd: float, n: int, alpha: float = 0.05, power: float = 0.8,
                              m: int = 1) -> Optional[float]:
    """Smallest true mean paired difference the two-sided paired t-test detects with probability `power`.

    The test runs over n pairs whose differences have standard deviation `sd`, at level alpha / m:
    the Bonferroni share of a Holm (1979) family of m tests, which is the level of Holm's strictest
    (first) step, so the number is what the family is sure to resolve, not a smaller one that a lucky
    ordering might. Exact under normal differences (Student 1908; Cohen 1988 for power): the delta with
        P(|T| > t_{1 - alpha/(2m), n-1}) = power,  T ~ t'(df = n - 1, nc = delta * sqrt(n) / sd),
    found with Brent's method on the standardised effect (`power_of`), in the units of `sd`.
    For large n it tends to (z_{1 - alpha/(2m)} + z_{power}) * sd / sqrt(n).
    None when n < 2 or sd is not finite and positive.
    """
    from scipy import optimize

    if not 0.0 < alpha < 1.0 or m < 1:
        raise ValueError(f"alpha must be in (0, 1) and m >= 1, got alpha = {alpha}, m = {m}")
    level = alpha / m
    if not level < power < 1.0:
        # at delta = 0 the test already rejects with probability `level`: a lower target is meaningless
        raise ValueError(f"power must be in (alpha / m, 1) = ({level}, 1), got {power}")
    if n < 2 or not (math.isfinite(sd) and sd > 0.0):
        return None

    def short(effect: float) -> float:
        return float(power_of(n, effect, level)) - power

    hi = 1.0
    while short(hi) < 0.0:  # power rises with |effect|: widen until the bracket holds the root
        hi *= 2.0
    return sd * float(optimize.brentq(short, 0.0, hi, xtol=1e-12, rtol=1e-12))


# --- one family: the best model against every other, on one metric of one data set -----------------


@dataclass(frozen=True)
class Comparison:
    """The best model against one other, on one metric of one data set (see `compare_family`).

    mean_diff, ci_low, ci_high: best - other over the paired seeds, with its per-comparison
    confidence interval at level 1 - alpha (Student 1908). p: the paired t-test's two-sided p;
    p_holm: p adjusted by Holm (1979) over the family; separated: p_holm < alpha. n: seeds paired.
    mdd: the smallest true difference this family would detect with power 0.8 (Cohen 1988), from
    the paired sd, n and alpha / m (`min_detectable_difference`); None where the test is undefined.
    """

    best: str
    other: str
    mean_diff: float
    ci_low: Optional[float]
    ci_high: Optional[float]
    p: Optional[float]
    p_holm: Optional[float]
    n: int
    separated: bool
    mdd: Optional[float]


def compare_family(values: dict[str, dict[int, Optional[float]]], lower_is_better: bool,
                   alpha: float) -> list[Comparison]:
    """The best model by mean against every other, Holm-adjusted over the family (Holm 1979).

    `values` maps model -> seed -> value of ONE metric on ONE data set; the family is the set of
    comparisons of that metric within that data set, so the adjustment is over them and nothing else.
    The best model has the lowest (`lower_is_better`) or highest mean over its finite values; ties go
    to the first in `values`' order. Models with no finite value take no part in the ranking but still
    get a Comparison, with n = 0 and p None (as any pair the test cannot be run on). Each Comparison
    holds the paired t-test of best - other (Student 1908) with its 1 - alpha interval, the p-value
    adjusted over the m comparisons that have one, and the min detectable difference at alpha / m and
    power 0.8. Empty when no model has a finite value; otherwise one Comparison per other model, in
    `values`' order.
    """
    means = {name: sp.mean for name, v in values.items() if (sp := spread(list(v.values()))).n}
    if not means:
        return []
    pick = min if lower_is_better else max
    best = pick(means, key=lambda name: means[name])  # min/max return the first of equal keys
    others = [name for name in values if name != best]
    tests = [paired_test(values[best], values[o], level=1.0 - alpha) for o in others]
    adjusted = holm([t.p for t in tests])
    m = max(1, sum(t.p is not None for t in tests))  # Holm's m: the comparisons with a test
    return [Comparison(best=best, other=o, mean_diff=t.mean_diff, ci_low=t.ci_low, ci_high=t.ci_high,
                       p=t.p, p_holm=ph, n=t.n, separated=ph is not None and ph < alpha,
                       mdd=min_detectable_difference(t.std_diff, t.n, alpha, 0.8, m) if t.p is not None else None)
            for o, t, ph in zip(others, tests, adjusted)]
