"""pipeline/records: a record reads back what it wrote, and writes the bytes its files already hold."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from pipeline.io import read_json, write_json
from pipeline.records import (
    THEORY_RECORDS,
    EstimateVsW1,
    EvalRecord,
    Measurement,
    RealRecord,
    Record,
    RecordError,
    RunTrace,
    SampleScores,
    SnapshotW1,
    TheorySeeds,
    TrainRecord,
    VanishingResult,
    W1Checkpoint,
)
from tests.conftest import REPO

METRICS = REPO / "metrics"


def _record_class(path: Path) -> type[Record]:
    """The record a committed metrics file holds (stages/paths.py lays them out)."""
    kind = path.relative_to(METRICS).parts[0]
    if kind == "theory":
        return TheorySeeds if path.stem.endswith("_seeds") else THEORY_RECORDS[path.stem]
    return {"train": TrainRecord, "eval": EvalRecord, "real": RealRecord}[kind]


def _committed() -> list[Path]:
    """The committed metrics files; none (a fresh clone before `dvc pull`): the test below is skipped."""
    return sorted(p for kind in ("train", "eval", "real", "theory") for p in (METRICS / kind).rglob("*.json")) \
        if METRICS.is_dir() else []


@pytest.mark.parametrize("path", _committed(), ids=lambda p: str(p.relative_to(METRICS)))
def test_a_committed_file_is_written_back_byte_for_byte(path: Path, tmp_path: Path):
    record = _record_class(path).read(path)
    record.write(tmp_path / "out.json")  # pipeline/io.py's write_json: the stages' own dump settings
    assert (tmp_path / "out.json").read_text() == path.read_text()


def _eval(**over) -> EvalRecord:
    fields = dict(model="wgan", dataset="ring8", kind="points", seed=0, status="ok", message="", train_steps=100,
                  estimate_vs_w1=EstimateVsW1("w_estimate", None, 0.5, 3, 100), device="cpu",
                  versions={"torch": "2"}, seconds=1.5, scores=SampleScores(0.3, 0.1, 0.01))
    return EvalRecord(**(fields | over))


def _round_trip(r: Record, tmp_path: Path) -> Record:
    write_json(tmp_path / "r.json", r.to_json())
    return type(r).from_json(read_json(tmp_path / "r.json"), "r.json")


def test_nan_round_trip(tmp_path: Path):
    r = _eval(trajectory=[SnapshotW1(10, math.nan, math.inf, 2.0)])
    d = r.to_json()
    assert d["trajectory"][0] == {"step": 10, "w1": None, "estimate": None, "gflop": 2.0}  # standard JSON
    back = _round_trip(r, tmp_path)
    t = back.trajectory[0]
    assert math.isnan(t.w1) and math.isnan(t.estimate) and t.gflop == 2.0  # a float's null is NaN
    assert back.to_json() == d


def test_optional_none_stays_none(tmp_path: Path):
    back = _round_trip(_eval(), tmp_path)
    assert back.likelihood is None and back.how is None and back.estimate_vs_w1.pearson is None
    assert back.scores.fid_inception is None and back.estimate_vs_w1.spearman == 0.5
    # a NaN in an Optional field is written as null, and reads back as "does not apply"
    nan = _round_trip(_eval(estimate_vs_w1=EstimateVsW1("w_estimate", math.nan, None, 0, 0)), tmp_path)
    assert nan.estimate_vs_w1.pearson is None


def test_json_is_plain_and_in_field_order():
    r = VanishingResult([1, 10], [0.1, 0.2], [0.1, 0.2], [0.1, 0.2], [0.0, 0.1], [0.0], [0.5], [0.0],
                        (-2.0, 0.3), (2.0, 0.3))
    d = r.to_json()
    assert list(d) == list(VanishingResult.model_fields)
    assert d["real"] == [-2.0, 0.3] and isinstance(d["real"], list)  # tuples as lists
    assert json.loads(json.dumps(d)) == d


def test_an_int_in_a_float_field_is_written_as_an_int(tmp_path: Path):
    # log rows hold the step as an int: written as 10, not 10.0, as the dataclasses these were wrote it
    run = RunTrace("wgan", "w_estimate", [{"step": 10, "w_estimate": 0.5}], [W1Checkpoint(10, 0.4)], 1.0, 1.0)
    assert run.to_json()["rows"] == [{"step": 10, "w_estimate": 0.5}]
    assert _round_trip(run, tmp_path).to_json() == run.to_json()


def test_positional_and_keyword_construction_agree():
    a = SampleScores(0.3, 0.1, 0.01, precision=0.9)
    assert a == SampleScores(w1=0.3, w1_sliced=0.1, fid_domain=0.01, precision=0.9)
    with pytest.raises(TypeError, match="two values"):
        SampleScores(0.3, w1=0.3, w1_sliced=0.1, fid_domain=0.01)


def test_records_stay_mutable():
    r = _eval()
    r.status, r.scores = "diverged", None
    assert not r.ok and r.metrics() == {}


def test_a_missing_field_names_the_field_and_the_file():
    d = _eval().to_json()
    del d["scores"]["w1_sliced"]
    with pytest.raises(RecordError, match=r"^metrics/eval/x\.json: EvalRecord lacks field\(s\) \['scores\.w1_sliced'\]$"):
        EvalRecord.from_json(d, "metrics/eval/x.json")


def test_an_unknown_field_names_the_field_and_the_file():
    d = _eval().to_json() | {"colour": "blue"}
    with pytest.raises(RecordError, match=r"^metrics/eval/x\.json: unknown field\(s\) \['colour'\] for EvalRecord$"):
        EvalRecord.from_json(d, "metrics/eval/x.json")
    d = _eval(trajectory=[SnapshotW1(10, 1.0, 0.5)]).to_json()
    d["trajectory"][0]["w2"] = 1.0
    with pytest.raises(RecordError, match=r"unknown field\(s\) \['trajectory\[0\]\.w2'\]"):
        EvalRecord.from_json(d, "x.json")


def test_a_wrong_value_and_a_missing_file_fail_in_one_line(tmp_path: Path):
    d = _eval().to_json()
    d["scores"]["w1"] = "far"
    with pytest.raises(RecordError, match=r"^x\.json: scores\.w1: ") as e:
        EvalRecord.from_json(d, "x.json")
    assert "\n" not in str(e.value) and isinstance(e.value, ValueError)
    with pytest.raises(FileNotFoundError, match="dvc repro"):
        Measurement.read(tmp_path / "absent.json")
