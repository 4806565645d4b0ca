"""The report: typed findings computed from hand-built records with known answers, and one golden page per
report (a data set's results page and the index) rendered from a fixed set of records.

Every fixture has three seeds, each seed's value given explicitly, so the expected means, p-values and
decisions below are computed by hand or by scipy directly, not by the code under test. The golden files
under tests/golden/report/ pin the wording; after an intended change, rewrite them with
`UPDATE_GOLDEN=1 python -m pytest -n0 tests/test_report.py` and review `git diff tests/golden/`."""

from __future__ import annotations

import difflib
import math
import os
from pathlib import Path
from typing import Optional, Sequence

import pytest
import yaml
from scipy import stats

from pipeline.records import (
    AisEstimate,
    Convergence,
    EstimateVsW1,
    EvalRecord,
    InceptionInfo,
    Likelihood,
    Measurement,
    ModeInfo,
    RealRecord,
    SampleScores,
    SnapshotFloor,
    SnapshotW1,
    TrainRecord,
)
from pipeline.reporting import findings, readings
from pipeline.reporting.results import DatasetResults, ModelResult
from pipeline.reporting.report import fmt, render_dataset, render_index

REPO = Path(__file__).resolve().parents[1]
GOLDEN = Path(__file__).resolve().parent / "golden" / "report"
SEEDS = (0, 1, 2)
BUDGET = 1000.0
DIVERGED_MSG = "critic_loss became nan at generator step 121"
NO_INCEPTION = "put the weights file at /x"


# --- records -------------------------------------------------------------------------------------


def _how(kind: str = "points", **over) -> Measurement:
    fields = dict(n_generated=2500, n_real=2000, space="coordinates", sliced_n_generated=10000, sliced_n_real=2000,
                  projections=200, domain_features="coordinates", domain_dims=2, domain_n_real=2000,
                  modes=ModeInfo(modes_total=8, min_count=63, counts=[300] * 8, n_std=3.0, min_fraction=0.2)
                  if kind == "points" else None,
                  inception=None if kind == "points" else InceptionInfo(available=False, reason=NO_INCEPTION))
    return Measurement(**(fields | over))


def _model(name: str, w1: Sequence[float], fid: Sequence[float], *, kind: str = "points", dataset: str = "ring8",
           modes: Sequence[int] = (8, 8, 8), hq: Sequence[float] = (50.0, 50.0, 50.0),
           pr: Optional[Sequence[tuple[float, float]]] = None, loglik: Optional[Sequence[tuple]] = None,
           ais: Optional[Sequence[AisEstimate]] = None, corr: Sequence[Optional[float]] = (None, None, None),
           late: Optional[Sequence[float]] = None, estimates: Optional[Sequence[tuple]] = None,
           seconds: Sequence[float] = (10.0, 12.0, 14.0), diverged: Sequence[int] = (),
           states: Optional[dict[int, Convergence]] = None, cpu: Optional[str] = None) -> ModelResult:
    """One model over SEEDS: the i-th value of each list is seed i's. `loglik`: (ELBO, log-lik, ESS fraction)
    per seed, `ais` its AIS estimate; `pr`: (precision, recall), None as in a record from before they were
    measured. Snapshots at 1/4, 1/2 and all of the budget (steps 750, 1500, 3000) have W1 = the final W1
    + 0.75, + 0.5, + 0 and the estimates `estimates` (0 without); `late`: Spearman rho over the snapshots from
    step 1000. Seeds in `diverged` have no numbers; `states`: seed -> its Convergence (else settled)."""
    runs, trains = [], []
    for i, seed in enumerate(SEEDS):
        ok = seed not in diverged
        steps = 3000 if ok else 120
        est = estimates[i] if estimates else (0.0, 0.0, 0.0)
        likelihood = None
        if ok and loglik is not None:
            elbo, ll, ess = loglik[i]
            likelihood = Likelihood(elbo=elbo, elbo_se=0.01, loglik=ll, loglik_se=0.05, ess_fraction=ess, points=1000,
                                    samples=256, std_scale=1.2, units="nats", ais=ais[i] if ais else None)
        e = EvalRecord(
            model=name, dataset=dataset, kind=kind, seed=seed, status="ok" if ok else "diverged",
            message="" if ok else DIVERGED_MSG, train_steps=steps,
            estimate_vs_w1=EstimateVsW1(estimate="x", pearson=corr[i], spearman=corr[i], snapshots=10, n_samples=1000,
                                        spearman_late=late[i] if late else None, snapshots_late=6 if late else 0,
                                        late_from=1000 if late else 0),
            device="cpu", versions={"torch": "2.x", "numpy": "2.y"}, seconds=1.0,
            scores=SampleScores(w1=w1[i], w1_sliced=w1[i] / 2, fid_domain=fid[i],
                                modes_covered=modes[i] if kind == "points" else None,
                                high_quality_pct=hq[i] if kind == "points" else None,
                                precision=pr[i][0] if pr else None, recall=pr[i][1] if pr else None) if ok else None,
            how=_how(kind) if ok else None, likelihood=likelihood,
            trajectory=[SnapshotW1(step=3 * g, w1=w1[i] + (BUDGET - g) / BUDGET, estimate=x, gflop=float(g))
                        for g, x in zip((250, 500, 1000), est)] if ok else [],
            convergence=(states or {}).get(seed, Convergence(state="settled", change=0.01, tolerance=0.03,
                                                             window_from=500.0, points=6))
            if ok else Convergence(state="diverged", change=None, tolerance=0.03, window_from=500.0, points=0),
            flops=int(1e12 if ok else 4e10), budget_gflop=BUDGET, train_seconds=seconds[i])
        runs.append(e)
        trains.append(TrainRecord(model=name, dataset=dataset, seed=seed, status=e.status, steps=steps,
                                  inner_steps=2 * steps, seconds=seconds[i], device="cpu", message=e.message,
                                  flops=e.flops, budget_gflop=BUDGET, planned_steps=3000, cpu=cpu))
    return ModelResult(runs, trains)


