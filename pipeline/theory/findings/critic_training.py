"""Part 5, the claims about how to train the critic: which optimiser (RMSProp against Adam) and which
Lipschitz constraint (clipping, gradient penalty, spectral normalisation) gives the lowest W1 and the
steadiest estimate (`ablation`)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Sequence

from pipeline.records import AblationResult, TheorySeeds
from pipeline.theory.findings.common import OPTIMISERS, POOR, PerSeed, Stat, Verdict, finite


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


def _argmin(values: Sequence[Optional[float]]) -> Optional[int]:
    ok = [(v, i) for i, v in enumerate(values) if finite(v)]
    return min(ok)[1] if ok else None


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
                                 lambda rw, aw, rs, as_: all(map(finite, (rw, aw, rs, as_))) and aw > rw and as_ > rs))
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
                       if (k := sum(not finite(v) for v in r.w1.values))),
    )
