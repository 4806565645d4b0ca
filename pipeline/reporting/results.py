"""What a report reads: one data set's records, every model and seed, gathered.

`ModelResult` is one model's evaluation and training records (one per seed), `DatasetResults` a data set's
models with its real-data record and the settings its page states. pipeline/reporting/findings.py decides
what they say; stages/report.py reads them from the stages' outputs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from pipeline.records import EvalRecord, RealRecord, TrainRecord
from pipeline.reporting.seedstats import Spread, spread


@dataclass
class ModelResult:
    """One model's runs on one data set, one per seed (same seeds, same order for every model)."""

    runs: list[EvalRecord]
    trains: list[TrainRecord]

    @property
    def name(self) -> str:
        return self.runs[0].model

    @property
    def ok_runs(self) -> list[EvalRecord]:
        return [r for r in self.runs if r.ok and r.scores is not None]

    @property
    def ok(self) -> bool:
        """At least one seed has numbers."""
        return bool(self.ok_runs)

    @property
    def eval(self) -> EvalRecord:
        """The first run with numbers (for what every run shares: sample sizes, features, devices)."""
        return (self.ok_runs or self.runs)[0]

    def per_seed(self, key: str) -> dict[int, Optional[float]]:
        """seed -> the metric (EvalRecord.metrics() keys), None where that run has none."""
        return {r.seed: r.metrics().get(key) for r in self.runs}

    def spread(self, key: str) -> Spread:
        return spread(list(self.per_seed(key).values()))


@dataclass
class DatasetResults:
    name: str
    kind: str  # "points" or "images"
    models: list[ModelResult]
    real: RealRecord
    figures: list[str] = field(default_factory=list)  # paths relative to the report file
    alpha: float = 0.05  # significance level of the paired tests (Holm-corrected per metric)
    rtol: float = 0.1  # eval.settle_rtol, for the criterion's description
    lr_schedule: str = "constant"  # train.lr_schedule, every model's

    @property
    def runs(self) -> dict[str, list[EvalRecord]]:
        return {r.name: r.runs for r in self.models}

    @property
    def n_seeds(self) -> int:
        return len(self.models[0].runs) if self.models else 0
