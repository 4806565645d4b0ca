"""Data-parallel training under torchrun: N processes, one global batch, the numbers of one process.

`torchrun --nproc_per_node N -m stages train MODEL --dataset DS` starts N copies of the stage, the
*ranks* of one process group (gloo on CPU, NCCL on CUDA with device cuda:LOCAL_RANK). Every rank
holds the whole training set and the same step object and trains the same seed at the same time.
Generator step k on N ranks is generator step k of one process with the same global batch B
(params `batch_size`), cut into N slices of b = B / N rows:

- batches: every rank draws the global batch's indices from the same seeded generator and keeps
  rows [rank * b, (rank + 1) * b) (`BatchSampler(rows=...)`);
- noise: torch's global RNG is seeded alike on every rank; while a step runs (`RankNoise`) each draw
  (torch.randn / rand / randn_like / rand_like) is made for the global batch and the rank keeps its
  rows, so z, the gradient penalty's u and AVB's / the VAE's eps are those of one process, and the
  RNG advances alike everywhere. The step classes need no change for it;
- gradients: before every optimiser step, the gradients of the parameters that optimiser owns are
  averaged over the ranks in one all-reduce (an `Optimizer.register_step_pre_hook`). Every loss is a
  mean over the batch, so the ranks' mean gradient is the global batch's: what
  DistributedDataParallel computes. DDP itself is not used, for any model: it reduces inside the
  backward of one wrapped net, and our steps call a net several times per update and take the
  gradient penalty's gradient with create_graph (double backward, which DDP does not support), set
  requires_grad on and off per update (the critic during the generator's), and its `module.` prefix
  would change every state_dict key (checkpoints, resume states). One hook per optimiser covers GAN,
  WGAN (clip, gp, sn), AVB and the VAE alike; weight clipping and spectral normalisation then act on
  weights that are identical on every rank;
- BatchNorm (the generator / decoder of `net.arch: dcgan`, or `net.g_batchnorm`): normalised with
  the global batch's statistics (`GlobalBatchNorm`, in place of each BatchNorm while training, with
  the same parameters and buffers, so the state_dict keys do not change). torch.nn.SyncBatchNorm
  does the same but refuses CPU tensors, where the equivalence is tested;
- logs: each logged loss is averaged over the ranks at each log row (`mean_over_ranks`): the global
  batch's mean, and a NaN on one rank is a NaN on all, so every rank stops at the same row.

So this applies to every model and data set, not only the image ones. What differs from one process
is the order of float32 sums (the all-reduce, the BatchNorm statistics): tests/test_distributed.py
finds the losses and weights of 2 gloo processes within 1e-5 + 1e-6 |value| of one process after 6
steps. The exception is a bias just before a BatchNorm: its gradient is zero but for rounding, and
Adam turns that noise into steps of about its lr in both runs. The initial weights are broadcast from
rank 0 (they are already equal: same seed). Rank 0 alone writes outputs (stages/train.py).

Cost: `RankNoise` is a TorchFunctionMode, so every torch call inside a step passes through one
Python function (microseconds each; nothing outside the steps). An explicit noise method on the step
classes would avoid it, at the price of every model (and the gradient penalty) drawing through it.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterable, Iterator, Optional

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import Tensor, nn
from torch.overrides import TorchFunctionMode


@dataclass(frozen=True)
class World:
    """This process's place in a torchrun group (torchrun sets RANK, WORLD_SIZE and LOCAL_RANK)."""

    rank: int
    size: int  # processes in the group
    local_rank: int  # on this machine: which GPU

    @property
    def main(self) -> bool:
        """Rank 0: the one that writes outputs."""
        return self.rank == 0

    def device(self, device: torch.device) -> torch.device:
        return torch.device("cuda", self.local_rank) if device.type == "cuda" else device

    def local_batch(self, batch: int) -> int:
        """This rank's share b = B / N of a global batch B; a B that N does not divide is refused."""
        if batch % self.size:
            raise ValueError(f"batch_size {batch} is not divisible by the {self.size} torchrun processes")
        return batch // self.size

    def rows(self, batch: int) -> slice:
        """This rank's rows of a global batch."""
        b = self.local_batch(batch)
        return slice(self.rank * b, (self.rank + 1) * b)


def from_env(env: Optional[dict] = None) -> Optional[World]:
    """The torchrun group this process was started in, or None for a plain run (WORLD_SIZE unset or 1)."""
    env = os.environ if env is None else env
    size = int(env.get("WORLD_SIZE", "1"))
    if size <= 1:
        return None
    return World(int(env["RANK"]), size, int(env.get("LOCAL_RANK", env["RANK"])))


