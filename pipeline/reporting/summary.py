"""metrics/summary.json: the one DVC metrics file, numbers only.

Nested as {dataset: {model: {metric: {mean, std, n}, "converged": share}, "real": {...}},
"theory": {part: {metric: {mean, std, n}}}}, which `dvc exp show` flattens to
columns such as `ring8.wgan.w1.mean`: mean and sample std over the seeds in params
`seeds`, n the seeds with a finite value (a diverged run has none); `converged` is
the share of seeds whose run settled at the budget (pipeline/evaluation/convergence.py);
`gflop.mean` the training FLOPs the runs used and `gflop.budget` the data set's budget;
`w1_at_25pct` and `w1_at_50pct` the snapshot W1 at a quarter and half of it. Per-seed values
stay in the records. Descriptions (devices, versions, timings, sample counts) stay
in the records beside it, so
a rerun that changes nothing leaves this file, and `dvc exp show --only-changed`, quiet.
"""

from __future__ import annotations

import math
from typing import Iterable, Optional

from pipeline.reporting.findings import w1_at
from pipeline.records import EvalRecord, RealRecord
from pipeline.reporting.seedstats import spread

# The numbers a comparison is read on; the rest stays in the records and the reports.
HEADLINE = ("w1", "fid_domain", "fid_inception", "precision", "recall", "modes_covered", "high_quality_pct", "mode_kl",
            "loglik", "loglik_ais", "estimate_w1_spearman")


def _g(v: float) -> float:
    """6 significant digits."""
    return float(f"{v:.6g}")


def _clean(d: dict) -> dict:
    """Headline metrics only, finite numbers only, 6 significant digits."""
    out = {}
    for k, v in d.items():
        if k in HEADLINE and isinstance(v, (int, float)) and math.isfinite(v):
            out[k] = v if isinstance(v, int) else _g(v)
    return out


def over_seeds(runs: list[EvalRecord]) -> dict:
    """{metric: {mean, std, n}} over one model's runs (one per seed), and `converged` (the share)."""
    per_seed = [_clean(r.metrics()) for r in runs]
    out: dict = {}
    for key in HEADLINE:
        sp = spread([m.get(key) for m in per_seed])
        if sp.n:
            out[key] = {"mean": _g(sp.mean), "std": _g(sp.std), "n": sp.n}
    out["converged"] = _g(sum(r.converged for r in runs) / len(runs)) if runs else 0.0
    # the compute each run used (the same budget for every model, within one step) and what it cost here
    out["gflop"] = {"mean": _g(spread([r.flops / 1e9 for r in runs]).mean), "budget": _g(runs[0].budget_gflop)} \
        if runs else {}
    for share in (0.25, 0.5):  # the anytime table's W1 at a part of the budget (snapshot W1)
        sp = spread([w1_at(r, share) for r in runs if r.ok])
        if sp.n:
            out[f"w1_at_{int(100 * share)}pct"] = {"mean": _g(sp.mean), "std": _g(sp.std), "n": sp.n}
    return out



def summary(evals: Iterable[EvalRecord], reals: Iterable[RealRecord],
            theory: Optional[dict[str, dict[str, list]]] = None) -> dict:
    """Every data set's models (over seeds) and real-data floor, and the theory parts' headline numbers."""
    out: dict = {}
    for r in reals:
        out.setdefault(r.dataset, {})["real"] = _clean(r.floor.metrics())
    runs: dict[tuple[str, str], list[EvalRecord]] = {}
    for e in evals:
        runs.setdefault((e.dataset, e.model), []).append(e)
    for (ds, model), rs in runs.items():
        out.setdefault(ds, {})[model] = over_seeds(rs)
    if theory:  # part -> metric -> one value per seed
        out["theory"] = {part: {k: {"mean": _g(sp.mean), "std": _g(sp.std), "n": sp.n}
                                for k, vals in m.items() if (sp := spread(vals)).n}
                         for part, m in theory.items()}
    return out
