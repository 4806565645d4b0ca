"""reports/theory.md, rendered from the parts' records (metrics/theory/<part>.json) and their
per-seed headline numbers (metrics/theory/<part>_seeds.json): records -> findings -> page.

`pipeline.theory.findings` decides every number and verdict; the templates in
pipeline/theory/templates/ (`page.md.j2`, one `<part>.md.j2` per part, shared words in
`_macros.md.j2`) say them; this module holds the number formats and renders. Nothing here trains
or samples.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Optional, Sequence

from pipeline.records import Record, TheorySeeds
from pipeline.reporting import templating
from pipeline.theory import findings
from pipeline.theory.findings import MainRun, Stat

__all__ = ["MainRun", "render", "render_page"]

TEMPLATES = Path(__file__).parent / "templates"


# --- number formats: every number on the page goes through one of these --------------------------


def num(v: Optional[float], digits: int = 3) -> str:
    """`digits` decimals; scientific where that would show no digit or too many; 'n/a' where undefined."""
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "n/a"
    if v != 0 and (abs(v) < 10 ** -digits or abs(v) >= 1e4):
        return f"{v:.{digits - 1}e}"
    return f"{v:.{digits}f}"


def fixed(v: float, digits: int = 3) -> str:
    return f"{v:.{digits}f}"


def signed(v: float, digits: int = 3) -> str:
    return f"{v:+.{digits}f}"


def sci(v: float, digits: int = 2) -> str:
    return f"{v:.{digits}e}"


def pct(share: float) -> str:
    return f"{100 * share:.0f}"


def seed_name(first_seed: Optional[int]) -> str:
    """'seed 4', or 'first seed' where the seeds are not known (a part without its seeds file)."""
    return f"seed {first_seed}" if first_seed is not None else "first seed"


def seed_label(first_seed: Optional[int]) -> str:
    return f"first seed ({seed_name(first_seed)})" if first_seed is not None else "first seed"


def ms(stat: Stat, digits: int = 3, n: bool = True) -> str:
    """'mean ± std (n=k)' over the seeds' finite values (`n=False`: the count only where a seed has
    none), or the first seed's value, labelled as such, where only that seed's record holds it."""
    if stat.alone:
        return f"{num(stat.values[0], digits)} [{seed_label(stat.first_seed)} only]"
    sp = stat.spread
    if not sp.n:
        return "n/a"
    shown = n or sp.n < len(stat.values)
    return f"{num(sp.mean, digits)} ± {num(sp.std, digits)}" + (f" (n={sp.n})" if shown else "")


FILTERS = {f.__name__: f for f in (num, fixed, signed, sci, pct, seed_name, seed_label, ms)}


def render_page(page: findings.Page) -> str:
    return templating.environment(TEMPLATES, FILTERS).get_template("page.md.j2").render(page=page)


def render(records: dict[str, Record], seeds: Optional[dict[str, TheorySeeds]] = None,
           main: Sequence[MainRun] = ()) -> str:
    """The report from the parts' records (a part without one is left out), their per-seed numbers (a
    part without them is rendered from its first seed's record alone, and says so) and the main
    comparison's WGAN-family runs (for the meaningful-loss part)."""
    return render_page(findings.page(records, seeds, main))
