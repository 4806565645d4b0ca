"""Markdown reports rendered from other stages' outputs.

Every sentence of a report's reading is computed from the numbers it sits
beside: which model is lowest, how far from the real-data floor, whether two
estimates are further apart than their standard errors. There is no fixed
prose that a new run could contradict. Diverged runs are shown as diverged,
never as numbers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Optional

import yaml

from pipeline.reporting import findings
from pipeline.evaluation.convergence import STATES
from pipeline.records import EvalRecord, Measurement, RealRecord, SampleScores, TrainRecord
from pipeline.models.registry import MODELS
from pipeline.reporting.seedstats import Paired, Spread, paired_test, spread

DASH = "—"  # not applicable to this model / data set


@dataclass
class ModelResult:
    """One model's runs on one data set, one per seed (same seeds, same order for every model)."""

    runs: list[EvalRecord]
    trains: list[TrainRecord]

    @property
    def name(self) -> str:
        return self.runs[0].model

    @property
    def ok_runs(self) -> list[EvalRecord]:
        return [r for r in self.runs if r.ok and r.scores is not None]

    @property
    def ok(self) -> bool:
        """At least one seed has numbers."""
        return bool(self.ok_runs)

    @property
    def eval(self) -> EvalRecord:
        """The first run with numbers (for what every run shares: sample sizes, features, devices)."""
        return (self.ok_runs or self.runs)[0]

    def per_seed(self, key: str) -> dict[int, Optional[float]]:
        """seed -> the metric (EvalRecord.metrics() keys), None where that run has none."""
        return {r.seed: r.metrics().get(key) for r in self.runs}

    def spread(self, key: str) -> Spread:
        return spread(list(self.per_seed(key).values()))

    def states(self) -> str:
        """'settled 2, still improving 1': the runs' states at the budget."""
        return findings.describe_states(findings.state_counts(self.runs))


@dataclass
class DatasetResults:
    name: str
    kind: str  # "points" or "images"
    models: list[ModelResult]
    real: RealRecord
    figures: list[str] = field(default_factory=list)  # paths relative to the report file
    alpha: float = 0.05  # significance level of the paired tests (Holm-corrected per metric)
    rtol: float = 0.1  # eval.settle_rtol, for the criterion's description
    lr_schedule: str = "constant"  # train.lr_schedule, every model's

    @property
    def runs(self) -> dict[str, list[EvalRecord]]:
        return {r.name: r.runs for r in self.models}

    @property
    def n_seeds(self) -> int:
        return len(self.models[0].runs) if self.models else 0


# --- formatting ------------------------------------------------------------------


def fmt(v: Optional[float], digits: int = 3) -> str:
    """Significant digits, no exponent for everyday magnitudes."""
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return DASH
    if isinstance(v, int):
        return str(v)
    if v != 0 and (abs(v) >= 1e5 or abs(v) < 1e-3):
        return f"{v:.{digits - 1}e}"
    return f"{v:.{digits}g}" if abs(v) < 10 ** digits else f"{v:.0f}"


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


# --- the comparison table -------------------------------------------------------------


def ms(sp: Spread, digits: int = 3, total: Optional[int] = None) -> str:
    """'mean ± std', and the n behind it when fewer than `total` seeds had a value."""
    if sp.n == 0:
        return DASH
    out = f"{fmt(sp.mean, digits)} ± {fmt(sp.std, 2)}" if sp.n > 1 else fmt(sp.mean, digits)
    return out + (f" (n={sp.n})" if total is not None and sp.n < total else "")


@dataclass(frozen=True)
class Column:
    header: str
    cell: Callable[[ModelResult], str]  # for a model with at least one run that did not diverge
    ref: Callable[[SampleScores, RealRecord], str]  # for the real-data floor and the baseline rows
    applies: Callable[[DatasetResults], bool] = lambda d: True


def _inception_cell(r: ModelResult, notes: list[str]) -> str:
    sp = r.spread("fid_inception")
    if sp.n:
        return ms(sp, total=len(r.runs))
    reason = r.eval.how.inception.reason if r.eval.how and r.eval.how.inception else ""
    if reason not in notes:
        notes.append(reason)
    return f"unavailable [{notes.index(reason) + 1}]"


LOW_ESS = 0.10  # an importance-sampled estimate with a smaller effective sample size is flagged