@contextmanager
def process_group(world: World, device: torch.device) -> Iterator[torch.device]:
    """Join torchrun's group (MASTER_ADDR / MASTER_PORT from the environment) for the duration; yields
    this rank's device: cuda:LOCAL_RANK with NCCL, or the CPU with gloo."""
    dev = world.device(device)
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
    dist.init_process_group("nccl" if dev.type == "cuda" else "gloo", rank=world.rank, world_size=world.size,
                            device_id=dev if dev.type == "cuda" else None)
    try:
        yield dev
    finally:
        dist.destroy_process_group()


def barrier() -> None:
    dist.barrier()


def from_main(obj):
    """Rank 0's `obj` on every rank (pickled; e.g. a resume state only rank 0 reads)."""
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def mean_over_ranks(logs: dict[str, Tensor]) -> dict[str, Tensor]:
    """Each tensor averaged over the ranks, in one all-reduce (the tensors share a shape)."""
    stacked = torch.stack(list(logs.values()))
    dist.all_reduce(stacked)
    return dict(zip(logs, (stacked / dist.get_world_size()).unbind()))


@contextmanager
def replicated(step: nn.Module, optimizers: Iterable[torch.optim.Optimizer], world: World) -> Iterator["RankNoise"]:
    """`step` as one of `world.size` replicas while it trains: weights broadcast from rank 0, gradients
    averaged before each optimiser step, BatchNorm over the global batch, and `step.batch_size` this
    rank's share (Adversarial.outer draws that many z). Yields the noise splitter to wrap each step in.
    Everything is undone on exit: the step object is then what a one-process fit leaves."""
    local = world.local_batch(step.batch_size)
    for t in step.state_dict().values():  # the live tensors, updated in place
        buf = t.contiguous()  # a channels_last conv weight is not
        dist.broadcast(buf, src=0)
        if buf is not t:
            t.copy_(buf)
    hooks = [opt.register_step_pre_hook(_average_gradients) for opt in optimizers]
    swapped = _global_batchnorm(step, world.size)
    batch, step.batch_size = step.batch_size, local
    try:
        yield RankNoise(world, local)
    finally:
        step.batch_size = batch
        for h in hooks:
            h.remove()
        for parent, name, bn in swapped:
            bn.train(getattr(parent, name).training)
            parent.add_module(name, bn)


def _average_gradients(opt: torch.optim.Optimizer, args, kwargs) -> None:
    """The mean over ranks of the gradients `opt` is about to apply, in one all-reduce.

    The same parameters have gradients on every rank (the same code ran), so the flat buffers line up."""
    grads = [p.grad for group in opt.param_groups for p in group["params"] if p.grad is not None]
    if not grads:
        return
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    flat /= dist.get_world_size()
    for g, v in zip(grads, flat.split([g.numel() for g in grads])):
        g.copy_(v.view_as(g))


# --- noise: the global batch's draws, this rank's rows ----------------------------------------

_DRAWS = {torch.randn: torch.randn, torch.rand: torch.rand, torch.randn_like: torch.randn,
          torch.rand_like: torch.rand}
# random ops that RankNoise cannot split: refused inside a step rather than drawn unlike one process
_UNSPLIT = {torch.normal, torch.bernoulli, torch.multinomial, torch.poisson, torch.randint, torch.randint_like,
            torch.randperm, Tensor.normal_, Tensor.uniform_, Tensor.bernoulli_, Tensor.random_, Tensor.exponential_,
            Tensor.cauchy_, Tensor.log_normal_, Tensor.geometric_, F.dropout, F.dropout1d, F.dropout2d, F.dropout3d,
            F.alpha_dropout, F.feature_alpha_dropout, F.rrelu, F.gumbel_softmax}


