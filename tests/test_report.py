"""The report stage on fixture metrics: tables, a reading computed from the numbers, diverged runs."""

from __future__ import annotations

from pathlib import Path

import yaml

from pipeline.records import (
    EstimateVsW1,
    EvalRecord,
    InceptionInfo,
    Likelihood,
    Measurement,
    ModeInfo,
    RealRecord,
    SampleScores,
    TrainRecord,
)
from pipeline.report import DatasetResults, ModelResult, comparison_table, reading, render_dataset, render_index

REPO = Path(__file__).resolve().parents[1]


def _how(kind: str = "points") -> Measurement:
    return Measurement(n_generated=2500, n_real=2000, space="coordinates", sliced_n_generated=10000,
                       sliced_n_real=2000, projections=200, domain_features="coordinates", domain_dims=2,
                       domain_n_real=2000,
                       modes=ModeInfo(8, 63, [300] * 8, 3.0, 0.2) if kind == "points" else None,
                       inception=None if kind == "points" else InceptionInfo(False, "put the weights file at /x"))


def _model(name: str, w1: float, fid: float, *, modes=None, loglik=None, corr=None, status="ok",
           kind: str = "points") -> ModelResult:
    ok = status == "ok"
    e = EvalRecord(model=name, dataset="ring8", kind=kind, seed=0, status=status,
                   message="" if ok else "critic_loss became nan at generator step 121",
                   train_steps=3000 if ok else 120, estimate_vs_w1=EstimateVsW1("x", corr, corr, 10, 1000),
                   device="cpu", versions={"torch": "2.x"}, seconds=1.0)
    if ok:
        e.scores = SampleScores(w1, w1 / 2, fid, modes_covered=(modes or 0) if kind == "points" else None,
                                high_quality_pct=50.0 if kind == "points" else None)
        e.how = _how(kind)
        if loglik is not None:
            e.likelihood = Likelihood(loglik[0], 0.01, loglik[1], loglik[2], 0.5, 1000, 256, 1.2, "nats")
    train = TrainRecord(name, "ring8", 0, status, e.train_steps, 2 * e.train_steps, 10.0, "cpu", e.message)
    return ModelResult(e, train)


def _ring(**over) -> DatasetResults:
    models = over.get("models") or [
        _model("gan", 1.2, 1.7, modes=2, corr=0.1),
        _model("wgan", 0.3, 0.01, modes=8, corr=0.9),
        _model("wgan_gp", 0.35, 0.02, modes=8, corr=0.8),
        _model("avb", 0.7, 0.4, modes=5, loglik=(0.6, -4.0, 0.05)),
        _model("vae", 0.8, 0.6, modes=0, loglik=(-2.2, -2.1, 0.01)),
    ]
    real = RealRecord("ring8", "points", 10000, 2000, 2500,
                      SampleScores(0.05, 0.02, 0.002, modes_covered=8, high_quality_pct=98.8, mode_kl=0.001), _how(),
                      {"uniform on the circle": SampleScores(0.4, 0.3, 0.1, modes_covered=8, high_quality_pct=38.0)})
    return DatasetResults("ring8", "points", models, real, ["../figures/ring8/samples.png"])


def test_table_has_a_row_per_model_and_the_floor():
    table, notes = comparison_table(_ring())
    lines = table.splitlines()
    assert lines[0].startswith("| model | domain FID | W1 | sliced W1 | modes | high quality % | mode KL | ELBO")
    assert "Inception FID" not in lines[0]  # points: not applicable, so no column
    assert len(lines) == 2 + 5 + 1 + 1  # models, the floor, the uniform-circle baseline
    assert lines[3].startswith("| wgan | 0.01 | 0.3 | 0.15 | 8/8 |")
    assert "| -4 ± 0.05 |" in lines[5]  # avb's log-likelihood with its standard error
    assert "| 0.6 (estimate) |" in lines[5] and "| -2.2 (bound) |" in lines[6]
    assert lines[-2].startswith("| real data: training split vs held-out | 0.002 | 0.05 | 0.02 | 8/8 |")
    assert lines[-1].startswith("| baseline: uniform on the circle | 0.1 | 0.4 | 0.3 | 8/8 | 38 |")
    assert notes == []


