"""pipeline/training/budget.py: FLOPs from the nets' shapes, and a FLOP budget turned into steps and snapshots."""

from __future__ import annotations

import pytest
import torch

from pipeline.training.budget import StepCost, compute_points, count_flops, plan, step_cost
from pipeline.data.datasets import DataMeta
from pipeline.models.core import build

from .conftest import params_with, shipped_with

POINTS = DataMeta("ring8", "points", (2,), 100, 100, centers=[[1.0, 0.0]], std=0.05)


def _step(model: str, **over):
    params = params_with({"net": {"z_dim": 4, "g_hidden": [16], "d_hidden": [32]}, "budget": {"batch_size": 8}} | over)
    torch.manual_seed(0)
    return build(model, params, POINTS)


def test_a_linear_layer_costs_two_flops_per_multiply_add_forward_and_backward():
    lin = torch.nn.Linear(5, 7)
    x = torch.randn(3, 5, requires_grad=True)
    assert count_flops(lambda: lin(x)) == 2 * 3 * 5 * 7
    # backward: the weight gradient and the input gradient, each as much as the forward
    assert count_flops(lambda: lin(x).sum().backward()) == 3 * (2 * 3 * 5 * 7)


def test_gan_step_flops_from_the_net_shapes():
    # G 4-16-2, D 2-32-1 (LeakyReLU between), batch B = 8; matmul FLOPs = 2 x multiply-adds
    B, g, d = 8, 4 * 16 + 16 * 2, 2 * 32 + 32 * 1
    cost = step_cost(_step("gan"), torch.randn(B, 2))
    # inner: G forward on B (no grad); D forward on 2B, backward for the weights and, past the first
    # layer, the inputs (the data needs no gradient)
    inner = 2 * B * g + 2 * (2 * B) * d + 2 * (2 * B) * d + 2 * (2 * B) * (d - 2 * 32)
    # outer: G and D forward on B; D backward for its inputs only (its weights are frozen); G backward
    # for weights and inputs past its first layer (z needs no gradient)
    outer = 2 * B * g + 2 * B * d + 2 * B * d + 2 * B * g + 2 * B * (g - 4 * 16)
    assert cost == StepCost(inner, outer) == StepCost(8704, 6656)


def test_counting_leaves_the_model_and_the_random_stream_untouched():
    step = _step("wgan_gp")
    before = {k: v.clone() for k, v in step.state_dict().items()}
    torch.manual_seed(1)
    expected = torch.rand(3)
    torch.manual_seed(1)
    cost = step_cost(step, torch.randn(8, 2, generator=torch.Generator().manual_seed(0)))
    assert torch.equal(torch.rand(3), expected)
    assert all(torch.equal(before[k], v) for k, v in step.state_dict().items())
    # the gradient penalty's double backward is counted: more than a clipped WGAN's critic step
    assert cost.inner > step_cost(_step("wgan"), torch.randn(8, 2)).inner


def test_compute_points_hold_the_quarter_half_and_the_budget():
    pts = compute_points(1000.0, octaves=8, per_octave=2)
    assert {250, 500, 1000} <= set(pts) and min(pts) == round(1000 / 256) and pts == sorted(set(pts))
    assert {625, 750, 875} <= set(pts)  # evenly over the second half, for the run's state


def test_plan_stays_within_the_budget_and_snapshots_the_first_step_reaching_each_point():
    cost = StepCost(inner=10, outer=5)  # 5 inner updates per step: 55 FLOPs a step
    p = plan(cost, lambda it: 5, budget=1000.0, points=[55, 100, 550, 1000])
    assert p.steps == 18 and p.flops == 990  # 19 steps would be 1045 > 1000
    assert p.snapshot_steps == [1, 2, 10, 18]  # 100 FLOPs: reached after step 2 (110)
    # a warm-up that front-loads inner updates costs steps, not budget
    warm = plan(cost, lambda it: 20 if it < 2 else 5, budget=1000.0, points=[1000])
    assert (warm.steps, warm.flops) == (12, 960)  # 2 x 205, then 10 x 55


def test_every_model_gets_the_same_budget_within_one_step():
    x = torch.randn(8, 2)
    plans = {m: plan(step_cost(s := _step(m), x), s.inner_count, 5e7, [5e7])
             for m in ("gan", "wgan", "wgan_gp", "avb", "vae")}
    for m, p in plans.items():
        assert 5e7 - p.cost.of(5) <= p.flops <= 5e7, m
    # cheaper steps, more of them: 5 critic updates a step, and a gradient penalty's double backward
    assert plans["gan"].steps > plans["wgan"].steps > plans["wgan_gp"].steps


@pytest.mark.parametrize("key", ["steps", "batch_size", "lr_decay"])
def test_a_model_section_cannot_set_what_every_model_shares(key):
    from pipeline.config import ParamsError, parse_params

    value = {"steps": 10, "batch_size": 8, "lr_decay": "linear"}[key]
    with pytest.raises(ParamsError, match=f"gan.{key} = .*: set for every model alike by"):
        parse_params(shipped_with({"gan": {key: value}}))
    with pytest.raises(ParamsError, match=f"wgan.per_dataset.ring8.{key} = "):
        parse_params(shipped_with({"wgan": {"per_dataset": {"ring8": {key: value}}}}))