def _improving(change: float = -0.08) -> Convergence:
    return Convergence(state="improving", change=change, tolerance=0.03, window_from=500.0, points=6)


def _ais(loglik: float, gap: float, elbo_over: float) -> AisEstimate:
    """AIS on 100 of the 1000 points, the ELBO there `elbo_over` above it, and BDMC bounds `gap` apart."""
    return AisEstimate(loglik=loglik, stderr=0.1, points=100, chains=16, steps=200, leapfrog=5, acceptance=0.65,
                       ess_fraction=0.5, elbo=loglik + elbo_over, bdmc_points=20, bdmc_lower=-1.0,
                       bdmc_upper=-1.0 + gap)


def _models(**over: ModelResult) -> list[ModelResult]:
    base = {
        "gan": _model("gan", [1.2, 1.3, 1.1], [1.7, 1.8, 1.6], modes=[2, 3, 1], hq=[40, 45, 50], corr=[0.1, 0.0, 0.2],
                      seconds=[5, 6, 7], pr=[(0.6, 0.3), (0.7, 0.2), (0.8, 0.1)]),
        "wgan": _model("wgan", [0.30, 0.31, 0.29], [0.01, 0.02, 0.03], hq=[90, 92, 88], corr=[0.9, 0.8, 0.85],
                       pr=[(0.9, 0.95), (0.92, 0.93), (0.94, 0.91)]),
        # close to wgan, and the per-seed differences change sign: -0.05, +0.03, -0.04
        "wgan_gp": _model("wgan_gp", [0.35, 0.28, 0.33], [0.02, 0.05, 0.03], modes=[8, 7, 8], hq=[85, 80, 90],
                          corr=[0.8, 0.7, 0.75]),
        "avb": _model("avb", [0.7, 0.75, 0.65], [0.4, 0.45, 0.35], modes=[5, 6, 4], hq=[60, 62, 58],
                      loglik=[(0.6, -4.0, 0.05), (0.5, -3.8, 0.05), (0.7, -4.3, 0.05)]),
        "vae": _model("vae", [0.8, 0.85, 0.75], [0.6, 0.65, 0.55], modes=[1, 0, 2], hq=[30, 35, 40],
                      loglik=[(-2.2, -2.1, 0.2), (-2.1, -2.0, 0.2), (-2.3, -2.2, 0.2)], seconds=[20, 22, 24]),
    }
    return list((base | over).values())


def _real(**baseline) -> RealRecord:
    return RealRecord(
        dataset="ring8", kind="points", n_train=10000, n_test=2000, n_train_used=2500,
        floor=SampleScores(w1=0.05, w1_sliced=0.02, fid_domain=0.002, modes_covered=8, high_quality_pct=98.8,
                           mode_kl=0.001, precision=0.98, recall=0.97),
        how=_how(pr_k=3),
        baselines={"uniform on the circle": SampleScores(**(dict(w1=0.4, w1_sliced=0.3, fid_domain=0.1, modes_covered=8,
                                                                 high_quality_pct=38.0, precision=0.37, recall=0.6)
                                                            | baseline))},
        snapshot_floor=SnapshotFloor(n_samples=1000, draws=8, w1=0.06, w1_sd=0.01,
                                     baselines={"uniform on the circle": 0.45}))


