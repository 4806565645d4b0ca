"""metrics/summary.json: the one DVC metrics file, numbers only.

Nested as {dataset: {model: {metric: value}, "real": {...}}, "theory": {part: {...}}},
which `dvc exp show` flattens to columns such as `ring8.wgan.w1`. Descriptions
(devices, versions, timings, sample counts) stay in the records beside it, so
a rerun that changes nothing leaves this file, and `dvc exp show --only-changed`, quiet.
"""

from __future__ import annotations

import math
from typing import Iterable, Optional

from .records import EvalRecord, RealRecord

# The numbers a comparison is read on; the rest stays in the records and the reports.
HEADLINE = ("w1", "fid_domain", "fid_inception", "modes_covered", "high_quality_pct", "mode_kl", "loglik", "loglik_ais",
            "estimate_w1_spearman")


def _clean(d: dict) -> dict:
    """Headline metrics only, finite numbers only, 6 significant digits."""
    out = {}
    for k, v in d.items():
        if k in HEADLINE and isinstance(v, (int, float)) and math.isfinite(v):
            out[k] = v if isinstance(v, int) else float(f"{v:.6g}")
    return out


def summary(evals: Iterable[EvalRecord], reals: Iterable[RealRecord],
            theory: Optional[dict[str, dict]] = None) -> dict:
    """Every data set's models and real-data floor, and the theory parts' headline numbers."""
    out: dict = {}
    for r in reals:
        out.setdefault(r.dataset, {})["real"] = _clean(r.floor.metrics())
    for e in evals:
        out.setdefault(e.dataset, {})[e.model] = _clean(e.metrics())
    if theory:
        out["theory"] = {part: {k: v for k, v in m.items() if v is not None and math.isfinite(v)}
                         for part, m in theory.items()}
    return out