def _loglik_cell(r: ModelResult) -> str:
    lls = [x.likelihood for x in r.ok_runs if x.likelihood is not None]
    if not lls:
        return DASH
    low = sum(ll.ess_fraction < LOW_ESS for ll in lls)
    flag = f" (ESS under {fmt(100 * LOW_ESS, 2)}% of K in {low}/{len(lls)} seeds: unreliable)" if low else ""
    return ms(r.spread("loglik"), total=len(r.runs)) + flag


def _elbo_cell(r: ModelResult) -> str:
    """The VAE's ELBO is a bound; AVB's uses the adversary T for log q - log p and is only an estimate."""
    if not any(x.likelihood for x in r.ok_runs):
        return DASH
    return f"{ms(r.spread('elbo'), total=len(r.runs))} ({MODELS[r.name].elbo_kind})"


def columns(notes: list[str]) -> list[Column]:
    """The table's columns; `notes` collects the reasons behind 'unavailable' cells."""
    images = lambda d: d.kind == "images"  # noqa: E731
    points = lambda d: d.kind == "points"  # noqa: E731
    f = lambda key: (lambda r: ms(r.spread(key), total=len(r.runs)))  # noqa: E731
    g = lambda key: (lambda sc, real: fmt(getattr(sc, key)))  # noqa: E731
    return [
        Column("Inception FID", lambda r: _inception_cell(r, notes),
               lambda sc, real: fmt(sc.fid_inception) if sc.fid_inception is not None else "unavailable", images),
        Column("domain FID", f("fid_domain"), g("fid_domain")),
        Column("precision", f("precision"), g("precision")),
        Column("recall", f("recall"), g("recall")),
        Column("W1", f("w1"), g("w1")),
        Column("sliced W1", f("w1_sliced"), g("w1_sliced")),
        Column("modes", lambda r: f"{ms(r.spread('modes_covered'), 2, len(r.runs))} of {r.eval.how.modes.modes_total}",
               lambda sc, real: f"{sc.modes_covered} of {real.how.modes.modes_total}", points),
        Column("high quality %", f("high_quality_pct"), g("high_quality_pct"), points),
        Column("mode KL", f("mode_kl"), g("mode_kl"), points),
        Column("ELBO", _elbo_cell, lambda sc, real: DASH),
        Column("log-lik (IS)", _loglik_cell, lambda sc, real: DASH),
        Column("log-lik (AIS)", f("loglik_ais"), lambda sc, real: DASH,
               lambda d: any(x.likelihood and x.likelihood.ais for r in d.models for x in r.ok_runs)),
    ]


def comparison_table(d: DatasetResults) -> tuple[str, list[str]]:
    """Markdown table (rows: models and the real-data floor) and its footnotes. Model cells are
    mean ± std over the seeds."""
    notes: list[str] = []
    cols = [c for c in columns(notes) if c.applies(d)]
    header = ["model", *[c.header for c in cols], "at the budget", "GFLOP", "steps", "train time (s)"]
    rows = []
    for r in d.models:
        n = len(r.runs)
        train = [r.states(), fmt(spread([t.flops / 1e9 for t in r.trains]).mean),
                 "/".join(sorted({str(t.steps) for t in r.trains})), ms(spread([t.seconds for t in r.trains]), 3)]
        diverged = n - len(r.ok_runs)
        if r.ok:
            label = r.name + (f" (**{diverged} of {n} seeds diverged**)" if diverged else "")
            rows.append([label, *[c.cell(r) for c in cols], *train])
        else:
            rows.append([f"{r.name} (**diverged in every seed**)", *["diverged" for _ in cols], *train])
    rows.append(["real data: training split vs held-out", *[c.ref(d.real.floor, d.real) for c in cols],
                 DASH, DASH, DASH, DASH])
    rows += [[f"baseline: {name}", *[c.ref(sc, d.real) for c in cols], DASH, DASH, DASH, DASH]
             for name, sc in d.real.baselines.items()]
    return _table(header, rows), notes


# --- the reading: sentences computed from the numbers -------------------------------

def _test_words(p: Paired) -> str:
    if p.p is None:
        return f"paired t-test over {p.n} seeds undefined"
    return f"paired t-test over {p.n} seeds, p = {fmt(p.p, 2)}"


def _comparison_words(c) -> str:
    """'gan: difference -0.04 [-0.07, -0.01], p = 0.01, Holm p = 0.03'."""
    if c.p is None:
        return f"{c.other} (paired test undefined over {c.n} seeds)"
    ci = f" [{fmt(c.ci_low, 2)}, {fmt(c.ci_high, 2)}]" if c.ci_low is not None else ""
    return f"{c.other} ({fmt(c.mean_diff, 2)}{ci}, Holm p = {fmt(c.p_holm, 2)})"


