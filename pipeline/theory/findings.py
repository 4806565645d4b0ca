"""What the theory parts' records say, as typed findings; pipeline/theory/report.py renders them
through the templates in pipeline/theory/templates/ into reports/theory.md.

One finding per part (and one for the main comparison's WGAN-family runs), holding the numbers its
section states and every verdict its prose turns on. Pure functions of the records: nothing here
trains, samples, reads a file or writes a word of the page.

A number stated as a result is a `Stat`: every seed's value (from metrics/theory/<part>_seeds.json),
or the first seed's record alone where the seeds file lacks it, flagged so. A verdict is a `Verdict`:
the seeds it holds in out of the seeds counted; it holds only if it holds in every seed, fails only
if it fails in every seed, and is not settled otherwise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Literal, Optional, Sequence

from pipeline.records import (
    AblationResult,
    AvbToyResult,
    EnergyResult,
    LinesResult,
    MeaningfulResult,
    Record,
    TheorySeeds,
    VanishingResult,
)
from pipeline.reporting.seedstats import Spread, spread

# The claims' criteria: the prose states them from here, so a change shows in the text too.
REL_TOL = 0.1  # part 1: a critic within this relative error of |theta| (or K |theta|) tracks it
JS_SHARE = 0.95  # part 1: a JS estimate above this share of log 2 has saturated
TARGET = 0.05  # part 1: |theta| the WGAN demo must reach, and the minimax demo must not
VANISHED = 1e-2  # part 2: a last gradient below this share of its largest has vanished (two orders of magnitude)
STEADY = 0.3  # part 2: a last gradient above this share of its largest has not
TRACKS = 0.5  # parts 3 and 4: Spearman at or above this is a clear rank agreement
FADE = 0.05  # part 4: a final Spearman this far below its peak has faded
SETTLED = 0.05  # part 4: a generator whose W1 still fell by more than this share between the last checkpoints
STDERRS = 3  # part 6: an estimate this many standard errors above the optimum is the estimator's fault, not chance
POOR = 2.0  # part 5: a row whose mean W1 is over this multiple of the best's did not settle (the page: 'twice')
OPTIMISERS = ("rmsprop_clip0.01", "adam_clip0.01")  # part 5: the rows of the paper's RMSProp-vs-Adam claim


def _ok(v: Optional[float]) -> bool:
    return v is not None and math.isfinite(v)


# --- numbers and verdicts over seeds -------------------------------------------------------


@dataclass(frozen=True)
class Stat:
    """One number over the seeds: every seed's value (None where undefined), or, when `alone`, the
    first seed's record's value only (a seeds file written before that metric was collected)."""

    values: tuple[Optional[float], ...]
    alone: bool = False
    first_seed: Optional[int] = None  # the seed of the first seed's record, where known

    @property
    def spread(self) -> Spread:
        return spread(self.values)

    @property
    def n(self) -> int:
        return self.spread.n

    @property
    def mean(self) -> float:
        return self.spread.mean


@dataclass(frozen=True)
class Verdict:
    """A condition counted over the seeds: it holds in `held` of `seeds`."""

    held: int
    seeds: int
    alone: bool = False  # counted on the first seed's record only
    first_seed: Optional[int] = None

    @property
    def state(self) -> Literal["holds", "fails", "unsettled"]:
        return "holds" if self.held == self.seeds else "fails" if self.held == 0 else "unsettled"


@dataclass(frozen=True)
class PerSeed:
    """One part's numbers per seed: its seeds file where it holds a metric, else the first seed's record."""

    seeds: tuple[int, ...]
    metrics: dict[str, list[Optional[float]]]
    first: dict[str, Optional[float]]  # the first seed's record.metrics()

    @classmethod
    def of(cls, record: Record, ts: Optional[TheorySeeds]) -> "PerSeed":
        if ts is None:
            return cls((), {}, record.metrics())
        return cls(tuple(ts.seeds), dict(ts.metrics), record.metrics())

    @property
    def first_seed(self) -> Optional[int]:
        return self.seeds[0] if self.seeds else None

    def rows(self, *keys: str) -> tuple[list[tuple], bool]:
        """Per seed, the metrics `keys` (one tuple a seed), and whether only the first seed has them."""
        if self.seeds and all(k in self.metrics for k in keys):
            return list(zip(*(self.metrics[k] for k in keys))), False
        return [tuple(self.first.get(k) for k in keys)], True

    def stat(self, *keys: str, fn: Optional[Callable[..., float]] = None) -> Stat:
        """One metric per seed, or `fn` of several (None where any is undefined)."""
        rows, alone = self.rows(*keys)
        if fn is None:
            values = [r[0] for r in rows]
        else:
            values = [fn(*r) if all(_ok(x) for x in r) else None for r in rows]
        return Stat(tuple(values), alone, self.first_seed)

    def verdict(self, keys: Sequence[str], pred: Callable[..., bool]) -> Verdict:
        rows, alone = self.rows(*keys)
        return Verdict(sum(bool(pred(*r)) for r in rows), len(rows), alone, self.first_seed)


def _first_below(values: Sequence[float], bound: float) -> Optional[int]:
    return next((i for i, v in enumerate(values) if abs(v) < bound), None)


def _argmin(values: Sequence[Optional[float]]) -> Optional[int]:
    finite = [(v, i) for i, v in enumerate(values) if _ok(v)]
    return min(finite)[1] if finite else None


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


def lines(d: LinesResult, ts: Optional[TheorySeeds] = None) -> Lines:
    s = PerSeed.of(d, ts)
    demos = {name: Demo(name, len(r.grad_norms), r.theta_final, _first_below(r.thetas, TARGET), r.grad_norms[0],
                        r.grad_norms[-1]) for name, r in d.demos.items()}
    within = lambda v: _ok(v) and v <= REL_TOL  # noqa: E731
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
        js_saturates=s.verdict(["js_min_nonzero"], lambda v: _ok(v) and v > JS_SHARE * math.log(2.0)),
        target=TARGET,
        demos=tuple(demos.values()),
        wgan=demos["wgan"],
        wgan_ends_below=abs(demos["wgan"].theta_final) < TARGET,
        wgan_theta=s.stat("wgan_theta_final", fn=abs),
        wgan_reaches=s.verdict(["wgan_theta_final"], lambda v: _ok(v) and abs(v) < TARGET),
        minimax_theta=s.stat("minimax_theta_final"),
        minimax_stays=s.verdict(["minimax_theta_final"], lambda v: _ok(v) and abs(v) >= TARGET),
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
        minimax_vanishes=s.verdict(["minimax_last_over_max"], lambda v: _ok(v) and v < VANISHED),
        nonsaturating_first=s.stat("nonsaturating_grad_first"),
        nonsaturating_last=s.stat("nonsaturating_grad_last"),
        nonsaturating_grows=s.verdict(["nonsaturating_grad_first", "nonsaturating_grad_last"],
                                      lambda a, b: _ok(a) and _ok(b) and b > a),
        steady=STEADY,
        wgan_ratio=s.stat("wgan_last_over_max"),
        wgan_steady=s.verdict(["wgan_last_over_max"], lambda v: _ok(v) and v > STEADY),
    )


# --- part 3: a meaningful loss, and the main comparison's runs -------------------------------


@dataclass(frozen=True)
class MainRun:
    """A main comparison run's training estimate against the exact W1 of its snapshots (EstimateVsW1)."""

    dataset: str
    model: str
    seed: int
    spearman: Optional[float]  # over the whole run
    spearman_late: Optional[float]  # after its first 10%


