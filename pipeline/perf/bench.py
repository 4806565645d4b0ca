"""WGAN critic-step throughput: this pipeline's loop against the common reference loop and
against the machine's own matrix-multiply roofline.

The reference is the loop of PyTorch-GAN's `implementations/wgan/wgan.py`
(the most copied WGAN code): torchvision's MNIST through a DataLoader with
per-image transforms (Resize, ToTensor, Normalize), one critic step per
batch with `generator(z).detach()`, a Python loop of `p.data.clamp_`, and a
generator step every n_critic batches. Both loops run the *same* nets, built
once by `pipeline.models.nets` and deep-copied, so only the loop differs.

The roofline: every matrix product and convolution that one step of the
pipeline dispatches (forward and backward, as autograd runs them) is recorded
with its shapes and strides, counted with torch's own FLOP formulas
(`torch.utils.flop_counter`, the ones `FlopCounterMode` uses) and timed alone
on this machine. The roofline time of a step is the sum of those times: the
step as it would run if every matmul went at its own measured speed and
nothing else (activations, optimiser, autograd, Python) cost anything.
"""

from __future__ import annotations

import copy
import statistics
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable

import torch
from torch import Tensor
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_map
from torch.utils.flop_counter import flop_registry

from pipeline.config import NetParams, WganParams
from pipeline.data.datasets import DataMeta
from pipeline.models.core import WGAN, Adversarial
from pipeline.training.loop import fit

# The nets the issue fixes for the comparison (PyTorch-GAN's MLP WGAN on MNIST):
# critic 784-512-256-1 with LeakyReLU(0.2); generator 100-128-256-512-1024-784
# with BatchNorm and Tanh.
REFERENCE_NETS = NetParams(arch="mlp", z_dim=100, g_hidden=[128, 256, 512, 1024], d_hidden=[512, 256],
                           g_batchnorm=True, width=64, autocast="none", channels_last=False)
# The pipeline's own DCGAN nets (pipeline/models/nets.py) at width 64, z 100 (DCGAN's nz):
# critic conv 1->64->128 (4x4, stride 2; 28 -> 14 -> 7), head 6272-256-1;
# generator 100-6272 (BatchNorm, ReLU), deconv 128->64->1 (7 -> 14 -> 28), Tanh.
DCGAN_NETS = NetParams(arch="dcgan", z_dim=100, g_hidden=[256, 256], d_hidden=[256, 256], g_batchnorm=False, width=64,
                       autocast="none", channels_last=False)
# The reference loop's WGAN (PyTorch-GAN wgan.py, as Arjovsky et al. 2017, Algorithm 1): RMSProp at 5e-5 and
# weight clipping; Adam's betas and the penalty weight go unused. Batch size and n_critic are the bench's options.
REFERENCE_WGAN = dict(lr=5e-5, optimizer="rmsprop", beta1=0.5, beta2=0.9, constraint="clip", gp_weight=10.0,
                      reference_schedule=False, warmup=0, lr_decay="constant")

BIG_MATMUL = (128, 784, 512)  # (m, k, n): the first critic layer on a real + fake batch of 64


@dataclass
class BenchResult:
    loop: str
    critic_steps_per_s: list[float]  # one per repeat

    @property
    def median(self) -> float:
        return statistics.median(self.critic_steps_per_s)


# --- FLOPs: what one step dispatches ---------------------------------------------------------------


@dataclass(frozen=True)
class TensorSpec:
    """A recorded tensor argument: enough to make a fresh one with the same memory layout."""

    shape: tuple[int, ...]
    stride: tuple[int, ...]
    dtype: torch.dtype
    device: torch.device

    def make(self) -> Tensor:
        size = 1 + sum((n - 1) * s for n, s in zip(self.shape, self.stride)) if all(self.shape) else 0
        return torch.randn(size, dtype=self.dtype, device=self.device).as_strided(self.shape, self.stride)