def verdict_line(v: findings.Verdict, alpha: float) -> str:
    """The best model on one metric, what it is separated from after Holm's correction, and for the rest
    the smallest difference these seeds could have detected."""
    best = "Lowest" if v.lower_is_better else "Highest"
    won = [c for c in v.comparisons if c.separated]
    tied = [c for c in v.comparisons if not c.separated]
    line = f"{best} mean {v.label}: {v.best} ({ms(v.best_value)})"
    if won:
        line += (f"; {'below' if v.lower_is_better else 'above'} " + ", ".join(
            _comparison_words(c) for c in won))
    if tied:
        mdd = [c.mdd for c in tied if c.mdd is not None]
        line += ("; not separated at alpha = " + fmt(alpha) + " (Holm) from "
                 + ", ".join(_comparison_words(c) for c in tied))
        if mdd:
            line += (f": these seeds detect a true difference of {fmt(min(mdd), 2)}"
                     + (f" to {fmt(max(mdd), 2)}" if max(mdd) != min(mdd) else "")
                     + f" with {100 * findings.POWER:.0f}% power, and a smaller one is not ruled out")
    if v.floor is not None:
        line += f". Real data: {fmt(v.floor)}"
    if v.baselines:
        line += "; " + ", ".join(f"baseline {n}: {fmt(b)}" for n, b in v.baselines.items())
    return line + "."


def _verdicts(d: DatasetResults) -> tuple[list[str], list[str]]:
    """(headline lines, lines of metrics that a baseline which learned no mode scores as well on)."""
    head, other = [], []
    for v in findings.verdicts(d.runs, d.real, d.alpha):
        (head if v.headline else other).append(verdict_line(v, d.alpha))
    return head, other


def _modes(d: DatasetResults) -> list[str]:
    ok = [r for r in d.models if r.ok]
    if d.kind != "points" or not ok:
        return []
    total = d.real.how.modes.modes_total
    parts = []
    for r in ok:
        every = sum(x.scores.modes_covered == total for x in r.ok_runs)
        parts.append(f"{r.name} covers all {total} in {every} of {len(r.runs)} seeds "
                     f"({ms(r.spread('high_quality_pct'))}% high quality)")
    out = [f"Modes: {'; '.join(parts)}. The real training split: {d.real.floor.modes_covered}/{total}, "
           f"{fmt(d.real.floor.high_quality_pct)}% high quality."]
    for name, b in d.real.baselines.items():
        below = [r.name for r in ok if r.spread("high_quality_pct").mean <= b.high_quality_pct]
        out.append(f"A generator {name} covers {b.modes_covered}/{total} modes with {fmt(b.high_quality_pct)}% high "
                   f"quality without learning any mode"
                   + (f"; {', '.join(below)} {'is' if len(below) == 1 else 'are'} not above it in mean "
                      "high-quality share." if below else "; every model is above it in mean high-quality share."))
    return out


def _estimates(d: DatasetResults) -> list[str]:
    out = []
    for r in d.models:
        if MODELS[r.name].latent:
            continue
        what = MODELS[r.name].estimate_label
        if not r.ok:
            continue  # diverged in every seed: no numbers
        rho = [x.estimate_vs_w1.spearman for x in r.ok_runs]
        sp = spread(rho)
        if not sp.n:
            out.append(f"{r.name}'s {what} against the exact W1: undefined in every seed.")
            continue
        snaps = sorted({x.estimate_vs_w1.snapshots for x in r.ok_runs})
        per = ", ".join(DASH if v is None else f"{v:.2f}" for v in rho)
        line = (f"{r.name}'s {what} and the exact W1 over {'/'.join(map(str, snaps))} snapshots per seed "
                f"{_strength(sp.mean)}: Spearman rho {ms(sp, 2)} (per seed: {per}).")
        late = [x.estimate_vs_w1.spearman_late for x in r.ok_runs]
        sl = spread(late)
        if sl.n:
            frm = sorted({x.estimate_vs_w1.late_from for x in r.ok_runs})
            n_late = sorted({x.estimate_vs_w1.snapshots_late for x in r.ok_runs})
            line += (f" Leaving out the first 10% of training, where the "
                     f"{'critic' if r.name.startswith('wgan') else 'discriminator'} is still being trained from "
                     f"its initialisation (step >= {'/'.join(map(str, frm))}: {'/'.join(map(str, n_late))} "
                     f"snapshots per seed), they {_strength(sl.mean)}: Spearman rho {ms(sl, 2)} (per seed: "
                     + ", ".join(DASH if v is None else f"{v:.2f}" for v in late) + ").")
            if sl.mean <= -0.3:
                line += _opposite_late(r.ok_runs, of_w1=MODELS[r.name].estimate == "w_estimate")
        out.append(line)
    return out


