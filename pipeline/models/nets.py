"""Networks: MLPs for 2D points and flattened images, DCGAN-style convnets for 28x28.

Discriminators and critics carry no BatchNorm: a WGAN critic's output must
be a function of each sample alone (the Lipschitz argument is per sample, and
Gulrajani et al. 2017 drop it for the same reason), and without it real and
fake batches can go through one forward call.

Precision and layout (`net.autocast`, `net.channels_last`) live here, in the
nets, so that every model's step (GAN, WGAN and its gradient penalty, AVB, VAE)
gets them without a line of its own: a net's forward runs under bf16 autocast
in train mode and hands back float32, so losses are float32; channels_last
only changes strides, never parameter names or shapes, so a checkpoint loads
into a net built with either setting.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Optional

import torch
from torch import Tensor, nn

from pipeline.config import NetParams


def mlp(sizes: list[int], batchnorm: bool = False, out_act: Optional[nn.Module] = None) -> nn.Sequential:
    """Linear layers with LeakyReLU(0.2) between them; BatchNorm on every hidden
    layer but the first when asked (the layout of PyTorch-GAN's MLP generators)."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:  # hidden layer
            if batchnorm and i > 0:
                layers.append(nn.BatchNorm1d(b))
            layers.append(nn.LeakyReLU(0.2, inplace=True))
    if out_act is not None:
        layers.append(out_act)
    return nn.Sequential(*layers)


class _Net(nn.Module):
    """A net with `net.autocast` and `net.channels_last` applied (call `_layout()` once its layers exist)."""

    def __init__(self, p: NetParams):
        super().__init__()
        self.bf16 = p.autocast == "bf16"
        self.channels_last = p.channels_last

    def _layout(self) -> None:
        if self.channels_last:  # 4-D weights only (convs): nothing else has a layout to change
            self.to(memory_format=torch.channels_last)

    def _precise(self, fn: Callable[..., Tensor], x: Tensor, *args: Any) -> Tensor:
        """fn(x, *args); in train mode with bf16 under autocast, the result back in float32.

        Autocast keeps the float32 weights and runs convs and matmuls in bf16 (about 3
        significant digits); the backward, the gradient penalty's double backward included,
        follows the dtypes of the forward. Eval mode stays float32: sampling and evaluation
        measure the trained weights whatever precision trained them."""
        if not (self.bf16 and self.training):
            return fn(x, *args)
        with torch.autocast(x.device.type, dtype=torch.bfloat16):
            out = fn(x, *args)
        return out.float()


class Generator(_Net):
    """z (B, z_dim) -> sample (B, *shape). Images end in tanh ([-1, 1]); points are unbounded."""

    def __init__(self, p: NetParams, shape: tuple[int, ...], images: bool, in_dim: Optional[int] = None):
        super().__init__(p)
        self.shape = tuple(shape)
        in_dim = in_dim or p.z_dim
        out_act = nn.Tanh() if images else None
        if p.arch == "dcgan":
            self.body = _dcgan_generator(in_dim, p.width, out_act, p.channels_last)
        else:
            self.body = mlp([in_dim, *p.g_hidden, math.prod(shape)], p.g_batchnorm, out_act)
        self._layout()

    def forward(self, z: Tensor) -> Tensor:
        return self._precise(self.body, z).view(len(z), *self.shape)


class Scorer(_Net):
    """x (B, *shape) [and an optional code c (B, k)] -> one real number per sample (B,).

    Serves as GAN discriminator (logits), WGAN critic (scores, no sigmoid),
    AVB adversary T(x, z) (with c = z), and, with `out_dim`, as encoder.
    """

    def __init__(self, p: NetParams, shape: tuple[int, ...], extra_dim: int = 0, out_dim: int = 1):
        super().__init__(p)
        self.out_dim = out_dim
        if p.arch == "dcgan":
            self.features = _dcgan_features(p.width)  # (B, 2w * 7 * 7)
            feat_dim = 2 * p.width * 7 * 7
            self.head = mlp([feat_dim + extra_dim, *p.d_hidden[-1:], out_dim])
        else:
            self.features = nn.Flatten()
            self.head = mlp([math.prod(shape) + extra_dim, *p.d_hidden, out_dim])
        self._layout()

    def forward(self, x: Tensor, c: Optional[Tensor] = None) -> Tensor:
        out = self._precise(self._score, x, c)
        return out.squeeze(1) if self.out_dim == 1 else out

    def _score(self, x: Tensor, c: Optional[Tensor]) -> Tensor:
        if self.channels_last:  # the images too (B, 1, 28, 28), not only the weights
            x = x.contiguous(memory_format=torch.channels_last)
        h = self.features(x)
        if c is not None:
            h = torch.cat([h, c.to(h.dtype)], 1)  # under autocast h is bf16, the code c float32
        return self.head(h)


class ProductAdversary(nn.Module):
    """AVB's adversary in its authors' form, T(x, z) = <theta(x), s(z)> + T_x(x) + T_z(z) (Mescheder et al.
    2017, reference code: avb/avb/models/conv0.py `adversary`); called like a Scorer, T(x, z) -> (B,).

    What T must learn, log q(z|x) - log p(z), is an interaction of x and z plus terms in one of them:
    for a Gaussian q it is -|z - mu(x)|^2 / 2 sigma(x)^2 + |z|^2 / 2 + const(x), whose cross term
    z . mu(x) / sigma(x)^2 is an inner product. One MLP on the concatenation (x, z) has to build that
    product from LeakyReLU pieces; here it is in the form. theta and T_x share the x net (its last
    output is T_x), s and T_z the z net, each `d_hidden` wide with d_hidden[-1] features.
    """

    def __init__(self, p: NetParams, shape: tuple[int, ...], z_dim: int):
        super().__init__()
        k = p.d_hidden[-1]
        self.x_net = Scorer(p, shape, out_dim=k + 1)
        self.z_net = Scorer(p.model_copy(update={"arch": "mlp", "channels_last": False}), (z_dim,), out_dim=k + 1)

    def forward(self, x: Tensor, z: Tensor) -> Tensor:
        a, b = self.x_net(x), self.z_net(z)
        return (a[:, :-1] * b[:, :-1]).sum(1) + a[:, -1] + b[:, -1]


class _Unflatten(nn.Unflatten):
    """nn.Unflatten whose output is in channels_last when asked: the same layer index and state_dict keys."""

    def __init__(self, dim: int, sizes: tuple[int, ...], channels_last: bool):
        super().__init__(dim, sizes)
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format

    def forward(self, x: Tensor) -> Tensor:
        return super().forward(x).contiguous(memory_format=self.memory_format)


def _dcgan_generator(z_dim: int, w: int, out_act: Optional[nn.Module], channels_last: bool = False) -> nn.Sequential:
    layers: list[nn.Module] = [
        nn.Linear(z_dim, 2 * w * 7 * 7),
        nn.BatchNorm1d(2 * w * 7 * 7),
        nn.ReLU(inplace=True),
        _Unflatten(1, (2 * w, 7, 7), channels_last),  # state: (2w) x 7 x 7
        nn.ConvTranspose2d(2 * w, w, 4, 2, 1, bias=False),
        nn.BatchNorm2d(w),
        nn.ReLU(inplace=True),  # state: w x 14 x 14
        nn.ConvTranspose2d(w, 1, 4, 2, 1),  # state: 1 x 28 x 28
    ]
    if out_act is not None:
        layers.append(out_act)
    return nn.Sequential(*layers)


def _dcgan_features(w: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(1, w, 4, 2, 1),
        nn.LeakyReLU(0.2, inplace=True),  # state: w x 14 x 14
        nn.Conv2d(w, 2 * w, 4, 2, 1),
        nn.LeakyReLU(0.2, inplace=True),  # state: (2w) x 7 x 7
        nn.Flatten(),
    )


class GaussianDecoder(nn.Module):
    """p(x|z) = N(x; G(z), diag(sigma^2)), sigma a learned per-dimension vector floored at min_std.

    The floor keeps the likelihood bounded on pixels that never vary (the
    corners of a digit), where a free sigma would shrink to zero. sigma starts
    near 0.1, a tenth of the data's scale: started at 1, the reconstruction
    term is too weak against the KL and the VAE collapses its posterior onto
    the prior (KL ~ 0.03 nats on ring8, against ~3 from 0.1).
    """

    INIT_STD = 0.1

    def __init__(self, p: NetParams, shape: tuple[int, ...], images: bool, min_std: float):
        super().__init__()
        self.mean = Generator(p, shape, images)
        self.raw_log_std = nn.Parameter(torch.full(shape, math.log(self.INIT_STD)))
        self.log_min_std = math.log(min_std)

    def log_std(self) -> Tensor:
        # softplus floor: smooth, and exactly log(min_std) as raw -> -inf
        return self.log_min_std + nn.functional.softplus(self.raw_log_std - self.log_min_std)

    def forward(self, z: Tensor) -> tuple[Tensor, Tensor]:
        return self.mean(z), self.log_std()
