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

from .records import EvalRecord, RealRecord, SampleScores, TrainRecord
from .registry import MODELS

DASH = "—"  # not applicable to this model / data set


@dataclass
class ModelResult:
    eval: EvalRecord
    train: TrainRecord

    @property
    def name(self) -> str:
        return self.eval.model

    @property
    def ok(self) -> bool:
        return self.eval.ok

    @property
    def scores(self) -> SampleScores:
        return self.eval.scores


@dataclass
class DatasetResults:
    name: str
    kind: str  # "points" or "images"
    models: list[ModelResult]
    real: RealRecord
    figures: list[str] = field(default_factory=list)  # paths relative to the report file


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


@dataclass(frozen=True)
class Column:
    header: str
    cell: Callable[[ModelResult], str]  # for a model that did not diverge
    ref: Callable[[SampleScores, RealRecord], str]  # for the real-data floor and the baseline rows
    applies: Callable[[DatasetResults], bool] = lambda d: True


def _inception_cell(r: ModelResult, notes: list[str]) -> str:
    if r.scores.fid_inception is not None:
        return fmt(r.scores.fid_inception)
    reason = r.eval.how.inception.reason if r.eval.how and r.eval.how.inception else ""
    if reason not in notes:
        notes.append(reason)
    return f"unavailable [{notes.index(reason) + 1}]"


LOW_ESS = 0.10  # an importance-sampled estimate with a smaller effective sample size is flagged


def _loglik_cell(r: ModelResult) -> str:
    ll = r.eval.likelihood
    if ll is None:
        return DASH
    flag = f" (ESS {fmt(100 * ll.ess_fraction, 2)}% of K: unreliable)" if ll.ess_fraction < LOW_ESS else ""
    return f"{fmt(ll.loglik)} ± {fmt(ll.loglik_se, 2)}{flag}"


def _ais_cell(r: ModelResult) -> str:
    a = r.eval.likelihood.ais if r.eval.likelihood else None
    return f"{fmt(a.loglik)} ± {fmt(a.stderr, 2)}" if a else DASH


def _elbo_cell(r: ModelResult) -> str:
    """The VAE's ELBO is a bound; AVB's uses the adversary T for log q - log p and is only an estimate."""
    ll = r.eval.likelihood
    if ll is None:
        return DASH
    return f"{fmt(ll.elbo)} ({MODELS[r.name].elbo_kind})"


def columns(notes: list[str]) -> list[Column]:
    """The table's columns; `notes` collects the reasons behind 'unavailable' cells."""
    images = lambda d: d.kind == "images"  # noqa: E731
    points = lambda d: d.kind == "points"  # noqa: E731
    f = lambda key: (lambda r: fmt(getattr(r.scores, key)))  # noqa: E731
    g = lambda key: (lambda sc, real: fmt(getattr(sc, key)))  # noqa: E731
    return [
        Column("Inception FID", lambda r: _inception_cell(r, notes),
               lambda sc, real: fmt(sc.fid_inception) if sc.fid_inception is not None else "unavailable", images),
        Column("domain FID", f("fid_domain"), g("fid_domain")),
        Column("W1", f("w1"), g("w1")),
        Column("sliced W1", f("w1_sliced"), g("w1_sliced")),
        Column("modes", lambda r: f"{r.scores.modes_covered}/{r.eval.how.modes.modes_total}",
               lambda sc, real: f"{sc.modes_covered}/{real.how.modes.modes_total}", points),
        Column("high quality %", f("high_quality_pct"), g("high_quality_pct"), points),
        Column("mode KL", f("mode_kl"), g("mode_kl"), points),
        Column("ELBO", _elbo_cell, lambda sc, real: DASH),
        Column("log-lik (IS) ± SE", _loglik_cell, lambda sc, real: DASH),
        Column("log-lik (AIS) ± SE", _ais_cell, lambda sc, real: DASH,
               lambda d: any(r.ok and r.eval.likelihood and r.eval.likelihood.ais for r in d.models)),
    ]


def comparison_table(d: DatasetResults) -> tuple[str, list[str]]:
    """Markdown table (rows: models and the real-data floor) and its footnotes."""
    notes: list[str] = []
    cols = [c for c in columns(notes) if c.applies(d)]
    header = ["model", *[c.header for c in cols], "train time (s)", "steps"]
    rows = []
    for r in d.models:
        train = [fmt(r.train.seconds, 3), str(r.train.steps)]
        if r.ok:
            rows.append([r.name, *[c.cell(r) for c in cols], *train])
        else:
            rows.append([f"{r.name} (**diverged**)", *["diverged" for _ in cols], *train])
    rows.append(["real data: training split vs held-out", *[c.ref(d.real.floor, d.real) for c in cols], DASH, DASH])
    rows += [[f"baseline: {name}", *[c.ref(sc, d.real) for c in cols], DASH, DASH] for name, sc in d.real.baselines.items()]
    return _table(header, rows), notes


# --- the reading: sentences computed from the numbers -------------------------------

