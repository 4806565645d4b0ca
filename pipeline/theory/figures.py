"""The theory parts' figures, drawn from their records (and, for energy and avb_toy, the maps / draws
that the records leave out).

Each function returns a matplotlib Figure; `save_png` writes it atomically.
"""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from pipeline import io  # noqa: E402
from pipeline.records import AblationResult, AvbToyResult, EnergyResult, LinesResult, MeaningfulResult, VanishingResult  # noqa: E402

COLORS = {"wgan": "tab:blue", "minimax": "tab:red", "nonsaturating": "tab:orange", "gan": "tab:red"}


def save_png(fig, path: Path, dpi: int = 110) -> None:
    io.write_png(Path(path), fig, dpi=dpi)


def lines_distances(d: LinesResult):
    """Analytic W1 / JS / KL against theta, and the learned estimates (WGAN Example 1 / Figure 1)."""
    th = np.array(d.thetas)
    fine = np.linspace(-1, 1, 401)
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    ax = axes[0]
    ax.plot(fine, np.abs(fine), "k-", label="W1 = |theta| (analytic)")
    ax.plot(th, d.w1_gp, "o", color="tab:blue", label="critic, gradient penalty")
    ax.plot(th, np.array(d.w1_clip) / d.clip_scale, "s", mfc="none", color="tab:green",
            label=f"clipped critic / K (K = {d.clip_scale:.2g})")
    ax.set(xlabel="theta", title="Earth-mover distance")
    ax.legend(fontsize=7)
    ax = axes[1]
    for side in (fine[fine < 0], fine[fine > 0]):  # log 2 on each side, 0 only at theta = 0
        ax.plot(side, np.full(len(side), math.log(2)), "k-", label="JS (analytic)" if side[0] < 0 else None)
    ax.plot([0], [0], "ko")
    ax.plot(th, d.js_gan, "o", color="tab:red", label="(L(D) + log 4) / 2, trained D")
    ax.axhline(math.log(2), ls=":", color="gray")
    ax.set(xlabel="theta", title="Jensen-Shannon divergence (nats)")
    ax.legend(fontsize=7)
    ax = axes[2]
    for side in (fine[fine < 0], fine[fine > 0]):
        ax.plot(side, np.ones(len(side)), "k-")
    ax.plot([0], [0], "ko")
    ax.set_yticks([0, 1], ["0", "+inf"])
    ax.set(xlabel="theta", title="KL(P_theta || P_0)")
    fig.tight_layout()
    return fig


def lines_demo(d: LinesResult):
    """theta and |dL_G/dtheta| along training of g_theta(z) = (theta, z), per generator loss."""
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 3.6))
    for name, run in d.demos.items():
        a.plot(run.thetas, color=COLORS.get(name), label=name)
        b.semilogy(np.arange(1, len(run.grad_norms) + 1), np.maximum(run.grad_norms, 1e-30), color=COLORS.get(name), label=name)
    a.axhspan(-0.05, 0.05, color="gray", alpha=0.2, label="|theta| < 0.05")
    a.set(xlabel="generator step", ylabel="theta", title="theta from 1 (optimum 0)")
    b.set(xlabel="generator step", ylabel="|dL_G / dtheta|", title="generator gradient")
    a.legend(fontsize=7)
    b.legend(fontsize=7)
    fig.tight_layout()
    return fig


def vanishing(d: VanishingResult):
    """WGAN Figure 2 (D and critic over x) and Arjovsky & Bottou Figure 2 (gradient norms vs D steps)."""
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 3.8))
    x = np.array(d.x)
    for (m, s), lab, c in ((d.real, "real", "tab:green"), (d.fake, "fake", "tab:purple")):
        a.fill_between(x, np.exp(-0.5 * ((x - m) / s) ** 2), color=c, alpha=0.25, label=f"{lab} density (scaled)")
    a.plot(x, d.d_of_x, color="tab:red", label="GAN discriminator D(x)")
    f = np.array(d.f_of_x)
    span = f.max() - f.min()
    a.plot(x, (f - f.min()) / (span if span > 0 else 1), color="tab:blue", label="WGAN critic (rescaled to [0, 1])")
    a.set(xlabel="x", title="after the last D / critic step")
    a.legend(fontsize=7)
    for key, lab, c in (("grad_minimax", "minimax log(1 - D)", "tab:red"), ("grad_nonsaturating", "-log D", "tab:orange"),
                        ("grad_wgan", "WGAN -f", "tab:blue")):
        b.loglog(d.steps, np.maximum(getattr(d, key), 1e-30), "o-", color=c, label=lab)
    b.set(xlabel="discriminator / critic steps", ylabel="||grad_theta L_G||", title="generator gradient norm")
    b.legend(fontsize=7)
    fig.tight_layout()
    return fig


