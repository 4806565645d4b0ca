"""`dvc repro` of the whole pipeline, tiny step counts, in a scratch copy of the repository."""

from __future__ import annotations

import json
import math
import re
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from pipeline.records import EvalRecord
from pipeline.models.registry import MODELS
from tests.conftest import copy_repo, venv_env

# Small enough to run every stage in seconds; every model still takes real steps.
# One data set keeps the run to 24 stages (each a fresh interpreter, 5-10 s of imports on 2 cores);
# digits goes through the same stage code in test_stages.py and test_evaluate.py.
TINY = {
    "datasets": ["ring8"],
    "seeds": [0, 1],  # two seeds: the spread, the paired tests, the aggregation
    # the seeds one after the other in each stage's own process: a worker process costs ~5 s of imports for
    # milliseconds of work (here 50 s of the run and half its CPU time, measured); worker processes are
    # tested in test_stages.py (same bytes as one at a time, refusals, order)
    "train": {"log_every": 2, "workers": 1},
    # about 4 steps of the costliest model (AVB, 772,096 FLOPs on these nets), more of the cheaper ones;
    # snapshots at 1/4, 1/2 and evenly over the second half
    "budget": {"gflop": {"ring8": 0.0031}, "octaves": 2, "per_octave": 1},
    "data": {"toy_train": 512, "toy_test": 256},
    "net": {"z_dim": 4, "g_hidden": [16], "d_hidden": [16]},
    "wgan": {"n_critic": 2},
    "wgan_gp": {"n_critic": 2},
    "eval": {"n_samples": 150, "sliced_samples": 200, "sliced_projections": 10, "snapshot_samples": 50,
             "inception": {"enabled": False}, "classifier": {"features": 8, "epochs": 1},
             "loglik": {"samples": 4, "max_points": 20}, "ais": {"points": 4, "chains": 2, "steps": 5, "bdmc_points": 3}},
    "theory": {
        "lines": {"critic_steps": 5, "n_eval": 200, "demo_steps": 5, "demo_warmup": 2, "demo_inner_steps": 1},
        "vanishing": {"d_steps": 10, "n_eval": 200, "n_log_points": 3},
        "mixture": {"data": {"toy_train": 200, "toy_test": 100}},
        "meaningful": {"steps": 10, "checkpoints": 3},
        "energy": {"steps": 10, "checkpoints": 2, "grid": 10},
        "ablation": {"steps": 10, "checkpoints": 2},
        "avb_toy": {"steps": 5, "is_samples": 200, "n_plot": 10},
    },
}


def merge(base, over):
    if isinstance(base, dict) and isinstance(over, dict):
        return {**base, **{k: merge(base.get(k), v) for k, v in over.items()}}
    return over


def set_params(repo: Path, overrides: dict) -> None:
    path = repo / "params.yaml"
    path.write_text(yaml.safe_dump(merge(yaml.safe_load(path.read_text()), overrides), sort_keys=False))


def dvc(repo: Path, *args: str) -> str:
    res = subprocess.run(["dvc", *args], cwd=repo, env=venv_env(), capture_output=True, text=True)
    assert res.returncode == 0, f"dvc {' '.join(args)} failed:\n{res.stdout}\n{res.stderr}"
    return res.stdout + res.stderr


def commit_if_dirty(repo: Path, message: str) -> None:
    """Whatever an earlier test left in the workspace (an applied `dvc exp run`) becomes the baseline."""
    if subprocess.run(["git", "status", "--porcelain"], cwd=repo, capture_output=True, text=True).stdout:
        subprocess.run(["git", "add", "-A"], cwd=repo, check=True, capture_output=True, env=venv_env())
        subprocess.run(["git", "commit", "-qm", message], cwd=repo, check=True, capture_output=True, env=venv_env())


def stale_stages(repo: Path) -> set[str]:
    out = json.loads(dvc(repo, "status", "--json"))
    return set(out)


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    repo = copy_repo(tmp_path_factory.mktemp("pipeline") / "repo")
    set_params(repo, TINY)
    dvc(repo, "repro")
    return repo


