"""What a data set's results say, as typed findings; the templates in pipeline/reporting/templates/
say them in words (pipeline/reporting/report.py renders them).

Every decision a report states is made here, from the records, and nothing here is words: which
model is best and what it is separated from, each run's state at the budget, which runs diverged,
which baselines a model does not beat, how closely an estimate tracks W1, whether a likelihood
ordering holds. `dataset_findings` gathers them for one data set; the pieces:

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
- `modes`, `estimates`, `likelihoods`, `training_times`: the rest of the reading.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Optional

from pipeline.models.registry import MODELS
from pipeline.records import EvalRecord, Likelihood, RealRecord, SnapshotW1, TrainRecord
from pipeline.reporting.seedstats import (Comparison, Paired, Spread, compare_family, min_detectable_difference,
                                          paired_test, power_of, spread)

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
LOW_ESS = 0.10  # an importance-sampled estimate with a smaller effective sample size is flagged


# --- the records a report reads ---------------------------------------------------------------


@dataclass
class ModelResult:
    """One model's runs on one data set, one per seed (same seeds, same order for every model)."""

    runs: list[EvalRecord]
    trains: list[TrainRecord]

    @property
    def name(self) -> str:
        return self.runs[0].model

    @property
    def ok_runs(self) -> list[EvalRecord]:
        return [r for r in self.runs if r.ok and r.scores is not None]

    @property
    def ok(self) -> bool:
        """At least one seed has numbers."""
        return bool(self.ok_runs)

    @property
    def eval(self) -> EvalRecord:
        """The first run with numbers (for what every run shares: sample sizes, features, devices)."""
        return (self.ok_runs or self.runs)[0]

    def per_seed(self, key: str) -> dict[int, Optional[float]]:
        """seed -> the metric (EvalRecord.metrics() keys), None where that run has none."""
        return {r.seed: r.metrics().get(key) for r in self.runs}

    def spread(self, key: str) -> Spread:
        return spread(list(self.per_seed(key).values()))


@dataclass
class DatasetResults:
    name: str
    kind: str  # "points" or "images"
    models: list[ModelResult]
    real: RealRecord
    figures: list[str] = field(default_factory=list)  # paths relative to the report file
    alpha: float = 0.05  # significance level of the paired tests (Holm-corrected per metric)
    rtol: float = 0.1  # eval.settle_rtol, for the criterion's description
    lr_schedule: str = "constant"  # train.lr_schedule, every model's

    @property
    def runs(self) -> dict[str, list[EvalRecord]]:
        return {r.name: r.runs for r in self.models}

    @property
    def n_seeds(self) -> int:
        return len(self.models[0].runs) if self.models else 0


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
    counts: dict[str, int] = {}
    for r in runs:
        counts[r.state] = counts.get(r.state, 0) + 1
    return counts


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


# --- modes (2-D mixtures) ---------------------------------------------------------------------


@dataclass(frozen=True)
class ModeCoverage:
    model: str
    all_covered: int  # seeds whose samples cover every mode
    runs: int
    high_quality: Spread  # % of samples within n_std of a mode


@dataclass(frozen=True)
class BaselineModes:
    name: str
    modes_covered: int
    high_quality_pct: float
    not_above: list[str]  # models whose mean high-quality share is not above this baseline's


@dataclass(frozen=True)
class Modes:
    total: int
    models: list[ModeCoverage]  # models with numbers
    floor_covered: int
    floor_high_quality: float
    baselines: list[BaselineModes]


