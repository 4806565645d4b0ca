"""Seeds in parallel: one process per seed against one vectorised ensemble of seeds.

It measures which of the two is faster. Both run the same WGAN step (Arjovsky et al.
2017, Algorithm 1: n_critic RMSProp critic steps, each followed by clipping, then one generator step) on
2-D points with the pipeline's MLP sizes. The ensemble holds E seeds' nets as stacked weights and runs
them as batched matmuls (`theory.nets.EnsembleMLP`, stepped by the theory parts'
`ensemble_critic_step` over the core's losses); its members share no parameter and the loss is the
sum of theirs, so each member's gradient, RMSProp update and clipping are exactly its own (all
elementwise): E seeds trained at once are E seeds trained alone. The unit is seed-steps per second,
generator steps times seeds.

This times the step alone (no data loading, logging or snapshots): how the arithmetic of several seeds
is best spread over the cores. The pipeline-level speed-up of its worker processes is measured with the
stages themselves (docs/performance.md).
"""

from __future__ import annotations

import multiprocessing as mp
import queue
import time
from dataclasses import dataclass

import torch

from pipeline.models import losses
from pipeline.config import CriticUpdate
from pipeline.theory.nets import EnsembleMLP
from pipeline.theory.updates import ensemble_critic_step


@dataclass(frozen=True)
class StepSpec:
    """The step to time: ring8's WGAN by default (batch 128, lr 3e-4; params.yaml's per_dataset)."""

    z_dim: int = 16
    g_hidden: tuple[int, ...] = (256, 256)
    d_hidden: tuple[int, ...] = (256, 256)
    dim: int = 2
    batch: int = 128
    n_critic: int = 5
    lr: float = 3e-4
    clip: float = 0.01


def ensemble_rate(spec: StepSpec, members: int, threads: int, steps: int, warmup: int = 20,
                  barrier=None) -> float:
    """Seed-steps per second of `members` seeds as one ensemble on `threads` threads, timed over `steps`
    generator steps after `warmup` untimed ones (and, with a barrier, after every process is ready)."""
    torch.set_num_threads(threads)
    gen = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    G = EnsembleMLP(members, [spec.z_dim, *spec.g_hidden, spec.dim])
    D = EnsembleMLP(members, [spec.dim, *spec.d_hidden, 1])
    opt_g = torch.optim.RMSprop(G.parameters(), lr=spec.lr)
    opt_d = torch.optim.RMSprop(D.parameters(), lr=spec.lr)
    data = torch.randn(10_000, spec.dim, generator=gen)
    # EnsembleMLP drops a trailing output dimension of 1; the generator's is `dim`, kept as (E, B, dim)
    z = lambda: torch.randn(members, spec.batch, spec.z_dim, generator=gen)  # noqa: E731

    # the theory parts' ensemble critic step, clipped: it reads the constraint (Adam's betas and a penalty weight
    # would apply to other constraints only)
    critic = CriticUpdate(optimizer="rmsprop", lr=spec.lr, beta1=0.5, beta2=0.9, constraint="clip", gp_weight=10.0)

    def step() -> None:
        for _ in range(spec.n_critic):
            real = data[torch.randint(0, len(data), (members, spec.batch), generator=gen)]
            with torch.no_grad():
                fake = G(z()).view(members, spec.batch, spec.dim)
            ensemble_critic_step(D, opt_d, real, fake, critic, spec.clip)
        # the mean over members times E: the sum of their losses, so each trains as alone
        loss = losses.wgan_generator_loss(D(G(z()).view(members, spec.batch, spec.dim))) * members
        opt_g.zero_grad(set_to_none=True)
        loss.backward()
        opt_g.step()

    for _ in range(warmup):
        step()
    if barrier is not None:
        barrier.wait()
    t = time.perf_counter()
    for _ in range(steps):
        step()
    return members * steps / (time.perf_counter() - t)


def _worker(spec, members, steps, warmup, barrier, out) -> None:
    out.put(ensemble_rate(spec, members, 1, steps, warmup, barrier))


def processes_rate(spec: StepSpec, processes: int, members: int, steps: int, warmup: int = 20) -> float:
    """Seed-steps per second of `processes` processes at once, each one thread and `members` seeds: the
    sum of their rates, timed from a common start (a barrier after every process's warm-up)."""
    ctx = mp.get_context("spawn")  # as the stages' workers: no forked torch thread pools
    barrier, out = ctx.Barrier(processes), ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(spec, members, steps, warmup, barrier, out))
             for _ in range(processes)]
    for p in procs:
        p.start()
    rates: list[float] = []
    try:
        while len(rates) < processes:
            try:
                rates.append(out.get(timeout=1.0))
            except queue.Empty:
                if any(p.exitcode not in (None, 0) for p in procs):  # a crash would leave the rest at the barrier
                    raise RuntimeError("a benchmark process failed; its traceback is above") from None
    finally:
        for p in procs:
            if p.is_alive() and len(rates) < processes:
                p.terminate()
            p.join()
    return sum(rates)
