"""Markdown reports rendered from other stages' outputs: records -> findings -> templates.

pipeline/reporting/findings.py decides what a page says (which model is lowest, what it is separated
from, how far from the real-data floor, which runs diverged or were still moving at the budget), with
pipeline/reporting/readings.py for the rest of the reading (modes, estimates, likelihoods); the
Jinja2 templates in pipeline/reporting/templates/ say it in words, with the number formats below. There
is no fixed prose that a new run could contradict. Diverged runs are shown as diverged, never as numbers.
"""

from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path, PurePosixPath
from typing import Optional

import jinja2
import yaml

from pipeline.evaluation.convergence import STATES
from pipeline.reporting import findings, templating
from pipeline.reporting.readings import LOW_ESS
from pipeline.reporting.results import DatasetResults
from pipeline.reporting.seedstats import Spread

TEMPLATES = Path(__file__).parent / "templates"
DASH = "—"  # not applicable to this model / data set
CLASSIFIER_NAMES = {"mlp": "an MLP", "cnn": "a small CNN"}


# --- number formats: the templates' filters ---------------------------------------------------


def fmt(v: Optional[float], digits: int = 3) -> str:
    """Significant digits, no exponent for everyday magnitudes; a dash for no value."""
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return DASH
    if isinstance(v, int):
        return str(v)
    if v != 0 and (abs(v) >= 1e5 or abs(v) < 1e-3):
        return f"{v:.{digits - 1}e}"
    # `g` writes an exponent where the digits before the point are more than `digits`: 1234 or 999.7, which
    # rounds up to 1e+03; such a number is written whole (1234, 1000)
    out = f"{v:.{digits}g}"
    return f"{v:.0f}" if "e" in out else out


def ms(sp: Spread, digits: int = 3, total: Optional[int] = None) -> str:
    """'mean ± std', and the n behind it when fewer than `total` seeds had a value."""
    if sp.n == 0:
        return DASH
    out = f"{fmt(sp.mean, digits)} ± {fmt(sp.std, 2)}" if sp.n > 1 else fmt(sp.mean, digits)
    return out + (f" (n={sp.n})" if total is not None and sp.n < total else "")


def fixed(v: Optional[float], places: int = 2) -> str:
    """A fixed number of decimals (correlations, per seed), a dash for no value."""
    return DASH if v is None else f"{v:.{places}f}"


def states(counts: dict[str, int]) -> str:
    """'settled 2, still improving 1'."""
    return ", ".join(f"{STATES[k]} {n}" for k, n in counts.items())


def plural(n: int, one: str, many: str) -> str:
    return one if n == 1 else many


def listed(values: list) -> str:
    """'a, b', a dash for none."""
    return ", ".join(str(v) for v in values) or DASH


FILTERS = {"num": fmt, "ms": ms, "fixed": fixed, "states": states, "state": STATES.__getitem__,
           "plural": plural, "listed": listed}


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    return templating.environment(TEMPLATES, FILTERS, DASH=DASH, ANYTIME=findings.ANYTIME, POWER=findings.POWER,
                                  LOW_ESS=LOW_ESS, CLASSIFIER_NAMES=CLASSIFIER_NAMES)


def render(template: str, **context) -> str:
    return environment().get_template(template).render(**context)


# --- pages -------------------------------------------------------------------------------------


def render_dataset(d: DatasetResults, params: dict) -> str:
    """One data set's report: the quality-against-compute figure and the anytime table first, then the
    verdicts, the full table at the budget, the rest of the reading, figures, method, params, environment."""
    compute = next((f for f in d.figures if f.endswith("w1_vs_compute.png")), None)
    return render("dataset.md.j2", f=findings.dataset_findings(d), real=d.real, compute_figure=compute,
                  nets=params["net"]["arch"].upper(),
                  figures=[(PurePosixPath(f).stem, f) for f in d.figures if f != compute],
                  params_yaml=yaml.safe_dump(params, sort_keys=False).rstrip())


def render_index(results: list[DatasetResults], links: dict[str, str],
                 others: Optional[dict[str, tuple[str, str]]] = None) -> str:
    """The index: one row per data set, linking its report, with the leader on W1 where it is a headline (a
    metric a no-learning baseline scores as well on is not one) and the runs' states at the budget; `others`:
    name -> (link, title) of committed pages of data sets this run did not include."""
    return render("index.md.j2", pages=[(findings.dataset_findings(d), links[d.name]) for d in results],
                  others=list((others or {}).values()))
