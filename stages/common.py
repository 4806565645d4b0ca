"""What every stage shares: params loading at the edge, the CLI's choices, one-line errors."""

from __future__ import annotations

import multiprocessing
import os
import sys
import typing
from concurrent.futures import ProcessPoolExecutor
from enum import Enum
from typing import Callable, Optional, Sequence

import typer

from pipeline.config import DatasetName, Params, ParamsError, load_params

from .paths import PARAMS

# A Typer Enum, so that a typo is refused with the allowed values (models: pipeline.models.registry.ModelName).
Dataset = Enum("Dataset", {d: d for d in typing.get_args(DatasetName)}, type=str)


def fail(message: str, code: int = 2) -> "typer.Exit":
    """The message on stderr (one line per problem) and a non-zero exit."""
    for line in message.splitlines() or [""]:
        typer.secho(f"error: {line}", fg=typer.colors.RED, err=True)
    return typer.Exit(code)


def params_or_exit(path=PARAMS) -> Params:
    """Validate params.yaml before any work; a bad value exits 2 with one line per problem."""
    try:
        return load_params(path)
    except ParamsError as e:
        raise fail(str(e)) from None


def chosen_datasets(dataset: Optional[list[Enum]], params: Params) -> list[str]:
    """The data sets a stage's `--dataset` options name, else every one in params `datasets`."""
    return [d.value for d in dataset] if dataset else list(params.datasets)


def info(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def one_thread_on_cpu(device) -> None:
    """Our nets are tiny: on this shared 2-core CPU one intra-op thread trained the
    domain classifier 15x faster than two (measured); a GPU is unaffected."""
    import torch

    if device.type == "cpu":
        torch.set_num_threads(1)


class Refused(Exception):
    """One job's bad input, as one line: `run_jobs` collects every job's before the stage fails."""


def run_jobs(fn: Callable, jobs: Sequence[tuple], workers: int) -> list:
    """`fn(*job)` for every job (one per seed), in `workers` processes (0: one per CPU core; 1: here,
    in order). Every job runs even when another is refused; then the stage exits 2 with one line per
    refused job. `fn` must be a module-level function (the processes are spawned, not forked: a forked
    CUDA context is unusable, and each child pins its own threads)."""
    workers = min(len(jobs), workers or os.cpu_count() or 1)
    if workers <= 1:
        results = [_guarded(fn, job) for job in jobs]
    else:
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            results = list(pool.map(_guarded, [fn] * len(jobs), jobs))
    if errors := [r.message for r in results if isinstance(r, _Failed)]:
        raise fail("\n".join(errors))
    return results


class _Failed(typing.NamedTuple):
    message: str


def _guarded(fn: Callable, job: tuple):
    """`fn(*job)`, or its refusal as a `_Failed` (an exception would abort the other jobs' pool)."""
    try:
        return fn(*job)
    except Refused as e:
        return _Failed(str(e))
    except typer.Exit as e:  # `fail` inside the job (params_or_exit) has already printed its lines
        return _Failed(f"{fn.__name__}{job}: exit {e.exit_code}")