METRIC_NAMES = {"w1": "W1", "w1_sliced": "sliced W1", "fid_domain": "domain FID", "fid_inception": "Inception FID"}


def _ranked(d: DatasetResults, key: str) -> list[tuple[str, float]]:
    vals = [(r.name, getattr(r.scores, key)) for r in d.models if r.ok]
    return sorted([(n, v) for n, v in vals if v is not None and math.isfinite(v)], key=lambda t: t[1])


def _strength(r: float) -> str:
    if r >= 0.7:
        return "track each other closely"
    if r >= 0.3:
        return "are moderately correlated"
    if r > -0.3:
        return "are barely correlated"
    return "move in opposite directions"


def _rankings(d: DatasetResults) -> list[str]:
    """Lowest and highest model on each distance, against the floor; where rankings agree."""
    out, orders = [], {}
    for key, label in METRIC_NAMES.items():
        ranked = _ranked(d, key)
        if len(ranked) < 2:
            continue
        orders[key] = [n for n, _ in ranked]
        (best, bv), (worst, wv) = ranked[0], ranked[-1]
        line = f"Lowest {label}: {best} ({fmt(bv)}); highest: {worst} ({fmt(wv)})"
        fl = getattr(d.real.floor, key)
        if fl:
            line += f". The real-data floor is {fmt(fl)}, so {best} is at {fmt(bv / fl, 2)}x the floor"
        out.append(line + ".")
    if "w1" in orders:
        same = [METRIC_NAMES[k] for k in orders if k != "w1" and orders[k] == orders["w1"]]
        if same:
            out.append(f"{', '.join(same)} rank{'s' if len(same) == 1 else ''} the models as W1 does "
                       f"({' < '.join(orders['w1'])}).")
        for k in [k for k in orders if k != "w1" and orders[k] != orders["w1"]]:
            out.append(f"{METRIC_NAMES[k]} ranks them {' < '.join(orders[k])}, unlike W1 "
                       f"({' < '.join(orders['w1'])}).")
    return out


def _modes(d: DatasetResults) -> list[str]:
    ok = [r for r in d.models if r.ok]
    if d.kind != "points" or not ok:
        return []
    total = d.real.how.modes.modes_total
    parts = ", ".join(f"{r.name} {r.scores.modes_covered}/{total} ({fmt(r.scores.high_quality_pct)}% high quality)"
                      for r in ok)
    full = [r.name for r in ok if r.scores.modes_covered == total]
    verdict = (f"{', '.join(full)} cover{'s' if len(full) == 1 else ''} every mode" if full
               else "no model covers every mode")
    out = [f"Modes covered: {parts}; {verdict} (the real training split: {d.real.floor.modes_covered}/{total}, "
           f"{fmt(d.real.floor.high_quality_pct)}%)."]
    for name, b in d.real.baselines.items():
        below = [r.name for r in ok if r.scores.high_quality_pct <= b.high_quality_pct]
        out.append(f"A generator {name} covers {b.modes_covered}/{total} modes with {fmt(b.high_quality_pct)}% high "
                   f"quality without learning any mode"
                   + (f"; {', '.join(below)} {'is' if len(below) == 1 else 'are'} not above it in high-quality share."
                      if below else "; every model is above it in high-quality share."))
    return out


def _estimates(d: DatasetResults) -> list[str]:
    out = []
    for r in d.models:
        if MODELS[r.name].latent:
            continue
        e, what = r.eval.estimate_vs_w1, MODELS[r.name].estimate_label
        if e.pearson is None:
            out.append(f"{r.name}'s {what} against the exact W1: undefined ({e.snapshots} usable snapshots).")
            continue
        out.append(f"{r.name}'s {what} and the exact W1 over {e.snapshots} snapshots {_strength(e.pearson)} "
                   f"(Pearson r = {e.pearson:.2f}, Spearman rho = {e.spearman:.2f}).")
    return out


def _likelihoods(d: DatasetResults) -> list[str]:
    """Importance-sampled log-likelihoods side by side, and each model's ELBO against its own estimate."""
    out = []
    lik = [r for r in d.models if r.ok and r.eval.likelihood is not None]
    if len(lik) == 2:
        a, b = sorted(lik, key=lambda r: -r.eval.likelihood.loglik)
        la, lb = a.eval.likelihood, b.eval.likelihood
        diff, se = la.loglik - lb.loglik, math.hypot(la.loglik_se, lb.loglik_se)
        out.append(f"Importance-sampled log-likelihood: {a.name} is higher than {b.name} by {fmt(diff)} nats "
                   f"(unpaired standard error of the difference over test points: {fmt(se, 2)}; it ignores the "
                   "importance-sampling bias, so this is not a verdict).")
    for r in lik:
        ll = r.eval.likelihood
        gap = ll.elbo - ll.loglik
        ess = f"; the proposal's effective sample size was {fmt(100 * ll.ess_fraction, 2)}% of K = {ll.samples}"
        kind = "a lower bound (analytic KL)" if MODELS[r.name].elbo_kind == "bound" else \
            "an estimate (the adversary T stands in for log q(z|x) - log p(z)), not a bound"
        if gap > 2 * ll.loglik_se:
            out.append(f"{r.name}'s ELBO, {kind}, exceeds its importance-sampled log-likelihood by {fmt(gap)} "
                       f"nats{ess}.")
        else:
            out.append(f"{r.name}'s ELBO, {kind}, is {fmt(-gap)} nats below its importance-sampled "
                       f"log-likelihood{ess}.")
    return out


