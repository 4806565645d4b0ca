"""The training loop's divergence handling and resume state (pipeline/training/loop.py), in process, tiny nets."""

from __future__ import annotations

import io as bytes_io
from pathlib import Path

import pytest
import torch

from pipeline import io
from pipeline.data.datasets import DataMeta
from pipeline.training.loop import fit, optimizers

from .conftest import build_tiny

POINTS = DataMeta("ring8", "points", (2,), 256, 64)
DATA = torch.randn(256, 2)


def tiny_step(model: str = "gan", steps: int | None = None, **section):
    return build_tiny(model, {"net": {"z_dim": 4, "g_hidden": [16], "d_hidden": [16]},
                              model: {"batch_size": 8} | section}, POINTS, steps)


def state(step) -> dict:
    return {k: v.clone() for k, v in step.state_dict().items()}


def assert_same(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a), [k for k in a if not torch.equal(a[k], b[k])]


def nan_at(step, call: int, key: str = "g_loss") -> None:
    """Make the `call`-th outer update report a NaN loss (its real update still runs)."""
    real, calls = step.outer, {"n": 0}

    def outer(x):
        calls["n"] += 1
        logs = real(x)
        return logs | {key: torch.tensor(float("nan"))} if calls["n"] == call else logs

    step.outer = outer


def test_divergence_at_step_one_keeps_the_initial_weights():
    step = tiny_step()
    init = state(step)
    nan_at(step, 1)
    res = fit(step, DATA, 20, log_every=3, n_snapshots=4, progress=False)
    assert res.status == "diverged" and res.message == "diverged at generator step 1: g_loss became nan"
    assert res.steps_done == 0 and res.inner_steps_done == 0
    assert res.rows == [] and res.snapshots == []
    assert res.columns == ["step", "d_loss", "js_estimate", "g_loss"]  # the log's header, even without rows
    assert_same(state(step), init)  # not the weights that step 1..3 made


def test_divergence_mid_run_keeps_the_last_good_row():
    step = tiny_step()
    nan_at(step, 5)
    res = fit(step, DATA, 20, log_every=3, n_snapshots=10, progress=False)
    assert res.message == "diverged at generator step 5: g_loss became nan"
    assert res.steps_done == 3 and res.inner_steps_done == 3 and [r["step"] for r in res.rows] == [3]
    assert [s["step"] for s in res.snapshots] == [2]
    ref = tiny_step()
    fit(ref, DATA, 3, log_every=3, progress=False)  # the same first 3 steps, nothing after them
    assert_same(state(step), state(ref))


def test_non_finite_weights_with_finite_losses_are_a_divergence():
    step = tiny_step()
    real, calls = step.outer, {"n": 0}

    def outer(x):  # step 6's update leaves a NaN weight; its loss, computed before, is finite
        calls["n"] += 1
        logs = real(x)
        if calls["n"] == 6:
            with torch.no_grad():
                next(step.G.parameters()).view(-1)[0] = float("nan")
        return logs

    step.outer = outer
    res = fit(step, DATA, 20, log_every=3, progress=False)
    assert res.status == "diverged" and res.steps_done == 3  # the row at 6 is not a good state
    assert res.message.startswith("diverged at generator step 6: a weight became non-finite")
    assert all(torch.isfinite(v).all() for v in step.state_dict().values())


def test_huge_learning_rate_diverges_to_finite_weights():
    step = tiny_step("vae", lr=1e30)
    init = state(step)
    res = fit(step, DATA, 50, log_every=3, progress=False)
    assert res.status == "diverged" and " became " in res.message and res.steps_done == 0
    assert_same(state(step), init)


def _saved(s: dict) -> dict:
    """What the stage does with a resume state: torch.save now, torch.load(weights_only=True) later."""
    buf = bytes_io.BytesIO()
    torch.save(s, buf)
    buf.seek(0)
    return torch.load(buf, weights_only=True)


