"""theory: the papers' claims, reproduced. One command per part, then `report`.

    python -m stages theory lines        # WGAN Example 1: parallel lines
    python -m stages theory vanishing    # Arjovsky & Bottou Figure 2 / WGAN Figure 2
    python -m stages theory meaningful   # WGAN Figures 3 and 4
    python -m stages theory energy       # the critic against log p_real
    python -m stages theory ablation [--row NAME ...]   # optimiser / Lipschitz ablation
    python -m stages theory avb-toy      # AVB section 6.1
    python -m stages theory report       # reports/theory.md from the parts' records

Each part reads `seed` and `theory.<part>` (parts 3-5 also `theory.mixture` and
`theory.wgan`); writes its record, metrics/theory/<part>.json (pipeline.records),
and its figures, reports/theory/<part>/<name>.png. The report reads the records only.
Each command imports only its own part's modules.
"""

from __future__ import annotations

import json
import time
from typing import Annotated, Callable, Optional

import typer

from pipeline.config import TheoryParams
from pipeline.records import THEORY_RECORDS, Record

from .common import fail, info, params_or_exit
from .paths import THEORY_REPORT, theory_figure_path, theory_record_path

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__.split("\n")[0])


def _load() -> tuple[int, TheoryParams]:
    import torch

    params = params_or_exit()
    # Tiny nets: one thread is faster, and on a shared CPU extra threads only wait on each other.
    torch.set_num_threads(1)
    # Every part builds nets from the global RNG: seed it so a rerun reproduces the numbers.
    torch.manual_seed(params.seed)
    return params.seed, params.theory


def _write(part: str, record: Record, figs: dict[str, Callable[[], object]], t0: float) -> None:
    from pipeline.theory import figures

    record.seconds = round(time.perf_counter() - t0, 1)
    record.write(theory_record_path(part))
    for name, draw in figs.items():
        figures.save_png(draw(), theory_figure_path(part, name))
    shown = ", ".join(f"{k}={v:.4g}" for k, v in record.metrics().items() if v is not None)
    info(f"theory {part}: {record.seconds:.1f}s; {shown}")


@app.command()
def lines() -> None:
    """Part 1: W1 / JS / KL between parallel lines, learned estimates, and the one-parameter learning demo."""
    from pipeline.theory import figures
    from pipeline.theory.lines import run_lines

    seed, p = _load()
    t0 = time.perf_counter()
    r = run_lines(p.lines, seed)
    _write("lines", r, {"lines": lambda: figures.lines_distances(r), "lines_demo": lambda: figures.lines_demo(r)}, t0)


@app.command()
def vanishing() -> None:
    """Part 2: generator gradient norms as the discriminator / critic trains on two separated bumps."""
    from pipeline.theory import figures
    from pipeline.theory.vanishing import run_vanishing

    seed, p = _load()
    t0 = time.perf_counter()
    r = run_vanishing(p.vanishing, seed)
    _write("vanishing", r, {"vanishing": lambda: figures.vanishing(r)}, t0)


@app.command()
def meaningful() -> None:
    """Part 3: training estimates (W, JS) against the exact W1 of the samples along a run."""
    from pipeline.theory import figures
    from pipeline.theory.meaningful import run_meaningful

    seed, p = _load()
    t0 = time.perf_counter()
    r = run_meaningful(p.meaningful, p.wgan_run(p.meaningful.wgan, p.meaningful.steps), p.mixture, seed)
    _write("meaningful", r, {"meaningful": lambda: figures.meaningful(r)}, t0)


@app.command()
def energy() -> None:
    """Part 4: Spearman correlation of trained critics with log p_real on a grid."""
    from pipeline.theory import figures
    from pipeline.theory.energy import run_energy

    seed, p = _load()
    t0 = time.perf_counter()
    r, maps = run_energy(p.energy, p.wgan_runs(p.energy.runs, p.energy.steps), p.mixture, seed)
    _write("energy", r, {"energy": lambda: figures.energy(r, maps)}, t0)


@app.command()
def ablation(
    row: Annotated[Optional[list[str]], typer.Option(help="Rerun only this row of theory.ablation.rows "
                                                           "(repeatable); prints it as JSON and writes nothing.")] = None,
) -> None:
    """Part 5: one WGAN per critic setting (optimiser; weight clipping, gradient penalty, spectral normalisation)."""
    from pipeline.theory.ablation import run_ablation

    seed, p = _load()
    t0 = time.perf_counter()
    try:
        r = run_ablation(p.ablation, p.wgan_runs(p.ablation.rows, p.ablation.steps), p.mixture, seed, only=row)
    except KeyError as e:
        raise fail(e.args[0]) from None
    if row:  # a check of the table's numbers, not a result: nothing written
        rows = {k: {a: b for a, b in v.items() if a != "checkpoints"} for k, v in r.to_json()["rows"].items()}
        print(json.dumps(rows, indent=2, sort_keys=True))
        return
    from pipeline.theory import figures

    _write("ablation", r, {"ablation": lambda: figures.ablation(r)}, t0)


@app.command("avb_toy", hidden=True)  # the part's name, as dvc.yaml's foreach calls it
@app.command("avb-toy")
def avb_toy() -> None:
    """Part 6: AVB and VAE on four 2x2 images with a 2-D latent; posteriors and log-likelihoods."""
    from pipeline.theory import figures
    from pipeline.theory.avb_toy import run_avb_toy

    seed, p = _load()
    t0 = time.perf_counter()
    r, posteriors = run_avb_toy(p.avb_toy, seed)
    _write("avb_toy", r, {"avb_toy": lambda: figures.avb_toy(r, posteriors)}, t0)


@app.command()
def report() -> None:
    """Render reports/theory.md from the parts' records (metrics/theory/<part>.json); trains nothing."""
    from pipeline import io
    from pipeline.theory.report import render

    missing = [p for p in THEORY_RECORDS if not theory_record_path(p).exists()]
    if missing:
        raise fail(f"no record for {', '.join(missing)}: run `python -m stages theory <part>` first")
    records = {p: cls.read(theory_record_path(p)) for p, cls in THEORY_RECORDS.items()}
    io.write_text(THEORY_REPORT, render(records))
    info(f"wrote {THEORY_REPORT}")
