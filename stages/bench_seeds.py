"""bench-seeds: seeds in parallel processes against seeds as one vectorised ensemble, in seed-steps/s.

    python -m stages bench-seeds

Not a DVC stage: a measurement a user runs by hand (pipeline/perf/bench_seeds.py says what is timed). Each
repeat runs, in turn: one seed on one thread (one seed at a time), one single-seed process per core,
and one process holding an ensemble of E seeds on every core's thread, for each E of --members. It
prints every measurement as it comes, then a markdown table of the medians against one seed at a time.
"""

from __future__ import annotations

import os
import statistics
from typing import Annotated

import torch
import typer

from pipeline.perf.bench_seeds import StepSpec, ensemble_rate, processes_rate
from pipeline.training.loop import cpu_name

from .common import fail, info


def main(
    members: Annotated[str, typer.Option(help="Comma-separated ensemble sizes to time.")] = "2,4,6",
    processes: Annotated[int, typer.Option(min=0, help="Single-seed processes at once, and the ensemble's "
                                           "threads; 0: one per CPU core.")] = 0,
    steps: Annotated[int, typer.Option(min=1, help="Timed generator steps per measurement.")] = 300,
    warmup: Annotated[int, typer.Option(min=0, help="Untimed generator steps before each.")] = 20,
    repeats: Annotated[int, typer.Option(min=1, help="Alternating rounds; the table shows medians.")] = 2,
    batch_size: Annotated[int, typer.Option(min=1)] = 128,
) -> None:
    """Seed-steps per second of the ring8 WGAN step: one seed at a time, one process per seed, or ensembles."""
    try:
        sizes = [int(m) for m in members.split(",") if m.strip()]
    except ValueError:
        raise fail(f"--members {members!r}: give whole numbers separated by commas, e.g. 2,4,6") from None
    if not sizes or min(sizes) < 1:
        raise fail(f"--members {members!r}: every ensemble needs at least one seed")
    n = processes or os.cpu_count() or 1
    spec = StepSpec(batch=batch_size)
    rows = {"one seed at a time (1 process, 1 thread)": lambda: ensemble_rate(spec, 1, 1, steps, warmup),
            f"{n} process{'es' if n > 1 else ''}, 1 seed and 1 thread each": lambda: processes_rate(spec, n, 1, steps, warmup)}
    threads = f"{n} thread{'s' if n > 1 else ''}"
    rows |= {f"1 process, an ensemble of {e} seeds on {threads}":
             (lambda e=e: ensemble_rate(spec, e, n, steps, warmup)) for e in sizes}
    info(f"{cpu_name()}, {os.cpu_count()} CPUs, torch {torch.__version__}")
    info(f"WGAN step (batch {spec.batch}, n_critic {spec.n_critic}, MLP {spec.d_hidden}): "
         f"{steps} timed generator steps after {warmup}, {repeats} rounds")
    rates: dict[str, list[float]] = {name: [] for name in rows}
    for r in range(repeats):
        for name, measure in rows.items():
            rates[name].append(measure())
            info(f"round {r + 1}: {name}: {rates[name][-1]:.1f} seed-steps/s")
    base = statistics.median(next(iter(rates.values())))
    print("\n| seeds run as | seed-steps/s (each round) | median | vs one seed at a time |\n|---|---|---:|---:|")
    for name, v in rates.items():
        med = statistics.median(v)
        print(f"| {name} | {', '.join(f'{x:.1f}' for x in v)} | {med:.1f} | {med / base:.2f}x |")