def test_repro_trains_and_reports_every_model(repo: Path):
    params = yaml.safe_load((repo / "params.yaml").read_text())
    summary = json.loads((repo / "metrics/summary.json").read_text())
    for ds in params["datasets"]:
        assert (repo / "data" / "prepared" / ds / "meta.json").exists()
        for model in MODELS:
            w1 = []
            for seed in params["seeds"]:
                assert (repo / "models" / model / ds / f"seed{seed}.pt").exists()
                status = json.loads((repo / "metrics" / "train" / model / ds / f"seed{seed}.json").read_text())
                assert status["status"] == "ok" and status["steps"] == status["planned_steps"] >= 3
                # every model's FLOPs within one step of the data set's budget, none over it
                step_flops = status["flops"] / status["steps"]
                budget = 1e9 * params["budget"]["gflop"][ds]
                assert budget - step_flops < status["flops"] <= budget and status["seed"] == seed
                header = (repo / "logs" / model / ds / f"seed{seed}.csv").read_text().splitlines()[0]
                assert header.startswith("step,")
                evaluated = EvalRecord.read(repo / "metrics" / "eval" / model / ds / f"seed{seed}.json")
                assert evaluated.ok and evaluated.scores.w1 > 0 and evaluated.convergence is not None
                if MODELS[model].latent:  # AIS on the test points, BDMC on points simulated from the model
                    ais = evaluated.likelihood.ais
                    assert ais.points == 4 and ais.bdmc_points == 3 and math.isfinite(ais.bdmc_gap)
                w1.append(evaluated.scores.w1)
            assert w1[0] != w1[1]  # two seeds, two runs
            got = summary[ds][model]["w1"]
            assert got["n"] == 2 and got["mean"] == pytest.approx(sum(w1) / 2, rel=1e-5)
            assert got["std"] == pytest.approx(abs(w1[0] - w1[1]) / 2 ** 0.5, rel=1e-5)
            assert 0 <= summary[ds][model]["converged"] <= 1
            assert summary[ds][model]["gflop"]["budget"] == pytest.approx(params["budget"]["gflop"][ds])
        assert f"results/{ds}.md" in (repo / "reports" / "index.md").read_text()
    assert "Parallel lines" in (repo / "reports" / "theory.md").read_text()
    assert set(summary["theory"]) == {"lines", "vanishing", "meaningful", "energy", "ablation", "avb_toy"}
    assert (repo / "dvc.lock").exists()


def test_nothing_changed_means_nothing_reruns(repo: Path):
    # sources@<ds> is always_changed by design (it hashes the files under data.root); a rerun
    # of it that finds the same digests reruns nothing downstream
    assert {s for s in stale_stages(repo) if not s.startswith("sources@")} == set()
    ran = set(re.findall(r"Running stage '([^']+)'", dvc(repo, "repro")))
    assert ran == {"sources@ring8"}


def test_exp_run_clip_reruns_only_wgan_and_what_aggregates(repo: Path):
    """`dvc exp run -S clip=...`: WGAN retrains and is re-evaluated; GAN, AVB, VAE come from the cache."""
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True, capture_output=True, env=venv_env())
    subprocess.run(["git", "commit", "-qm", "baseline"], cwd=repo, check=True, capture_output=True, env=venv_env())
    gan_ckpt = (repo / "models/gan/ring8/seed0.pt").stat().st_mtime_ns
    ran = set(re.findall(r"Running stage '([^']+)'", dvc(repo, "exp", "run", "-S", "clip=0.02")))
    # sources@ring8 runs on every repro by design (always_changed) and changes nothing here; the theory
    # page reads the main WGAN runs' estimate-vs-W1 (the meaningful-loss verdict), so it is rewritten too
    assert ran == {"sources@ring8", "train_wgan", "evaluate@wgan", "summary", "plot@ring8", "report@ring8",
                   "index", "theory_report"}
    assert (repo / "models/gan/ring8/seed0.pt").stat().st_mtime_ns == gan_ckpt
    # Only WGAN's numbers differ between the baseline and the experiment: the rest of
    # metrics/summary.json is identical, so `--only-changed` shows WGAN and nothing else.
    out = dvc(repo, "exp", "show", "--only-changed", "--csv").splitlines()[0].split(",")
    metric_cols = [c for c in out if c.startswith(("ring8.", "theory."))]
    assert metric_cols and all(c.startswith("ring8.wgan.") for c in metric_cols), metric_cols
    assert "clip" in out


def _queue_states(repo: Path) -> dict[str, str]:
    """Experiment name -> Queued / Running / Success / Failed, from `dvc queue status`'s table."""
    # rows: task, name, created (a date or "02:19 PM"), status
    rows = (line.split() for line in dvc(repo, "queue", "status").splitlines())
    return {cols[1]: cols[-1] for cols in rows
            if len(cols) >= 4 and cols[-1] in {"Queued", "Running", "Success", "Failed", "Unknown"}}


def _experiments(repo: Path) -> dict[str, dict]:
    """Experiment name -> its revision's data (params, metrics) and executor, from `dvc exp show --json`."""
    found = {}
    for baseline in json.loads(dvc(repo, "exp", "show", "--json")):
        for exp in baseline.get("experiments") or []:
            for rev in exp["revs"]:
                found[rev["name"]] = {**rev, "executor": exp.get("executor")}
    return found


