"""theory: the papers' claims, reproduced. One command per part, then `report`.

    python -m stages theory lines        # WGAN Example 1: parallel lines
    python -m stages theory vanishing    # Arjovsky & Bottou Figure 2 / WGAN Figure 2
    python -m stages theory meaningful   # WGAN Figures 3 and 4
    python -m stages theory energy       # the critic against log p_real
    python -m stages theory ablation [--row NAME ...]   # optimiser / Lipschitz ablation
    python -m stages theory avb-toy      # AVB section 6.1
    python -m stages theory report       # reports/theory.md from the parts' records

Each part reads `seeds` and `theory.<part>` (parts 3-5 also `theory.mixture` and
`theory.wgan`) and runs once per seed; writes the first seed's record,
metrics/theory/<part>.json (pipeline.records), and figures,
reports/theory/<part>/<name>.png, and every seed's headline numbers,
metrics/theory/<part>_seeds.json. The report reads the records only.
Each command imports only its own part's modules.
"""

from __future__ import annotations

import json
import time
from typing import Annotated, Callable, Optional

import typer

from pipeline.config import TheoryParams
from pipeline.records import THEORY_RECORDS, Record

from .common import fail, info, params_or_exit, run_jobs
from .paths import THEORY_REPORT, eval_record_path, theory_figure_path, theory_record_path, theory_seeds_path

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__.split("\n")[0])


def _load(seed: Optional[int] = None) -> tuple[int, TheoryParams]:
    import torch

    params = params_or_exit()
    seed = params.seeds[0] if seed is None else seed
    # Tiny nets: one thread is faster, and on a shared CPU extra threads only wait on each other.
    torch.set_num_threads(1)
    # Every part builds nets from the global RNG: seed it so a rerun reproduces the numbers.
    torch.manual_seed(seed)
    return seed, params.theory


def _compute(part: str, seed: int) -> tuple[Record, object]:
    """One seed of one part: its record and what its figures need besides the record."""
    seed, p = _load(seed)
    if part == "lines":
        from pipeline.theory.lines import run_lines

        return run_lines(p.lines, seed), None
    if part == "vanishing":
        from pipeline.theory.vanishing import run_vanishing

        return run_vanishing(p.vanishing, seed), None
    if part == "meaningful":
        from pipeline.theory.meaningful import run_meaningful

        return run_meaningful(p.meaningful, p.wgan_run(p.meaningful.wgan, p.meaningful.steps), p.mixture, seed), None
    if part == "energy":
        from pipeline.theory.energy import run_energy

        return run_energy(p.energy, p.wgan_runs(p.energy.runs, p.energy.steps), p.mixture, seed)
    if part == "ablation":
        from pipeline.theory.ablation import run_ablation

        return run_ablation(p.ablation, p.wgan_runs(p.ablation.rows, p.ablation.steps), p.mixture, seed), None
    if part == "avb_toy":
        from pipeline.theory.avb_toy import run_avb_toy

        return run_avb_toy(p.avb_toy, seed)
    raise ValueError(f"unknown theory part {part!r}")


def _figures(part: str, r, extra) -> dict[str, Callable[[], object]]:
    from pipeline.theory import figures

    return {  # drawn only when `_write` calls them
        "lines": {"lines": lambda: figures.lines_distances(r), "lines_demo": lambda: figures.lines_demo(r)},
        "vanishing": {"vanishing": lambda: figures.vanishing(r)},
        "meaningful": {"meaningful": lambda: figures.meaningful(r)},
        "energy": {"energy": lambda: figures.energy(r, extra)},
        "ablation": {"ablation": lambda: figures.ablation(r)},
        "avb_toy": {"avb_toy": lambda: figures.avb_toy(r, extra)},
    }[part]


def _run(part: str) -> None:
    """The part once per seed in params `seeds` (side by side in `train.workers` processes): the first
    seed's record and figures, and every seed's headline numbers (metrics/theory/<part>_seeds.json)."""
    from pipeline.records import TheorySeeds

    params = params_or_exit()
    seeds = params.seeds
    t0 = time.perf_counter()
    results = run_jobs(_compute, [(part, s) for s in seeds], params.train.workers)
    record, extra = results[0]
    per_seed = [r.metrics() for r, _ in results]
    TheorySeeds(part, list(seeds), {k: [m.get(k) for m in per_seed] for k in per_seed[0]}).write(
        theory_seeds_path(part))
    _write(part, record, _figures(part, record, extra), t0)