def _opposite_late(runs: list[EvalRecord], of_w1: bool) -> str:
    """Where the late ranks run opposite: per seed, the estimate and W1 at the first and the last snapshot of
    the late window. For a critic's W1 estimate (`of_w1`) that stays below W1 and captures a growing share of
    it while W1 falls, the critic is fitting better as the generator improves, and the estimate's late ranks
    follow the critic's fit more than the generator's; said only when every seed shows it. A GAN's JS
    estimate is no estimate of W1, so it gets the numbers alone."""
    ends = []
    for x in runs:
        late = [s for s in x.trajectory if s.step >= x.estimate_vs_w1.late_from
                and math.isfinite(s.w1) and math.isfinite(s.estimate)]
        if len(late) >= 2:
            ends.append((late[0], late[-1]))
    if not ends:
        return ""
    text = (" Over those snapshots the estimate went from " + ", ".join(
        f"{fmt(a.estimate, 2)} to {fmt(b.estimate, 2)}" for a, b in ends) + " per seed, W1 from " + ", ".join(
        f"{fmt(a.w1)} to {fmt(b.w1)}" for a, b in ends) + ".")
    closing = of_w1 and all(a.estimate < b.estimate <= b.w1 < a.w1 for a, b in ends)
    if not closing:
        return text
    ratio = [(a.estimate / a.w1, b.estimate / b.w1) for a, b in ends]
    return (text + " In every seed the estimate stayed below W1 and rose toward it (its ratio to W1 from "
            + ", ".join(f"{fmt(u, 2)} to {fmt(v, 2)}" for u, v in ratio) + "): late in training its changes "
            "follow the critic's fit, how much of W1 it captures, more than how W1 itself moves.")


def _strength(r: float) -> str:
    if r >= 0.7:
        return "track each other closely"
    if r >= 0.3:
        return "are moderately correlated"
    if r > -0.3:
        return "are barely correlated"
    return "move in opposite directions"


def _likelihoods(d: DatasetResults) -> list[str]:
    """Log-likelihoods paired over seeds (same test points), and each model's ELBO against its own."""
    out = []
    lik = [r for r in d.models if r.ok and r.spread("loglik").n]
    key = "loglik_ais" if all(r.spread("loglik_ais").n for r in lik) else "loglik"
    what = "AIS" if key == "loglik_ais" else "importance-sampled"
    bdmc_gaps = {r.name: _bdmc(r) for r in lik}
    if len(lik) == 2:
        a, b = sorted(lik, key=lambda r: -r.spread(key).mean)
        p = paired_test(a.per_seed(key), b.per_seed(key))
        verdict = (f"{a.name} is higher than {b.name}" if p.separates(d.alpha) and p.mean_diff > 0 else
                   f"{a.name} and {b.name} are not distinguishable at alpha = {fmt(d.alpha)} with {p.n} seeds")
        shaky = [r.name for r in (a, b) if key == "loglik" and any(
            x.likelihood.ess_fraction < LOW_ESS for x in r.ok_runs if x.likelihood)]
        caveat = (f" {' and '.join(shaky)}'s importance-sampled estimate had an effective sample size under "
                  f"{fmt(100 * LOW_ESS, 2)}% of K, so it may be far below the true log p(x) and this ordering is "
                  "not established (`eval.ais.enabled: true` gives annealed importance sampling)." if shaky else "")
        gaps = [g for g in (bdmc_gaps[r.name].mean for r in (a, b)) if key == "loglik_ais" and math.isfinite(g)]
        if gaps and p.separates(d.alpha) and abs(p.mean_diff) <= max(gaps):
            caveat += (f" The difference is within the AIS error that BDMC measured ({fmt(max(gaps))} nats, below), "
                       "so it may be the estimator's.")
        out.append(f"{what[:1].upper()}{what[1:]} log-likelihood, paired over seeds on the same test points: {verdict} "
                   f"(difference {fmt(p.mean_diff)} ± {fmt(p.std_diff, 2)} nats, {_test_words(p)})." + caveat)
    for r in lik:
        gap = spread([_elbo_on(x, key) - x.metrics().get(key, float("nan")) for x in r.ok_runs if x.likelihood])
        ess = spread([x.likelihood.ess_fraction * 100 for x in r.ok_runs if x.likelihood])
        kind = "a lower bound (analytic KL)" if MODELS[r.name].elbo_kind == "bound" else \
            "an estimate (the adversary T stands in for log q(z|x) - log p(z)), not a bound"
        side = f"exceeds its {what} log-likelihood by {ms(gap)} nats" if gap.mean > 0 else \
            f"is {ms(Spread(-gap.mean, gap.std, gap.n))} nats below its {what} log-likelihood"
        out.append(f"{r.name}'s ELBO, {kind}, {side}{_points_of_gap(r, key)}; the importance sampler's effective "
                   f"sample size was {ms(ess, 2)}% of K.")
        gap = bdmc_gaps[r.name]
        if key == "loglik_ais" and gap.n:
            runs = [x.likelihood.ais for x in r.ok_runs if x.likelihood and x.likelihood.ais]
            lower, upper = spread([a.bdmc_lower for a in runs]), spread([a.bdmc_upper for a in runs])
            out.append(f"{r.name}'s AIS, checked on {runs[0].bdmc_points} points simulated from the model itself "
                       f"(bidirectional Monte Carlo: their log p(x) lies between forward AIS, {ms(lower)}, and "
                       f"reverse AIS from the exact posterior draw, {ms(upper)} nats): a gap of {ms(gap)} nats, "
                       + ("a bound on how far these AIS settings are from log p(x) on data like the model's own."
                          if gap.mean >= 0 else "below zero: the two stochastic bounds agree within their noise, so "
                          "these AIS settings are close to log p(x) on data like the model's own."))
    return out


