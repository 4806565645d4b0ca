"""What every part's finding is made of: the claims' criteria, a number over the seeds (`Stat`), a
condition counted over the seeds (`Verdict`), and `PerSeed`, which reads both from a part's records.

A number stated as a result is a `Stat`: every seed's value (from metrics/theory/<part>_seeds.json),
or the first seed's record alone where the seeds file lacks it, flagged so. A verdict is a `Verdict`:
the seeds it holds in out of the seeds counted; it holds only if it holds in every seed, fails only
if it fails in every seed, and is not settled otherwise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Literal, Optional, Sequence

from pipeline.records import Record, TheorySeeds
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


def finite(v: Optional[float]) -> bool:
    """Defined and finite: the guard every verdict puts on its numbers."""
    return v is not None and math.isfinite(v)


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
            values = [fn(*r) if all(finite(x) for x in r) else None for r in rows]
        return Stat(tuple(values), alone, self.first_seed)

    def verdict(self, keys: Sequence[str], pred: Callable[..., bool]) -> Verdict:
        rows, alone = self.rows(*keys)
        return Verdict(sum(bool(pred(*r)) for r in rows), len(rows), alone, self.first_seed)