@dataclass(frozen=True)
class MatmulOp:
    """One matrix product or convolution a step dispatches (forward or backward), `calls` times."""

    op: torch._ops.OpOverload
    args: tuple  # tensors as TensorSpec, the rest as dispatched
    kwargs: dict
    flops: int  # of one call: 2 x multiply-adds, torch.utils.flop_counter's formula
    calls: int

    def shapes(self) -> str:
        specs = [a for a in self.args if isinstance(a, TensorSpec)]
        return f"{self.op.__name__.split('.')[0]} " + " ".join("x".join(map(str, s.shape)) for s in specs)

    def replay(self) -> Callable[[], Tensor]:
        """The same op on fresh random tensors of the recorded layout, ready to time."""
        args, kwargs = tree_map(lambda a: a.make() if isinstance(a, TensorSpec) else a, (self.args, self.kwargs))
        return lambda: self.op(*args, **kwargs)


class _MatmulRecorder(TorchDispatchMode):
    """Records every op that torch's FLOP counter has a formula for (mm, addmm, bmm, convolution,
    convolution_backward, ...), with its argument layouts and its FLOPs."""

    def __init__(self):
        super().__init__()
        self.calls: Counter = Counter()
        self.first: dict = {}

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        packet = func.overloadpacket
        if packet in flop_registry:
            spec = tree_map(lambda a: TensorSpec(tuple(a.shape), tuple(a.stride()), a.dtype, a.device)
                            if isinstance(a, Tensor) else a, (args, kwargs))
            key = (func, repr(spec))
            self.calls[key] += 1
            if key not in self.first:
                self.first[key] = (spec, flop_registry[packet](*args, **kwargs, out_val=out))
        return out


@dataclass
class StepCount:
    """The matmuls of one generator step with its `critic_steps` critic steps."""

    ops: list[MatmulOp]
    critic_steps: int

    @property
    def flops(self) -> float:
        """Matmul/conv FLOPs per critic step, the generator step's share included (1 / n_critic of it)."""
        return sum(o.flops * o.calls for o in self.ops) / self.critic_steps


def count_step(step: Adversarial, batch: Tensor, n_critic: int) -> StepCount:
    """Record the matmuls of `n_critic` critic steps and one generator step, as `fit` runs them
    (`inner` then `outer`), on a copy of `step`: forward of the critic on real + fake, its backward
    (weight gradients, and input gradients only where autograd needs them: not for the first
    layer's input in a critic step), the generator's no-grad forward, and the generator step's
    forward and backward through both nets. Elementwise work (activations, BatchNorm, the
    optimiser, clipping) is not counted: the roofline is about the matmuls."""
    step = copy.deepcopy(step)
    step.train()
    step.inner(batch)  # the optimisers and their state exist, as in a running loop
    step.outer(batch)
    rec = _MatmulRecorder()
    with rec:
        for _ in range(n_critic):
            step.inner(batch)
        step.outer(batch)
    ops = [MatmulOp(key[0], *rec.first[key][0], rec.first[key][1], n) for key, n in rec.calls.items()]
    return StepCount(ops, n_critic)


# --- the roofline: the same matmuls, timed alone ----------------------------------------------------


def seconds_per_call(fn: Callable[[], object], device: torch.device, blocks: int = 5,
                     min_block_s: float = 0.01) -> float:
    """Median over `blocks` of the mean time of one call in a block of calls lasting >= min_block_s."""
    sync = (lambda: torch.cuda.synchronize()) if device.type == "cuda" else (lambda: None)
    fn(), fn(), sync()  # warm-up: allocator, kernel selection
    times = []
    for _ in range(blocks):
        n, t0 = 0, time.perf_counter()
        while True:
            fn()
            sync()
            n += 1
            dt = time.perf_counter() - t0
            if dt >= min_block_s:
                break
        times.append(dt / n)
    return statistics.median(times)


@dataclass
class Roofline:
    seconds: float  # per critic step, every matmul at its measured speed, nothing else
    flops: float  # per critic step
    per_op: list[tuple[str, int, float]] = field(default_factory=list)  # (shapes, calls, GFLOP/s alone)

    @property
    def gflops(self) -> float:
        return self.flops / self.seconds / 1e9


