"""The rest of a data set's reading, as typed findings beside pipeline/reporting/findings.py's verdicts: what
the templates say under "Reading" after the verdicts and runs, and the environment the page ends with.

- `modes`: mode coverage of every model against the real training split and each baseline (a generator that
  covers every mode without learning any); 2-D mixtures only.
- `estimates`: how closely an adversarial model's training estimate tracks the exact W1 (`strength` of the
  Spearman rho), over all snapshots and leaving out the early ones, with each seed's late ends where the
  late ranks run opposite.
- `likelihoods`: the latent models' log-likelihood ordering (paired over seeds), each one's ELBO against its
  log-likelihood, and the BDMC gap of AIS.
- `training_times`, `environment`: the range of training time, and the devices, CPUs and package versions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Optional

from pipeline.models.registry import MODELS
from pipeline.records import EvalRecord, Likelihood, SnapshotW1
from pipeline.reporting.results import DatasetResults, ModelResult
from pipeline.reporting.seedstats import Paired, Spread, paired_test, spread

LOW_ESS = 0.10  # an importance-sampled estimate with a smaller effective sample size is flagged


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
