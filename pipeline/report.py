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

DASH = "—"  # not applicable to this model / data set


@dataclass
class ModelResult:
    name: str
    metrics: dict  # metrics/eval/<ds>/<model>.json
    record: dict  # metrics/eval/<ds>/<model>.record.json
    train: dict  # metrics/train/<ds>/<model>.json

    @property
    def ok(self) -> bool:
        return self.metrics.get("status") == "ok"


@dataclass
class DatasetResults:
    name: str
    kind: str  # "points" or "images"
    models: list[ModelResult]
    real: dict  # metrics/real/<ds>.json
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
    floor: Callable[[dict], str]  # for the real-data row (metrics/real/<ds>.json["floor"])
    applies: Callable[[DatasetResults], bool] = lambda d: True


def _inception_cell(r: ModelResult, notes: list[str]) -> str:
    v = r.metrics.get("fid_inception")
    if v is not None:
        return fmt(v)
    reason = r.record.get("fid_inception", {}).get("reason", "")
    if reason not in notes:
        notes.append(reason)
    return f"unavailable [{notes.index(reason) + 1}]"


def _loglik_cell(r: ModelResult) -> str:
    m = r.metrics
    return f"{fmt(m['loglik'])} ± {fmt(m['loglik_se'], 2)}" if "loglik" in m else DASH


def columns(notes: list[str]) -> list[Column]:
    """The table's columns; `notes` collects the reasons behind 'unavailable' cells."""
    images = lambda d: d.kind == "images"  # noqa: E731
    points = lambda d: d.kind == "points"  # noqa: E731
    f = lambda key: (lambda r: fmt(r.metrics.get(key)))  # noqa: E731
    g = lambda key: (lambda fl: fmt(fl.get(key)))  # noqa: E731
    return [
        Column("Inception FID", lambda r: _inception_cell(r, notes),
               lambda fl: fmt(fl["fid_inception"]) if fl.get("fid_inception") is not None else "unavailable",
               images),
        Column("domain FID", f("fid_domain"), g("fid_domain")),
        Column("W1", f("w1"), g("w1")),
        Column("sliced W1", f("w1_sliced"), g("w1_sliced")),
        Column("modes", lambda r: f"{r.metrics['modes_covered']}/{r.record['modes']['modes_total']}",
               lambda fl: f"{fl.get('modes_covered', DASH)}/{fl.get('modes_total', DASH)}", points),
        Column("high quality %", f("high_quality_pct"), g("high_quality_pct"), points),
        Column("ELBO", f("elbo"), lambda fl: DASH),
        Column("log-lik (IS) ± SE", _loglik_cell, lambda fl: DASH),
    ]


def comparison_table(d: DatasetResults) -> tuple[str, list[str]]:
    """Markdown table (rows: models and the real-data floor) and its footnotes."""
    notes: list[str] = []
    cols = [c for c in columns(notes) if c.applies(d)]
    header = ["model", *[c.header for c in cols], "train time (s)", "steps"]
    rows = []
    for r in d.models:
        train = [fmt(r.train.get("seconds"), 3), str(r.train.get("steps", DASH))]
        if r.ok:
            rows.append([r.name, *[c.cell(r) for c in cols], *train])
        else:
            rows.append([f"{r.name} (**diverged**)", *["diverged" for _ in cols], *train])
    floor = d.real.get("floor", {})
    rows.append(["real data: training split vs held-out", *[c.floor(floor) for c in cols], DASH, DASH])
    return _table(header, rows), notes


# --- the reading: sentences computed from the numbers -------------------------------

METRIC_NAMES = {"w1": "W1", "w1_sliced": "sliced W1", "fid_domain": "domain FID", "fid_inception": "Inception FID"}


def _ranked(d: DatasetResults, key: str) -> list[tuple[str, float]]:
    vals = [(r.name, r.metrics.get(key)) for r in d.models if r.ok]
    return sorted([(n, v) for n, v in vals if v is not None], key=lambda t: t[1])


def _strength(r: float) -> str:
    if r >= 0.7:
        return "track each other closely"
    if r >= 0.3:
        return "are moderately correlated"
    if r > -0.3:
        return "are barely correlated"
    return "move in opposite directions"