def _write(part: str, record: Record, figs: dict[str, Callable[[], object]], t0: float) -> None:
    from pipeline.theory import figures

    record.seconds = round(time.perf_counter() - t0, 1)  # the whole stage: every seed
    record.write(theory_record_path(part))
    for name, draw in figs.items():
        figures.save_png(draw(), theory_figure_path(part, name))
    shown = ", ".join(f"{k}={v:.4g}" for k, v in record.metrics().items() if v is not None)
    info(f"theory {part}: {record.seconds:.1f}s; first seed: {shown}")


@app.command()
def lines() -> None:
    """Part 1: W1 / JS / KL between parallel lines, learned estimates, and the one-parameter learning demo."""
    _run("lines")


@app.command()
def vanishing() -> None:
    """Part 2: generator gradient norms as the discriminator / critic trains on two separated bumps."""
    _run("vanishing")


@app.command()
def meaningful() -> None:
    """Part 3: training estimates (W, JS) against the exact W1 of the samples along a run."""
    _run("meaningful")


@app.command()
def energy() -> None:
    """Part 4: Spearman correlation of trained critics with log p_real on a grid."""
    _run("energy")


@app.command()
def ablation(
    row: Annotated[Optional[list[str]], typer.Option(help="Rerun only this row of theory.ablation.rows "
                                                           "(repeatable), first seed; prints it as JSON and writes "
                                                           "nothing.")] = None,
) -> None:
    """Part 5: one WGAN per critic setting (optimiser; weight clipping, gradient penalty, spectral normalisation)."""
    if not row:
        _run("ablation")
        return
    from pipeline.theory.ablation import run_ablation

    seed, p = _load()
    try:
        r = run_ablation(p.ablation, p.wgan_runs(p.ablation.rows, p.ablation.steps), p.mixture, seed, only=row)
    except KeyError as e:
        raise fail(e.args[0]) from None
    # a check of the table's numbers, not a result: nothing written
    rows = {k: {a: b for a, b in v.items() if a != "checkpoints"} for k, v in r.to_json()["rows"].items()}
    print(json.dumps(rows, indent=2, sort_keys=True))


@app.command("avb_toy", hidden=True)  # the part's name, as dvc.yaml's foreach calls it
@app.command("avb-toy")
def avb_toy() -> None:
    """Part 6: AVB and VAE on four 2x2 images with a 2-D latent; posteriors and log-likelihoods."""
    _run("avb_toy")


@app.command()
def report() -> None:
    """Render reports/theory.md from the parts' records (metrics/theory/<part>.json); trains nothing."""
    from pipeline import io
    from pipeline.theory.report import render

    missing = [p for p in THEORY_RECORDS if not theory_record_path(p).exists()]
    if missing:
        raise fail(f"no record for {', '.join(missing)}: run `python -m stages theory <part>` first")
    from pipeline.records import TheorySeeds

    records = {p: cls.read(theory_record_path(p)) for p, cls in THEORY_RECORDS.items()}
    seeds = {p: TheorySeeds.read(theory_seeds_path(p)) for p in THEORY_RECORDS if theory_seeds_path(p).exists()}
    io.write_text(THEORY_REPORT, render(records, seeds, _main_runs()))
    info(f"wrote {THEORY_REPORT}")


def _main_runs():
    """The main comparison's GAN and WGAN-family runs that have been evaluated (metrics/eval), for the
    meaningful-loss verdict; none before the main pipeline ran."""
    from pipeline.records import EvalRecord
    from pipeline.models.registry import MODELS
    from pipeline.theory.report import MainRun

    params = params_or_exit()
    out = []
    for ds in params.datasets:
        for m, spec in MODELS.items():
            if spec.latent:
                continue
            for seed in params.seeds:
                path = eval_record_path(ds, m, seed)
                if path.exists():
                    e = EvalRecord.read(path).estimate_vs_w1
                    out.append(MainRun(ds, m, seed, e.spearman, e.spearman_late))
    return out
