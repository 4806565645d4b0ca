"""What a data set's results say, as typed findings; the templates in pipeline/reporting/templates/
say them in words (pipeline/reporting/report.py renders them).

Every decision a report states is made here or in pipeline/reporting/readings.py, from the records
(pipeline/reporting/results.py), and nothing here is words: which model is best and what it is separated
from, each run's state at the budget, which runs diverged. `dataset_findings` gathers everything for one
data set, the readings' findings included; the pieces here:

- `anytime`: W1 of every model at 1/4, 1/2 and all of the shared FLOP budget, with its rank
  at each: a ranking at every budget, so that a model still improving at the budget is seen
  as such (Lucic et al. 2018 compare at equal compute).
- `verdicts`: per metric, the best model by its mean over seeds, paired t-tests against every
  other with confidence intervals of the difference, Holm's correction over that metric's
  comparisons on the data set (Holm 1979), and for a difference not separated, the smallest
  one these seeds could have detected (80% power). A metric is a headline only where every
  baseline (a generator that learned no mode) scores worse than the best model: otherwise it
  does not separate learning from no learning.
- `state_counts`, `unsettled`: each run settled, still improving or getting worse at the budget
  (pipeline/evaluation/convergence.py), and for the runs not settled, how far W1 moved.
- `table`: the cells of the table at the budget (mean and sample std over seeds).
- readings.py: `modes`, `estimates`, `likelihoods`, `training_times`, `environment`: the rest of the reading.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from typing import Optional

from pipeline.models.registry import MODELS
from pipeline.records import EvalRecord, Likelihood, RealRecord
from pipeline.reporting.readings import (LOW_ESS, Environment, EstimateTracking, Likelihoods, Modes, TimeRange,
                                         environment, estimates, likelihoods, modes, training_times)
from pipeline.reporting.results import DatasetResults
from pipeline.reporting.seedstats import (Comparison, Spread, compare_family, min_detectable_difference, power_of,
                                          spread)

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


# --- anytime: W1 at shares of the budget ------------------------------------------------------


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


def state_counts(runs: list[EvalRecord]) -> dict[str, int]:
    """state -> how many of `runs` are in it, in the order they first appear."""
    return dict(Counter(r.state for r in runs))


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


# --- verdicts: the best model per metric, Holm-corrected ----------------------------------------


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

    @property
    def separated(self) -> list[Comparison]:
        """The models the best is separated from: Holm-adjusted p < alpha."""
        return [c for c in self.comparisons if c.separated]

    @property
    def not_separated(self) -> list[Comparison]:
        return [c for c in self.comparisons if not c.separated]

    @property
    def detectable(self) -> Optional[tuple[float, float]]:
        """(smallest, largest) of the differences the seeds would detect with POWER among the pairs not
        separated (`Comparison.mdd`); None where no such pair has a test."""
        mdd = [c.mdd for c in self.not_separated if c.mdd is not None]
        return (min(mdd), max(mdd)) if mdd else None


def verdicts(runs: dict[str, list[EvalRecord]], real: RealRecord, alpha: float) -> list[Verdict]:
    """One verdict per metric that some model has, in METRICS' order (`compare_family` for the tests)."""
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
    """Noncentral t (Cohen 1988): `min_detectable_difference` and `power_of` with sd = 1."""
    return Power(n, alpha, min_detectable_difference(1.0, n, alpha, POWER), power_of(n, 1.0, alpha))


# --- runs: diverged, and not settled at the budget ----------------------------------------------


@dataclass(frozen=True)
class DivergedRun:
    model: str
    seed: int
    steps: int  # generator steps it trained before it diverged
    message: str


@dataclass(frozen=True)
class UnsettledRun:
    """A run with numbers that was still improving or getting worse at the budget: the least-squares line
    through its snapshot W1 over [window_from, budget] GFLOP changed by `change` against `tolerance`."""

    model: str
    seed: int
    state: str  # "improving" or "worse" (convergence.STATES)
    change: Optional[float]  # None: too few finite snapshots to fit
    tolerance: float
    window_from: float
    budget: float


def diverged(d: DatasetResults) -> list[DivergedRun]:
    return [DivergedRun(r.name, x.seed, x.train_steps, x.message) for r in d.models for x in r.runs if not x.ok]


def unsettled(d: DatasetResults) -> list[UnsettledRun]:
    return [UnsettledRun(r.name, x.seed, c.state, c.change, c.tolerance, c.window_from, x.budget_gflop)
            for r in d.models for x in r.runs
            if x.ok and (c := x.convergence) is not None and c.state != "settled"]


# --- the table at the budget ------------------------------------------------------------------


