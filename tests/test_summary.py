"""metrics/summary.json: every headline metric as mean, std and n over seeds, the floor beside it."""

from __future__ import annotations

import json

import pytest

from pipeline.records import EstimateVsW1, EvalRecord, Measurement, RealRecord, SampleScores
from pipeline.reporting.summary import HEADLINE, summary

HOW = Measurement(n_generated=300, n_real=300, space="coordinates", sliced_n_generated=300, sliced_n_real=300,
                  projections=10, domain_features="coordinates", domain_dims=2, domain_n_real=300, pr_k=3)


def _run(seed: int, precision, recall, status: str = "ok") -> EvalRecord:
    return EvalRecord(model="wgan", dataset="ring8", kind="points", seed=seed, status=status, message="",
                      train_steps=100, estimate_vs_w1=EstimateVsW1("x", None, None, 0, 0), device="cpu",
                      versions={}, seconds=0.0, how=HOW,
                      scores=SampleScores(0.3, 0.1, 0.01, precision=precision, recall=recall) if status == "ok"
                      else None)


def test_precision_and_recall_over_seeds_and_the_floor():
    assert {"precision", "recall"} <= set(HEADLINE)
    runs = [_run(0, 0.9, 0.5), _run(1, 0.8, 0.7), _run(2, 0.7, 0.6), _run(3, None, None, status="diverged")]
    real = RealRecord("ring8", "points", 600, 300, 300, SampleScores(0.05, 0.02, 0.001, precision=0.95, recall=0.96),
                      HOW)
    out = json.loads(json.dumps(summary(runs, [real])))  # what DVC reads: plain JSON numbers
    m = out["ring8"]["wgan"]
    assert m["precision"] == {"mean": pytest.approx(0.8), "std": pytest.approx(0.1), "n": 3}  # the diverged seed: none
    assert m["recall"] == {"mean": pytest.approx(0.6), "std": pytest.approx(0.1), "n": 3}
    assert m["w1"]["n"] == 3
    assert out["ring8"]["real"]["precision"] == 0.95 and out["ring8"]["real"]["recall"] == 0.96


def test_records_from_before_precision_and_recall_still_summarise():
    d = _run(0, 0.9, 0.5).to_json()
    for k in ("precision", "recall"):
        del d["scores"][k]  # a file written before they were measured
    for k in ("pr_k", "classifier_arch"):
        del d["how"][k]
    old = [EvalRecord.from_json(d), _run(1, None, None)]
    assert old[0].scores.precision is None and old[0].how.pr_k is None
    m = summary(old, [])["ring8"]["wgan"]
    assert "precision" not in m and "recall" not in m and m["w1"]["n"] == 2
