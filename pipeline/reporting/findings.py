"""What a data set's results say, as typed findings; pipeline/reporting/report.py turns them into words.

- `anytime`: W1 of every model at 1/4, 1/2 and all of the shared FLOP budget, with its rank
  at each: a ranking at every budget, so that a model still improving at the budget is seen
  as such (Lucic et al. 2018 compare at equal compute).
- `verdicts`: per metric, the best model by its mean over seeds, paired t-tests against every
  other with 95% confidence intervals of the difference, Holm's correction over that metric's
  comparisons on the data set (Holm 1979), and for a difference not separated, the smallest
  one these seeds could have detected (80% power). A metric is a headline only where every
  baseline (a generator that learned no mode) scores worse than the best model: otherwise it
  does not separate learning from no learning.
- `states`: each run settled, still improving or getting worse at the budget (pipeline/evaluation/convergence.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

from pipeline.evaluation.convergence import STATES
from pipeline.records import EvalRecord, RealRecord
from pipeline.reporting.seedstats import Comparison, Spread, compare_family, min_detectable_difference, power_of, spread

# metric key -> (label, lower is better)
METRICS: dict[str, tuple[str, bool]] = {
    "w1": ("W1", True),
    "w1_sliced": ("sliced W1", True),
    "fid_domain": ("domain FID", True),
    "fid_inception": ("Inception FID", True),
    "precision": ("precision", False),
    "recall": ("recall", False),
    "modes_covered": ("modes", False),
    "high_quality_pct": ("high-quality share", False),
    "mode_kl": ("mode KL", True),
}
ANYTIME = (0.25, 0.5, 1.0)  # shares of the budget in the anytime table
POWER = 0.8


@dataclass(frozen=True)
class AnytimeCell:
    w1: Spread  # snapshot W1 over seeds at that share of the budget
    rank: Optional[int]  # 1 = lowest mean W1 there; None without a value


@dataclass(frozen=True)
class AnytimeRow:
    model: str
    cells: list[AnytimeCell]  # one per ANYTIME share
    gflop: float  # the FLOPs its runs trained for (mean over seeds)
    seconds: Spread  # training wall seconds
    states: dict[str, int]  # state -> runs in it


@dataclass(frozen=True)
class Verdict:
    metric: str
    label: str
    lower_is_better: bool
    best: str
    best_value: Spread
    comparisons: list[Comparison]  # the best against every other model, Holm-corrected over this list
    headline: bool  # every baseline scores worse than the best model
    baselines: dict[str, float]  # name -> its value
    floor: Optional[float]  # the real-data value


def state_counts(runs: list[EvalRecord]) -> dict[str, int]:
    """state -> how many of `runs` are in it, in the order they first appear."""
    counts: dict[str, int] = {}
    for r in runs:
        counts[r.state] = counts.get(r.state, 0) + 1
    return counts


def describe_states(counts: dict[str, int]) -> str:
    """'settled 2, still improving 1'."""
    return ", ".join(f"{STATES[k]} {n}" for k, n in counts.items())


def w1_at(r: EvalRecord, share: float) -> Optional[float]:
    """The snapshot W1 at the compute point `share` of the budget (the points are shared: exact match)."""
    target = share * r.budget_gflop
    for t in r.trajectory:
        if math.isclose(t.gflop, target, rel_tol=1e-6) and math.isfinite(t.w1):
            return t.w1
    return None


def anytime(runs: dict[str, list[EvalRecord]]) -> list[AnytimeRow]:
    """W1 at 1/4, 1/2 and the whole budget for every model, ranked at each share by the mean over seeds."""
    by_share = {s: {m: spread([w1_at(r, s) for r in rs if r.ok]) for m, rs in runs.items()} for s in ANYTIME}
    ranks = {s: {m: i + 1 for i, m in enumerate(sorted((m for m, v in vals.items() if v.n),
                                                       key=lambda m: vals[m].mean))}
             for s, vals in by_share.items()}
    rows = []
    for m, rs in runs.items():
        rows.append(AnytimeRow(m, [AnytimeCell(by_share[s][m], ranks[s].get(m)) for s in ANYTIME],
                               spread([r.flops / 1e9 for r in rs]).mean, spread([r.train_seconds for r in rs]),
                               state_counts(rs)))
    return rows


def verdicts(runs: dict[str, list[EvalRecord]], real: RealRecord, alpha: float) -> list[Verdict]:
    """One verdict per metric that some model has, in METRICS' order."""
    out = []
    for key, (label, lower) in METRICS.items():
        values = {m: {r.seed: r.metrics().get(key) for r in rs} for m, rs in runs.items()}
        if not any(v is not None for per in values.values() for v in per.values()):
            continue
        comps = compare_family(values, lower_is_better=lower, alpha=alpha)
        if not comps:
            continue
        best = comps[0].best
        best_value = spread(list(values[best].values()))
        base = {name: getattr(sc, key) for name, sc in real.baselines.items() if getattr(sc, key) is not None}
        worse = [(v > best_value.mean) if lower else (v < best_value.mean) for v in base.values()]
        out.append(Verdict(key, label, lower, best, best_value, comps, all(worse), base, getattr(real.floor, key)))
    return out


@dataclass(frozen=True)
class Power:
    """What n seeds can tell: the smallest paired difference, in sd of the differences, that a paired t-test
    at alpha detects with POWER, and the power against a difference of one sd."""

    n: int
    alpha: float
    mdd_in_sd: Optional[float]
    power_at_one_sd: Optional[float]


def power(n: int, alpha: float) -> Power:
    return Power(n, alpha, min_detectable_difference(1.0, n, alpha, POWER), power_of(n, 1.0, alpha))