def _ring(models: Optional[list[ModelResult]] = None, **baseline) -> DatasetResults:
    return DatasetResults("ring8", "points", models or _models(), _real(**baseline), ["../figures/ring8/samples.png"])


def _digits() -> DatasetResults:
    """An image data set whose Inception FID is unavailable: two models, wgan clearly lower on W1."""
    models = [_model("gan", [1.0, 1.1, 0.9], [5.0, 5.5, 4.5], kind="images", dataset="digits"),
              _model("wgan", [0.5, 0.52, 0.47], [3.0, 3.5, 2.5], kind="images", dataset="digits")]
    real = RealRecord(dataset="digits", kind="images", n_train=1437, n_test=360, n_train_used=360,
                      floor=SampleScores(w1=0.5, w1_sliced=0.2, fid_domain=1.0), how=_how("images"))
    return DatasetResults("digits", "images", models, real)


def _find(d: DatasetResults) -> findings.DatasetFindings:
    return findings.dataset_findings(d)


def _t_p(diffs) -> float:
    """Two-sided paired t-test p from the per-seed differences, by scipy directly."""
    return float(stats.ttest_1samp(diffs, 0.0).pvalue)


# --- findings ------------------------------------------------------------------------------------


def test_the_best_model_and_its_holm_corrected_comparisons():
    v = _find(_ring()).headline("w1")
    assert v is not None and v.best == "wgan" and v.lower_is_better  # the baseline's 0.4 is worse than wgan's 0.3
    assert (v.best_value.mean, v.best_value.n) == (pytest.approx(0.30), 3)
    # wgan - other per seed: gan -0.9, -0.99, -0.81; wgan_gp -0.05, 0.03, -0.04; avb -0.4, -0.44, -0.36;
    # vae -0.5, -0.54, -0.46
    p = {"gan": _t_p([-0.9, -0.99, -0.81]), "wgan_gp": _t_p([-0.05, 0.03, -0.04]),
         "avb": _t_p([-0.4, -0.44, -0.36]), "vae": _t_p([-0.5, -0.54, -0.46])}
    order = sorted(p, key=p.get)  # Holm: the i-th smallest p times (m - i), made monotone
    holm, running = {}, 0.0
    for i, name in enumerate(order):
        running = max(running, min(1.0, (4 - i) * p[name]))
        holm[name] = running
    got = {c.other: c for c in v.comparisons}
    for name in p:
        assert got[name].p == pytest.approx(p[name]) and got[name].p_holm == pytest.approx(holm[name])
    assert [c.other for c in v.separated] == [n for n in got if holm[n] < 0.05] == ["gan", "avb", "vae"]
    assert [c.other for c in v.not_separated] == ["wgan_gp"]
    # the 95% interval of wgan - gan: mean -0.9, sd 0.09, t(0.975, 2) = 4.303: -0.9 ± 4.303 * 0.09 / sqrt(3)
    half = stats.t.ppf(0.975, 2) * 0.09 / math.sqrt(3)
    assert (got["gan"].ci_low, got["gan"].ci_high) == (pytest.approx(-0.9 - half), pytest.approx(-0.9 + half))
    assert got["wgan_gp"].mean_diff == pytest.approx(-0.02)
    lo, hi = v.detectable
    assert lo == hi == got["wgan_gp"].mdd > abs(got["wgan_gp"].mean_diff)  # one pair not separated
    assert v.floor == 0.05 and v.baselines == {"uniform on the circle": 0.4}
    # higher is better for precision: the best is the highest mean
    prec = next(x for x in _find(_ring()).verdicts if x.metric == "precision")
    assert prec.best == "wgan" and not prec.lower_is_better


def test_a_metric_a_no_learning_baseline_scores_as_well_on_is_no_headline():
    # domain FID: the uniform circle's 0.1 beats gan, avb and vae but not wgan's 0.02: still a headline
    assert _find(_ring()).headline("fid_domain") is not None
    f = _find(_ring(fid_domain=0.001))  # better than every model: it does not separate learning from none
    assert f.headline("fid_domain") is None and f.headline("w1") is not None
    assert not next(v for v in f.verdicts if v.metric == "fid_domain").headline


