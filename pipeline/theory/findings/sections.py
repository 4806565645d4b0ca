"""The whole page's findings (`page`): one section per part that has a record, in the page's order
(`PARTS`), each part's seeds table, and every record's stage time."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional, Sequence

from pipeline.records import Record, TheorySeeds
from pipeline.theory.findings.avb import avb_toy
from pipeline.theory.findings.common import Stat
from pipeline.theory.findings.critic_training import ablation
from pipeline.theory.findings.critic_value import MainRun, energy, meaningful
from pipeline.theory.findings.divergences import lines, vanishing


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