def reading(d: DatasetResults) -> list[str]:
    """Bullet points computed from the numbers (lower is better for every distance)."""
    out: list[str] = []
    floor = d.real.get("floor", {})
    diverged = [r for r in d.models if not r.ok]
    for r in diverged:
        rec = r.record.get("diverged", {})
        out.append(f"{r.name} diverged after {rec.get('steps', r.train.get('steps'))} generator steps "
                   f"({rec.get('message') or r.train.get('message') or 'no message'}); it has no metrics.")
    orders = {}
    for key, label in METRIC_NAMES.items():
        ranked = _ranked(d, key)
        if len(ranked) < 2:
            continue
        orders[key] = [n for n, _ in ranked]
        (best, bv), (worst, wv) = ranked[0], ranked[-1]
        line = f"Lowest {label}: {best} ({fmt(bv)}); highest: {worst} ({fmt(wv)})"
        fl = floor.get(key)
        if fl:
            line += f". The real-data floor is {fmt(fl)}, so {best} is at {fmt(bv / fl, 2)}x the floor"
        out.append(line + ".")
    if "w1" in orders:
        same = [METRIC_NAMES[k] for k in orders if k != "w1" and orders[k] == orders["w1"]]
        differ = [METRIC_NAMES[k] for k in orders if k != "w1" and orders[k] != orders["w1"]]
        if same:
            out.append(f"{', '.join(same)} rank{'s' if len(same) == 1 else ''} the models as W1 does "
                       f"({' < '.join(orders['w1'])}).")
        for k in [k for k in orders if METRIC_NAMES[k] in differ]:
            out.append(f"{METRIC_NAMES[k]} ranks them {' < '.join(orders[k])}, unlike W1 "
                       f"({' < '.join(orders['w1'])}).")
    if d.kind == "points":
        ok = [r for r in d.models if r.ok]
        if ok:
            total = ok[0].record["modes"]["modes_total"]
            parts = ", ".join(f"{r.name} {r.metrics['modes_covered']}/{total} "
                              f"({fmt(r.metrics['high_quality_pct'])}% high quality)" for r in ok)
            full = [r.name for r in ok if r.metrics["modes_covered"] == total]
            verdict = (f"{', '.join(full)} cover{'s' if len(full) == 1 else ''} every mode" if full
                       else "no model covers every mode")
            out.append(f"Modes covered: {parts}; {verdict} (the real training split: "
                       f"{floor.get('modes_covered', DASH)}/{total}, {fmt(floor.get('high_quality_pct'))}%).")
    for r in d.models:
        e = r.record.get("estimate_vs_w1", {})
        if r.name not in ("wgan", "gan") or not e:
            continue
        what = "WGAN's critic estimate" if r.name == "wgan" else "the GAN discriminator's JS estimate"
        if e.get("pearson") is None:
            out.append(f"{what[0].upper() + what[1:]} against the exact W1: undefined "
                       f"({e.get('snapshots', 0)} usable snapshots).")
            continue
        out.append(f"{what[0].upper() + what[1:]} and the exact W1 over {e['snapshots']} snapshots "
                   f"{_strength(e['pearson'])} (Pearson r = {e['pearson']:.2f}, Spearman rho = {e['spearman']:.2f}).")
    lik = [r for r in d.models if r.ok and "loglik" in r.metrics]
    if len(lik) == 2:
        (a, b) = sorted(lik, key=lambda r: -r.metrics["loglik"])
        diff = a.metrics["loglik"] - b.metrics["loglik"]
        se = math.hypot(a.metrics["loglik_se"], b.metrics["loglik_se"])
        z = diff / se if se > 0 else float("inf")
        verdict = "more than" if z > 2 else "within"
        out.append(f"Importance-sampled log-likelihood: {a.name} is higher than {b.name} by {fmt(diff)} nats, "
                   f"{verdict} two standard errors of the difference ({fmt(2 * se, 2)}).")
    for r in lik:
        ll = r.record.get("likelihood", {})
        gap = r.metrics["elbo"] - r.metrics["loglik"]
        ess = ll.get("ess_fraction")
        ess_txt = f"; the proposal's effective sample size was {fmt(100 * ess, 2)}% of K = {ll.get('samples')}" \
            if ess is not None else ""
        if gap > 2 * r.metrics["loglik_se"]:
            out.append(f"{r.name}'s ELBO exceeds its importance-sampled log-likelihood by {fmt(gap)} nats; both "
                       f"are meant to be lower bounds on log p(x), so at least one is loose here{ess_txt}.")
        else:
            out.append(f"{r.name}'s ELBO is {fmt(-gap)} nats below its importance-sampled log-likelihood{ess_txt}.")
    times = [(r.name, r.train.get("seconds")) for r in d.models if r.train.get("seconds") is not None]
    if len(times) >= 2:
        times.sort(key=lambda t: t[1])
        out.append(f"Training took {fmt(times[0][1])} s ({times[0][0]}) to {fmt(times[-1][1])} s ({times[-1][0]}).")
    return out


