"""Figures: samples, training curves, and each model's training estimate against the exact W1.

Functions take arrays and tables and return a matplotlib Figure; the plot
stage decides where the PNG goes. Nothing here computes a metric.
"""

from __future__ import annotations

from typing import Optional

import matplotlib

matplotlib.use("Agg")  # files only, no display

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from .records import EstimateVsW1  # noqa: E402
from .registry import MODELS  # noqa: E402

# Training-log columns that are bookkeeping, not curves.
_NOT_CURVES = ("step",)


def _diverged(ax, note: str) -> None:
    ax.text(0.5, 0.5, note, ha="center", va="center", wrap=True, transform=ax.transAxes, color="firebrick")
    ax.set_xticks([])
    ax.set_yticks([])


def image_grid(images: np.ndarray, cols: int = 8) -> np.ndarray:
    """(N, C, H, W) in [0, 1] -> one (rows*H, cols*W) or (.., 3) array with 1-pixel gaps."""
    n, c, h, w = images.shape
    rows = -(-n // cols)
    grid = np.ones((rows * (h + 1) - 1, cols * (w + 1) - 1, c))
    for i, img in enumerate(images):
        r, q = divmod(i, cols)
        grid[r * (h + 1): r * (h + 1) + h, q * (w + 1): q * (w + 1) + w] = img.transpose(1, 2, 0)
    return grid[..., 0] if c == 1 else grid


def samples_figure(samples: dict[str, Optional[np.ndarray]], notes: dict[str, str], kind: str,
                   density: Optional[tuple[np.ndarray, np.ndarray, np.ndarray]] = None,
                   real: Optional[np.ndarray] = None) -> Figure:
    """One panel per model (plus the real data): image grids, or 2D samples over the true density.

    `density` is (xx, yy, p) on a mesh; `notes[model]` replaces a panel (a
    diverged run) and is shown in place of samples.
    """
    names = ([("real (held out)", real)] if real is not None else []) + list(samples.items())
    fig, axes = plt.subplots(1, len(names), figsize=(3.2 * len(names), 3.4), squeeze=False)
    for ax, (name, x) in zip(axes[0], names):
        ax.set_title(name)
        if name in notes:
            _diverged(ax, notes[name])
            continue
        if kind == "images":
            ax.imshow(image_grid(x), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
            ax.axis("off")
            continue
        xx, yy, p = density
        ax.contourf(xx, yy, p, levels=12, cmap="Blues")
        ax.scatter(x[:, 0], x[:, 1], s=2, c="darkorange", alpha=0.5, linewidths=0)
        lo, hi = (xx.min(), yy.min()), (xx.max(), yy.max())
        outside = np.mean((x[:, 0] < lo[0]) | (x[:, 0] > hi[0]) | (x[:, 1] < lo[1]) | (x[:, 1] > hi[1]))
        ax.set_xlim(lo[0], hi[0])
        ax.set_ylim(lo[1], hi[1])
        ax.set_aspect("equal")
        if outside > 0:
            ax.text(0.02, 0.02, f"{100 * outside:.1f}% outside view", transform=ax.transAxes, fontsize=8)
    fig.tight_layout()
    return fig


# What each training-log column is, for its axis (the columns are the step objects' logs, pipeline/models.py).
LOG_LABELS = {
    "d_loss": "discriminator loss (nats)", "js_estimate": "JS estimate (nats)", "g_loss": "generator loss",
    "critic_loss": "critic loss (critic units)", "w_estimate": "W1 estimate (critic units)",
    "adversary_loss": "adversary T loss (nats)", "elbo": "ELBO (nats / sample)", "kl": "KL term (nats / sample)",
    "recon_nll": "-log p(x|z) (nats / sample)",
}


def curves_figure(logs: dict[str, pd.DataFrame], notes: dict[str, str]) -> Figure:
    """Every logged quantity of every model against generator steps, one axis each (a rolling mean
    over 5 log rows): rows are models, so no two quantities share a scale."""
    cols = max(len([c for c in df.columns if c not in _NOT_CURVES]) for df in logs.values())
    fig, axes = plt.subplots(len(logs), max(cols, 1), figsize=(3.3 * max(cols, 1), 2.3 * len(logs)), squeeze=False)
    for row, (name, df) in zip(axes, logs.items()):
        keys = [c for c in df.columns if c not in _NOT_CURVES]
        for ax, key in zip(row, keys):
            ax.plot(df["step"], df[key].rolling(5, min_periods=1).mean(), lw=1, color=MODELS[name].color)
            ax.set_title(f"{MODELS[name].label}" + (" (diverged)" if name in notes else ""), fontsize=9)
            ax.set_ylabel(LOG_LABELS.get(key, key), fontsize=8)
            ax.set_xlabel("generator step", fontsize=8)
            ax.tick_params(labelsize=7)
        for ax in row[len(keys):]:
            ax.axis("off")
    fig.tight_layout()
    return fig


def estimate_vs_w1_figure(models: dict[str, tuple[pd.DataFrame, pd.DataFrame, EstimateVsW1]]) -> Figure:
    """For each model: its training estimate over steps with the exact W1 at the snapshots
    (top), and the estimate at each snapshot against that W1 (bottom), r in the title.

    `models[name]` = (training log, snapshot table with step/w1/estimate, the correlation record).
    """
    fig, axes = plt.subplots(2, len(models), figsize=(4.2 * len(models), 6.4), squeeze=False)
    for col, (name, (log, traj, corr)) in enumerate(models.items()):
        key, label = corr.estimate, MODELS[name].estimate_label
        top, bottom = axes[0, col], axes[1, col]
        r, rho = corr.pearson, corr.spearman
        stats = "r, rho undefined" if r is None else f"Pearson r = {r:.2f}, Spearman rho = {rho:.2f}"
        top.set_title(f"{MODELS[name].label}: {label}\nvs exact W1 ({stats})", fontsize=9)
        if key in log:
            top.plot(log["step"], log[key].rolling(10, min_periods=1).mean(), color="tab:blue", lw=1)
        top.set_xlabel("generator step")
        top.set_ylabel(label, color="tab:blue")
        right = top.twinx()
        right.plot(traj["step"], traj["w1"], "o-", color="tab:red", ms=4)
        right.set_ylabel("exact W1 (held-out split)", color="tab:red")
        bottom.scatter(traj["estimate"], traj["w1"], c=traj["step"], cmap="viridis", s=25)
        bottom.set_xlabel(f"{label} at snapshot")
        bottom.set_ylabel("exact W1 (colour: step, dark = early)")
    fig.tight_layout()
    return fig


def mixture_density_mesh(centers: list[list[float]], std: float, margin: float = 4.0,
                         steps: int = 200) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The true mixture density (pipeline.data.mixture_log_density) on a square mesh around the centres."""
    import torch

    from .data import mixture_log_density

    c = np.asarray(centers, np.float64)
    lo, hi = c.min() - margin * std - 0.25, c.max() + margin * std + 0.25
    t = np.linspace(lo, hi, steps)
    xx, yy = np.meshgrid(t, t)
    pts = torch.from_numpy(np.stack([xx.ravel(), yy.ravel()], 1))
    p = mixture_log_density(pts, torch.from_numpy(c), std).exp().numpy().reshape(xx.shape)
    return xx, yy, p
