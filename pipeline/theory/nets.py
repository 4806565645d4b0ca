"""Small nets for the theory parts: an ensemble MLP that trains one critic per theta in a single call."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn


class Squeeze(nn.Module):
    """(B, 1) -> (B,): scores and logits are one number per sample."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x).squeeze(-1)


class EnsembleMLP(nn.Module):
    """E independent MLPs evaluated in one batched matmul: x (E, B, d_in) -> (E, B) for out 1.

    Same layout as ``pipeline.models.nets.mlp`` (Linear, LeakyReLU(0.2) between
    layers) and nn.Linear's initialisation, U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
    The members share no parameter, so the sum of their losses trains each
    one exactly as alone (Adam and RMSProp act elementwise; clipping too).
    Used to fit one critic per grid point of theta without a Python loop.
    """

    def __init__(self, members: int, sizes: list[int]):
        super().__init__()
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        for a, b in zip(sizes[:-1], sizes[1:]):
            bound = 1 / math.sqrt(a)
            self.weights.append(nn.Parameter(torch.empty(members, a, b).uniform_(-bound, bound)))
            self.biases.append(nn.Parameter(torch.empty(members, 1, b).uniform_(-bound, bound)))

    def forward(self, x: Tensor) -> Tensor:
        h = x  # (E, B, d_in)
        last = len(self.weights) - 1
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            h = torch.baddbmm(b, h, w)  # (E, B, d_out)
            if i < last:
                h = nn.functional.leaky_relu(h, 0.2)
        return h.squeeze(-1)
