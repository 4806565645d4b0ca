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

from pipeline.records import EstimateVsW1  # noqa: E402
from pipeline.models.registry import MODELS  # noqa: E402

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


# What each training-log column is, for its axis (the columns are the step objects' logs, pipeline/models/core.py).
LOG_LABELS = {
    "d_loss": "discriminator loss (nats)", "js_estimate": "JS estimate (nats)", "g_loss": "generator loss",
    "critic_loss": "critic loss (critic units)", "w_estimate": "W1 estimate (critic units)",
    "adversary_loss": "adversary T loss (nats)", "elbo": "ELBO (nats / sample)", "kl": "KL term (nats / sample)",
    "recon_nll": "-log p(x|z) (nats / sample)",
}


def curves_figure(logs: dict[str, list[pd.DataFrame]], notes: dict[str, str]) -> Figure:
    """Every logged quantity of every model against generator steps, one axis each (a rolling mean
    over 5 log rows), one line per seed: rows are models, so no two quantities share a scale."""
    cols = max(len([c for c in df.columns if c not in _NOT_CURVES]) for dfs in logs.values() for df in dfs)
    fig, axes = plt.subplots(len(logs), max(cols, 1), figsize=(3.3 * max(cols, 1), 2.3 * len(logs)), squeeze=False)
    for row, (name, dfs) in zip(axes, logs.items()):
        keys = [c for c in dfs[0].columns if c not in _NOT_CURVES]
        for ax, key in zip(row, keys):
            for i, df in enumerate(dfs):
                ax.plot(df["step"], df[key].rolling(5, min_periods=1).mean(), lw=0.8, alpha=0.8,
                        color=MODELS[name].color, ls=SEED_STYLES[i % len(SEED_STYLES)])
            ax.set_title(f"{MODELS[name].label}, {len(dfs)} seeds" + (" (diverged)" if name in notes else ""),
                         fontsize=9)
            ax.set_ylabel(LOG_LABELS.get(key, key), fontsize=8)
            ax.set_xlabel("generator step", fontsize=8)
            ax.tick_params(labelsize=7)
        for ax in row[len(keys):]:
            ax.axis("off")
    fig.tight_layout()
    return fig


SEED_STYLES = ("-", "--", ":", "-.")  # one line style per seed (colour is the model's)
SEED_MARKERS = ("o", "s", "^", "D", "v", "P")


def w1_vs_compute_figure(trajectories: dict[str, list[pd.DataFrame]], floor: Optional[float],
                         floor_sd: Optional[float], baselines: dict[str, float], seconds: dict[str, float],
                         title: str) -> Figure:
    """The headline figure: exact W1 of the generator snapshots against training compute (GFLOP, log scale).
    Every model overlaid, its mean over seeds as a line and each seed as a thin one; the real-data floor at
    the snapshots' sample size (± its sampling sd) and each baseline as horizontal lines. `seconds`: each
    model's mean training wall time for the whole budget on this machine, for the legend."""
    fig, ax = plt.subplots(figsize=(7.5, 4.6))
    for name, trajs in trajectories.items():
        frames = [t for t in trajs if len(t)]
        if not frames:
            continue
        c = MODELS[name].color
        for t in frames:
            ax.plot(t["gflop"], t["w1"], color=c, lw=0.6, alpha=0.35)
        mean = pd.concat(frames).groupby("gflop")["w1"].mean()
        wall = f", {seconds[name]:.0f} s" if name in seconds else ""
        ax.plot(mean.index, mean.values, color=c, lw=1.8, marker="o", ms=2.5,
                label=f"{MODELS[name].label} (mean of {len(frames)} seeds{wall})")
    if floor:
        ax.axhline(floor, color="black", ls=":", lw=1, label="real data (floor at the snapshots' sample size)")
        if floor_sd:
            ax.axhspan(floor - floor_sd, floor + floor_sd, color="black", alpha=0.08, lw=0)
    for name, value in baselines.items():
        ax.axhline(value, color="grey", ls="--", lw=1, label=f"baseline: {name}")
    ax.set_xscale("log")
    ax.set_xlabel("training compute, GFLOP (log scale; the same points for every model)")
    ax.set_ylabel("exact W1 to the held-out split")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7.5)
    fig.tight_layout()
    return fig


def estimate_vs_w1_figure(models: dict[str, list[tuple[pd.DataFrame, pd.DataFrame, EstimateVsW1, int]]]) -> Figure:
    """For each model: its training estimate over steps (one line per seed) with the exact W1 at the
    snapshots (top), and the estimate at each snapshot against that W1, one marker per seed (bottom).
    `models[name]` = per seed (training log, snapshot table with step/w1/estimate, the correlation record, the seed).
    """
    fig, axes = plt.subplots(2, len(models), figsize=(4.4 * len(models), 6.8), squeeze=False)
    for col, (name, runs) in enumerate(models.items()):
        label = MODELS[name].estimate_label
        top, bottom = axes[0, col], axes[1, col]
        rhos = ", ".join("—" if c.spearman is None else f"{c.spearman:.2f}" for _, _, c, _ in runs)
        top.set_title(f"{MODELS[name].label}: {label}\nvs exact W1 (Spearman rho per seed: {rhos})", fontsize=9)
        right = top.twinx()
        for i, (log, traj, corr, seed) in enumerate(runs):
            ls, mk = SEED_STYLES[i % len(SEED_STYLES)], SEED_MARKERS[i % len(SEED_MARKERS)]
            if corr.estimate in log:
                top.plot(log["step"], log[corr.estimate].rolling(10, min_periods=1).mean(), color="tab:blue", lw=0.8,
                         ls=ls)
            right.plot(traj["step"], traj["w1"], color="tab:red", ms=3, marker=mk, ls=ls, lw=0.8)
            bottom.scatter(traj["estimate"], traj["w1"], c=np.log10(traj["step"].clip(lower=1)), cmap="viridis",
                           s=18, marker=mk, label=f"seed {seed}")
        top.set_xscale("log")
        top.set_xlabel("generator step (log scale)")
        top.set_ylabel(label, color="tab:blue")
        right.set_ylabel("exact W1 (held-out split)", color="tab:red")
        bottom.set_xlabel(f"{label} at snapshot")
        bottom.set_ylabel("exact W1 (colour: log step, dark = early)")
        bottom.legend(fontsize=7, title="marker", title_fontsize=7)
    fig.tight_layout()
    return fig


def mixture_density_mesh(centers: list[list[float]], std: float, margin: float = 4.0,
                         steps: int = 200) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The true mixture density (pipeline.data.datasets.mixture_log_density) on a square mesh around the centres."""
    import torch

    from pipeline.data.datasets import mixture_log_density

    c = np.asarray(centers, np.float64)
    lo, hi = c.min() - margin * std - 0.25, c.max() + margin * std + 0.25
    t = np.linspace(lo, hi, steps)
    xx, yy = np.meshgrid(t, t)
    pts = torch.from_numpy(np.stack([xx.ravel(), yy.ravel()], 1))
    p = mixture_log_density(pts, torch.from_numpy(c), std).exp().numpy().reshape(xx.shape)
    return xx, yy, p