# --- pages -------------------------------------------------------------------------


def _how_measured(d: DatasetResults) -> list[str]:
    ok = [r for r in d.models if r.ok]
    if not ok:
        return ["No model finished, so nothing was measured."]
    rec = ok[0].record
    w1, sw, dom = rec["w1"], rec["w1_sliced"], rec["fid_domain"]
    lines = [
        f"- W1: exact empirical Wasserstein-1 (POT `ot.emd2`, {w1['ground_cost']} ground cost) between "
        f"{w1['n_generated']} generated and {w1['n_real']} held-out samples, in {w1['space']}.",
        f"- Sliced W1: {sw['projections']} random directions, {sw['n_generated']} generated against "
        f"{sw['n_real']} held-out samples.",
        f"- Domain FID: Frechet distance on {dom['dims']}-dimensional "
        + ("raw coordinates" if dom["features"] == "coordinates" else
           f"features of a classifier trained on the training split (held-out accuracy "
           f"{fmt(100 * dom['classifier_test_accuracy'], 3)}%)")
        + f"; {dom['n_generated']} generated against {dom['n_real']} held-out samples.",
    ]
    n_floor = d.real.get("floor", {}).get("n_train_used")
    if n_floor is not None:
        lines.append(f"- The real-data row puts {n_floor} training samples where the generated ones go.")
    if d.kind == "images":
        inc = rec.get("fid_inception", {})
        lines.append(f"- Inception FID ({inc.get('dims')} dims, pytorch-fid): "
                     + ("computed." if inc.get("available") else f"unavailable: {inc.get('reason')}"))
    if d.kind == "points":
        m = rec["modes"]
        lines.append(f"- Modes: a sample is high quality within {fmt(m['n_std'])} standard deviations of its "
                     f"nearest mode; a mode is covered with at least {m['min_count']} such samples "
                     f"({fmt(m['min_fraction'])} of the {w1['n_generated']}/{m['modes_total']} it expects).")
    for r in ok:
        ll = r.record.get("likelihood")
        if ll:
            lines.append(f"- {r.name} likelihood: ELBO and importance-sampled log p(x) on {ll['points']} held-out "
                         f"points, K = {ll['samples']}, proposal std x{ll['std_scale']}, "
                         f"effective sample size {fmt(100 * ll['ess_fraction'], 2)}% of K; {ll['units']}.")
    e = next((r.record["estimate_vs_w1"] for r in ok if "estimate_vs_w1" in r.record), None)
    if e:
        lines.append(f"- During training: exact W1 of {e['n_samples']} samples of each generator snapshot "
                     "against the held-out split, next to the training log's estimate averaged over the "
                     "half-interval before the snapshot.")
    return lines


def _environment(d: DatasetResults) -> list[str]:
    def distinct(values):
        return ", ".join(sorted({str(v) for v in values if v is not None})) or DASH

    versions: dict[str, set] = {}
    for r in d.models:
        for k, v in r.record.get("versions", {}).items():
            versions.setdefault(k, set()).add(v)
    lines = [f"- Training device: {distinct(r.train.get('device') for r in d.models)}; "
             f"evaluation device: {distinct(r.record.get('device') for r in d.models)}."]
    lines += [f"- {k}: {', '.join(sorted(v))}" for k, v in sorted(versions.items())]
    return lines


def render_dataset(d: DatasetResults, params: dict) -> str:
    """One data set's report: table, reading, figures, how it was measured, params, environment."""
    table, notes = comparison_table(d)
    parts = [f"# {d.name}: GAN vs WGAN vs AVB (and a VAE baseline)", "",
             "Lower is better for every distance (FID, W1); higher for modes, high-quality share, ELBO and "
             "log-likelihood. The last row is real data against real data: the best a generator can score "
             "with these sample sizes.", "", table, ""]
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
