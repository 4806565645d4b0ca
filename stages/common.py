"""What every stage shares: params loading at the edge, the CLI's choices, one-line errors."""

from __future__ import annotations

import sys
import typing
from enum import Enum

import typer

from pipeline.config import DatasetName, Params, ParamsError, load_params

from .paths import PARAMS

# A Typer Enum, so that a typo is refused with the allowed values (models: pipeline.registry.ModelName).
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


def info(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def one_thread_on_cpu(device) -> None:
    """Our nets are tiny: on this shared 2-core CPU one intra-op thread trained the
    domain classifier 15x faster than two (measured); a GPU is unaffected."""
    import torch

    if device.type == "cpu":
        torch.set_num_threads(1)