def roofline(count: StepCount, device: torch.device, blocks: int = 5) -> Roofline:
    """Time each recorded op alone (median of `blocks`), at the thread count in force; the roofline
    time is sum(calls x time) / critic steps = sum over ops of (FLOPs / measured throughput)."""
    total, per_op = 0.0, []
    for o in count.ops:
        t = seconds_per_call(o.replay(), device, blocks)
        total += o.calls * t
        per_op.append((o.shapes(), o.calls, o.flops / t / 1e9))
    return Roofline(total / count.critic_steps, count.flops, per_op)


def matmul_gflops(m: int, k: int, n: int, device: torch.device, blocks: int = 5) -> float:
    """Throughput of one (m x k) @ (k x n) product: the machine's number for a big square-ish matmul."""
    a, b = torch.randn(m, k, device=device), torch.randn(k, n, device=device)
    return 2 * m * k * n / seconds_per_call(lambda: torch.mm(a, b), device, blocks) / 1e9


# --- where a pipeline step's time goes -------------------------------------------------------------

_MATMUL_NAMES = ("aten::mm", "aten::addmm", "aten::bmm", "aten::baddbmm")
SPLIT = ("matmul/conv", "optimizer", "weight clipping", "other ops", "autograd engine", "outside ops")


def _category(ev) -> str:
    chain = []
    while ev is not None:
        chain.append(ev.name)
        ev = ev.cpu_parent
    if any(n in _MATMUL_NAMES or (n.startswith("aten::") and "conv" in n) for n in chain):
        return "matmul/conv"  # mm, addmm, convolution, mkldnn_convolution, convolution_backward and their children
    if any(n.startswith("Optimizer.") for n in chain):
        return "optimizer"  # step and zero_grad
    if any(n.startswith("aten::_foreach_clamp") for n in chain):
        return "weight clipping"
    if chain[0].startswith("autograd::"):
        return "autograd engine"  # the engine's own time between a backward node's ops
    return "other ops"  # activations, BatchNorm, the loss, cat, randn, batch indexing, ...


def time_split(step: Adversarial, data: Tensor, gen_steps: int) -> dict[str, float]:
    """Seconds per critic step, by category of `SPLIT`, of `gen_steps` generator steps of `fit` (on a
    copy of `step`) under torch.profiler: the self time of the ops in each category; "outside ops" is
    the wall time no op accounts for (Python, the loop, the dispatcher, the profiler itself)."""
    from torch.profiler import ProfilerActivity, profile

    step = copy.deepcopy(step)
    fit(step, data, 2, log_every=50, progress=False)  # warm-up, outside the profile
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        t0 = time.perf_counter()
        res = fit(step, data, gen_steps, log_every=max(gen_steps, 1), progress=False)
        _sync(data.device)
        wall = time.perf_counter() - t0
    split = dict.fromkeys(SPLIT, 0.0)
    for ev in prof.events():
        split[_category(ev)] += ev.self_cpu_time_total / 1e6
    split["outside ops"] = max(0.0, wall - sum(split.values()))
    return {k: v / res.inner_steps_done for k, v in split.items()}


# --- the two loops ----------------------------------------------------------------------------------


def reference_loop(wgan: WGAN, loader, critic_steps: int, clip: float, n_critic: int) -> float:
    """PyTorch-GAN's WGAN loop on `loader`; returns critic steps per second."""
    G, D, opt_g, opt_d = wgan.G, wgan.D, wgan.opt_g, wgan.opt_d
    z_dim = wgan.net_params.z_dim
    done = 0
    t0 = time.perf_counter()
    while done < critic_steps:
        for imgs, _ in loader:
            real = imgs.to(next(D.parameters()).device)
            opt_d.zero_grad()
            z = torch.randn(real.shape[0], z_dim, device=real.device)
            fake = G(z).detach()
            loss_d = -torch.mean(D(real)) + torch.mean(D(fake))
            loss_d.backward()
            opt_d.step()
            for p in D.parameters():
                p.data.clamp_(-clip, clip)
            if done % n_critic == 0:
                opt_g.zero_grad()
                loss_g = -torch.mean(D(G(z)))
                loss_g.backward()
                opt_g.step()
            done += 1
            if done == critic_steps:
                break
    _sync(real.device)
    return critic_steps / (time.perf_counter() - t0)


