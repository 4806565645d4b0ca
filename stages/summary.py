"""summary: metrics/summary.json, the one DVC metrics file, from every record."""

from __future__ import annotations

from .common import info, params_or_exit
from .paths import SUMMARY, eval_record_path, real_record_path, theory_seeds_path


def main() -> None:
    """Collect the headline numbers of every model, data set and theory part into metrics/summary.json."""
    from pipeline import io
    from pipeline.records import THEORY_RECORDS, EvalRecord, RealRecord, TheorySeeds
    from pipeline.models.registry import MODELS
    from pipeline.reporting.summary import summary

    params = params_or_exit()
    evals = [EvalRecord.read(eval_record_path(ds, m, s)) for ds in params.datasets for m in MODELS
             for s in params.seeds]
    reals = [RealRecord.read(real_record_path(ds)) for ds in params.datasets]
    theory = {part: TheorySeeds.read(theory_seeds_path(part)).metrics for part in THEORY_RECORDS}
    io.write_json(SUMMARY, summary(evals, reals, theory))
    info(f"summary: {SUMMARY}")
