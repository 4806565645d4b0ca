"""reports/theory.md, rendered from the parts' records (metrics/theory/<part>.json).

Every sentence that states a result is built from the numbers it states, and
says so when a claim fails; nothing here trains or samples, and the headline
numbers are the records' own `metrics()`.
"""

from __future__ import annotations

import math
from typing import Optional

from ..records import (
    AblationResult,
    AvbToyResult,
    EnergyResult,
    LinesResult,
    MeaningfulResult,
    Record,
    RunTrace,
    TheorySeeds,
    VanishingResult,
)
from ..seedstats import spread

DASH = "—"

LOG2 = math.log(2.0)
TARGET = 0.05  # |theta| the WGAN demo must reach
CMD = "python -m stages theory"
CONSTRAINTS = {"clip": "weight clipping", "gp": "gradient penalty", "sn": "spectral normalisation"}


def _f(v: Optional[float], digits: int = 3) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "n/a"
    if v != 0 and (abs(v) < 10 ** -digits or abs(v) >= 1e4):
        return f"{v:.{digits - 1}e}"
    return f"{v:.{digits}f}"


def _ok(v: Optional[float]) -> bool:
    return v is not None and math.isfinite(v)


def _first_below(values: list[float], bound: float) -> Optional[int]:
    return next((i for i, v in enumerate(values) if abs(v) < bound), None)


def _lines(d: LinesResult) -> str:
    rows = "\n".join(
        f"| {t:+.2f} | {abs(t):.3f} | {'log 2' if t else '0'} | {'+inf' if t else '0'} | {g:.3f} | {c:.2e} | {j:.4f} |"
        for t, g, c, j in zip(d.thetas, d.w1_gp, d.w1_clip, d.js_gan)
    )
    ok_w1 = d.w1_rel_error_max <= 0.1
    text = [
        "## 1. Parallel lines (WGAN, Example 1)",
        "",
        "P_0 = (0, Z), P_theta = (theta, Z), Z ~ U[0, 1]. Analytic: W1 = |theta|; JS = log 2 and KL = +inf for every "
        "theta != 0, both 0 at theta = 0. Learned: one critic (or discriminator) per grid point.",
        "",
        "![distances](theory/lines/lines.png)",
        "",
        "| theta | W1 (analytic) | JS (analytic) | KL (analytic) | critic, GP | critic, clip | JS from trained D |",
        "|---:|---:|---:|---:|---:|---:|---:|",
        rows,
        "",
        f"- The gradient-penalty critic's estimate is within {100 * d.w1_rel_error_max:.1f}% of |theta| at every "
        f"grid point with |theta| >= 0.2 ({'meets' if ok_w1 else 'misses'} the 10% target; `w1_rel_error_max` = "
        f"{_f(d.w1_rel_error_max)}).",
        f"- The clipped critic estimates K |theta| with K = {_f(d.clip_scale, 4)}; its largest deviation from K |theta| "
        f"(|theta| >= 0.2) is {100 * d.clip_rel_error_max:.0f}%: "
        + ("it tracks |theta| up to scale." if d.clip_rel_error_max <= 0.1 else
           "only roughly linear, a clipped net trains slowly towards its (scaled) optimum."),
        f"- The discriminator's JS estimate is at least {_f(d.js_min_nonzero, 4)} for every theta != 0 "
        f"(log 2 = {LOG2:.4f}): it saturates however close the lines are, and carries no information about theta.",
    ]
    return "\n".join(text + _lines_demo(d))