def _bdmc(r) -> Spread:
    """The BDMC gap (reverse minus forward AIS on simulated points) over a model's seeds; n = 0 without."""
    return spread([x.likelihood.ais.bdmc_gap for x in r.ok_runs if x.likelihood and x.likelihood.ais])


def _points_of_gap(r, key: str) -> str:
    """Which test points the ELBO-to-log-likelihood gap is over, when not the table's: with AIS the gap
    is taken on AIS's points (`_elbo_on`), the first few of the points the table's columns average."""
    if key != "loglik_ais":
        return ""
    pairs = {(x.likelihood.ais.points, x.likelihood.points) for x in r.ok_runs
             if x.likelihood and x.likelihood.ais and x.likelihood.ais.elbo is not None}
    pairs = {(ais_n, all_n) for ais_n, all_n in pairs if ais_n != all_n}
    if not pairs:
        return ""
    ais_n, all_n = ("/".join(sorted({str(p[i]) for p in pairs})) for i in (0, 1))
    return (f", both on the same {ais_n} test points (the table's ELBO and importance-sampled columns are over all "
            f"{all_n})")


def _elbo_on(x, key: str) -> float:
    """The ELBO on the points the log-likelihood `key` was measured on (AIS: a subset of the IS points)."""
    ais = x.likelihood.ais
    if key == "loglik_ais" and ais is not None and ais.elbo is not None:
        return ais.elbo
    return x.likelihood.elbo


def _states(d: DatasetResults) -> list[str]:
    """Each model's runs at the budget, and for every run not settled, by how much and which way W1 moved."""
    out = ["At the budget (the rule under How it was measured): " + "; ".join(
        f"{r.name}: {r.states()}" for r in d.models) + "."]
    for r in d.models:
        for x in r.runs:
            c = x.convergence
            if x.ok and c is not None and c.state != "settled":
                moved = "no finite W1 to fit" if c.change is None else \
                    f"W1 moved by {fmt(c.change, 2)} against a tolerance of ± {fmt(c.tolerance, 2)}"
                what = ("more compute would likely lower it further" if c.state == "improving" else
                        "its numbers depend on where the budget cut it")
                out.append(f"{r.name} seed {x.seed} was {STATES[c.state]} at the budget: over "
                           f"{fmt(c.window_from)}-{fmt(x.budget_gflop)} GFLOP {moved}; {what}.")
    return out


def reading(d: DatasetResults, verdicts: bool = True) -> list[str]:
    """Bullet points computed from the numbers (lower is better for every distance); `verdicts`: with the
    headline verdicts (a page prints those in their own section above)."""
    out = [f"{r.name} seed {x.seed} diverged after {x.train_steps} generator steps ({x.message or 'no message'}); "
           "it has no metrics and is left out of the means." for r in d.models for x in r.runs if not x.ok]
    head, other = _verdicts(d)
    out += _states(d) + (head if verdicts else [])
    if other:
        out += [f"Not a headline, since a baseline that learned no mode scores as well: {line}" for line in other]
    out += _modes(d) + _estimates(d) + _likelihoods(d)
    times = sorted((spread([t.seconds for t in r.trains if t.ok]).mean, r.name) for r in d.models if r.ok)
    if len(times) >= 2 and times[0][0] != times[-1][0]:
        out.append(f"Training took {fmt(times[0][0])} s ({times[0][1]}) to {fmt(times[-1][0])} s ({times[-1][1]}) "
                   "per seed, on average.")
    return out