@dataclass(frozen=True)
class MainGroup:
    dataset: str
    model: str
    spearman: Stat
    spearman_late: Stat
    tracking: int  # runs whose late Spearman reaches TRACKS
    runs: int


@dataclass(frozen=True)
class MainRuns:
    """The main comparison's WGAN-family runs read against the meaningful-loss claim."""

    tracks: float
    groups: tuple[MainGroup, ...]  # per data set and model, in the order the runs came
    critics: int  # runs of a critic model (not the GAN)
    critics_tracking: int

    @property
    def all_track(self) -> bool:
        return bool(self.critics) and self.critics_tracking == self.critics


def main_runs(main: Sequence[MainRun]) -> Optional[MainRuns]:
    """None without main runs (before the main pipeline ran)."""
    if not main:
        return None
    tracking = lambda r: _ok(r.spearman_late) and r.spearman_late >= TRACKS  # noqa: E731
    groups: dict[tuple[str, str], list[MainRun]] = {}
    for r in main:
        groups.setdefault((r.dataset, r.model), []).append(r)
    critics = [r for r in main if r.model != "gan"]
    return MainRuns(
        tracks=TRACKS,
        groups=tuple(MainGroup(ds, m, Stat(tuple(r.spearman for r in rs)), Stat(tuple(r.spearman_late for r in rs)),
                               sum(map(tracking, rs)), len(rs)) for (ds, m), rs in groups.items()),
        critics=len(critics),
        critics_tracking=sum(map(tracking, critics)),
    )