def test_anytime_ranks_every_model_at_each_share_of_the_budget():
    rows = {r.model: r for r in _find(_ring()).anytime}
    # snapshot W1 at 250, 500 and 1000 GFLOP is the final W1 + 0.75, + 0.5, + 0
    assert rows["wgan"].cells[0].w1.mean == pytest.approx(1.05) and rows["wgan"].cells[2].w1.mean == pytest.approx(0.3)
    assert [rows[m].cells[2].rank for m in ("wgan", "wgan_gp", "avb", "vae", "gan")] == [1, 2, 3, 4, 5]
    assert rows["gan"].states == {"settled": 3} and rows["gan"].gflop == pytest.approx(1000)
    assert findings.w1_at(_ring().models[0].runs[0], 0.5) == pytest.approx(1.2 + 0.5)
    assert findings.w1_at(_ring().models[0].runs[0], 0.3) is None  # not a compute point


def test_power_of_three_seeds():
    p = _find(_ring()).power
    assert p.n == 3 and p.mdd_in_sd == pytest.approx(3.26, abs=0.01)  # noncentral t, 80% power at alpha 0.05
    assert 0.05 < p.power_at_one_sd < 0.8
    assert findings.power(1, 0.05).mdd_in_sd is None  # one seed: no paired test


def test_runs_still_moving_at_the_budget_are_named_with_their_direction():
    worse = Convergence(state="worse", change=None, tolerance=0.03, window_from=500.0, points=2)
    d = _ring(_models(wgan_gp=_model("wgan_gp", [0.35, 0.28, 0.33], [0.02, 0.05, 0.03],
                                     states={1: _improving(), 2: worse})))
    f = _find(d)
    assert f.states["wgan_gp"] == {"settled": 1, "improving": 1, "worse": 1} and f.states["gan"] == {"settled": 3}
    assert [(u.model, u.seed, u.state, u.change, u.tolerance, u.window_from, u.budget) for u in f.unsettled] == [
        ("wgan_gp", 1, "improving", -0.08, 0.03, 500.0, BUDGET), ("wgan_gp", 2, "worse", None, 0.03, 500.0, BUDGET)]
    assert next(r for r in f.table.rows if r.model == "wgan_gp").states == f.states["wgan_gp"]


def test_diverged_runs_are_shown_as_diverged_not_numbers():
    d = _ring([
        _model("gan", [0, 0, 0], [0, 0, 0], diverged=[0, 1, 2]),
        _model("wgan", [0.30, 0.31, 0.29], [0.01, 0.02, 0.03], diverged=[1]),
        _model("wgan_gp", [0.35, 0.28, 0.33], [0.02, 0.05, 0.03]),
    ])
    f = _find(d)
    assert [(x.model, x.seed, x.steps, x.message) for x in f.diverged] == \
        [("gan", 0, 120, DIVERGED_MSG), ("gan", 1, 120, DIVERGED_MSG), ("gan", 2, 120, DIVERGED_MSG),
         ("wgan", 1, 120, DIVERGED_MSG)]
    rows = {r.model: r for r in f.table.rows}
    assert not rows["gan"].ok and rows["gan"].diverged == 3 and rows["gan"].states == {"diverged": 3}
    assert all(sp.n == 0 for sp in rows["gan"].values.values())  # no number, not even a zero
    # one of three seeds diverged: the values are over the other two (0.30 and 0.29)
    assert rows["wgan"].ok and rows["wgan"].diverged == 1
    assert (rows["wgan"].values["w1"].mean, rows["wgan"].values["w1"].n) == (pytest.approx(0.295), 2)
    # gan has nothing to compare; wgan - wgan_gp is paired over the two seeds both have: -0.05, -0.04
    v = f.headline("w1")
    got = {c.other: c for c in v.comparisons}
    assert v.best == "wgan" and got["gan"].n == 0 and got["gan"].p is None and not got["gan"].separated
    assert got["wgan_gp"].n == 2 and got["wgan_gp"].mean_diff == pytest.approx(-0.045)
    assert f.modes.models[0].model == "wgan"  # a model without numbers covers no modes, and is not listed
    assert [e.model for e in f.estimates] == ["wgan", "wgan_gp"]
    # the rendered table: every metric cell of the model that diverged in every seed says so
    page = render_dataset(d, {"seeds": list(SEEDS), "net": {"arch": "mlp"}})
    table = page.split("## Every metric at the budget")[1]
    row = next(line for line in table.splitlines() if line.startswith("| gan "))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[1:-4] == ["diverged"] * len(f.table.columns) and cells[-4] == "diverged 3"