# slow: two queued experiments retrain WGAN in temporary copies, about 3 minutes on 2 cores; `make test-all`
@pytest.mark.slow
def test_queued_experiments_run_two_at_once_and_leave_the_workspace_alone(repo: Path):
    """`dvc exp run --queue` twice, `dvc queue start -j 2`: both run at once, each in its own temporary
    copy, so neither clobbers the other's outputs, and the workspace keeps its own files."""
    commit_if_dirty(repo, "queue baseline")
    summary_before = (repo / "metrics/summary.json").read_bytes()
    clips = {"queued-clip-0.005": 0.005, "queued-clip-0.05": 0.05}
    for name, clip in clips.items():
        dvc(repo, "exp", "run", "--queue", "-S", f"clip={clip}", "-n", name)
    assert {n: _queue_states(repo).get(n) for n in clips} == dict.fromkeys(clips, "Queued")

    # Two celery workers in the background, each exits after 10 s idle. They inherit the caller's
    # stdout/stderr: into a pipe (capture_output) the call would return only when they exit.
    with open(repo / ".dvc" / "tmp" / "queue-start.log", "w") as log:
        started = subprocess.run(["dvc", "queue", "start", "-j", "2"], cwd=repo, env=venv_env(), stdout=log,
                                 stderr=subprocess.STDOUT)
    assert started.returncode == 0, (repo / ".dvc" / "tmp" / "queue-start.log").read_text()
    deadline, most_running, states = time.monotonic() + 600, 0, dict.fromkeys(clips, "Queued")
    try:
        while True:
            states = {n: _queue_states(repo).get(n) for n in clips}
            most_running = max(most_running, sum(s == "Running" for s in states.values()))
            if not {"Queued", "Running"} & set(states.values()) or time.monotonic() > deadline:
                break
            time.sleep(3)
    finally:
        if {"Queued", "Running"} & set(states.values()):
            subprocess.run(["dvc", "queue", "stop", "--kill"], cwd=repo, env=venv_env(), capture_output=True)
    logs = lambda: {n: dvc(repo, "queue", "logs", n)[-2000:] for n in clips}  # noqa: E731
    assert set(states.values()) == {"Success"}, (states, logs())
    assert most_running == 2  # seen running at the same time, not one after the other

    exps = _experiments(repo)
    summaries = {}
    for name, clip in clips.items():
        assert exps[name]["executor"]["state"] == "success"
        assert exps[name]["data"]["params"]["params.yaml"]["data"]["clip"] == clip
        summaries[name] = exps[name]["data"]["metrics"]["metrics/summary.json"]["data"]["ring8"]
    a, b = summaries.values()
    # WGAN trained with its own clip in each run; GAN, which does not read clip, came from the cache
    assert a["wgan"]["w1"] != b["wgan"]["w1"]
    assert a["gan"] == b["gan"] == json.loads(summary_before)["ring8"]["gan"]
    # the queued runs happened in temporary copies: no tracked file changed, the metrics are the baseline's
    status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=repo,
                            capture_output=True, text=True).stdout
    assert status == ""
    assert (repo / "metrics/summary.json").read_bytes() == summary_before


def test_a_remote_carries_the_results_to_a_second_clone(repo: Path, tmp_path: Path):
    """`dvc push` from one clone to a remote (a local folder, as in the README), `git clone` and
    `dvc pull` in a second: it has every output and `dvc repro` there reruns nothing."""
    commit_if_dirty(repo, "results before the push")
    dvc(repo, "remote", "add", "--force", "--default", "shared", str(tmp_path / "remote"))
    commit_if_dirty(repo, "the shared remote")
    dvc(repo, "push")
    second = tmp_path / "second"
    subprocess.run(["git", "clone", "-q", str(repo), str(second)], check=True, capture_output=True, env=venv_env())
    assert not (second / "models/gan/ring8/seed0.pt").exists()  # DVC-cached outputs come only from the remote
    dvc(second, "pull")
    assert (second / "models/gan/ring8/seed0.pt").read_bytes() == (repo / "models/gan/ring8/seed0.pt").read_bytes()
    assert {s for s in stale_stages(second) if not s.startswith("sources@")} == set()
    assert set(re.findall(r"Running stage '([^']+)'", dvc(second, "repro"))) == {"sources@ring8"}
    assert (second / "metrics/summary.json").read_bytes() == (repo / "metrics/summary.json").read_bytes()