def _lines_demo(d: LinesResult) -> list[str]:
    w, gan = d.demos["wgan"], d.demos["minimax"]
    reached_w = abs(w.theta_final) < TARGET
    reached_g = abs(gan.theta_final) < TARGET
    first_w = _first_below(w.thetas, TARGET)
    text = [
        "",
        "**Learning demo.** g_theta(z) = (theta, z) from theta = 1, plain SGD on theta "
        f"({len(w.grad_norms)} steps, learning rate decaying to 0), the critic / discriminator warmed up then trained between steps.",
        "",
        "![demo](theory/lines/lines_demo.png)",
        "",
        "| generator loss | final theta | first step with abs(theta) < 0.05 | gradient at step 1 | gradient at the last step |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, r in d.demos.items():
        first = _first_below(r.thetas, TARGET)
        text.append(f"| {name} | {r.theta_final:+.4f} | {first if first is not None else 'never'} | "
                    f"{r.grad_norms[0]:.2e} | {r.grad_norms[-1]:.2e} |")
    text += [
        "",
        f"- WGAN: final |theta| = {abs(w.theta_final):.3f} "
        + (f"< {TARGET} (the claim holds; first below at step {first_w})." if reached_w else
           f"which is NOT below {TARGET}: the claim fails at these settings"
           + (f" (it passed below at step {first_w} but did not stay)." if first_w is not None else ".")),
        f"- Minimax GAN: final theta = {gan.theta_final:.3f}"
        + (f", never below {TARGET}; its gradient fell from {gan.grad_norms[0]:.1e} to {gan.grad_norms[-1]:.1e} "
           "as the discriminator saturated (the claim holds)." if not reached_g else
           f", below {TARGET}: the minimax GAN got there too, so the contrast claimed does NOT show at these settings."),
    ]
    if "nonsaturating" in d.demos:
        ns = d.demos["nonsaturating"]
        text.append(f"- For comparison, the -log D loss ends at theta = {ns.theta_final:+.3f}; its gradient does not "
                    f"vanish (last {ns.grad_norms[-1]:.1e}) but it is not a distance's gradient either (see part 2).")
    return text


def _vanishing(d: VanishingResult) -> str:
    mm = d.last_over_max(d.grad_minimax)
    wr = d.last_over_max(d.grad_wgan)
    ns = d.grad_nonsaturating
    rows = "\n".join(f"| {s} | {_f(d.js_estimate[i], 4)} | {d.grad_minimax[i]:.2e} | {ns[i]:.2e} | {d.grad_wgan[i]:.2e} |"
                     for i, s in enumerate(d.steps))
    return "\n".join([
        "## 2. Vanishing gradients (Arjovsky & Bottou 2017; WGAN Figure 2)",
        "",
        f"Real N({d.real[0]}, {d.real[1]}^2) against a fixed generator x = {d.fake[0]} + {d.fake[1]} z. "
        "The discriminator and the critic train from scratch; at log-spaced steps, the norm of the generator's gradient "
        "(w.r.t. its mean and scale) under each loss.",
        "",
        "![vanishing](theory/vanishing/vanishing.png)",
        "",
        "| D / critic steps | JS estimate | minimax | -log D | WGAN |",
        "|---:|---:|---:|---:|---:|",
        rows,
        "",
        f"- Minimax: the last gradient is {_f(mm, 4)} of its largest value"
        + (" : it vanishes as D approaches optimality (Theorem 2.4 holds)." if _ok(mm) and mm < 1e-2 else
           " : it has not vanished by two orders of magnitude at these settings (the claim is not shown here)."),
        f"- -log D: the gradient went from {ns[0]:.2e} to {ns[-1]:.2e}"
        + (" : it grows as D sharpens (not vanishing, but unbounded; Arjovsky & Bottou Theorem 2.5 add that it is "
           "unstable)." if ns[-1] > ns[0] else " : it did not grow here."),
        f"- WGAN: the last gradient is {_f(wr, 3)} of its largest value: "
        + ("it stays of the same order however long the critic trains (the critic is near linear between the bumps)."
           if _ok(wr) and wr > 0.3 else "it shrank too, so the WGAN side of the claim is NOT shown at these settings."),
    ])


def _corr(r: RunTrace) -> str:
    if not _ok(r.spearman):
        return "undefined (a constant series)"
    return f"Spearman {r.spearman:+.2f}, Pearson {_f(r.pearson, 2)}"


def _meaningful(d: MeaningfulResult) -> str:
    w, g = d.runs["wgan"], d.runs["gan"]
    w_ok = _ok(w.spearman) and w.spearman >= 0.5
    g_ok = not _ok(g.spearman) or g.spearman < 0.5
    rows = [f"| {name} | {c.step} | {_f(c.estimate, 4)} | {c.w1:.3f} |" for name, r in d.runs.items() for c in r.checkpoints]
    return "\n".join([
        "## 3. A meaningful loss (WGAN Figures 3 and 4)",
        "",
        "A WGAN (clipped critic, the paper's setting) and a GAN train on the 2D mixture; at log-spaced checkpoints "
        "the exact W1 between 500 generator samples and 500 held-out real samples (POT, network simplex) is set "
        f"against the training estimate at that step. Two real samples are at W1 = {d.w1_floor:.3f} (the floor). "
        "FID does not apply to 2-D points.",
        "",
        "![meaningful](theory/meaningful/meaningful.png)",
        "",
        f"- WGAN critic estimate vs exact W1: {_corr(w)}; "
        + ("the loss tracks sample quality (the claim holds)." if w_ok else
           "weaker than the paper's curves suggest: the claim holds only partly at this run length."),
        f"- GAN JS estimate vs exact W1: {_corr(g)}; "
        + ("it does not track sample quality (as WGAN Figure 4 says)." if g_ok else
           "it tracks W1 in this run, against the paper's Figure 4."),
        "",
        "| run | step | training estimate | exact W1 |",
        "|---|---:|---:|---:|",
        *rows,
    ])


def _energy(d: EnergyResult) -> str:
    main = d.runs[d.main]
    rows = [f"| {name} | {c.step} | {_f(c.all, 3)} | {_f(c.near, 3)} | {_f(c.far, 3)} | {c.w1:.3f} |"
            for name, r in d.runs.items() for c in r.checkpoints]
    fin = main.final
    peak = max((c.all for c in main.checkpoints if _ok(c.all)), default=None)
    text = [
        "## 4. The energy view: is the critic log p_real?",
        "",
        f"Critics trained with their generators on the 2D mixture, compared with the known log-density on a "
        f"{d.grid} x {d.grid} grid; 'near' = within a few std of a mode ({100 * d.near_fraction:.0f}% of the grid).",
        "",
        "![energy](theory/energy/energy.png)",
        "",
        "| run | step | Spearman, all | near modes | far | exact W1 |",
        "|---|---:|---:|---:|---:|---:|",
        *rows,
        "",
        f"- `spearman` ({d.main} run, final) = {_f(fin.all if fin else None)}"
        + (": the critic ranks the grid like log p_real only weakly, so the energy reading largely fails here."
           if fin is None or not _ok(fin.all) or fin.all < 0.5 else ": a clear rank agreement with log p_real."),
    ]
    for name, r in d.runs.items():
        c = r.checkpoints
        if len(c) >= 2 and c[-1].w1 > c[0].w1:
            text.append(f"- The {name} run's generator moved away from the data (W1 {c[0].w1:.3f} -> {c[-1].w1:.3f}); "
                        "its critic answers that generator, not the data, and is no guide to log p_real.")
    if fin is not None and _ok(fin.near) and _ok(fin.far):
        text.append(
            f"- Near the modes the rank agreement is {_f(fin.near)}, far from them {_f(fin.far)}: "
            + ("the critic orders points like the density mostly through the coarse 'close to the data or not' signal, "
               "not within the modes." if fin.near < fin.far else "closer agreement within the modes than far away.")
        )
    if peak is not None and fin is not None and _ok(fin.all):
        text.append(
            f"- Along training the agreement peaked at {_f(peak)} and ends at {_f(fin.all)}"
            + (": it fades as the generator approaches the data, as expected when the optimal critic flattens."
               if fin.all < peak - 0.05 else ": it did not fade by the end of this run.")
        )
    finals = {n: (r.final.all if r.final else None) for n, r in d.runs.items()}
    text.append("- By constraint: " + ", ".join(f"{n} {_f(v)}" for n, v in finals.items())
                + ". A critic is a log-density only in rank, only near the data, and only while P_g and P_r still differ; "
                "the claim does not hold as stated where any of those fail.")
    return "\n".join(text)


def _setting(run: dict) -> str:
    opt = f"Adam({run['beta1']}, {run['beta2']})" if run["optimizer"] == "adam" else "RMSProp"
    how = CONSTRAINTS[run["constraint"]] + (f" c={run['clip']}" if run["constraint"] == "clip" else "")
    return f"{opt}, {how}"


def _ablation(d: AblationResult) -> str:
    rows = [f"| {name} | {_setting(r.run)} | {_f(r.w1)} | {_f(r.w_final, 3)} | {_f(r.w_std, 3)} | "
            f"{_f(r.w_rel_std, 2)} | {_f(r.corr_w_w1, 2)} | {_f(r.lipschitz, 3)} | "
            f"{_f(r.energy_spearman, 2)} | `{CMD} ablation --row {name}` |" for name, r in d.rows.items()]
    ok = {n: r for n, r in d.rows.items() if r.status == "ok" and _ok(r.w1)}
    best = min(ok, key=lambda n: ok[n].w1) if ok else None
    stable = min(ok, key=lambda n: ok[n].w_rel_std if _ok(ok[n].w_rel_std) else math.inf) if ok else None
    text = [
        "## 5. Optimiser and Lipschitz ablations (WGAN critic)",
        "",
        f"Each row trains the pipeline's WGAN for {d.steps} generator steps on the mixture from the same seed; only its "
        "named setting differs. The critic is kept Lipschitz by weight clipping to [-c, c] (the paper's Algorithm 1), "
        "by a gradient penalty on real-fake interpolates (Gulrajani et al. 2017) or by spectral normalisation of every "
        "layer (Miyato et al. 2018). W1: exact, final generator. W est.: the critic's estimate over the last "
        f"{100 * d.last_fraction:.0f}% of steps, its std and std/|mean| (stability; the scale is the critic's K). "
        "corr: Pearson of the estimate with exact W1 at log-spaced checkpoints. K: largest input-gradient norm of "
        "the final critic on real-fake interpolates. FID does not apply to 2-D points. The command beside a row "
        "retrains that row alone and prints the same numbers (`dvc exp run -S 'theory.ablation.rows.<name>.clip=...'` "
        "changes a row).",
        "",
        "![ablation](theory/ablation/ablation.png)",
        "",
        "| row | setting | W1 | W est. | std | std/mean | corr(W est., W1) | K | Spearman(f, log p) | command |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---|",
        *rows,
        "",
    ]
    if best:
        text.append(f"- Lowest W1: {best} ({_f(ok[best].w1)}); most stable estimate: {stable}.")
    rms, adam = ok.get("rmsprop_clip0.01"), ok.get("adam_clip0.01")
    if rms and adam:
        text.append(
            f"- RMSProp vs Adam (clip 0.01): W1 {_f(rms.w1)} vs {_f(adam.w1)}, relative spread "
            f"{_f(rms.w_rel_std, 2)} vs {_f(adam.w_rel_std, 2)}: "
            + ("Adam is worse on both, as the paper reports." if adam.w1 > rms.w1 and adam.w_rel_std > rms.w_rel_std
               else "the paper's claim that Adam destabilises the critic does not show clearly here.")
        )
    if best:
        poor = [n for n, r in ok.items() if r.w1 > 2 * ok[best].w1]
        if poor:
            text.append(f"- Over twice the best W1 at the end: {', '.join(poor)}: at these settings the generator "
                        "did not settle (a failure of that setting here, not a general verdict).")
    diverged = [n for n, r in d.rows.items() if r.status != "ok"]
    if diverged:
        text.append(f"- Diverged: {', '.join(diverged)}.")
    return "\n".join(text)


def _avb_toy(d: AvbToyResult) -> str:
    a, v = d.avb, d.vae
    text = [
        "## 6. AVB toy example (Mescheder et al. 2017, section 6.1)",
        "",
        "Four 2x2 one-hot images, a 2-D latent, Bernoulli decoders. log p(x) by importance sampling with the prior as "
        "proposal (and a 2-D quadrature of the same integral as a check); the optimum is -log 4 = "
        f"{d.optimum:.3f}.",
        "",
        "![avb toy](theory/avb_toy/avb_toy.png)",
        "",
        "| model | log p(x), IS | MC std. error | quadrature | training ELBO | per image |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for name, r in (("AVB", a), ("VAE", v)):
        text.append(f"| {name} | {r.mean:.4f} | {r.mc_stderr:.4f} | {r.quadrature:.4f} | "
                    f"{d.elbo[name.lower()]:.4f} | {', '.join(f'{x:.3f}' for x in r.per_point)} |")
    text += ["", f"- AVB is {a.mean - v.mean:+.3f} nats from the VAE and {a.mean - d.optimum:+.3f} from the optimum"
             + ("; AVB gets closer to -log 4, as the paper reports." if a.mean > v.mean else
                "; AVB does NOT beat the VAE here, against the paper.")]
    for name, r in (("AVB", a), ("VAE", v)):
        if r.mean - d.optimum > 3 * r.mc_stderr:
            text.append(f"- {name}'s estimate is above the optimum by more than 3 standard errors: an estimator problem.")
    if d.elbo["avb"] > d.optimum:
        text.append(f"- AVB's training ELBO ({d.elbo['avb']:.3f}) is above -log 4, which no true lower bound can be: "
                    "T(x, z) underestimates the KL term, so AVB's training objective is not a bound; the likelihood "
                    "above is measured from the decoder alone.")
    return "\n".join(text)


SECTIONS = {"lines": _lines, "vanishing": _vanishing, "meaningful": _meaningful, "energy": _energy,
            "ablation": _ablation, "avb_toy": _avb_toy}


def _over_seeds(seeds: dict[str, TheorySeeds]) -> str:
    """Every part's headline numbers, per seed and as mean ± std: the spread behind the text above."""
    out = ["## Over seeds", "",
           "The text and figures above are the first seed's runs. Every headline number of every part, for each "
           "seed in params `seeds` (the same code and settings, another initialisation and other draws), and its "
           "mean ± sample standard deviation. A verdict above that the spread crosses is not settled by these runs.",
           ""]
    for part, ts in seeds.items():
        out += [f"**{part}** (seeds {', '.join(map(str, ts.seeds))})", "",
                "| metric | " + " | ".join(f"seed {x}" for x in ts.seeds) + " | mean ± std |",
                "|---|" + "---:|" * (len(ts.seeds) + 1)]
        for key, vals in ts.metrics.items():
            sp = spread(vals)
            cell = DASH if not sp.n else (f"{_f(sp.mean)} ± {_f(sp.std)}" + (f" (n={sp.n})" if sp.n < len(vals) else ""))
            out.append(f"| {key} | " + " | ".join(_f(v) for v in vals) + f" | {cell} |")
        out.append("")
    return "\n".join(out).rstrip()


def render(records: dict[str, Record], seeds: Optional[dict[str, TheorySeeds]] = None) -> str:
    """The whole report from every part's record (keys: SECTIONS)."""
    seconds = {p: r.seconds for p, r in records.items()}
    head = [
        "# The papers' claims, reproduced",
        "",
        "Written by `dvc repro` (stages `theory_*`; settings in `params.yaml` under `theory:`). Every number and "
        "every verdict below is computed by the pipeline. Rerun one part with `python -m stages theory <part>` "
        "then `python -m stages theory report`.",
        "",
        "Each part runs once per seed; the sections show the first seed's run, and [Over seeds](#over-seeds) "
        "gives every headline number for every seed with its mean ± std. Seconds are the whole stage (all seeds).",
        "",
        "| part | command | seconds |",
        "|---|---|---:|",
        *[f"| {p} | `{CMD} {p.replace('_', '-')}` | {_f(s, 1)} |" for p, s in seconds.items()],
        f"| all | | {sum(seconds.values()):.1f} |",
    ]
    parts = ["\n".join(head), *(SECTIONS[p](records[p]) for p in SECTIONS)]
    if seeds:
        parts.append(_over_seeds(seeds))
    return "\n\n".join(parts) + "\n"