def test_table_columns_follow_the_data_set_and_unavailable_inception_fid_is_footnoted():
    ring = _find(_ring()).table
    assert ring.columns == ["fid_domain", "precision", "recall", "w1", "w1_sliced", "modes_covered",
                            "high_quality_pct", "mode_kl", "elbo", "loglik"]  # no AIS in any run: no AIS column
    avb = next(r for r in ring.rows if r.model == "avb")
    assert (avb.likelihood_seeds, avb.low_ess, avb.elbo_kind) == (3, 3, "estimate")  # ESS 5% < 10% in every seed
    assert ring.notes == [] and avb.modes_total == 8 and avb.steps == [3000]
    digits = _find(_digits()).table
    assert digits.columns[0] == "fid_inception" and "modes_covered" not in digits.columns
    assert [r.inception_note for r in digits.rows] == [1, 1] and digits.notes == [NO_INCEPTION]
    page = render_dataset(_digits(), {"seeds": list(SEEDS), "net": {"arch": "mlp"}})
    assert "| gan | unavailable [1] |" in page and f"\n[1] {NO_INCEPTION}\n" in page


def test_a_number_that_rounds_up_to_more_digits_is_written_plainly():
    # `g` rounds 999.7 to 3 significant digits as 1e+03: written whole, as a number of 1000 or more is
    assert [fmt(v) for v in (999.7, -999.7, 999.4, 1234.0, 0.0123, 1.5e5, 4e-4)] == \
        ["1000", "-1000", "999", "1234", "0.0123", "1.50e+05", "4.00e-04"]
    assert (fmt(99.7, 2), fmt(99.4, 2)) == ("100", "99")
    # runs that trained to within a step of the 1000 GFLOP budget: their GFLOP cell reads 1000
    d = _ring()
    for r in d.models:
        for t in r.trains:
            t.flops = int(999.7e9)
    assert all(r.gflop == pytest.approx(999.7) for r in _find(d).table.rows)
    table = render_dataset(d, {"seeds": list(SEEDS), "net": {"arch": "mlp"}}).split("## Every metric at the budget")[1]
    row = next(line for line in table.splitlines() if line.startswith("| wgan "))
    assert [c.strip() for c in row.strip("|").split("|")][-3] == "1000"


def test_sections_are_separated_by_one_blank_line():
    ring = _golden_ring()
    ring.figures.append("../figures/ring8/curves.png")  # two figures under Figures
    pages = [render_dataset(ring, {"seeds": list(SEEDS), "net": {"arch": "mlp"}}), render_dataset(_digits(), {"seeds": list(SEEDS), "net": {"arch": "mlp"}}),
             render_index([ring, _digits()], {"ring8": "results/ring8.md", "digits": "results/digits.md"},
                          {"mnist": ("results/mnist.md", "mnist")})]
    assert all("\n\n\n" not in page for page in pages)
    assert "samples.png)\n\n![curves](../figures/ring8/curves.png)\n\n## How it was measured" in pages[0]
    assert f"|\n\n[1] {NO_INCEPTION}\n\n## Reading" in pages[1]  # footnotes: one blank line either side


def test_likelihoods_are_ordered_only_when_the_paired_test_separates_them():
    m = _models(
        avb=_model("avb", [0.7, 0.75, 0.65], [0.4, 0.45, 0.35], loglik=[(-1.9, -2.0, 0.2), (-2.0, -2.1, 0.2),
                                                                         (-1.8, -2.05, 0.2)]),
        vae=_model("vae", [0.8, 0.85, 0.75], [0.6, 0.65, 0.55], loglik=[(-2.2, -2.1, 0.2), (-2.3, -2.25, 0.2),
                                                                         (-2.1, -1.95, 0.2)]))
    lik = _find(_ring(m)).likelihoods
    o = lik.order
    # avb - vae: 0.1, 0.15, -0.1 -> 0.05, p = 0.58: not separated, so no ordering
    assert not lik.ais and (o.higher, o.lower) == ("avb", "vae") and not o.separated
    assert o.test.mean_diff == pytest.approx(0.05) and o.test.p == pytest.approx(_t_p([0.1, 0.15, -0.1]))
    assert o.unreliable == [] and o.bdmc_gap is None
    # the default fixture: avb's importance sampler had ESS 5% < 10%: its estimate may be far below log p(x)
    o = _find(_ring()).likelihoods.order
    assert (o.higher, o.lower, o.separated, o.unreliable) == ("vae", "avb", True, ["avb"])