@dataclass(frozen=True)
class TableRow:
    """One model's row: every column's spread over the seeds with a value, and its training."""

    model: str
    runs: int  # seeds
    diverged: int  # seeds without numbers
    values: dict[str, Spread]  # column key -> over the seeds
    inception_note: Optional[int]  # 1-based footnote saying why Inception FID is unavailable
    likelihood_seeds: int  # seeds with an ELBO and an importance-sampled log-likelihood
    low_ess: int  # of those, the seeds whose effective sample size was under LOW_ESS of K: unreliable
    elbo_kind: str  # registry: "bound" (analytic KL) or "estimate" (an adversary stands in for the KL)
    modes_total: Optional[int]
    states: dict[str, int]
    gflop: float  # mean over the seeds
    steps: list[int]  # the distinct generator step counts
    seconds: Spread  # training wall seconds

    @property
    def ok(self) -> bool:
        return self.diverged < self.runs


@dataclass(frozen=True)
class Table:
    columns: list[str]  # metric keys (EvalRecord.metrics()) of the columns this data set has
    rows: list[TableRow]
    notes: list[str]  # footnotes, numbered from 1


COLUMNS = ("fid_inception", "fid_domain", "precision", "recall", "w1", "w1_sliced", "modes_covered",
           "high_quality_pct", "mode_kl", "elbo", "loglik", "loglik_ais")
IMAGE_COLUMNS = {"fid_inception"}
POINT_COLUMNS = {"modes_covered", "high_quality_pct", "mode_kl"}


def table(d: DatasetResults) -> Table:
    """The columns that apply (Inception FID on images, modes on 2-D points, AIS where some run has it),
    and per model the spread of each; a model that has no Inception FID gets the reason as a footnote."""
    has_ais = any(x.likelihood is not None and x.likelihood.ais is not None for r in d.models for x in r.ok_runs)
    columns = [c for c in COLUMNS if (c not in IMAGE_COLUMNS or d.kind == "images")
               and (c not in POINT_COLUMNS or d.kind == "points") and (c != "loglik_ais" or has_ais)]
    notes: list[str] = []
    rows = []
    for r in d.models:
        values = {c: r.spread(c) for c in columns}
        note = None
        if "fid_inception" in columns and r.ok and not values["fid_inception"].n:
            how = r.eval.how
            reason = how.inception.reason if how is not None and how.inception is not None else ""
            if reason not in notes:
                notes.append(reason)
            note = notes.index(reason) + 1
        lls = [x.likelihood for x in r.ok_runs if x.likelihood is not None]
        modes = r.eval.how.modes if r.eval.how is not None else None
        rows.append(TableRow(
            r.name, len(r.runs), len(r.runs) - len(r.ok_runs), values, note, len(lls),
            sum(ll.ess_fraction < LOW_ESS for ll in lls), MODELS[r.name].elbo_kind,
            modes.modes_total if modes is not None else None, state_counts(r.runs),
            spread([t.flops / 1e9 for t in r.trains]).mean, sorted({t.steps for t in r.trains}),
            spread([t.seconds for t in r.trains])))
    return Table(columns, rows, notes)


# --- everything a page says ------------------------------------------------------------------


@dataclass(frozen=True)
class DatasetFindings:
    name: str
    kind: str
    seeds: list[int]
    budget: float  # GFLOP every model trained for
    snapshot_samples: int  # samples of each generator snapshot its W1 is measured on (0: none)
    alpha: float
    rtol: float
    lr_schedule: str
    anytime: list[AnytimeRow]
    verdicts: list[Verdict]
    table: Table
    diverged: list[DivergedRun]
    states: dict[str, dict[str, int]]  # model -> state -> runs
    unsettled: list[UnsettledRun]
    modes: Optional[Modes]
    estimates: list[EstimateTracking]
    likelihoods: Likelihoods
    times: Optional[TimeRange]
    power: Power
    likelihood_settings: dict[str, Likelihood]  # model -> how its likelihood was measured
    environment: Environment

    @property
    def n_seeds(self) -> int:
        return len(self.seeds)

    def headline(self, metric: str) -> Optional[Verdict]:
        """The verdict on `metric` where it is a headline, else None."""
        return next((v for v in self.verdicts if v.metric == metric and v.headline), None)


def dataset_findings(d: DatasetResults) -> DatasetFindings:
    every = [x for r in d.models for x in r.runs]
    return DatasetFindings(
        name=d.name, kind=d.kind, seeds=[x.seed for x in d.models[0].runs] if d.models else [],
        budget=max((x.budget_gflop for x in every), default=0.0),
        snapshot_samples=next((x.estimate_vs_w1.n_samples for x in every if x.estimate_vs_w1.n_samples), 0),
        alpha=d.alpha, rtol=d.rtol, lr_schedule=d.lr_schedule,
        anytime=anytime(d.runs), verdicts=verdicts(d.runs, d.real, d.alpha), table=table(d),
        diverged=diverged(d), states={r.name: state_counts(r.runs) for r in d.models}, unsettled=unsettled(d),
        modes=modes(d), estimates=estimates(d), likelihoods=likelihoods(d), times=training_times(d),
        power=power(d.n_seeds, d.alpha),
        likelihood_settings={r.name: r.eval.likelihood for r in d.models if r.ok and r.eval.likelihood is not None},
        environment=environment(d))
