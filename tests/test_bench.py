"""The bench: the step's FLOP count against a hand count, the roofline timer, a tiny run, the CLI."""

from __future__ import annotations

import copy
import json
import math

import pytest
import torch
import yaml
from torch.utils.flop_counter import FlopCounterMode
from typer.testing import CliRunner

from pipeline.perf import bench
from pipeline.config import NetParams
from pipeline.data.datasets import DataMeta
from stages import bench as bench_stage
from stages.__main__ import app

from .conftest import section_with, shipped_with


def net_params(**keys) -> NetParams:
    """params.yaml's net: section with `keys` on top."""
    return section_with("net", **keys)


POINTS = DataMeta("ring8", "points", (2,), 256, 64)
IMAGES = DataMeta("mnist", "images", (1, 28, 28), 256, 64, levels=255)
# generator 3-5-2, critic 2-7-1, no BatchNorm
TINY_MLP = net_params(arch="mlp", z_dim=3, g_hidden=[5], d_hidden=[7])


@pytest.fixture(autouse=True)
def _threads_restored():
    """The bench stage sets torch's thread count for its process: not for the next test."""
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def tiny_wgan(meta: DataMeta, net: NetParams, batch: int, n_critic: int) -> bench.WGAN:
    return bench.make_wgan(meta, net, batch, n_critic, 0.01, 0, torch.device("cpu"))


def test_mlp_step_flops_known_answer():
    """Batch B = 4, n_critic 2; a Linear (in -> out) on N rows is 2 N in out FLOPs per product.

    critic step: G forward (no grad) 2*4*(3*5 + 5*2) = 200; D forward on real + fake 2*8*(2*7 + 7*1)
    = 336; D backward: weight gradients 336, input gradient of the second layer only 2*8*7*1 = 112
    (nothing needs the first layer's input gradient): 984.
    generator step: G forward 200; D forward on 4: 168; D backward, input gradients only (D's weights
    are frozen): 2*4*7 + 2*4*2*7 = 168; G backward: weight gradients 200, input gradient of its
    second layer 2*4*5*2 = 80: 816.
    per critic step: (2 * 984 + 816) / 2 = 1392.
    """
    w = tiny_wgan(POINTS, TINY_MLP, 4, 2)
    x = torch.randn(4, 2)
    count = bench.count_step(w, x, 2)
    assert count.flops == 1392
    assert {o.op.__name__.split(".")[0] for o in count.ops} == {"addmm", "mm"}
    # torch's own counter over the same calls agrees
    w2 = copy.deepcopy(w)
    w2.inner(x), w2.outer(x)
    with FlopCounterMode(display=False) as fc:
        for _ in range(2):
            w2.inner(x)
        w2.outer(x)
    assert fc.get_total_flops() / 2 == 1392


def test_count_does_not_train_the_step():
    w = tiny_wgan(POINTS, TINY_MLP, 4, 2)
    before = copy.deepcopy(w.state_dict())
    bench.count_step(w, torch.randn(4, 2), 2)
    for k, v in w.state_dict().items():
        torch.testing.assert_close(v, before[k])


def test_dcgan_step_counts_convolutions_like_flop_counter():
    net = net_params(arch="dcgan", z_dim=4, width=8, d_hidden=[16])
    w = tiny_wgan(IMAGES, net, 2, 1)
    x = torch.randn(2, 1, 28, 28)
    count = bench.count_step(w, x, 1)
    kinds = {o.op.__name__.split(".")[0] for o in count.ops}
    assert {"convolution", "convolution_backward"} <= kinds
    # the critic's first conv on real + fake (4 images): 1 -> 8 channels, 4x4 kernel, 14x14 out
    first = [o for o in count.ops if o.shapes().startswith("convolution 4x1x28x28")]
    assert [o.flops for o in first] == [2 * 4 * 8 * 14 * 14 * 1 * 4 * 4]
    w2 = copy.deepcopy(w)
    w2.inner(x), w2.outer(x)
    with FlopCounterMode(display=False) as fc:
        w2.inner(x)
        w2.outer(x)
    assert count.flops == fc.get_total_flops()


def test_replay_runs_the_recorded_op_on_the_recorded_layout():
    w = tiny_wgan(POINTS, TINY_MLP, 4, 2)
    count = bench.count_step(w, torch.randn(4, 2), 2)
    for o in count.ops:
        out = o.replay()()
        assert out is not None
    # a transposed weight keeps its strides: F.linear's addmm sees W.t(), stride (1, in)
    first = next(o for o in count.ops if o.shapes() == "addmm 5 4x3 3x5")
    assert first.args[2].stride == (1, 3)
    assert first.flops == 2 * 4 * 3 * 5


def test_seconds_per_call_measures_a_known_duration(monkeypatch):
    """On a fake clock where each call takes exactly 2 ms, a block of >= 10 ms is 5 calls: 2 ms per call.
    (A real sleep's length depends on the machine's load, so a test of it could fail on a busy CPU.)"""
    clock = [0.0]
    monkeypatch.setattr(bench.time, "perf_counter", lambda: clock[0])

    def call():
        clock[0] += 0.002

    assert bench.seconds_per_call(call, torch.device("cpu"), blocks=3) == pytest.approx(0.002)