def test_with_ais_the_order_and_the_elbo_gap_use_ais_on_its_own_points():
    # vae - avb AIS: 0.3, 0.2, 0.25 -> 0.25, p = 0.0126: separated, but within avb's BDMC gap of 0.5
    d = _ring(_models(
        avb=_model("avb", [0.7, 0.75, 0.65], [0.4, 0.45, 0.35], loglik=[(0.6, -4.0, 0.05)] * 3,
                   ais=[_ais(-3.0, 0.5, 0.4), _ais(-2.9, 0.5, 0.4), _ais(-3.05, 0.5, 0.4)]),
        vae=_model("vae", [0.8, 0.85, 0.75], [0.6, 0.65, 0.55], loglik=[(-2.2, -2.1, 0.2)] * 3,
                   ais=[_ais(-2.7, -0.125, -0.5), _ais(-2.7, -0.125, -0.5), _ais(-2.8, -0.125, -0.5)])))
    f = _find(d)
    lik = f.likelihoods
    assert lik.ais and "loglik_ais" in f.table.columns
    o = lik.order
    assert (o.higher, o.lower, o.separated) == ("vae", "avb", True)
    assert o.test.p == pytest.approx(_t_p([0.3, 0.2, 0.25])) and o.bdmc_gap == pytest.approx(0.5)
    assert o.unreliable == []  # only said of importance sampling
    gaps = {g.model: g for g in lik.models}
    # against the ELBO on AIS's points (0.4 above for avb's estimate, 0.5 below for vae's bound), not the ELBO
    # over all 1000 points (0.6 and -2.2 against AIS's -3 and -2.7 would give other gaps)
    assert gaps["avb"].above and gaps["avb"].gap.mean == pytest.approx(0.4)
    assert not gaps["vae"].above and gaps["vae"].size.mean == pytest.approx(0.5) and gaps["vae"].elbo_kind == "bound"
    assert (gaps["avb"].ais_points, gaps["avb"].all_points) == ([100], [1000])
    assert gaps["vae"].bdmc.crossed and not gaps["avb"].bdmc.crossed  # bounds that cross agree within noise
    assert gaps["avb"].bdmc.gap.mean == pytest.approx(0.5) and gaps["avb"].bdmc.points == 20
    # a difference larger than both BDMC gaps stands on its own
    for x in d.models[3].ok_runs:
        x.likelihood.ais.loglik -= 1.0
    assert _find(d).likelihoods.order.bdmc_gap is None


def test_an_estimate_that_runs_opposite_to_w1_late_is_read_from_the_late_snapshots():
    assert [readings.strength(r) for r in (0.7, 0.69, 0.3, -0.29, -0.3)] == \
        ["close", "moderate", "moderate", "barely", "opposite"]
    # a critic's estimate rising toward a falling W1 in every seed (snapshots at steps 1500 and 3000 are late)
    est = [(0.0, 0.1, 0.25), (0.0, 0.2, 0.26), (0.0, 0.15, 0.27)]
    d = _ring(_models(wgan=_model("wgan", [0.30, 0.31, 0.29], [0.01, 0.02, 0.03], corr=[0.3, 0.4, 0.2],
                                  late=[-0.9, -0.8, -0.7], estimates=est)))
    e = next(x for x in _find(d).estimates if x.model == "wgan")
    assert e.critic and e.defined and e.whole.strength == "moderate" and e.late.strength == "opposite"
    assert (e.late_from, e.late_snapshots, e.snapshots) == ([1000], [6], [10])
    assert [(x.first.estimate, x.last.w1) for x in e.ends] == [(0.1, 0.30), (0.2, 0.31), (0.15, 0.29)]
    assert e.closing == [pytest.approx((0.1 / 0.8, 0.25 / 0.3)), pytest.approx((0.2 / 0.81, 0.26 / 0.31)),
                         pytest.approx((0.15 / 0.79, 0.27 / 0.29))]
    # a GAN's JS estimate is no W1 estimate: the same snapshots, no such reading
    d = _ring(_models(gan=_model("gan", [0.30, 0.31, 0.29], [0.01, 0.02, 0.03], corr=[0.3, 0.4, 0.2],
                                 late=[-0.9, -0.8, -0.7], estimates=est)))
    g = next(x for x in _find(d).estimates if x.model == "gan")
    assert not g.critic and len(g.ends) == 3 and g.closing is None
    # one seed whose estimate fell: the numbers, without the reading that needs every seed
    est[2] = (0.0, 0.3, 0.2)
    d = _ring(_models(wgan=_model("wgan", [0.30, 0.31, 0.29], [0.01, 0.02, 0.03], corr=[0.3, 0.4, 0.2],
                                  late=[-0.9, -0.8, -0.7], estimates=est)))
    e = next(x for x in _find(d).estimates if x.model == "wgan")
    assert len(e.ends) == 3 and e.closing is None
    # latent models are not listed; late ranks that agree give no ends
    assert [x.model for x in _find(_ring()).estimates] == ["gan", "wgan", "wgan_gp"]
    assert all(x.late is None and not x.ends for x in _find(_ring()).estimates)