def test_reading_follows_the_numbers():
    text = "\n".join(reading(_ring()))
    assert "Lowest W1: wgan (0.3); highest: gan (1.2)" in text
    assert "wgan is at 6x the floor" in text
    assert "wgan, wgan_gp cover every mode" in text
    assert "A generator uniform on the circle covers 8/8 modes with 38% high quality without learning any mode; " \
           "every model is above it in high-quality share" in text
    assert "wgan's critic's W1 estimate (K x W1) and the exact W1 over 10 snapshots track each other closely" in text
    assert "JS estimate (L(D) + log 4) / 2, nats and the exact W1 over 10 snapshots are barely correlated" in text
    assert "vae is higher than avb by 1.9 nats" in text and "not a verdict" in text
    assert "avb's ELBO, an estimate (the adversary T stands in for log q(z|x) - log p(z)), not a bound, exceeds " \
           "its importance-sampled log-likelihood by 4.6 nats" in text
    assert "vae's ELBO, a lower bound (analytic KL)" in text
    # Swap the numbers and the reading turns with them: nothing is fixed prose.
    swapped = _ring(models=[_model("gan", 0.2, 0.01, modes=8, corr=-0.8), _model("wgan", 1.5, 2.0, modes=1, corr=0.0)])
    text = "\n".join(reading(swapped))
    assert "Lowest W1: gan (0.2); highest: wgan (1.5)" in text
    assert "W1 estimate (K x W1) and the exact W1 over 10 snapshots are barely correlated" in text
    assert "nats and the exact W1 over 10 snapshots move in opposite directions" in text


def test_diverged_runs_are_shown_as_diverged_not_numbers():
    d = _ring(models=[_model("gan", 1.2, 1.7, modes=2), _model("wgan", 0, 0, status="diverged")])
    table, _ = comparison_table(d)
    row = next(line for line in table.splitlines() if line.startswith("| wgan"))
    assert "**diverged**" in row and "0.0" not in row and "| 0 |" not in row
    text = "\n".join(reading(d))
    assert "wgan diverged after 120 generator steps (critic_loss became nan" in text
    assert "Lowest W1" not in text  # one model left: nothing to rank


def test_unavailable_inception_fid_is_footnoted_with_its_reason():
    m = _model("gan", 1.0, 5.0, kind="images")
    real = RealRecord("digits", "images", 1437, 360, 360, SampleScores(0.5, 0.2, 1.0), _how("images"))
    d = DatasetResults("digits", "images", [m], real)
    table, notes = comparison_table(d)
    assert "| unavailable [1] |" in table and notes == ["put the weights file at /x"]
    page = render_dataset(d, {"seed": 0})
    assert "[1] put the weights file at /x" in page


def test_pages_link_figures_params_and_versions():
    page = render_dataset(_ring(), {"seed": 0, "clip": 0.01})
    assert "![samples](../figures/ring8/samples.png)" in page
    assert "clip: 0.01" in page and "- torch: 2.x" in page
    index = render_index([_ring()], {"ring8": "results/ring8.md"})
    assert "[ring8](results/ring8.md)" in index and "wgan (0.3)" in index


def test_report_stage_on_fixture_outputs(tmp_path: Path, monkeypatch):
    """The stage itself: reads metrics/, reports/figures/ and params.yaml, writes reports/."""
    from typer.testing import CliRunner

    from stages.__main__ import app

    d = _ring()
    for r in d.models:
        r.eval.write(tmp_path / "metrics/eval/ring8" / f"{r.name}.json")
        r.train.write(tmp_path / "metrics/train/ring8" / f"{r.name}.json")
    d.real.write(tmp_path / "metrics/real/ring8.json")
    (tmp_path / "reports/figures/ring8").mkdir(parents=True)
    (tmp_path / "reports/figures/ring8/samples.png").write_bytes(b"png")
    params = yaml.safe_load((REPO / "params.yaml").read_text()) | {"datasets": ["ring8"]}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["report"])
    assert result.exit_code == 0, result.output
    page = (tmp_path / "reports/results/ring8.md").read_text()
    assert "Lowest W1: wgan (0.3)" in page and "![samples](../figures/ring8/samples.png)" in page
    assert "curves.png" not in page  # only figures that exist
    assert "[ring8](results/ring8.md)" in (tmp_path / "reports/index.md").read_text()