# --- pages -------------------------------------------------------------------------


CLASSIFIER_NAMES = {"mlp": "an MLP", "cnn": "a small CNN"}


def _domain_features(h: Measurement) -> str:
    if h.domain_features == "coordinates":
        return "raw coordinates"
    what = CLASSIFIER_NAMES.get(h.classifier_arch, "a classifier")
    return (f"features of {what} trained on the training split (its held-out accuracy: "
            f"{fmt(100 * h.classifier_test_accuracy, 3)}%)")


def _pr_line(h: Measurement) -> list[str]:
    if h.pr_k is None:
        return []  # records from before precision and recall were measured
    space = "raw coordinates" if h.domain_features == "coordinates" else "classifier features"
    return [f"- Precision and recall (Kynkaanniemi et al. 2019, k = {h.pr_k}): on the domain FID's {space}, "
            f"{h.n_generated} generated against {h.n_real} held-out samples (W1's). Each sample's ball reaches "
            "its k-th nearest neighbour in its own set; precision is the share of generated samples inside "
            "some held-out sample's ball (fidelity), recall the share of held-out samples inside some generated "
            "sample's ball (coverage). Both depend on k and the sample sizes: read them against the real-data row."]


def _how_measured(d: DatasetResults) -> list[str]:
    h = d.real.how  # the same sample sizes and features as every model's
    lines = [
        f"- W1: exact empirical Wasserstein-1 (POT `ot.emd2`, {h.ground_cost} ground cost) between "
        f"{h.n_generated} generated and {h.n_real} held-out samples, in {h.space}.",
        f"- Sliced W1: {h.projections} random directions, {h.sliced_n_generated} generated against "
        f"{h.sliced_n_real} held-out samples.",
        f"- Domain FID: Frechet distance on {h.domain_dims}-dimensional {_domain_features(h)}; "
        f"{h.n_generated} generated against {h.domain_n_real} held-out samples.",
        *_pr_line(h),
        f"- The real-data row puts {d.real.n_train_used} training samples where the generated ones go.",
    ]
    if d.kind == "images":
        inc = h.inception
        lines.append(f"- Inception FID ({inc.dims} dims, pytorch-fid): "
                     + ("computed." if inc.available else f"unavailable: {inc.reason}"))
    if d.kind == "points":
        m = h.modes
        lines.append(f"- Modes: a sample is high quality within {fmt(m.n_std)} standard deviations of its "
                     f"nearest mode; a mode is covered with at least {m.min_count} such samples "
                     f"({fmt(m.min_fraction)} of the {h.n_generated}/{m.modes_total} it expects).")
    for r in d.models:
        ll = r.eval.likelihood
        if r.ok and ll:
            lines.append(f"- {r.name} likelihood: ELBO and importance-sampled log p(x) on {ll.points} held-out "
                         f"points, K = {ll.samples}, proposal std x{ll.std_scale}, "
                         f"effective sample size {fmt(100 * ll.ess_fraction, 2)}% of K; {ll.units}.")
            if ll.ais:
                a = ll.ais
                lines.append(f"- {r.name} AIS: annealed importance sampling (Wu et al. 2017) on {a.points} of those "
                             f"points, {a.chains} chains, {a.steps} annealing steps of {a.leapfrog}-step HMC, "
                             f"acceptance {fmt(100 * a.acceptance, 2)}%, final effective sample size "
                             f"{fmt(100 * a.ess_fraction, 2)}% of the chains; a stochastic lower bound on log p(x).")
                if a.bdmc_points:
                    lines.append(f"- {r.name} BDMC (Grosse et al. 2015; Wu et al. 2017): {a.bdmc_points} pairs z ~ p(z), "
                                 "x ~ p(x|z) simulated from the model; forward AIS on those x as above, and reverse AIS "
                                 "with the same settings started from each x's z (an exact posterior draw) and annealed "
                                 "to the prior, a stochastic upper bound on log p(x).")
    lines += [
        f"- Seeds: every model is trained once per seed ({', '.join(str(x.seed) for x in d.models[0].runs)}); "
        "a cell is the mean ± sample standard deviation over the seeds (n = the seeds with a value when some "
        "diverged). Every run is evaluated on the same held-out points with the same generator noise, so the "
        "runs of two models at one seed form a pair.",
        f"- A model is called better than another only when a two-sided paired t-test over the seeds separates "
        f"them at alpha = {fmt(d.alpha)} after Holm's correction (Holm 1979) over that metric's comparisons on "
        "this data set; the brackets give the 95% confidence interval of the mean paired difference "
        "(best minus other, t distribution with n - 1 degrees of freedom). For a pair not separated, the text "
        "gives the smallest true difference the seeds could have detected with 80% power at the strictest Holm "
        f"level (noncentral t). {_power_words(d)}",
        "- Headline metrics: a metric is a headline only where every baseline (a generator that knows the "
        "support but learned no mode) scores worse than the best model; the others stay in the table and are "
        "listed as not separating learning from no learning.",
        "- Compute: every model trains for the same matmul FLOPs, forward and backward of every network pass in "
        "its steps, counted with torch's FLOP formulas on the model's own nets (pipeline/training/budget.py); the same "
        "batch size for every model; snapshots at the same compute points, half an octave apart and evenly "
        "over the budget's second half. The GFLOP column is what each run used (within one step of the budget).",
        "- At the budget: over the budget's second half, the least-squares line through a run's snapshot W1 "
        "against compute changes by less than the tolerance (settled), falls by more (still improving) or rises "
        f"by more (getting worse). The tolerance is the same for every model: max({fmt(d.rtol)} x the real-data "
        "floor's W1 at the snapshots' sample size, 2 standard errors of the fitted change when every snapshot "
        "carries the floor's sampling noise) (pipeline/evaluation/convergence.py).",
        f"- Learning rate: {d.lr_schedule} for every model (`train.lr_schedule`).",
    ]
    e = next((r.eval.estimate_vs_w1 for r in d.models if r.eval.estimate_vs_w1.n_samples), None)
    if e:
        lines.append(f"- During training: exact W1 of {e.n_samples} samples of each generator snapshot "
                     "against the held-out split, next to the training log's estimate averaged over the "
                     "half-interval before the snapshot.")
    return lines