def test_roofline_is_flops_over_summed_op_times():
    w = tiny_wgan(POINTS, TINY_MLP, 4, 2)
    count = bench.count_step(w, torch.randn(4, 2), 2)
    roof = bench.roofline(count, torch.device("cpu"), blocks=1)
    # each op's time alone is its FLOPs over its measured throughput; the roofline sums them
    seconds = sum(calls * o.flops / (g * 1e9) for o, (_, calls, g) in zip(count.ops, roof.per_op)) / 2
    assert roof.seconds == pytest.approx(seconds)
    assert roof.gflops == pytest.approx(1392 / seconds / 1e9)


def test_run_returns_the_fraction_of_the_roofline():
    torch.manual_seed(0)
    meta = DataMeta("digits", "images", (1, 8, 8), 256, 64, levels=16)
    data = torch.rand(256, 1, 8, 8) * 2 - 1
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(data, torch.zeros(256)), batch_size=8,
                                         shuffle=True, drop_last=True)
    net = net_params(arch="mlp", z_dim=4, g_hidden=[16], d_hidden=[16])
    row = bench.run(meta, data, loader, net, batch_size=8, n_critic=2, critic_steps=10, repeats=2, profile_steps=2)
    assert [len(b.critic_steps_per_s) for b in row.loops] == [2, 2]
    assert len(row.roofline_gflops) == 2
    assert row.gflops == pytest.approx(row.count.flops * row.pipeline.median / 1e9)
    assert row.fraction == pytest.approx(row.gflops / row.roofline)
    assert 0 < row.fraction and math.isfinite(row.fraction)
    assert row.speedup == pytest.approx(row.pipeline.median / row.reference.median)
    assert set(row.split) == set(bench.SPLIT) and row.split["matmul/conv"] > 0


def test_bench_cli_prints_the_roofline_table(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(shipped_with({"net": {"z_dim": 4, "g_hidden": [16],
                                                                                "d_hidden": [16]}})))
    res = CliRunner().invoke(app, ["bench", "--dataset", "digits", "--net", "params", "--critic-steps", "10",
                                   "--repeats", "1", "--profile-steps", "1", "--threads", "1", "--json", "out.json"])
    assert res.exit_code == 0, res.output
    assert "of the roofline" in res.output
    assert "| params.yaml net (mlp) | " in res.output
    out = json.loads((tmp_path / "out.json").read_text())
    row = out["rows"]["params"]
    assert out["threads"] == 1
    assert row["fraction_of_roofline"] == pytest.approx(row["gflops"] / row["roofline_gflops"][0])
    # critic 64-16-1, generator 4-16-64, batch 64, n_critic 5 (as in the known-answer test above):
    # critic step 139264 + 266240 + 266240 + 4096 = 675840; generator step 139264 + 133120 + 133120
    # + 139264 + 131072 = 675840; per critic step (5 + 1) / 5 x 675840
    assert row["gflop_per_critic_step"] == pytest.approx(6 * 675840 / 5 / 1e9)


def test_rows_skip_dcgan_on_images_that_are_not_28x28():
    assert [r[0] for r in bench_stage._rows("reference", "mlp,dcgan", (1, 8, 8))] == ["mlp"]
    rows = bench_stage._rows("reference", "dcgan,mlp", (1, 28, 28))
    assert [r[0] for r in rows] == ["dcgan", "mlp"]
    assert rows[1][2].startswith("MLP: critic 784-512-256-1")


def test_bench_cli_refuses_an_unknown_row():
    res = CliRunner().invoke(app, ["bench", "--dataset", "digits", "--rows", "mlp,resnet"])
    assert res.exit_code == 2
    assert "--rows resnet" in res.output


def test_bench_seeds_times_an_ensemble_and_processes():
    """Both strategies run the step and report seed-steps per second (members x steps / seconds)."""
    from pipeline.perf.bench_seeds import StepSpec, ensemble_rate, processes_rate

    spec = StepSpec(g_hidden=(8,), d_hidden=(8,), batch=4, n_critic=2)
    one = ensemble_rate(spec, 1, 1, steps=3, warmup=1)
    three = ensemble_rate(spec, 3, 1, steps=3, warmup=1)
    assert 0 < one < 3 / 1e-6 and 0 < three
    assert processes_rate(spec, 2, 1, steps=3, warmup=1) > 0


def test_bench_seeds_cli_prints_the_table_and_rejects_bad_sizes():
    res = CliRunner().invoke(app, ["bench-seeds", "--members", "2", "--steps", "2", "--warmup", "0",
                                   "--repeats", "1", "--batch-size", "4", "--processes", "1"])
    assert res.exit_code == 0, res.output
    assert "| one seed at a time (1 process, 1 thread) |" in res.output and "| 1.00x |" in res.output
    assert "| 1 process, an ensemble of 2 seeds on 1 thread |" in res.output
    for bad in ("two", "0"):
        res = CliRunner().invoke(app, ["bench-seeds", "--members", bad])
        assert res.exit_code == 2 and "--members" in res.output
