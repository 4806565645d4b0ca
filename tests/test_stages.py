"""The prepare/train stages end to end in a scratch folder (no DVC)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import torch
import yaml
from typer.testing import CliRunner

from pipeline import io
from stages.__main__ import app
from stages.paths import resume_path

from .conftest import shipped_with, venv_env

TINY = {  # keys over params.yaml's
    "seeds": [0],
    "data": {"toy_train": 256, "toy_test": 128},
    "net": {"z_dim": 4, "g_hidden": [16], "d_hidden": [16]},
    "train": {"log_every": 3},
    # 6 WGAN steps of 122,880 FLOPs (n_critic 2 on these nets, batch 64); snapshots at 1/2 of the budget and
    # evenly over its second half
    "budget": {"gflop": {"ring8": 0.0007373, "digits": 0.01}, "octaves": 1, "per_octave": 1},
    "wgan": {"n_critic": 2},
}


# the train stage pins torch's threads and deterministic mode for its process: not for the next test
pytestmark = pytest.mark.usefixtures("torch_settings_restored")


def make_workdir(folder: Path, monkeypatch, params: dict = TINY) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "params.yaml").write_text(yaml.safe_dump(shipped_with(params)))
    monkeypatch.chdir(folder)
    res = CliRunner().invoke(app, ["prepare", "--dataset", "ring8"])
    assert res.exit_code == 0, res.output
    return folder


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch) -> Path:
    return make_workdir(tmp_path, monkeypatch)


def set_params(folder: Path, **sections) -> None:
    raw = yaml.safe_load((folder / "params.yaml").read_text())
    for k, v in sections.items():
        raw[k] = raw.get(k, {}) | v if isinstance(v, dict) else v
    (folder / "params.yaml").write_text(yaml.safe_dump(raw))


def outputs(folder: Path, model: str = "wgan") -> tuple[dict, str, dict]:
    """(checkpoint, log CSV text, TrainRecord without its wall-clock seconds)."""
    return seed_outputs(folder, model, 0)


def seed_outputs(folder: Path, model: str, seed: int) -> tuple[dict, str, dict]:
    record = json.loads((folder / f"metrics/train/{model}/ring8/seed{seed}.json").read_text())
    record.pop("seconds")
    return (io.load_torch(folder / f"models/{model}/ring8/seed{seed}.pt"),
            (folder / f"logs/{model}/ring8/seed{seed}.csv").read_text(), record)


def assert_same_outputs(a: Path, b: Path, model: str = "wgan", seed: int = 0) -> None:
    (ca, la, ra), (cb, lb, rb) = seed_outputs(a, model, seed), seed_outputs(b, model, seed)
    assert ra == rb and la == lb
    assert ca.keys() == cb.keys() and ca["state"].keys() == cb["state"].keys()
    assert all(torch.equal(ca["state"][k], cb["state"][k]) for k in ca["state"])
    assert [s["step"] for s in ca["snapshots"]] == [s["step"] for s in cb["snapshots"]]
    assert all(torch.equal(x["state"][k], y["state"][k]) for x, y in zip(ca["snapshots"], cb["snapshots"])
               for k in x["state"])


def train(*args: str):
    res = CliRunner().invoke(app, ["train", *args, "--no-progress"])
    assert res.exit_code == 0, res.output
    return res


def test_train_writes_checkpoint_log_and_status(workdir: Path):
    train("wgan", "--dataset", "ring8")
    status = json.loads((workdir / "metrics/train/wgan/ring8/seed0.json").read_text())
    assert status["status"] == "ok" and status["steps"] == 6 and status["inner_steps"] == 12
    log = (workdir / "logs/wgan/ring8/seed0.csv").read_text().splitlines()
    assert log[0] == "step,critic_loss,w_estimate,g_loss" and len(log) == 3  # no wall clock: same bytes each run
    ckpt = io.load_torch(workdir / "models/wgan/ring8/seed0.pt")  # weights_only=True
    assert ckpt["model"] == "wgan" and ckpt["config"]["clip"] == 0.01
    # the first steps reaching 1/2, 5/8, 3/4, 7/8 and all of the budget (a hair over 6 steps' FLOPs): steps
    # 4 (3 fall just short of half), 4, 5, 6 and 6
    assert [s["step"] for s in ckpt["snapshots"]] == [4, 5, 6]
    assert status["flops"] == 6 * 122_880 and status["planned_steps"] == 6
    assert status["flops_inner"] == 40_960 and status["flops_outer"] == 40_960
    assert not list(workdir.rglob("*.tmp"))  # atomic writes leave no temp files


def test_same_seed_same_weights(workdir: Path):
    train("gan", "--dataset", "ring8")
    a = io.load_torch(workdir / "models/gan/ring8/seed0.pt")["state"]
    train("gan", "--dataset", "ring8")
    b = io.load_torch(workdir / "models/gan/ring8/seed0.pt")["state"]
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=0)


def test_divergence_is_recorded_not_hidden(workdir: Path):
    set_params(workdir, vae={"lr": 1e30})  # blows up at the second step
    res = train("vae", "--dataset", "ring8")
    assert "recorded as diverged" in res.output and "diverged at generator step 2: " in res.output
    status = json.loads((workdir / "metrics/train/vae/ring8/seed0.json").read_text())
    assert status["status"] == "diverged" and status["steps"] == 0 and status["inner_steps"] == 0
    assert status["message"].startswith("diverged at generator step 2: ") and " became " in status["message"]
    # the log has its header and no rows, and pandas reads it (evaluate, plot)
    log = pd.read_csv(workdir / "logs/vae/ring8/seed0.csv")
    assert list(log.columns) == ["step", "elbo", "kl", "recon_nll"] and len(log) == 0
    # the weights kept are the last finite ones: here the initial ones, as a 1-step run starts from
    kept = io.load_torch(workdir / "models/vae/ring8/seed0.pt")
    assert all(torch.isfinite(v).all() for v in kept["state"].values()) and kept["snapshots"] == []
    set_params(workdir, vae={"lr": 1e-30})  # the same init, a step that changes nothing
    train("vae", "--dataset", "ring8")
    init = io.load_torch(workdir / "models/vae/ring8/seed0.pt")["state"]
    assert all(torch.equal(kept["state"][k], init[k]) for k in init)
    assert not resume_path("ring8", "vae", 0).exists()


def test_seeds_in_parallel_processes_match_one_at_a_time(workdir: Path, tmp_path: Path, monkeypatch):
    """Two worker processes give each seed the bytes a one-process run gives it; seeds differ."""
    set_params(workdir, seeds=[0, 1], train={"workers": 2})
    train("gan", "--dataset", "ring8")  # the workers print to the real stderr, not CliRunner's
    one = make_workdir(tmp_path / "one", monkeypatch)
    set_params(one, seeds=[0, 1], train={"workers": 1})
    train("gan", "--dataset", "ring8")
    for seed in (0, 1):
        assert_same_outputs(workdir, one, "gan", seed)
    a, b = (io.load_torch(one / f"models/gan/ring8/seed{s}.pt")["state"] for s in (0, 1))
    assert not all(torch.equal(a[k], b[k]) for k in a)  # another seed, another run


def test_a_seed_not_in_params_is_refused(workdir: Path):
    res = CliRunner().invoke(app, ["train", "gan", "--dataset", "ring8", "--seed", "7", "--no-progress"])
    assert res.exit_code == 2 and "--seed 7 is not in params.yaml seeds [0]" in res.output


def test_record_says_what_was_in_force(workdir: Path):
    train("gan", "--dataset", "ring8")
    status = json.loads((workdir / "metrics/train/gan/ring8/seed0.json").read_text())
    assert status["threads"] == 1 and status["deterministic"] is True
    assert status["torch"] == torch.__version__ and status["device"] in ("cpu", "cuda")
    assert status["cpu"].endswith(f"({torch.backends.cpu.get_cpu_capability()})")  # other kernels, other bytes


def test_stale_temps_and_a_foreign_resume_checkpoint_are_cleaned(workdir: Path, tmp_path: Path, monkeypatch):
    stale = [workdir / "models/wgan/ring8/.seed0.pt.a1b2.tmp", workdir / "logs/wgan/ring8/.seed0.csv.a1b2.tmp",
             workdir / "metrics/train/wgan/ring8/.seed0.json.a1b2.tmp",
             workdir / ".resume/wgan/ring8/.seed0.pt.a1b2.tmp"]
    other = workdir / "models/gan/ring8/.seed0.pt.a1b2.tmp"  # another model's writer may be alive
    for p in [*stale, other]:
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"half a file")
    io.save_torch(workdir / resume_path("ring8", "wgan", 0), {"key": "another configuration", "state": {}})
    res = train("wgan", "--dataset", "ring8")
    assert "a resume checkpoint of another configuration" in res.output
    assert not any(p.exists() for p in stale) and other.exists()
    assert not (workdir / resume_path("ring8", "wgan", 0)).exists()
    fresh = make_workdir(tmp_path / "fresh", monkeypatch)
    train("wgan", "--dataset", "ring8")
    assert_same_outputs(workdir, fresh)


def test_killed_run_resumes_to_the_same_bytes(tmp_path: Path, monkeypatch):
    """SIGKILL mid-run, rerun: the weights, log and record are those of a run never stopped."""
    params = TINY | {"device": "cpu", "train": {"log_every": 3, "checkpoint_every": 30},
                     "budget": {"gflop": {"ring8": 400 * 122_880 / 1e9, "digits": 0.01}}}  # 400 WGAN steps
    ref = make_workdir(tmp_path / "ref", monkeypatch, params)
    train("wgan", "--dataset", "ring8")
    killed = make_workdir(tmp_path / "killed", monkeypatch, params)
    ckpt = killed / resume_path("ring8", "wgan", 0)
    proc = subprocess.Popen([sys.executable, "-m", "stages", "train", "wgan", "--dataset", "ring8", "--no-progress"],
                            cwd=killed, env=venv_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not ckpt.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.1)  # somewhere after the first checkpoint, maybe inside a later one's write
        assert proc.poll() is None, "the run ended before it could be killed: give it more steps"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    assert ckpt.exists() and not (killed / "models/wgan/ring8/seed0.pt").exists()
    res = train("wgan", "--dataset", "ring8")
    assert "resuming from generator step" in res.output
    assert_same_outputs(killed, ref)
    assert not ckpt.exists() and not list(killed.rglob("*.tmp"))


def test_a_refused_seed_in_a_worker_names_every_seed_and_exits_2(workdir: Path):
    """Each worker's one-line refusal reaches the stage's stderr, and the other seeds still ran."""
    import shutil

    set_params(workdir, seeds=[0, 1], train={"workers": 2})
    shutil.rmtree(workdir / "data/prepared/ring8")
    res = CliRunner().invoke(app, ["train", "gan", "--dataset", "ring8", "--no-progress"])
    assert res.exit_code == 2
    assert "gan/ring8 seed 0:" in res.output and "gan/ring8 seed 1:" in res.output


def _half_of(x: int) -> int:
    from stages.common import Refused

    if x % 2:
        raise Refused(f"{x} is odd")
    return x // 2


@pytest.mark.parametrize("workers", [1, 2])
def test_run_jobs_keeps_order_and_collects_every_refusal(workers: int, capsys):
    import typer

    from stages.common import run_jobs

    assert run_jobs(_half_of, [(4,), (2,), (0,)], workers) == [2, 1, 0]
    with pytest.raises(typer.Exit) as e:
        run_jobs(_half_of, [(1,), (2,), (3,)], workers)
    assert e.value.exit_code == 2
    err = capsys.readouterr().err
    assert "error: 1 is odd" in err and "error: 3 is odd" in err


def test_runs_start_longest_first_across_data_sets():
    """One pool over every data set: the runs with the largest FLOP budget go first (a pool that ends
    on short runs keeps both cores busy to the end); ties keep data set, then seed, order."""
    from pipeline.config import parse_params
    from stages.train import longest_first

    params = parse_params(shipped_with({"datasets": ["ring8", "digits"], "seeds": [0, 1],
                                        "budget": {"gflop": {"ring8": 100, "digits": 300}}}))
    runs = [("vae", ds, s) for ds in params.datasets for s in params.seeds]
    assert longest_first(runs, params) == [("vae", "digits", 0), ("vae", "digits", 1),
                                           ("vae", "ring8", 0), ("vae", "ring8", 1)]