@dataclass(frozen=True)
class Checkpoint:
    run: str
    step: int
    estimate: float
    w1: float


@dataclass(frozen=True)
class Meaningful:
    first_seed: Optional[int]
    w1_floor: Stat
    wgan_w1_final: Stat
    tracks: float
    wgan_spearman: Stat
    wgan_pearson: Stat
    wgan_tracks: Verdict
    gan_spearman: Stat
    gan_pearson: Stat
    gan_does_not_track: Verdict  # Spearman below TRACKS, or undefined
    wgan_first_step: Optional[int]  # the WGAN's first checkpoint
    main: Optional[MainRuns]
    checkpoints: tuple[Checkpoint, ...]


def meaningful(d: MeaningfulResult, ts: Optional[TheorySeeds] = None, main: Sequence[MainRun] = ()) -> Meaningful:
    s = PerSeed.of(d, ts)
    return Meaningful(
        first_seed=s.first_seed,
        w1_floor=s.stat("w1_floor"),
        wgan_w1_final=s.stat("wgan_w1_final"),
        tracks=TRACKS,
        wgan_spearman=s.stat("wgan_spearman"),
        wgan_pearson=s.stat("wgan_pearson"),
        wgan_tracks=s.verdict(["wgan_spearman"], lambda v: _ok(v) and v >= TRACKS),
        gan_spearman=s.stat("gan_spearman"),
        gan_pearson=s.stat("gan_pearson"),
        gan_does_not_track=s.verdict(["gan_spearman"], lambda v: not _ok(v) or v < TRACKS),
        wgan_first_step=min((c.step for c in d.runs["wgan"].checkpoints), default=None),
        main=main_runs(main),
        checkpoints=tuple(Checkpoint(name, c.step, c.estimate, c.w1) for name, r in d.runs.items()
                          for c in r.checkpoints),
    )


# --- part 4: the energy view -----------------------------------------------------------------


@dataclass(frozen=True)
class EnergyPoint:
    run: str
    step: int
    all: float
    near: float
    far: float
    w1: float


@dataclass(frozen=True)
class Drift:
    """A run's generator W1 between two of its checkpoints (first seed)."""

    run: str
    w1_from: float
    w1_to: float
    step: int  # the later checkpoint's step


@dataclass(frozen=True)
class Energy:
    first_seed: Optional[int]
    grid: int
    near_fraction: float
    main: str
    runs: tuple[str, ...]
    points: tuple[EnergyPoint, ...]
    tracks: float
    spearman: Stat  # the main run's, at the end
    agrees: Verdict
    near: Stat
    far: Stat
    near_lower: Verdict
    peak: Stat
    fade: float
    fades: Verdict
    moved_away: tuple[Drift, ...]  # runs whose generator ended further from the data than it started
    settled: float
    unsettled: tuple[Drift, ...]  # runs whose generator still approached the data at the last checkpoint
    finals: tuple[tuple[str, Stat], ...]  # every run's final Spearman


def energy(d: EnergyResult, ts: Optional[TheorySeeds] = None) -> Energy:
    s = PerSeed.of(d, ts)
    moved, unsettled = [], []
    for name, r in d.runs.items():
        c = r.checkpoints
        if len(c) >= 2 and c[-1].w1 > c[0].w1:
            moved.append(Drift(name, c[0].w1, c[-1].w1, c[-1].step))
        if len(c) >= 2 and c[-1].w1 < c[-2].w1 * (1 - SETTLED):
            unsettled.append(Drift(name, c[-2].w1, c[-1].w1, c[-1].step))
    return Energy(
        first_seed=s.first_seed,
        grid=d.grid,
        near_fraction=d.near_fraction,
        main=d.main,
        runs=tuple(d.runs),
        points=tuple(EnergyPoint(name, c.step, c.all, c.near, c.far, c.w1) for name, r in d.runs.items()
                     for c in r.checkpoints),
        tracks=TRACKS,
        spearman=s.stat("spearman"),
        agrees=s.verdict(["spearman"], lambda v: _ok(v) and v >= TRACKS),
        near=s.stat("spearman_near"),
        far=s.stat("spearman_far"),
        near_lower=s.verdict(["spearman_near", "spearman_far"], lambda a, b: _ok(a) and _ok(b) and a < b),
        peak=s.stat("spearman_peak"),
        fade=FADE,
        fades=s.verdict(["spearman", "spearman_peak"], lambda f, p: _ok(f) and _ok(p) and f < p - FADE),
        moved_away=tuple(moved),
        settled=SETTLED,
        unsettled=tuple(unsettled),
        finals=tuple((n, s.stat("spearman" if n == d.main else f"{n}_spearman")) for n in d.runs),
    )


