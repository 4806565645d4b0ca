"""prepare: build one data set (train + held-out test split) under data/prepared/<dataset>/."""

from __future__ import annotations

from typing import Annotated

import typer

from pipeline import data as data_lib

from .common import DOWNLOADS, Dataset, fail, info, params_or_exit, prepared_dir


def main(
    dataset: Annotated[Dataset, typer.Option(help="Data set to prepare.")],
) -> None:
    """Generate or load a data set deterministically from params.yaml (`seed`, `data`)."""
    params = params_or_exit()
    try:
        prepared = data_lib.prepare(dataset.value, params.data, params.seed, DOWNLOADS)
    except data_lib.DataError as e:
        raise fail(str(e)) from None
    data_lib.save_prepared(prepared_dir(dataset.value), prepared)
    m = prepared.meta
    info(f"prepared {m.name}: {m.n_train} train / {m.n_test} test samples of shape {m.shape}")