def modes(d: DatasetResults) -> Optional[Modes]:
    """Mode coverage of every model with numbers, against the real training split and each baseline (a
    generator that covers every mode without learning any); None off 2-D mixtures."""
    ok = [r for r in d.models if r.ok]
    if d.kind != "points" or not ok:
        return None
    total = d.real.how.modes.modes_total
    cover = [ModeCoverage(r.name, sum(x.scores.modes_covered == total for x in r.ok_runs), len(r.runs),
                          r.spread("high_quality_pct")) for r in ok]
    base = [BaselineModes(name, b.modes_covered, b.high_quality_pct,
                          [r.name for r in ok if r.spread("high_quality_pct").mean <= b.high_quality_pct])
            for name, b in d.real.baselines.items()]
    return Modes(total, cover, d.real.floor.modes_covered, d.real.floor.high_quality_pct, base)


# --- the training log's estimate against the exact W1 ----------------------------------------


def strength(rho: float) -> str:
    """How closely two rankings agree, from Spearman's rho: 'close' (>= 0.7), 'moderate' (>= 0.3),
    'barely' (> -0.3) or 'opposite' (<= -0.3)."""
    if rho >= 0.7:
        return "close"
    if rho >= 0.3:
        return "moderate"
    return "barely" if rho > -0.3 else "opposite"


@dataclass(frozen=True)
class Tracking:
    rho: Spread  # Spearman rho over the seeds with one
    per_seed: list[Optional[float]]
    strength: str  # `strength` of rho.mean


@dataclass(frozen=True)
class LateEnds:
    """One seed's first and last snapshot of the late window (step >= late_from)."""

    first: SnapshotW1
    last: SnapshotW1


@dataclass(frozen=True)
class EstimateTracking:
    """A model's training estimate (registry: estimate_label) against the exact W1 at its snapshots.

    `late`: the same leaving out the snapshots before `late_from`, where the critic or discriminator is
    still being trained from its initialisation. Where the late ranks run opposite, `ends` gives each
    seed's late window; `closing` (a critic's W1 estimate only) gives per seed the estimate's ratio to W1
    at both ends when in every seed it stayed below W1 and rose toward it while W1 fell: then the critic
    was fitting better as the generator improved, and the estimate's late ranks follow the critic's fit
    more than the generator's. A GAN's JS estimate is no estimate of W1, so it never gets `closing`."""

    model: str
    label: str
    critic: bool  # a WGAN critic's W1 estimate (else a GAN discriminator's JS estimate)
    snapshots: list[int]  # the distinct numbers of usable snapshots per seed
    whole: Tracking
    late: Optional[Tracking] = None
    late_from: list[int] = field(default_factory=list)
    late_snapshots: list[int] = field(default_factory=list)
    ends: list[LateEnds] = field(default_factory=list)
    closing: Optional[list[tuple[float, float]]] = None

    @property
    def defined(self) -> bool:
        return self.whole.rho.n > 0


def _tracking(values: list[Optional[float]]) -> Tracking:
    sp = spread(values)
    return Tracking(sp, values, strength(sp.mean) if sp.n else "")


def estimates(d: DatasetResults) -> list[EstimateTracking]:
    """Every adversarial model with numbers (a latent model's estimate is its ELBO, read elsewhere)."""
    out = []
    for r in d.models:
        spec = MODELS[r.name]
        if spec.latent or not r.ok:
            continue
        critic = spec.estimate == "w_estimate"
        whole = _tracking([x.estimate_vs_w1.spearman for x in r.ok_runs])
        e = EstimateTracking(r.name, spec.estimate_label, critic,
                             sorted({x.estimate_vs_w1.snapshots for x in r.ok_runs}), whole)
        late = _tracking([x.estimate_vs_w1.spearman_late for x in r.ok_runs])
        if whole.rho.n and late.rho.n:
            ends = _late_ends(r.ok_runs) if late.strength == "opposite" else []
            e = EstimateTracking(e.model, e.label, critic, e.snapshots, whole, late,
                                 sorted({x.estimate_vs_w1.late_from for x in r.ok_runs}),
                                 sorted({x.estimate_vs_w1.snapshots_late for x in r.ok_runs}),
                                 ends, _closing(ends) if critic else None)
        out.append(e)
    return out


