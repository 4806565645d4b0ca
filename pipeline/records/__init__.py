"""What each stage writes and the next one reads, as typed records (pydantic models).

base.py: the Record base (JSON in and out, strict about field names), RecordError and `Float`;
runs.py: training, evaluation and real-data records; theory.py: the theory parts' results.
Importers name records from here: `from pipeline.records import EvalRecord`.
"""

from pipeline.records.base import Float, Record, RecordError, finite_or_none
from pipeline.records.runs import (
    AisEstimate,
    Convergence,
    EstimateVsW1,
    EvalRecord,
    InceptionInfo,
    Likelihood,
    Measurement,
    ModeInfo,
    RealRecord,
    SampleScores,
    SnapshotFloor,
    SnapshotW1,
    TrainRecord,
)
from pipeline.records.theory import (
    THEORY_RECORDS,
    AblationResult,
    AblationRow,
    AvbToyResult,
    DemoRun,
    EnergyCheckpoint,
    EnergyResult,
    EnergyRun,
    LinesResult,
    LogLik,
    MeaningfulResult,
    RunTrace,
    TheorySeeds,
    VanishingResult,
    W1Checkpoint,
)

__all__ = [
    "Float", "Record", "RecordError", "finite_or_none",
    "AisEstimate", "Convergence", "EstimateVsW1", "EvalRecord", "InceptionInfo", "Likelihood", "Measurement",
    "ModeInfo", "RealRecord", "SampleScores", "SnapshotFloor", "SnapshotW1", "TrainRecord",
    "THEORY_RECORDS", "AblationResult", "AblationRow", "AvbToyResult", "DemoRun", "EnergyCheckpoint", "EnergyResult",
    "EnergyRun", "LinesResult", "LogLik", "MeaningfulResult", "RunTrace", "TheorySeeds", "VanishingResult",
    "W1Checkpoint",
]