def test_modes_against_a_baseline_that_learned_none():
    md = _find(_ring()).modes
    assert md.total == 8 and (md.floor_covered, md.floor_high_quality) == (8, 98.8)
    cover = {c.model: c for c in md.models}
    assert cover["wgan"].all_covered == 3 and cover["wgan_gp"].all_covered == 2 and cover["gan"].all_covered == 0
    # 38% for the uniform circle: vae (35%) is not above it; at 10% every model is
    assert md.baselines[0].not_above == ["vae"]
    assert _find(_ring(high_quality_pct=10.0)).modes.baselines[0].not_above == []
    assert _find(_ring(high_quality_pct=61.0)).modes.baselines[0].not_above == ["gan", "avb", "vae"]
    assert _find(_digits()).modes is None  # images: no modes


def test_training_time_range_and_environment():
    f = _find(_ring())
    assert (f.times.fastest, f.times.fastest_seconds, f.times.slowest, f.times.slowest_seconds) == \
        ("gan", 6.0, "vae", 22.0)
    env = f.environment
    assert (env.train_devices, env.eval_devices, env.cpus) == (["cpu"], ["cpu"], [])  # no CPU kept: none said
    assert env.versions == {"numpy": ["2.y"], "torch": ["2.x"]}
    same = _ring([_model("gan", [1.0, 1.1, 0.9], [1, 1, 1]), _model("wgan", [1.0, 1.1, 0.9], [1, 1, 1])])
    assert _find(same).times is None  # every model took as long: no range to state


# --- golden pages --------------------------------------------------------------------------------


def _golden_ring() -> DatasetResults:
    """Every part of a page at once: a diverged seed, runs still moving, a non-headline metric, a critic's
    estimate running opposite to W1 late, likelihoods with AIS and BDMC, the compute figure, the CPU."""
    cpu = "Some CPU (AVX2)"
    models = _models(
        gan=_model("gan", [1.2, 1.3, 1.1], [1.7, 1.8, 1.6], modes=[2, 3, 1], hq=[40, 45, 50], corr=[0.1, 0.0, 0.2],
                   late=[0.5, 0.6, 0.4], seconds=[5, 6, 7], pr=[(0.6, 0.3), (0.7, 0.2), (0.8, 0.1)], diverged=[2],
                   states={1: _improving()}, cpu=cpu),
        wgan=_model("wgan", [0.30, 0.31, 0.29], [0.01, 0.02, 0.03], hq=[90, 92, 88], corr=[0.3, 0.4, 0.2],
                    late=[-0.9, -0.8, -0.7], estimates=[(0.0, 0.1, 0.25), (0.0, 0.2, 0.26), (0.0, 0.15, 0.27)],
                    pr=[(0.9, 0.95), (0.92, 0.93), (0.94, 0.91)],
                    states={2: Convergence(state="worse", change=0.05, tolerance=0.03, window_from=500.0, points=6)},
                    cpu=cpu),
        wgan_gp=_model("wgan_gp", [0.35, 0.28, 0.33], [0.02, 0.05, 0.03], modes=[8, 7, 8], hq=[85, 80, 90],
                       corr=[0.8, 0.7, 0.75], late=[0.9, 0.8, 0.85], cpu=cpu),
        avb=_model("avb", [0.7, 0.75, 0.65], [0.4, 0.45, 0.35], modes=[5, 6, 4], hq=[60, 62, 58],
                   loglik=[(0.6, -4.0, 0.05), (0.5, -3.8, 0.05), (0.7, -4.3, 0.05)],
                   ais=[_ais(-3.0, 0.5, 0.4), _ais(-2.9, 0.5, 0.4), _ais(-3.05, 0.5, 0.4)], cpu=cpu),
        vae=_model("vae", [0.8, 0.85, 0.75], [0.6, 0.65, 0.55], modes=[1, 0, 2], hq=[30, 35, 40],
                   loglik=[(-2.2, -2.1, 0.2), (-2.1, -2.0, 0.2), (-2.3, -2.2, 0.2)],
                   ais=[_ais(-2.7, -0.125, -0.5), _ais(-2.7, -0.125, -0.5), _ais(-2.8, -0.125, -0.5)], seconds=[20, 22, 24], cpu=cpu))
    d = _ring(models, fid_domain=0.001)
    d.figures = ["../figures/ring8/w1_vs_compute.png", "../figures/ring8/samples.png"]
    return d