# --- part 5: optimiser and Lipschitz ablations -------------------------------------------------


@dataclass(frozen=True)
class Setting:
    """A row's critic setting, as its WGAN run states it."""

    optimizer: str  # adam | rmsprop
    beta1: float
    beta2: float
    constraint: str  # clip | gp | sn
    clip: float


@dataclass(frozen=True)
class AblationLine:
    name: str
    setting: Setting
    w1: Stat
    w_rel_std: Stat
    # the first seed's run alone
    w_final: float
    w_std: float
    corr_w_w1: float
    lipschitz: float
    energy_spearman: float


@dataclass(frozen=True)
class Ranked:
    """The row with the lowest mean of a metric, and whether it is the lowest in every seed."""

    row: AblationLine
    stat: Stat
    lowest: Verdict


@dataclass(frozen=True)
class Optimisers:
    """The paper's RMSProp-vs-Adam claim, on the two weight-clipping rows that differ only in it."""

    rmsprop_w1: Stat
    adam_w1: Stat
    rmsprop_rel: Stat
    adam_rel: Stat
    adam_worse: Verdict  # Adam's W1 and relative spread both above RMSProp's


@dataclass(frozen=True)
class Diverged:
    row: AblationLine
    seeds: int  # seeds without a finite W1
    of: int


@dataclass(frozen=True)
class Ablation:
    first_seed: Optional[int]
    steps: int
    last_fraction: float
    rows: tuple[AblationLine, ...]
    best: Optional[Ranked]  # lowest mean W1; None when no row has one
    stable: Optional[Ranked]  # lowest mean std/mean of the estimate
    optimisers: Optional[Optimisers]  # None unless both rows have a W1
    poor_rows: tuple[AblationLine, ...]  # mean W1 over POOR times the best's
    diverged: tuple[Diverged, ...]


def _setting(run: dict) -> Setting:
    return Setting(run["optimizer"], run["beta1"], run["beta2"], run["constraint"], run["clip"])


def ablation(d: AblationResult, ts: Optional[TheorySeeds] = None) -> Ablation:
    s = PerSeed.of(d, ts)
    rows = {name: AblationLine(name, _setting(r.run), s.stat(f"{name}_w1"), s.stat(f"{name}_w_rel_std"), r.w_final,
                               r.w_std, r.corr_w_w1, r.lipschitz, r.energy_spearman) for name, r in d.rows.items()}
    ok = [n for n, r in rows.items() if r.w1.n]

    def ranked(metric: str, attr: str) -> Optional[Ranked]:
        if not ok:
            return None
        name = min(ok, key=lambda n: getattr(rows[n], attr).mean if getattr(rows[n], attr).n else math.inf)
        lowest = s.verdict([f"{n}_{metric}" for n in ok], lambda *v: _argmin(v) == ok.index(name))
        return Ranked(rows[name], getattr(rows[name], attr), lowest)

    best = ranked("w1", "w1")
    optimisers = None
    if all(n in ok for n in OPTIMISERS):
        r, a = OPTIMISERS
        optimisers = Optimisers(
            rmsprop_w1=s.stat(f"{r}_w1"), adam_w1=s.stat(f"{a}_w1"),
            rmsprop_rel=s.stat(f"{r}_w_rel_std"), adam_rel=s.stat(f"{a}_w_rel_std"),
            adam_worse=s.verdict([f"{r}_w1", f"{a}_w1", f"{r}_w_rel_std", f"{a}_w_rel_std"],
                                 lambda rw, aw, rs, as_: all(map(_ok, (rw, aw, rs, as_))) and aw > rw and as_ > rs))
    return Ablation(
        first_seed=s.first_seed,
        steps=d.steps,
        last_fraction=d.last_fraction,
        rows=tuple(rows.values()),
        best=best,
        stable=ranked("w_rel_std", "w_rel_std"),
        optimisers=optimisers,
        poor_rows=tuple(rows[n] for n in ok if best is not None and rows[n].w1.mean > POOR * best.stat.mean),
        diverged=tuple(Diverged(r, k, len(r.w1.values)) for r in rows.values()
                       if (k := sum(not _ok(v) for v in r.w1.values))),
    )


