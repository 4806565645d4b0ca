"""Parts 3 and 4, the claims about what the WGAN critic's value means: its loss tracks sample quality
where the GAN's does not (`meaningful`, with the main comparison's WGAN-family runs read against the
same claim: `main_runs`), and it works as an energy, ranking points as log p_real does (`energy`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

from pipeline.records import EnergyResult, MeaningfulResult, TheorySeeds
from pipeline.theory.findings.common import FADE, SETTLED, TRACKS, PerSeed, Stat, Verdict, finite

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
    tracking = lambda r: finite(r.spearman_late) and r.spearman_late >= TRACKS  # noqa: E731
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
        wgan_tracks=s.verdict(["wgan_spearman"], lambda v: finite(v) and v >= TRACKS),
        gan_spearman=s.stat("gan_spearman"),
        gan_pearson=s.stat("gan_pearson"),
        gan_does_not_track=s.verdict(["gan_spearman"], lambda v: not finite(v) or v < TRACKS),
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
        agrees=s.verdict(["spearman"], lambda v: finite(v) and v >= TRACKS),
        near=s.stat("spearman_near"),
        far=s.stat("spearman_far"),
        near_lower=s.verdict(["spearman_near", "spearman_far"], lambda a, b: finite(a) and finite(b) and a < b),
        peak=s.stat("spearman_peak"),
        fade=FADE,
        fades=s.verdict(["spearman", "spearman_peak"], lambda f, p: finite(f) and finite(p) and f < p - FADE),
        moved_away=tuple(moved),
        settled=SETTLED,
        unsettled=tuple(unsettled),
        finals=tuple((n, s.stat("spearman" if n == d.main else f"{n}_spearman")) for n in d.runs),
    )