@pytest.mark.parametrize("decay", ["constant", "linear"])
@pytest.mark.parametrize("model", ["gan", "wgan", "avb", "vae"])
def test_resumed_run_is_bitwise_the_uninterrupted_one(model, decay):
    kw = dict(log_every=3, n_snapshots=5, seed=7, progress=False)
    # every checkpoint falls inside the BatchSampler's chunk of 256 drawn batches; WGAN's warm-up
    # (100 critic steps for 2 generator steps) makes the resumed run also draw the next chunk.
    # A decaying lr resumes from the step count alone: same bytes
    extra = ({"warmup": 2} if model == "wgan" else {}) | {"steps": 20, "lr_decay": decay}
    ref_step = tiny_step(model, **extra)
    ref = fit(ref_step, DATA, 20, **kw)
    saved: list[dict] = []
    step = tiny_step(model, **extra)
    fit(step, DATA, 20, checkpoint_every=7, on_checkpoint=lambda s: saved.append(_saved(s)), **kw)
    assert [s["done"] for s in saved] == [9, 15]  # the first good row on or after each multiple of 7
    fresh = tiny_step(model, **extra)
    res = fit(fresh, DATA, 20, resume=saved[0], **kw)
    assert res.ok and res.resumed_from == 9
    assert_same(state(fresh), state(ref_step))
    assert res.rows == ref.rows and res.columns == ref.columns
    assert (res.steps_done, res.inner_steps_done) == (ref.steps_done, ref.inner_steps_done)
    assert [s["step"] for s in res.snapshots] == [s["step"] for s in ref.snapshots]
    for a, b in zip(res.snapshots, ref.snapshots):
        assert_same(a["state"], b["state"])
    for name, opt in optimizers(fresh).items():  # Adam's moments / RMSProp's averages too
        a, b = opt.state_dict()["state"], optimizers(ref_step)[name].state_dict()["state"]
        assert all(torch.equal(a[i][k], b[i][k]) for i in a for k in a[i])


@pytest.mark.parametrize("model", ["gan", "wgan", "avb", "vae"])
def test_linear_lr_decay_falls_from_lr_to_zero_over_the_run(model):
    """Known answer: at generator step t (0-based) of T, every optimiser's lr is lr * (1 - t / T), inner
    (critic / adversary) updates included; constant leaves the optimisers as they were built."""
    step = tiny_step(model, steps=10, lr_decay="linear")
    seen, outer = [], step.outer

    def spy(x):
        seen.append(sorted({g["lr"] for o in optimizers(step).values() for g in o.param_groups}))
        return outer(x)

    step.outer = spy
    fit(step, DATA, 10, log_every=5, progress=False)
    lrs = sorted({g["initial_lr"] for o in optimizers(step).values() for g in o.param_groups})
    assert lrs == sorted({getattr(step.p, k) for k in ("lr", "adversary_lr") if hasattr(step.p, k)})
    assert seen == [[pytest.approx(lr * (1 - t / 10)) for lr in lrs] for t in range(10)]
    plain = tiny_step(model, steps=10)
    fit(plain, DATA, 10, log_every=5, progress=False)
    groups = [g for o in optimizers(plain).values() for g in o.param_groups]
    assert all("initial_lr" not in g for g in groups)
    assert sorted({g["lr"] for g in groups}) == lrs


def test_divergence_after_a_resume_rolls_back_to_the_resumed_state():
    saved: list[dict] = []
    fit(tiny_step(), DATA, 20, log_every=3, checkpoint_every=7, on_checkpoint=lambda s: saved.append(_saved(s)),
        progress=False)
    step = tiny_step()
    nan_at(step, 1)  # the first step after the resume point: step 10
    res = fit(step, DATA, 20, log_every=3, resume=saved[0], progress=False)
    assert res.message == "diverged at generator step 10: g_loss became nan" and res.steps_done == 9
    assert_same(state(step), saved[0]["step"])


def test_optimizers_are_built_and_found():
    step = tiny_step("avb")
    assert sorted(optimizers(step)) == ["opt_t", "opt_vae"]
    assert sorted(optimizers(tiny_step("vae"))) == ["opt"]


def test_atomic_write_leaves_no_temp_and_stale_temps_are_only_ours(tmp_path: Path):
    io.write_text(tmp_path / "a.csv", "x\n")
    assert (tmp_path / "a.csv").read_text() == "x\n" and not list(tmp_path.glob(".*.tmp"))
    mine, other = tmp_path / ".a.csv.k3j2.tmp", tmp_path / ".b.csv.k3j2.tmp"
    mine.write_text("half"), other.write_text("half")
    assert io.remove_stale_temps(tmp_path / "a.csv") == [mine]
    assert not mine.exists() and other.exists()
    io.remove(tmp_path / "a.csv")
    io.remove(tmp_path / "a.csv")  # already gone: fine
    assert not (tmp_path / "a.csv").exists()