class RankNoise(TorchFunctionMode):
    """While active, every draw from torch's global RNG is made for the global batch, and this rank
    keeps its rows: what one process would have drawn for these rows, the RNG left where it leaves it.

    A draw's dim 0 must be m * b rows (b: the rank's batch), m blocks of the batch one after another
    (m = 1: z, eps, the gradient penalty's u; m = k: AVB's k posterior draws per x, laid out (k, b)).
    The global draw then has m blocks of N * b rows and the rank keeps rows [rank * b, (rank + 1) * b)
    of each. A draw of another shape, or another random op (dropout, randint, ...), raises: it would
    silently differ from one process. Draws with an explicit `generator` pass through (the batch
    sampler's). A `*_like` draw is taken as contiguous (what it is for a contiguous or non-dense input).
    """

    def __init__(self, world: World, batch: int):
        super().__init__()
        self.rank, self.size, self.batch = world.rank, world.size, batch

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if kwargs.get("generator") is None:
            if func in _DRAWS:
                return self._draw(func, args, kwargs)
            if func in _UNSPLIT:
                raise RuntimeError(f"{getattr(func, '__name__', func)} inside a training step: a torchrun run can "
                                   "split only torch.randn / rand / randn_like / rand_like over its ranks")
        return func(*args, **kwargs)

    def _draw(self, func, args: tuple, kwargs: dict) -> Tensor:
        if func in (torch.randn_like, torch.rand_like):
            like, *args = args
            kwargs = {"dtype": like.dtype, "device": like.device} | kwargs
            kwargs.pop("memory_format", None)
            shape = tuple(like.shape)
        else:
            shape = tuple(args[0] if len(args) == 1 and not isinstance(args[0], int) else args)
            shape, args = tuple(kwargs.pop("size", shape)), ()
        b = self.batch
        if not shape or shape[0] % b:
            raise RuntimeError(f"a random draw of shape {shape} inside a training step: its first dim is not a "
                               f"multiple of this rank's batch {b}, so the ranks cannot split it")
        m, rest = shape[0] // b, shape[1:]
        full = _DRAWS[func]((m * self.size * b, *rest), *args, **kwargs)
        return full.view(m, self.size * b, *rest)[:, self.rank * b:(self.rank + 1) * b].reshape(shape)


# --- BatchNorm over the global batch ----------------------------------------------------------


class _SumOverRanks(torch.autograd.Function):
    """The sum of a tensor over the ranks. Every rank's loss depends on the sum, so the gradient of
    the ranks' summed losses with respect to each rank's term is the sum of their gradients."""

    @staticmethod
    def forward(ctx, t: Tensor) -> Tensor:
        t = t.clone()
        dist.all_reduce(t)
        return t

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tensor:
        grad = grad.clone()
        dist.all_reduce(grad)
        return grad


class GlobalBatchNorm(nn.modules.batchnorm._BatchNorm):
    """BatchNorm1d / 2d whose training-mode statistics are those of the global batch (every rank's
    rows), as one process computes them; eval mode uses the running statistics as usual.

    Two passes (the mean, then the centred squares) rather than E[x^2] - E[x]^2, which cancels."""

    def __init__(self, bn: nn.modules.batchnorm._BatchNorm, ranks: int):
        super().__init__(bn.num_features, bn.eps, bn.momentum, bn.affine, bn.track_running_stats)
        self.ranks = ranks
        # the same tensors, not copies: training updates the original module's weights and buffers
        self.weight, self.bias = bn.weight, bn.bias
        self.running_mean, self.running_var, self.num_batches_tracked = (
            bn.running_mean, bn.running_var, bn.num_batches_tracked)
        self.train(bn.training)

    def _check_input_dim(self, x: Tensor) -> None:
        if x.dim() < 2:
            raise ValueError(f"expected at least 2D input (got {x.dim()}D input)")

    def forward(self, x: Tensor) -> Tensor:
        if not self.training:
            return super().forward(x)
        if x.dtype in (torch.float16, torch.bfloat16):
            x = x.float()  # as BatchNorm under autocast (`net.autocast`): the statistics in float32
        dims = [0, *range(2, x.dim())]  # all but the channels
        shape = [1, -1] + [1] * (x.dim() - 2)
        n = x.numel() // x.shape[1] * self.ranks  # values per channel in the global batch
        mean = _SumOverRanks.apply(x.sum(dims)) / n
        centred = x - mean.view(shape)
        var = _SumOverRanks.apply(centred.square().sum(dims)) / n  # biased: what normalises
        out = centred * torch.rsqrt(var.view(shape) + self.eps)
        if self.affine:
            out = out * self.weight.view(shape) + self.bias.view(shape)
        if self.track_running_stats:
            with torch.no_grad():
                self.num_batches_tracked.add_(1)
                m = self.momentum if self.momentum is not None else 1.0 / float(self.num_batches_tracked)
                self.running_mean.mul_(1 - m).add_(mean, alpha=m)
                self.running_var.mul_(1 - m).add_(var * (n / max(n - 1, 1)), alpha=m)  # unbiased, as BatchNorm
        return out


def _global_batchnorm(module: nn.Module, ranks: int) -> list[tuple[nn.Module, str, nn.Module]]:
    """Every BatchNorm under `module` replaced by a GlobalBatchNorm on the same tensors; what to put back."""
    swapped = []
    for parent in list(module.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, nn.modules.batchnorm._BatchNorm) and not isinstance(child, GlobalBatchNorm):
                parent.add_module(name, GlobalBatchNorm(child, ranks))
                swapped.append((parent, name, child))
    return swapped