def reading(d: DatasetResults) -> list[str]:
    """Bullet points computed from the numbers (lower is better for every distance)."""
    out = [f"{r.name} diverged after {r.eval.train_steps} generator steps ({r.eval.message or 'no message'}); "
           "it has no metrics." for r in d.models if not r.ok]
    out += _rankings(d) + _modes(d) + _estimates(d) + _likelihoods(d)
    times = sorted((r.train.seconds, r.name) for r in d.models)
    if len(times) >= 2:
        out.append(f"Training took {fmt(times[0][0])} s ({times[0][1]}) to {fmt(times[-1][0])} s ({times[-1][1]}).")
    return out


# --- pages -------------------------------------------------------------------------


def _how_measured(d: DatasetResults) -> list[str]:
    h = d.real.how  # the same sample sizes and features as every model's
    lines = [
        f"- W1: exact empirical Wasserstein-1 (POT `ot.emd2`, {h.ground_cost} ground cost) between "
        f"{h.n_generated} generated and {h.n_real} held-out samples, in {h.space}.",
        f"- Sliced W1: {h.projections} random directions, {h.sliced_n_generated} generated against "
        f"{h.sliced_n_real} held-out samples.",
        f"- Domain FID: Frechet distance on {h.domain_dims}-dimensional "
        + ("raw coordinates" if h.domain_features == "coordinates" else
           f"features of a classifier trained on the training split (held-out accuracy "
           f"{fmt(100 * h.classifier_test_accuracy, 3)}%)")
        + f"; {h.n_generated} generated against {h.domain_n_real} held-out samples.",
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
    e = next((r.eval.estimate_vs_w1 for r in d.models if r.eval.estimate_vs_w1.n_samples), None)
    if e:
        lines.append(f"- During training: exact W1 of {e.n_samples} samples of each generator snapshot "
                     "against the held-out split, next to the training log's estimate averaged over the "
                     "half-interval before the snapshot.")
    return lines


def _environment(d: DatasetResults) -> list[str]:
    def distinct(values):
        return ", ".join(sorted({str(v) for v in values if v is not None})) or DASH

    versions: dict[str, set] = {}
    for r in d.models:
        for k, v in r.eval.versions.items():
            versions.setdefault(k, set()).add(v)
    lines = [f"- Training device: {distinct(r.train.device for r in d.models)}; "
             f"evaluation device: {distinct(r.eval.device for r in d.models)}."]
    lines += [f"- {k}: {', '.join(sorted(v))}" for k, v in sorted(versions.items())]
    return lines


def render_dataset(d: DatasetResults, params: dict) -> str:
    """One data set's report: table, reading, figures, how it was measured, params, environment."""
    table, notes = comparison_table(d)
    parts = [f"# {d.name}: GAN vs WGAN vs AVB (and a VAE baseline)", "",
             "Lower is better for every distance (FID, W1); higher for modes, high-quality share, ELBO and "
             "log-likelihood. The real-data row is real data against real data: the best a generator can score "
             "with these sample sizes. A baseline row is a generator that knows the data's support but learned "
             "nothing else: what a score is worth without learning the modes.", "", table, ""]
    parts += [f"[{i + 1}] {n}" for i, n in enumerate(notes)]
    parts += ["", "## Reading", ""] + [f"- {s}" for s in reading(d)]
    if d.figures:
        parts += ["", "## Figures", ""] + [f"![{f.rsplit('/', 1)[-1][:-4]}]({f})\n" for f in d.figures]
    parts += ["", "## How it was measured", ""] + _how_measured(d)
    parts += ["", "## Params", "", "```yaml", yaml.safe_dump(params, sort_keys=False).rstrip(), "```"]
    parts += ["", "## Versions and device", ""] + _environment(d)
    return "\n".join(parts) + "\n"


def render_index(results: list[DatasetResults], links: dict[str, str]) -> str:
    """The index: one row per data set, linking its report, with the leader on each distance."""
    rows = []
    for d in results:
        cells = [f"[{d.name}]({links[d.name]})"]
        for key in ("w1", "fid_domain"):
            ranked = _ranked(d, key)
            cells.append(f"{ranked[0][0]} ({fmt(ranked[0][1])})" if ranked else DASH)
        div = [r.name for r in d.models if not r.ok]
        cells.append(", ".join(div) or "none")
        rows.append(cells)
    return "\n".join([
        "# Reports", "",
        "Each data set's report holds the comparison table, a reading computed from it, the figures, "
        "the params and the versions that produced them.", "",
        _table(["data set", "lowest W1", "lowest domain FID", "diverged"], rows), "",
    ])