def _power_words(d: DatasetResults) -> str:
    p = findings.power(d.n_seeds, d.alpha)
    if p.mdd_in_sd is None:
        return f"With {d.n_seeds} seed(s) no paired test is possible."
    return (f"With {d.n_seeds} seeds a single paired t-test at alpha = {fmt(d.alpha)} detects a difference of "
            f"{fmt(p.mdd_in_sd, 3)} standard deviations of the paired differences with 80% power, and has "
            f"{fmt(100 * p.power_at_one_sd, 2)}% power against one standard deviation.")


def anytime_table(d: DatasetResults) -> str:
    """W1 at 1/4, 1/2 and all of the budget (snapshot W1, mean ± std over seeds, rank), and each model's state."""
    rows = []
    budget = max((x.budget_gflop for r in d.models for x in r.runs), default=0.0)
    for row in findings.anytime(d.runs):
        cells = [f"{ms(c.w1)} (#{c.rank})" if c.rank else DASH for c in row.cells]
        rows.append([row.model, *cells, findings.describe_states(row.states), ms(row.seconds, 3)])
    fl = d.real.snapshot_floor
    if fl is not None:
        rows.append(["real data (floor)", *[f"{fmt(fl.w1)} ± {fmt(fl.w1_sd, 2)}"] * 3, DASH, DASH])
        rows += [[f"baseline: {n}", *[fmt(v)] * 3, DASH, DASH] for n, v in fl.baselines.items()]
    header = ["model", *[f"W1 at {fmt(s * budget)} GFLOP ({'1/4' if s == 0.25 else '1/2' if s == 0.5 else 'budget'})"
                         for s in findings.ANYTIME], "at the budget", "train time (s)"]
    return _table(header, rows)


def _environment(d: DatasetResults) -> list[str]:
    def distinct(values):
        return ", ".join(sorted({str(v) for v in values if v is not None})) or DASH

    versions: dict[str, set] = {}
    for r in d.models:
        for k, v in r.eval.versions.items():
            versions.setdefault(k, set()).add(v)
    lines = [f"- Training device: {distinct(t.device for r in d.models for t in r.trains)}; "
             f"evaluation device: {distinct(x.device for r in d.models for x in r.runs)}."]
    cpus = distinct(t.cpu for r in d.models for t in r.trains)
    if cpus != DASH:  # the same params give these bytes again on this CPU; another one rounds differently
        lines.append(f"- Training CPU: {cpus}.")
    lines += [f"- {k}: {', '.join(sorted(v))}" for k, v in sorted(versions.items())]
    return lines