def meaningful(d: MeaningfulResult):
    """WGAN Figures 3 / 4: each run's training estimate next to the exact W1 of its samples."""
    runs = d.runs
    fig, axes = plt.subplots(1, len(runs), figsize=(5.5 * len(runs), 3.6))
    for ax, (name, r) in zip(np.atleast_1d(axes), runs.items()):
        steps = [row["step"] for row in r.rows]
        ax.plot(steps, [row[r.estimate_key] for row in r.rows], color=COLORS.get(name), alpha=0.6,
                label=r.estimate_key.replace("_", " "))
        ax.set(xlabel="generator step", ylabel=r.estimate_key, xscale="log", title=name)
        ax2 = ax.twinx()
        ax2.plot([c.step for c in r.checkpoints], [c.w1 for c in r.checkpoints], "ko-", label="exact W1 of samples")
        ax2.axhline(d.w1_floor, ls=":", color="gray", label="W1 floor (two real samples)")
        ax2.set_ylabel("exact W1")
        h1, l1 = ax.get_legend_handles_labels()
        h2, l2 = ax2.get_legend_handles_labels()
        ax.legend(h1 + h2, l1 + l2, fontsize=7)
    fig.tight_layout()
    return fig


def energy(d: EnergyResult, maps):
    """log p_real on the grid next to each final critic (`maps`: energy.EnergyMaps)."""
    fig, axes = plt.subplots(1, 1 + len(d.runs), figsize=(4.2 * (1 + len(d.runs)), 3.8))
    ext = [maps.xs[0], maps.xs[-1], maps.ys[0], maps.ys[-1]]
    lp = np.maximum(np.array(maps.log_p), np.percentile(maps.log_p, 5))
    im = axes[0].imshow(lp, origin="lower", extent=ext, cmap="viridis")
    axes[0].set_title("log p_real(x) (floored at 5th pct)")
    fig.colorbar(im, ax=axes[0], fraction=0.046)
    for ax, (name, r) in zip(axes[1:], d.runs.items()):
        im = ax.imshow(np.array(maps.critics[name]), origin="lower", extent=ext, cmap="viridis")
        rho = r.final.all if r.final else math.nan
        ax.set_title(f"critic f(x), {name}" + (f": Spearman {rho:.2f}" if math.isfinite(rho) else ""))
        fig.colorbar(im, ax=ax, fraction=0.046)
    fig.tight_layout()
    return fig


def avb_toy(d: AvbToyResult, posteriors: dict[str, list]):
    """AVB Figure 2: draws of q(z|x) (`posteriors`: model -> (4, n, 2)), one colour per data point."""
    fig, axes = plt.subplots(1, 2, figsize=(9, 4.3))
    colors = ["tab:blue", "tab:orange", "tab:green", "tab:red"]
    for ax, name in zip(axes, ("avb", "vae")):
        for i, pts in enumerate(posteriors[name]):
            pts = np.array(pts)
            ax.scatter(pts[:, 0], pts[:, 1], s=3, alpha=0.5, color=colors[i], label=f"x = e{i + 1}")
        ax.add_patch(plt.Circle((0, 0), 2, fill=False, ls=":", color="gray"))
        ax.set(xlim=(-3.5, 3.5), ylim=(-3.5, 3.5), aspect="equal", xlabel="z1", ylabel="z2",
               title=f"{name.upper()}: log p(x) = {getattr(d, name).mean:.3f}")
    axes[0].legend(fontsize=7, markerscale=3)
    fig.tight_layout()
    return fig


def ablation(r: AblationResult):
    """Part 5: each row's final exact W1 (left) and the spread of its critic's estimate (right)."""
    names = list(r.rows)
    y = np.arange(len(names))
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 0.45 * len(names) + 1.6), sharey=True)
    w1 = [r.rows[n].w1 for n in names]
    rel = [r.rows[n].w_rel_std for n in names]
    a.barh(y, np.nan_to_num(w1, nan=0.0), color="tab:blue")
    a.set(yticks=y, yticklabels=names, xlabel="exact W1 of the final generator (lower is better)",
          title=f"after {r.steps} generator steps")
    b.barh(y, np.nan_to_num(rel, nan=0.0), color="tab:gray")
    b.set(xlabel="std / |mean| of the critic's W estimate, last steps", title="stability of the estimate")
    for ax, vals in ((a, w1), (b, rel)):
        for yi, v in zip(y, vals):
            ax.text(0 if not math.isfinite(v) else v, yi, " diverged" if not math.isfinite(v) else f" {v:.3g}",
                    va="center", fontsize=8)
    a.invert_yaxis()
    fig.tight_layout()
    return fig
