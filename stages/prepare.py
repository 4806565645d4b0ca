"""prepare: build one data set (train + held-out test split) under data/prepared/<dataset>/.

With --sources-only it writes just data/sources/<dataset>.json, the sha256 of the files under
data.root that prepare would read: DVC's `sources` stage runs it on every repro, and `prepare`
depends on that file, so replacing a file under data.root reruns prepare and nothing else does.
"""

from __future__ import annotations

from typing import Annotated

import typer

from .common import Dataset, fail, info, params_or_exit
from .paths import DOWNLOADS, prepared_dir, sources_path


def main(
    dataset: Annotated[Dataset, typer.Option(help="Data set to prepare.")],
    sources_only: Annotated[bool, typer.Option(
        "--sources-only",
        help="Only write data/sources/<dataset>.json: sha256 of the files under data.root that prepare would read.",
    )] = False,
) -> None:
    """Generate or load a data set deterministically from params.yaml (`seed`, `data`)."""
    from pipeline import io
    from pipeline.data.idx import DataError, source_digests

    params = params_or_exit()
    if sources_only:  # torch-free: this runs on every `dvc repro`
        try:
            io.write_json(sources_path(dataset.value), source_digests(dataset.value, params.data))
        except DataError as e:
            raise fail(str(e)) from None
        return
    from pipeline.data import datasets as data_lib

    try:
        prepared = data_lib.prepare(dataset.value, params.data, params.seed, DOWNLOADS, note=info)
    except DataError as e:
        raise fail(str(e)) from None
    data_lib.save_prepared(prepared_dir(dataset.value), prepared)
    m = prepared.meta
    info(f"prepared {m.name}: {m.n_train} train / {m.n_test} test samples of shape {m.shape}")