def pipeline_loop(wgan: WGAN, data: Tensor, critic_steps: int) -> float:
    """This pipeline's `fit` on in-memory data; returns critic steps per second (the generator
    steps' time included, as in the reference loop)."""
    gen_steps = max(1, critic_steps // wgan.p.n_critic)
    res = fit(wgan, data, gen_steps, log_every=50, progress=False)
    _sync(data.device)
    return res.inner_steps_done / res.seconds


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def make_wgan(meta: DataMeta, net: NetParams, batch_size: int, n_critic: int, clip: float, seed: int,
              device: torch.device) -> WGAN:
    torch.manual_seed(seed)
    p = WganParams(**REFERENCE_WGAN, batch_size=batch_size, n_critic=n_critic)
    return WGAN(net, meta, p, clip).to(device)


@dataclass
class Row:
    """One set of nets: both loops, the step's FLOPs, the roofline (re-measured every repeat)."""

    name: str
    loops: list[BenchResult]  # [pipeline] or [pipeline, reference]
    count: StepCount
    roofline_gflops: list[float]  # one per repeat
    last_roofline: Roofline
    split: dict[str, float]  # time_split of the pipeline's step (seconds per critic step); empty if not profiled

    @property
    def pipeline(self) -> BenchResult:
        return self.loops[0]

    @property
    def reference(self) -> BenchResult | None:
        return self.loops[1] if len(self.loops) > 1 else None

    @property
    def speedup(self) -> float | None:
        return self.pipeline.median / self.reference.median if self.reference else None

    @property
    def gflops(self) -> float:
        """Achieved: matmul FLOPs per critic step x median critic steps per second."""
        return self.count.flops * self.pipeline.median / 1e9

    @property
    def roofline(self) -> float:
        return statistics.median(self.roofline_gflops)

    @property
    def fraction(self) -> float:
        """Of the roofline: roofline time / step time, both per critic step."""
        return self.gflops / self.roofline


def run(
    meta: DataMeta,
    data: Tensor,
    loader,
    net: NetParams,
    *,
    name: str = "mlp",
    batch_size: int = 64,
    n_critic: int = 5,
    clip: float = 0.01,
    critic_steps: int = 300,
    repeats: int = 3,
    profile_steps: int = 10,
    device: torch.device = torch.device("cpu"),
) -> Row:
    """Alternate the reference loop, this pipeline's loop and the roofline `repeats` times (so machine
    noise hits all three alike), all at the thread count in force.

    `loader` may be None: then only this pipeline's loop is measured. `profile_steps` generator
    steps of the pipeline then run under torch.profiler (0: none) for `Row.split`.
    """
    ours = BenchResult("pipeline (in-memory, index batches)", [])
    ref = BenchResult("reference (torchvision DataLoader + per-image transforms)", [])
    base = make_wgan(meta, net, batch_size, n_critic, clip, 0, device)
    count = count_step(base, data[:batch_size], n_critic)
    # warm-up: allocator, thread pool, first-touch of the data
    pipeline_loop(copy.deepcopy(base), data, 4 * n_critic)
    roof: list[Roofline] = []
    for _ in range(repeats):
        if loader is not None:
            ref.critic_steps_per_s.append(reference_loop(copy.deepcopy(base), loader, critic_steps, clip, n_critic))
        ours.critic_steps_per_s.append(pipeline_loop(copy.deepcopy(base), data, critic_steps))
        roof.append(roofline(count, device))
    split = time_split(base, data, profile_steps) if profile_steps else {}
    loops = [ours, ref] if loader is not None else [ours]
    return Row(name, loops, count, [r.gflops for r in roof], roof[-1], split)