def assert_golden(name: str, text: str) -> None:
    """`text` equals tests/golden/report/`name`; UPDATE_GOLDEN=1 writes it there instead."""
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return
    if not path.exists():
        pytest.fail(f"{path} is missing: write it with UPDATE_GOLDEN=1 and review it")
    expected = path.read_text()
    if text != expected:
        diff = "".join(difflib.unified_diff(expected.splitlines(True), text.splitlines(True),
                                            f"{path.relative_to(REPO)} (golden)", "rendered"))
        pytest.fail(f"the rendered {name} differs from its golden file; if the change is intended, rewrite it "
                    f"with UPDATE_GOLDEN=1 and review the diff:\n{diff}", pytrace=False)


def test_golden_results_page():
    assert_golden("ring8.md", render_dataset(_golden_ring(), {"seeds": list(SEEDS), "net": {"arch": "mlp"},
                                                              "clip": 0.01, "eval": {"alpha": 0.05, "settle_rtol": 0.1}}))


def test_golden_index():
    assert_golden("index.md", render_index([_golden_ring(), _digits()],
                                           {"ring8": "results/ring8.md", "digits": "results/digits.md"},
                                           {"mnist": ("results/mnist.md", "mnist: a page from its own run")}))


def test_a_page_that_differs_from_its_golden_file_fails_with_a_diff(tmp_path, monkeypatch):
    monkeypatch.setattr(f"{__name__}.GOLDEN", tmp_path)
    monkeypatch.setattr(f"{__name__}.REPO", tmp_path.parent)
    monkeypatch.delenv("UPDATE_GOLDEN", raising=False)
    (tmp_path / "page.md").write_text("# title\n\nold line\n")
    with pytest.raises(pytest.fail.Exception) as err:
        assert_golden("page.md", "# title\n\nnew line\n")
    assert "-old line\n+new line" in str(err.value)
    assert_golden("page.md", "# title\n\nold line\n")  # equal: passes


# --- the stage ------------------------------------------------------------------------------------


def test_report_stage_on_fixture_outputs(tmp_path: Path, monkeypatch):
    """The stage itself: reads metrics/ per seed, reports/figures/ and params.yaml, writes reports/."""
    from typer.testing import CliRunner

    from stages.__main__ import app
    from stages.paths import eval_record_path, real_record_path, train_record_path

    d = _ring()
    for r in d.models:
        for e, t in zip(r.runs, r.trains):
            e.write(tmp_path / eval_record_path("ring8", r.name, e.seed))
            t.write(tmp_path / train_record_path("ring8", r.name, t.seed))
    d.real.write(tmp_path / real_record_path("ring8"))
    (tmp_path / "reports/figures/ring8").mkdir(parents=True)
    (tmp_path / "reports/figures/ring8/samples.png").write_bytes(b"png")
    params = yaml.safe_load((REPO / "params.yaml").read_text()) | {"datasets": ["ring8"], "seeds": [0, 1, 2]}
    params["eval"] |= {"alpha": 0.1, "settle_rtol": 0.2}  # both reach the page
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["report"])
    assert result.exit_code == 0, result.output
    page = (tmp_path / "reports/results/ring8.md").read_text()
    # the same records through the stage give the page the renderer gives them directly
    shown = yaml.safe_load(page.split("```yaml\n")[1].split("```")[0])  # every params section, defaults filled in
    assert page == render_dataset(DatasetResults("ring8", "points", d.models, d.real, d.figures, alpha=0.1, rtol=0.2,
                                                 lr_schedule=shown["train"]["lr_schedule"]), shown)
    assert "alpha = 0.1 (Holm)" in page and "max(0.2 x the real-data floor's W1" in page
    assert "curves.png" not in page  # only figures that exist
    index = (tmp_path / "reports/index.md").read_text()
    assert "[ring8](results/ring8.md)" in index
