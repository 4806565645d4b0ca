"""`python -m stages times`: stage wall times from the outputs' modification times (README's table)."""

from __future__ import annotations

import os
from pathlib import Path

import yaml
from typer.testing import CliRunner

from stages.__main__ import app
from stages.times import _clock, durations, finished

T0 = 1_700_000_000.0


def _run(tmp_path: Path) -> Path:
    """Three stages finished at T0 + 10, + 70 and + 200 s; a folder output counts its newest file."""
    files = {"data/a.txt": T0 + 10, "models/m/seed0.pt": T0 + 50, "models/m/seed1.pt": T0 + 70,
             "reports/r.md": T0 + 200}
    for rel, t in files.items():
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text("x")
        os.utime(p, (t, t))
    lock = {"schema": "2.0", "stages": {
        "report": {"outs": [{"path": "reports/r.md"}]},
        "prepare": {"outs": [{"path": "data/a.txt"}]},
        "train@ring8": {"outs": [{"path": "models/m"}]},
        "never_ran": {"outs": [{"path": "missing.txt"}]},
    }}
    (tmp_path / "dvc.lock").write_text(yaml.safe_dump(lock))
    return tmp_path / "dvc.lock"


def test_durations_follow_the_order_the_stages_finished(tmp_path: Path):
    done = finished(yaml.safe_load(_run(tmp_path).read_text()), tmp_path)
    assert done == {"prepare": T0 + 10, "train@ring8": T0 + 70, "report": T0 + 200}  # never_ran left out
    assert durations(done) == [("prepare", None), ("train@ring8", 60.0), ("report", 130.0)]
    assert durations(done, since=T0) == [("prepare", 10.0), ("train@ring8", 60.0), ("report", 130.0)]
    # a repro that ran only the last stage: the others finished before it started and are left out
    assert durations(done, since=T0 + 100) == [("report", 100.0)]
    assert durations(done, since=T0 + 300) == []


def test_the_command_prints_stages_families_and_the_total(tmp_path: Path):
    lock = _run(tmp_path)
    res = CliRunner().invoke(app, ["times", "--lock", str(lock), "--since", str(T0)])
    assert res.exit_code == 0, res.output
    assert "| train@ring8 | 1 min 0.0 s |" in res.output and "| train | 1 min 0.0 s |" in res.output
    assert "| report | 2 min 10.0 s |" in res.output
    assert "total: 3 min 20.0 s over 3 timed stages" in res.output
    res = CliRunner().invoke(app, ["times", "--lock", str(lock)])
    assert "| prepare | — |" in res.output and "the first stage untimed: pass --since" in res.output


def test_nothing_ran_since_is_said(tmp_path: Path):
    res = CliRunner().invoke(app, ["times", "--lock", str(_run(tmp_path)), "--since", str(T0 + 300)])
    assert res.exit_code == 0 and "no stage ran since then" in res.output


def test_no_lock_is_one_line(tmp_path: Path):
    res = CliRunner().invoke(app, ["times", "--lock", str(tmp_path / "dvc.lock")])
    assert res.exit_code == 2 and "dvc.lock not found: run `dvc repro` first" in res.output


def test_a_clock_never_shows_60_seconds():
    assert _clock(4019.96) == "67 min 0.0 s"
    assert _clock(59.96) == "1 min 0.0 s"
    assert _clock(59.94) == "59.9 s"
    assert _clock(None) == "—"