def render_dataset(d: DatasetResults, params: dict) -> str:
    """One data set's report: the quality-against-compute figure and the anytime table first, then the
    verdicts, the full table at the budget, the rest of the reading, figures, method, params, environment."""
    table, notes = comparison_table(d)
    n_snap = next((x.estimate_vs_w1.n_samples for r in d.models for x in r.runs if x.estimate_vs_w1.n_samples), 0)
    budget = max((x.budget_gflop for r in d.models for x in r.runs), default=0.0)
    compute = next((f for f in d.figures if f.endswith("w1_vs_compute.png")), None)
    parts = [f"# {d.name}: GAN, WGAN, WGAN-GP, AVB and a VAE at equal compute", "",
             f"Every model trained for the same {fmt(budget)} GFLOP on {d.name} ({d.n_seeds} seeds each). "
             "Quality against compute is the result: a model still improving at the budget is a finding, "
             "not a reason to give it more.", ""]
    if compute:
        parts += [f"![W1 against training compute]({compute})", ""]
    parts += [f"Exact W1 of {n_snap} samples of each generator snapshot against the held-out split (lower is "
              "better), mean ± std over seeds, with each model's rank by its mean at that budget:", "",
              anytime_table(d), ""]
    head, _ = _verdicts(d)
    parts += ["## Verdicts at the budget", ""] + [f"- {line}" for line in head]
    parts += ["", "## Every metric at the budget", "",
              f"Every model cell is the mean ± std over {d.n_seeds} seeds, measured on {d.real.how.n_generated} "
              "samples of the final generator. Lower is better for every distance (FID, W1); higher for precision, "
              "recall, modes, high-quality share, ELBO and log-likelihood. The real-data row is real data against "
              "real data: the best a generator can score with these sample sizes. A baseline row is a generator "
              "that knows the data's support but learned nothing else.", "", table, ""]
    parts += [f"[{i + 1}] {n}" for i, n in enumerate(notes)]
    parts += ["", "## Reading", ""] + [f"- {s}" for s in reading(d, verdicts=False)]
    rest = [f for f in d.figures if f != compute]
    if rest:
        parts += ["", "## Figures", ""] + [f"![{f.rsplit('/', 1)[-1][:-4]}]({f})\n" for f in rest]
    parts += ["", "## How it was measured", ""] + _how_measured(d)
    parts += ["", "## Params", "", "```yaml", yaml.safe_dump(params, sort_keys=False).rstrip(), "```"]
    parts += ["", "## Versions and device", ""] + _environment(d)
    return "\n".join(parts) + "\n"


def render_index(results: list[DatasetResults], links: dict[str, str],
                 others: Optional[dict[str, tuple[str, str]]] = None) -> str:
    """The index: one row per data set, linking its report, with the leader on each headline metric (a metric a
    no-learning baseline scores as well on is not one) and the runs' states at the budget; `others`: name ->
    (link, title) of committed pages of data sets this run did not include."""
    rows = []
    for d in results:
        budget = max((x.budget_gflop for r in d.models for x in r.runs), default=0.0)
        heads = {v.metric: v for v in findings.verdicts(d.runs, d.real, d.alpha) if v.headline}
        w1 = heads.get("w1")
        lead = DASH if w1 is None else f"{w1.best} ({ms(w1.best_value)})" + (
            "" if all(c.separated for c in w1.comparisons) else
            ", not separated from " + ", ".join(c.other for c in w1.comparisons if not c.separated))
        div = [f"{r.name} seed {x.seed}" for r in d.models for x in r.runs if not x.ok]
        states = "; ".join(f"{r.name}: {r.states()}" for r in d.models)
        rows.append([f"[{d.name}]({links[d.name]})", fmt(budget), lead, ", ".join(div) or "none", states])
    return "\n".join([
        "# Reports", "",
        "Every model on a data set trains for the same FLOP budget; each report opens with W1 against training "
        "compute and a table of W1 at a quarter, half and all of the budget, then the Holm-corrected verdicts, "
        "every metric, the figures, the params and the versions that produced them.", "",
        _table(["data set", "GFLOP per model", "lowest mean W1 (Holm-corrected paired tests)", "diverged runs",
                "runs at the budget"], rows), "",
        *(["Pages of other data sets, each from its own run (its params are on the page):", "",
           *[f"- [{title}]({link})" for link, title in (others or {}).values()], ""] if others else []),
    ])