def _late_ends(runs: list[EvalRecord]) -> list[LateEnds]:
    ends = []
    for x in runs:
        late = [s for s in x.trajectory if s.step >= x.estimate_vs_w1.late_from
                and math.isfinite(s.w1) and math.isfinite(s.estimate)]
        if len(late) >= 2:
            ends.append(LateEnds(late[0], late[-1]))
    return ends


def _closing(ends: list[LateEnds]) -> Optional[list[tuple[float, float]]]:
    """estimate / W1 at both ends per seed, when every seed has est_0 < est_1 <= W1_1 < W1_0."""
    if not ends or not all(e.first.estimate < e.last.estimate <= e.last.w1 < e.first.w1 for e in ends):
        return None
    return [(e.first.estimate / e.first.w1, e.last.estimate / e.last.w1) for e in ends]


# --- likelihoods (latent models) -------------------------------------------------------------


@dataclass(frozen=True)
class LikelihoodOrder:
    """Two models' log-likelihoods paired over seeds on the same test points (`higher` has the larger mean).

    `separated`: the paired t-test's p < alpha with `higher` above. `unreliable`: the models whose
    importance-sampled estimate had an effective sample size under LOW_ESS of K in some seed, which can
    sit far below log p(x) (only said of importance sampling; AIS is checked by BDMC). `bdmc_gap`: where a
    separated difference is no larger than the larger BDMC gap, that gap: the difference may be the
    estimator's."""

    higher: str
    lower: str
    test: Paired
    separated: bool
    unreliable: list[str]
    bdmc_gap: Optional[float]


@dataclass(frozen=True)
class Bdmc:
    """Bidirectional Monte Carlo (Grosse et al. 2015) on points simulated from the model: their log p(x)
    lies between forward AIS (`lower`) and reverse AIS from the exact posterior draw (`upper`) in
    expectation; gap = upper - lower bounds how far these AIS settings are from log p(x)."""

    points: int
    lower: Spread
    upper: Spread
    gap: Spread

    @property
    def crossed(self) -> bool:
        """The two stochastic bounds crossed (a negative mean gap): they agree within their noise."""
        return self.gap.mean < 0


@dataclass(frozen=True)
class ElboGap:
    """ELBO - log-likelihood per seed, both on the points the log-likelihood used (AIS: a subset of the
    importance-sampled points, with the ELBO on that subset). Positive only for an ELBO that is not a
    bound (AVB's adversary stands in for log q(z|x) - log p(z))."""

    model: str
    elbo_kind: str  # "bound" or "estimate"
    gap: Spread
    ais_points: list[int]  # where the gap is over AIS's points, not the table's: their numbers
    all_points: list[int]  # and the table's
    ess_pct: Spread  # the importance sampler's effective sample size, % of K
    bdmc: Optional[Bdmc]

    @property
    def above(self) -> bool:
        return self.gap.mean > 0

    @property
    def size(self) -> Spread:
        """The gap's magnitude, for saying 'below' without a minus sign."""
        return self.gap if self.above else Spread(-self.gap.mean, self.gap.std, self.gap.n)


@dataclass(frozen=True)
class Likelihoods:
    ais: bool  # the comparisons use AIS (every model with a log-likelihood has one), else importance sampling
    order: Optional[LikelihoodOrder]  # when exactly two models have a log-likelihood
    models: list[ElboGap]


