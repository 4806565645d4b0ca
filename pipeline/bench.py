"""WGAN critic-step throughput: this pipeline's loop against the common reference loop.

The reference is the loop of PyTorch-GAN's `implementations/wgan/wgan.py`
(the most copied WGAN code): torchvision's MNIST through a DataLoader with
per-image transforms (Resize, ToTensor, Normalize), one critic step per
batch with `generator(z).detach()`, a Python loop of `p.data.clamp_`, and a
generator step every n_critic batches. Both loops run the *same* nets, built
once by `pipeline.nets` and deep-copied, so only the loop differs.
"""

from __future__ import annotations

import copy
import statistics
import time
from dataclasses import dataclass

import torch
from torch import Tensor

from .config import NetParams, WganParams
from .data import DataMeta
from .models import WGAN
from .train import fit

# The nets the issue fixes for the comparison (PyTorch-GAN's MLP WGAN on MNIST):
# critic 784-512-256-1 with LeakyReLU(0.2); generator 100-128-256-512-1024-784
# with BatchNorm and Tanh.
REFERENCE_NETS = NetParams(arch="mlp", z_dim=100, g_hidden=[128, 256, 512, 1024], d_hidden=[512, 256],
                           g_batchnorm=True)


@dataclass
class BenchResult:
    loop: str
    critic_steps_per_s: list[float]  # one per repeat

    @property
    def median(self) -> float:
        return statistics.median(self.critic_steps_per_s)


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
    """This pipeline's `fit` on in-memory data; returns critic steps per second."""
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
    p = WganParams(batch_size=batch_size, n_critic=n_critic)
    return WGAN(net, meta, p, clip).to(device)


def run(
    meta: DataMeta,
    data: Tensor,
    loader,
    net: NetParams,
    *,
    batch_size: int = 64,
    n_critic: int = 5,
    clip: float = 0.01,
    critic_steps: int = 300,
    repeats: int = 3,
    device: torch.device = torch.device("cpu"),
) -> list[BenchResult]:
    """Alternate the two loops `repeats` times (so machine noise hits both alike).

    `loader` may be None: then only this pipeline's loop is measured.
    """
    ours = BenchResult("pipeline (in-memory, index batches)", [])
    ref = BenchResult("reference (torchvision DataLoader + per-image transforms)", [])
    base = make_wgan(meta, net, batch_size, n_critic, clip, 0, device)
    # warm-up: allocator, thread pool, first-touch of the data
    pipeline_loop(copy.deepcopy(base), data, 4 * n_critic)
    for _ in range(repeats):
        if loader is not None:
            ref.critic_steps_per_s.append(reference_loop(copy.deepcopy(base), loader, critic_steps, clip, n_critic))
        ours.critic_steps_per_s.append(pipeline_loop(copy.deepcopy(base), data, critic_steps))
    return [ours, ref] if loader is not None else [ours]
