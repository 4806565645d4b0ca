"""theory: the papers' claims, reproduced. One command per part, then `report`.

    python -m stages theory lines        # WGAN Example 1: parallel lines
    python -m stages theory vanishing    # Arjovsky & Bottou Figure 2 / WGAN Figure 2
    python -m stages theory meaningful   # WGAN Figures 3 and 4
    python -m stages theory energy       # the critic against log p_real
    python -m stages theory ablation [--row NAME ...]   # optimiser / Lipschitz ablation
    python -m stages theory avb-toy      # AVB section 6.1
    python -m stages theory report       # reports/theory.md from the parts' JSON

Each part reads `theory.<part>` (and `theory.mixture` for parts 3-5) and
`seed`; writes reports/theory/<part>.json (what the report renders), its
figures, and metrics/theory/<part>.json.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Annotated, Callable, Optional

import torch
import typer

from pipeline import io
from pipeline.config import TheoryParams
from pipeline.theory import ablation as ablation_lib
from pipeline.theory import avb_toy as avb_lib
from pipeline.theory import energy as energy_lib
from pipeline.theory import figures
from pipeline.theory import lines as lines_lib
from pipeline.theory import meaningful as meaningful_lib
from pipeline.theory import report as report_lib
from pipeline.theory import vanishing as vanishing_lib

from .common import METRICS, fail, info, params_or_exit

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__.split("\n")[0])
FIGURES = Path("reports/theory")
REPORT = Path("reports/theory.md")
THEORY_METRICS = METRICS / "theory"
PARTS = ("lines", "vanishing", "meaningful", "energy", "ablation", "avb_toy")


def _load() -> tuple[int, TheoryParams]:
    params = params_or_exit()
    theory = params.theory
    # Tiny nets: one thread is faster, and on a shared CPU extra threads only wait on each other.
    torch.set_num_threads(1)
    # Every part builds nets from the global RNG: seed it so a rerun reproduces the numbers.
    torch.manual_seed(params.seed)
    return params.seed, theory


def _finite(obj):
    """NaN / inf -> None, so the JSON is standard and a missing number reads as null."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    return obj


def _write(part: str, details: dict, metrics: dict, figs: dict[str, Callable], seconds: float) -> None:
    details = details | {"seconds": round(seconds, 1)}
    io.write_json(FIGURES / f"{part}.json", _finite(details))
    io.write_json(THEORY_METRICS / f"{part}.json", _finite(metrics))
    for name, draw in figs.items():
        figures.save_png(draw(details), FIGURES / f"{name}.png")
    info(f"theory {part}: {seconds:.1f}s; " + ", ".join(f"{k}={v:.4g}" for k, v in metrics.items()
                                                       if isinstance(v, float) and math.isfinite(v)))


@app.command()
def lines() -> None:
    """Part 1: W1 / JS / KL between parallel lines, learned estimates, and the one-parameter learning demo."""
    seed, p = _load()
    t0 = time.perf_counter()
    d = lines_lib.run_lines(p.lines, seed).to_dict()
    _write("lines", d, report_lib.lines_metrics(d), {"lines": figures.lines_distances, "lines_demo": figures.lines_demo},
           time.perf_counter() - t0)


@app.command()
def vanishing() -> None:
    """Part 2: generator gradient norms as the discriminator / critic trains on two separated bumps."""
    seed, p = _load()
    t0 = time.perf_counter()
    d = vanishing_lib.run_vanishing(p.vanishing, seed).to_dict()
    _write("vanishing", d, report_lib.vanishing_metrics(d), {"vanishing": figures.vanishing}, time.perf_counter() - t0)


@app.command()
def meaningful() -> None:
    """Part 3: training estimates (W, JS) against the exact W1 of the samples along a run."""
    seed, p = _load()
    t0 = time.perf_counter()
    d = meaningful_lib.run_meaningful(p.meaningful, p.mixture, seed).to_dict()
    _write("meaningful", d, report_lib.meaningful_metrics(d), {"meaningful": figures.meaningful}, time.perf_counter() - t0)


@app.command()
def energy() -> None:
    """Part 4: Spearman correlation of trained critics with log p_real on a grid."""
    seed, p = _load()
    t0 = time.perf_counter()
    d = energy_lib.run_energy(p.energy, p.mixture, seed).to_dict()
    _write("energy", d, report_lib.energy_metrics(d), {"energy": figures.energy}, time.perf_counter() - t0)


@app.command()
def ablation(
    row: Annotated[Optional[list[str]], typer.Option(help="Rerun only this row of theory.ablation.rows "
                                                           "(repeatable); prints it as JSON and writes nothing.")] = None,
) -> None:
    """Part 5: one WGAN per critic setting (optimiser, clip, GP, SN); the table in the report."""
    seed, p = _load()
    t0 = time.perf_counter()
    try:
        rows = ablation_lib.run_ablation(p.ablation, p.mixture, seed, only=row)
    except KeyError as e:
        raise fail(e.args[0]) from None
    if row:
        shown = {k: {a: b for a, b in v.items() if a != "checkpoints"} for k, v in rows.items()}
        print(json.dumps(_finite(shown), indent=2, sort_keys=True))
        return
    d = {"rows": rows, "steps": p.ablation.steps, "last_fraction": p.ablation.last_fraction}
    _write("ablation", d, report_lib.ablation_metrics(d), {}, time.perf_counter() - t0)


@app.command("avb-toy")
def avb_toy() -> None:
    """Part 6: AVB and VAE on four 2x2 images with a 2-D latent; posteriors and log-likelihoods."""
    seed, p = _load()
    t0 = time.perf_counter()
    d = avb_lib.run_avb_toy(p.avb_toy, seed).to_dict()
    _write("avb_toy", d, report_lib.avb_toy_metrics(d), {"avb_toy": figures.avb_toy}, time.perf_counter() - t0)


@app.command()
def report() -> None:
    """Render reports/theory.md from reports/theory/<part>.json."""
    missing = [p for p in PARTS if not (FIGURES / f"{p}.json").exists()]
    if missing:
        raise fail(f"no results for {', '.join(missing)}: run `python -m stages theory <part>` first")
    details = {p: io.read_json(FIGURES / f"{p}.json") for p in PARTS}
    io.write_text(REPORT, report_lib.render(details))
    info(f"wrote {REPORT}")