def likelihoods(d: DatasetResults) -> Likelihoods:
    """The latent models' log-likelihoods: AIS where every one has it, else importance sampling; the order
    of two by the paired t-test over seeds (Student 1908), and each model's ELBO against its own."""
    lik = [r for r in d.models if r.ok and r.spread("loglik").n]
    ais = all(r.spread("loglik_ais").n for r in lik)
    key = "loglik_ais" if ais else "loglik"
    gaps = {r.name: _bdmc(r) for r in lik}
    order = None
    if len(lik) == 2:
        a, b = sorted(lik, key=lambda r: -r.spread(key).mean)
        p = paired_test(a.per_seed(key), b.per_seed(key))
        shaky = [r.name for r in (a, b) if not ais and any(
            x.likelihood.ess_fraction < LOW_ESS for x in r.ok_runs if x.likelihood is not None)]
        bdmc = [g for g in (gaps[r.name].gap.mean for r in (a, b) if gaps[r.name] is not None)
                if ais and math.isfinite(g)]
        within = max(bdmc) if bdmc and p.separates(d.alpha) and abs(p.mean_diff) <= max(bdmc) else None
        order = LikelihoodOrder(a.name, b.name, p, p.separates(d.alpha) and p.mean_diff > 0, shaky, within)
    models = []
    for r in lik:
        with_ll = [x for x in r.ok_runs if x.likelihood is not None]
        gap = spread([_elbo_on(x.likelihood, ais) - x.metrics().get(key, math.nan) for x in with_ll])
        pairs = {(x.likelihood.ais.points, x.likelihood.points) for x in with_ll
                 if ais and x.likelihood.ais is not None and x.likelihood.ais.elbo is not None}
        pairs = {(n_ais, n_all) for n_ais, n_all in pairs if n_ais != n_all}
        models.append(ElboGap(r.name, MODELS[r.name].elbo_kind, gap, sorted({n for n, _ in pairs}),
                              sorted({n for _, n in pairs}),
                              spread([x.likelihood.ess_fraction * 100 for x in with_ll]),
                              gaps[r.name] if ais else None))
    return Likelihoods(ais, order, models)


def _bdmc(r: ModelResult) -> Optional[Bdmc]:
    runs = [x.likelihood.ais for x in r.ok_runs if x.likelihood is not None and x.likelihood.ais is not None]
    gap = spread([a.bdmc_gap for a in runs])
    if not gap.n:
        return None
    return Bdmc(runs[0].bdmc_points, spread([a.bdmc_lower for a in runs]), spread([a.bdmc_upper for a in runs]), gap)


def _elbo_on(ll: Likelihood, ais: bool) -> float:
    """The ELBO on the points the log-likelihood was measured on (AIS: a subset of the IS points)."""
    if ais and ll.ais is not None and ll.ais.elbo is not None:
        return ll.ais.elbo
    return ll.elbo


# --- training time, how it was measured, environment -----------------------------------------


@dataclass(frozen=True)
class TimeRange:
    """The fastest and the slowest model's mean training time per seed (runs that did not diverge)."""

    fastest: str
    fastest_seconds: float
    slowest: str
    slowest_seconds: float


def training_times(d: DatasetResults) -> Optional[TimeRange]:
    """None with fewer than two models with numbers, or when they all took the same time."""
    times = sorted((spread([t.seconds for t in r.trains if t.ok]).mean, r.name) for r in d.models if r.ok)
    if len(times) < 2 or times[0][0] == times[-1][0]:
        return None
    return TimeRange(times[0][1], times[0][0], times[-1][1], times[-1][0])


@dataclass(frozen=True)
class Environment:
    """The distinct values over every run, sorted."""

    train_devices: list[str]
    eval_devices: list[str]
    cpus: list[str]  # empty for records from before the CPU was kept
    versions: dict[str, list[str]]  # package -> versions, by package name


def environment(d: DatasetResults) -> Environment:
    def distinct(values) -> list[str]:
        return sorted({str(v) for v in values if v is not None})

    versions: dict[str, set] = {}
    for r in d.models:
        for k, v in r.eval.versions.items():
            versions.setdefault(k, set()).add(v)
    return Environment(distinct(t.device for r in d.models for t in r.trains),
                       distinct(x.device for r in d.models for x in r.runs),
                       distinct(t.cpu for r in d.models for t in r.trains),
                       {k: sorted(v) for k, v in sorted(versions.items())})


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