# --- part 6: the AVB toy example ----------------------------------------------------------------


@dataclass(frozen=True)
class ToyModel:
    name: str  # avb | vae
    loglik: Stat
    stderr: Stat
    quadrature: Stat
    elbo: Stat
    per_point: tuple[float, ...]  # the first seed's, per image


@dataclass(frozen=True)
class Count:
    """Seeds where something holds, of those counted (a fact to report where it happens, not a verdict)."""

    seeds: int
    of: int


@dataclass(frozen=True)
class AvbToy:
    first_seed: Optional[int]
    optimum: float
    models: tuple[ToyModel, ...]
    gap: Stat  # AVB minus VAE log p(x), seed by seed
    avb_below_optimum: Stat  # AVB minus the optimum
    avb_better: Verdict
    stderrs: int
    above_optimum: tuple[tuple[str, Count], ...]  # models estimated above the optimum by > STDERRS std. errors
    avb_elbo: Stat
    elbo_above_optimum: Count  # AVB's training ELBO above the optimum: not a bound


def avb_toy(d: AvbToyResult, ts: Optional[TheorySeeds] = None) -> AvbToy:
    s = PerSeed.of(d, ts)

    def count(keys: list[str], pred: Callable[..., bool]) -> Count:
        v = s.verdict(keys, pred)
        return Count(v.held, v.seeds)

    models = tuple(ToyModel(m, s.stat(f"{m}_loglik"), s.stat(f"{m}_loglik_stderr"), s.stat(f"{m}_quadrature"),
                            s.stat(f"{m}_elbo"), tuple(ll.per_point)) for m, ll in (("avb", d.avb), ("vae", d.vae)))
    above = ((m, count([f"{m}_loglik", f"{m}_loglik_stderr", "optimum"],
                       lambda v, se, o: _ok(v) and _ok(se) and v - o > STDERRS * se)) for m in ("avb", "vae"))
    return AvbToy(
        first_seed=s.first_seed,
        optimum=d.optimum,
        models=models,
        gap=s.stat("avb_loglik", "vae_loglik", fn=lambda a, v: a - v),
        avb_below_optimum=s.stat("avb_loglik", "optimum", fn=lambda a, o: a - o),
        avb_better=s.verdict(["avb_loglik", "vae_loglik"], lambda a, v: _ok(a) and _ok(v) and a > v),
        stderrs=STDERRS,
        above_optimum=tuple((m, c) for m, c in above if c.seeds),
        avb_elbo=s.stat("avb_elbo"),
        elbo_above_optimum=count(["avb_elbo", "optimum"], lambda e, o: _ok(e) and e > o),
    )


# --- the page ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SeedTable:
    """One part's seeds file: every metric per seed, and its spread."""

    part: str
    seeds: tuple[int, ...]
    metrics: tuple[tuple[str, Stat], ...]


@dataclass(frozen=True)
class Section:
    part: str  # the part's key in THEORY_RECORDS, and its template's name
    finding: object  # Lines | Vanishing | Meaningful | Energy | Ablation | AvbToy


@dataclass(frozen=True)
class Page:
    seconds: tuple[tuple[str, float], ...]  # every record's stage time (all seeds), in the records' order
    sections: tuple[Section, ...]  # in the page's order of parts; a part without a record is left out
    over_seeds: tuple[SeedTable, ...]

    @property
    def total_seconds(self) -> float:
        return sum(s for _, s in self.seconds)


PARTS: dict[str, Callable[..., object]] = {"lines": lines, "vanishing": vanishing, "meaningful": meaningful,
                                           "energy": energy, "ablation": ablation, "avb_toy": avb_toy}


def page(records: dict[str, Record], seeds: Optional[dict[str, TheorySeeds]] = None,
         main: Sequence[MainRun] = ()) -> Page:
    """Every part's finding from its first seed's record and its seeds file (one without a seeds file
    is read from its first seed's record alone); the main runs go to the meaningful-loss part."""
    seeds = seeds or {}
    sections = []
    for part, find in PARTS.items():
        if part in records:
            extra = (main,) if part == "meaningful" else ()
            sections.append(Section(part, find(records[part], seeds.get(part), *extra)))
    return Page(
        seconds=tuple((part, r.seconds) for part, r in records.items()),
        sections=tuple(sections),
        over_seeds=tuple(SeedTable(part, tuple(ts.seeds), tuple((k, Stat(tuple(v))) for k, v in ts.metrics.items()))
                         for part, ts in seeds.items()),
    )
