"""Compute is the budget: every model on a data set trains for the same FLOPs.

Lucic et al. 2018 ("Are GANs Created Equal?") compare GANs at an equal computational
budget: a model that needs five critic updates per generator update must fit them
in the same compute as a model that needs one. A model's training cost is the sum,
over its generator steps, of the matmul and convolution FLOPs of every network pass
in the step, forward and backward, as autograd runs them: `inner_count(it)` inner
updates (discriminator, critic, adversary; a gradient penalty's double backward
included) and one outer update (generator, or encoder and decoder). They are counted
on one real step of the model's own nets with torch's FLOP formulas
(`torch.utils.flop_counter.flop_registry`: 2 x multiply-adds), so they follow the
nets' shapes and the batch size and never drift from the code. Elementwise work
(activations, the optimiser, clipping) is not counted.

`plan` turns a FLOP budget into a step count and the generator steps at which the
snapshots fall. The snapshots sit at the same compute points for every model, so the
quality-against-compute curves share their x values: half an octave apart from
budget / 2**octaves up to the budget, and evenly over its second half, where the
run's state at the budget is read (pipeline/evaluation/convergence.py).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import torch
from torch import Tensor
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import flop_registry

from pipeline.evaluation.convergence import TAIL_FROM

TAIL_POINTS = 5  # compute points spread evenly over [TAIL_FROM * budget, budget] (the ends included)


class _FlopCounter(TorchDispatchMode):
    """Sums the FLOPs of every dispatched op torch has a formula for (mm, addmm, bmm, convolutions and
    their backward). A dispatch mode, not `FlopCounterMode`: that one's module hooks refuse the gradient
    penalty's `torch.autograd.grad` inside a counted region."""

    def __init__(self):
        super().__init__()
        self.flops = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        if func.overloadpacket in flop_registry:
            self.flops += int(flop_registry[func.overloadpacket](*args, **kwargs, out_val=out))
        return out


@dataclass(frozen=True)
class StepCost:
    """Matmul FLOPs of one inner update and of one outer update (forward and backward)."""

    inner: int
    outer: int

    def of(self, inner_updates: int) -> int:
        """One generator step with `inner_updates` inner updates before it."""
        return inner_updates * self.inner + self.outer


def count_flops(fn: Callable[[], object]) -> int:
    """Matmul and convolution FLOPs that `fn()` dispatches, forward and backward."""
    counter = _FlopCounter()
    with counter:
        fn()
    return counter.flops


def step_cost(step, batch: Tensor) -> StepCost:
    """Count one inner and one outer update of `step` (a `pipeline.models.core.Step`) on a real batch of its
    batch size, on a copy, under a forked RNG: the model being trained and its random streams are untouched.
    A model without inner updates (the VAE) costs 0 there."""
    with torch.random.fork_rng(devices=[batch.device] if batch.device.type == "cuda" else []):
        s = copy.deepcopy(step)
        s.train()
        inner = count_flops(lambda: s.inner(batch)) if s.inner_count(0) else 0
        outer = count_flops(lambda: s.outer(batch))
    return StepCost(inner, outer)


def compute_points(budget: float, octaves: int, per_octave: int) -> list[float]:
    """FLOPs where every model is snapshotted: budget * 2**(-k / per_octave) for k = 0..octaves * per_octave
    (so budget / 2 and budget / 4 are among them when per_octave >= 1), and TAIL_POINTS evenly over
    [TAIL_FROM * budget, budget]; sorted, distinct."""
    log = [budget * 2.0 ** (-k / per_octave) for k in range(octaves * per_octave + 1)]
    tail = list(np.linspace(TAIL_FROM * budget, budget, TAIL_POINTS))
    return sorted({round(p) for p in log + tail})


@dataclass(frozen=True)
class Plan:
    """A model's run on one data set under a FLOP budget."""

    budget: float  # FLOPs
    steps: int  # generator steps: the most whose FLOPs stay within the budget (at least 1)
    flops: int  # their FLOPs
    points: list[float]  # the compute points (FLOPs), shared by every model on the data set
    snapshot_steps: list[int]  # per point, the first generator step whose cumulative FLOPs reach it
    cost: StepCost

    def flops_at(self, step: int, inner_count: Callable[[int], int]) -> int:
        """Cumulative FLOPs after `step` generator steps."""
        return sum(self.cost.of(inner_count(i)) for i in range(step))


def plan(cost: StepCost, inner_count: Callable[[int], int], budget: float, points: Sequence[float]) -> Plan:
    """Steps and snapshot steps for `budget` FLOPs, the inner updates per generator step given by
    `inner_count(it)` (0-based; a WGAN's warm-up gives its first steps more critic updates)."""
    if cost.of(inner_count(0)) <= 0:
        raise ValueError("a training step with no matmul FLOPs cannot be budgeted")
    cumulative, total, it = [], 0, 0
    while True:
        nxt = total + cost.of(inner_count(it))
        if nxt > budget and it > 0:
            break
        total, it = nxt, it + 1
        cumulative.append(total)
    c = np.asarray(cumulative, float)
    # first step whose cumulative FLOPs reach the point; points past the last step fall on it (rounding)
    snaps = [int(min(np.searchsorted(c, p - 1e-6 * max(p, 1.0)) + 1, len(c))) for p in points]
    return Plan(budget=float(budget), steps=len(c), flops=int(total), points=list(points), snapshot_steps=snaps, cost=cost)
