"""The report stage on fixture metrics: tables of mean ± std over seeds, verdicts computed from the
numbers (paired t-tests over seeds, Holm-corrected), diverged runs and runs still moving at the budget.

Every fixture has three seeds, each seed's value given explicitly, so the expected means, standard
deviations and p-values below were computed by hand (scipy.stats.ttest_1samp on the per-seed
differences), not by the code under test."""

from __future__ import annotations

import math
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
    SnapshotW1,
    TrainRecord,
)
from pipeline.reporting import findings
from pipeline.reporting.report import (DatasetResults, ModelResult, anytime_table, comparison_table, reading, render_dataset,
                             render_index)

REPO = Path(__file__).resolve().parents[1]
SEEDS = (0, 1, 2)
DIVERGED_MSG = "critic_loss became nan at generator step 121"


def _how(kind: str = "points") -> Measurement:
    return Measurement(n_generated=2500, n_real=2000, space="coordinates", sliced_n_generated=10000,
                       sliced_n_real=2000, projections=200, domain_features="coordinates", domain_dims=2,
                       domain_n_real=2000,
                       modes=ModeInfo(8, 63, [300] * 8, 3.0, 0.2) if kind == "points" else None,
                       inception=None if kind == "points" else InceptionInfo(False, "put the weights file at /x"))


def _model(name: str, w1: Sequence[float], fid: Sequence[float], *, modes: Optional[Sequence[int]] = None,
           hq: Sequence[float] = (50.0, 50.0, 50.0), loglik: Optional[Sequence[tuple]] = None,
           corr: Sequence[Optional[float]] = (None, None, None), seconds: Sequence[float] = (10.0, 12.0, 14.0),
           diverged: Sequence[int] = (), not_converged: Sequence[int] = (), kind: str = "points",
           pr: Optional[Sequence[tuple[float, float]]] = None) -> ModelResult:
    """One model over SEEDS: the i-th value of each list is seed i's. `loglik`: (ELBO, log-lik, ESS fraction)
    per seed; `pr`: (precision, recall) per seed, None as in a record from before they were measured;
    sliced W1 is half of W1. Seeds in `diverged` have no numbers; seeds in `not_converged` have
    numbers but a W1 that was still falling at the budget (by 0.08 against a tolerance of 0.03)."""
    runs, trains = [], []
    for i, seed in enumerate(SEEDS):
        ok = seed not in diverged
        steps = 3000 if ok else 120
        e = EvalRecord(model=name, dataset="ring8", kind=kind, seed=seed, status="ok" if ok else "diverged",
                       message="" if ok else DIVERGED_MSG, train_steps=steps,
                       estimate_vs_w1=EstimateVsW1("x", corr[i], corr[i], 10, 1000),
                       device="cpu", versions={"torch": "2.x"}, seconds=1.0)
        if ok:
            e.scores = SampleScores(w1[i], w1[i] / 2, fid[i],
                                    modes_covered=modes[i] if kind == "points" else None,
                                    high_quality_pct=hq[i] if kind == "points" else None,
                                    precision=pr[i][0] if pr else None, recall=pr[i][1] if pr else None)
            e.how = _how(kind)
            if loglik is not None:
                elbo, ll, ess = loglik[i]
                e.likelihood = Likelihood(elbo, 0.01, ll, 0.05, ess, 1000, 256, 1.2, "nats")
            e.convergence = (Convergence("improving", -0.08, 0.03, 500.0, 6) if seed in not_converged
                             else Convergence("settled", 0.01, 0.03, 500.0, 6))
        else:
            e.convergence = Convergence("diverged", None, 0.03, 500.0, 0)
        e.budget_gflop, e.flops, e.train_seconds = 1000.0, int(1e12 if ok else 4e10), seconds[i]
        e.trajectory = [SnapshotW1(int(3 * g), w1[i] + (1000 - g) / 1000, 0.0, float(g)) for g in (250, 500, 1000)] \
            if ok else []
        runs.append(e)
        trains.append(TrainRecord(name, "ring8", seed, e.status, steps, 2 * steps, seconds[i], "cpu", e.message,
                                  flops=e.flops, budget_gflop=1000.0, planned_steps=3000))
    return ModelResult(runs, trains)


def _models(**over) -> list[ModelResult]:
    base = {
        "gan": _model("gan", [1.2, 1.3, 1.1], [1.7, 1.8, 1.6], modes=[2, 3, 1], hq=[40, 45, 50],
                      corr=[0.1, 0.0, 0.2], seconds=[5, 6, 7], pr=[(0.6, 0.3), (0.7, 0.2), (0.8, 0.1)]),
        "wgan": _model("wgan", [0.30, 0.31, 0.29], [0.01, 0.02, 0.03], modes=[8, 8, 8], hq=[90, 92, 88],
                       corr=[0.9, 0.8, 0.85], pr=[(0.9, 0.95), (0.92, 0.93), (0.94, 0.91)]),
        # close to wgan, and the per-seed differences change sign: -0.05, +0.03, -0.04
        "wgan_gp": _model("wgan_gp", [0.35, 0.28, 0.33], [0.02, 0.05, 0.03], modes=[8, 7, 8], hq=[85, 80, 90],
                          corr=[0.8, 0.7, 0.75]),
        "avb": _model("avb", [0.7, 0.75, 0.65], [0.4, 0.45, 0.35], modes=[5, 6, 4], hq=[60, 62, 58],
                      loglik=[(0.6, -4.0, 0.05), (0.5, -3.8, 0.05), (0.7, -4.3, 0.05)]),
        "vae": _model("vae", [0.8, 0.85, 0.75], [0.6, 0.65, 0.55], modes=[1, 0, 2], hq=[30, 35, 40],
                      loglik=[(-2.2, -2.1, 0.2), (-2.1, -2.0, 0.2), (-2.3, -2.2, 0.2)], seconds=[20, 22, 24]),
    }
    return list((base | over).values())


def _real() -> RealRecord:
    return RealRecord("ring8", "points", 10000, 2000, 2500,
                      SampleScores(0.05, 0.02, 0.002, modes_covered=8, high_quality_pct=98.8, mode_kl=0.001,
                                   precision=0.98, recall=0.97), _how(),
                      {"uniform on the circle": SampleScores(0.4, 0.3, 0.1, modes_covered=8, high_quality_pct=38.0,
                                                             precision=0.37, recall=0.6)})


def _ring(models: Optional[list[ModelResult]] = None) -> DatasetResults:
    return DatasetResults("ring8", "points", models or _models(), _real(), ["../figures/ring8/samples.png"])


def _row(table: str, name: str) -> str:
    return next(line for line in table.splitlines() if line.startswith(f"| {name} "))


def _line(text: str, start: str) -> str:
    return next(line for line in text.splitlines() if line.startswith(start))


def test_table_has_a_row_per_model_and_the_floor():
    table, notes = comparison_table(_ring())
    lines = table.splitlines()
    assert lines[0] == ("| model | domain FID | precision | recall | W1 | sliced W1 | modes | high quality % | mode KL "
                        "| ELBO | log-lik (IS) | at the budget | GFLOP | steps | train time (s) |")  # points: no Inception FID
    assert len(lines) == 2 + 5 + 1 + 1  # models, the floor, the uniform-circle baseline
    # mean ± sample std over the three seeds: W1 0.30/0.31/0.29, FID 0.01/0.02/0.03, precision 0.90/0.92/0.94,
    # recall 0.95/0.93/0.91, 90/92/88% high quality
    assert lines[3] == ("| wgan | 0.02 ± 0.01 | 0.92 ± 0.02 | 0.93 ± 0.02 | 0.3 ± 0.01 | 0.15 ± 0.005 | 8 ± 0 of 8 "
                        "| 90 ± 2 | — | — | — | settled 3 | 1000 | 3000 | 12 ± 2 |")
    assert lines[2].startswith("| gan | 1.7 ± 0.1 | 0.7 ± 0.1 | 0.2 ± 0.1 | 1.2 ± 0.1 | 0.6 ± 0.05 | 2 ± 1 of 8 | 45 ± 5 "
                               "| — | — | — | settled 3 | 1000 | 3000 | 6 ± 1 |")
    # FID 0.02/0.05/0.03: 0.0333 ± 0.0153; W1 0.35/0.28/0.33: 0.32 ± 0.0361; modes 8/7/8: 7.67 ± 0.577;
    # no precision and recall in its records (written before they were measured): a dash, not a number
    assert lines[4].startswith("| wgan_gp | 0.0333 ± 0.015 | — | — | 0.32 ± 0.036 | 0.16 ± 0.018 | 7.7 ± 0.58 of 8 "
                               "| 85 ± 5 |")
    # avb: ELBO 0.6/0.5/0.7; log-lik -4.0/-3.8/-4.3 = -4.03 ± 0.252, ESS 5% < 10% in every seed
    assert "| 0.6 ± 0.1 (estimate) | -4.03 ± 0.25 (ESS under 10% of K in 3/3 seeds: unreliable) | settled 3 |" in lines[5]
    assert lines[6].endswith("| -2.2 ± 0.1 (bound) | -2.1 ± 0.1 | settled 3 | 1000 | 3000 | 22 ± 2 |")
    assert lines[-2] == ("| real data: training split vs held-out | 0.002 | 0.98 | 0.97 | 0.05 | 0.02 | 8 of 8 | 98.8 "
                         "| 0.001 | — | — | — | — | — | — |")
    assert lines[-1].startswith("| baseline: uniform on the circle | 0.1 | 0.37 | 0.6 | 0.4 | 0.3 | 8 of 8 | 38 |")
    assert notes == []


def _t_p(diffs) -> float:
    """Two-sided paired t-test p from the per-seed differences, by scipy directly."""
    return float(stats.ttest_1samp(diffs, 0.0).pvalue)


def test_w1_verdict_is_holm_corrected_with_confidence_intervals():
    v = next(x for x in findings.verdicts(_ring().runs, _real(), 0.05) if x.metric == "w1")
    assert v.best == "wgan" and v.headline  # the uniform-circle baseline's 0.4 is worse than wgan's 0.3
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
    assert [n for n, c in got.items() if c.separated] == [n for n in got if holm[n] < 0.05]
    # the 95% interval of wgan - gan: mean -0.9, sd 0.09, t(0.975, 2) = 4.303: -0.9 ± 4.303 * 0.09 / sqrt(3)
    half = stats.t.ppf(0.975, 2) * 0.09 / math.sqrt(3)
    assert (got["gan"].ci_low, got["gan"].ci_high) == (pytest.approx(-0.9 - half), pytest.approx(-0.9 + half))
    assert not got["wgan_gp"].separated and got["wgan_gp"].mdd is not None
    line = _line("\n".join(reading(_ring())), "Lowest mean W1: wgan (0.3 ± 0.01)")
    assert "not separated at alpha = 0.05 (Holm) from wgan_gp (-0.02 [" in line  # mean of -0.05, 0.03, -0.04
    assert "these seeds detect a true difference of" in line and "Real data: 0.05" in line


def test_a_metric_the_no_learning_baseline_scores_as_well_on_is_no_headline():
    # domain FID: the uniform circle's 0.1 beats gan, avb and vae but not wgan's 0.02: still a headline;
    # made better than every model, it is not, and the reading says why
    d = _ring()
    assert next(v for v in findings.verdicts(d.runs, d.real, 0.05) if v.metric == "fid_domain").headline
    d.real.baselines["uniform on the circle"].fid_domain = 0.001
    verdicts = {v.metric: v for v in findings.verdicts(d.runs, d.real, 0.05)}
    assert not verdicts["fid_domain"].headline and verdicts["w1"].headline
    text = "\n".join(reading(d))
    assert _line(text, "Not a headline, since a baseline that learned no mode scores as well: Lowest mean domain FID")
    page = render_dataset(d, {"seeds": [0, 1, 2]})
    verdict_section = page.split("## Verdicts at the budget")[1].split("##")[0]
    assert "Lowest mean W1" in verdict_section and "domain FID" not in verdict_section


def test_anytime_table_ranks_every_model_at_each_share_of_the_budget():
    rows = {r.model: r for r in findings.anytime(_ring().runs)}
    # the fixture's snapshot W1 at 250, 500 and 1000 GFLOP is the final W1 + 0.75, + 0.5, + 0
    assert rows["wgan"].cells[0].w1.mean == pytest.approx(1.05) and rows["wgan"].cells[2].w1.mean == pytest.approx(0.3)
    assert [rows[m].cells[2].rank for m in ("wgan", "wgan_gp", "avb", "vae", "gan")] == [1, 2, 3, 4, 5]
    assert rows["gan"].states == {"settled": 3} and rows["gan"].gflop == pytest.approx(1000)
    table = anytime_table(_ring())
    assert table.splitlines()[0] == ("| model | W1 at 250 GFLOP (1/4) | W1 at 500 GFLOP (1/2) | W1 at 1000 GFLOP (budget) "
                                     "| at the budget | train time (s) |")
    assert _row(table, "wgan") == "| wgan | 1.05 ± 0.01 (#1) | 0.8 ± 0.01 (#1) | 0.3 ± 0.01 (#1) | settled 3 | 12 ± 2 |"


def test_power_of_three_seeds_is_stated():
    page = render_dataset(_ring(), {"seeds": [0, 1, 2]})
    p = findings.power(3, 0.05)
    assert p.mdd_in_sd == pytest.approx(3.26, abs=0.01)  # the noncentral t: 3.26 sd of the paired differences
    assert (f"With 3 seeds a single paired t-test at alpha = 0.05 detects a difference of {p.mdd_in_sd:.3g} standard "
            "deviations of the paired differences with 80% power") in page


def test_a_run_still_moving_at_the_budget_is_named_with_its_direction():
    d = _ring(_models(wgan_gp=_model("wgan_gp", [0.35, 0.28, 0.33], [0.02, 0.05, 0.03], modes=[8, 7, 8],
                                     not_converged=[1])))
    table, _ = comparison_table(d)
    assert _row(table, "wgan_gp").endswith("| settled 2, still improving 1 | 1000 | 3000 | 12 ± 2 |")
    text = "\n".join(reading(d))
    assert "wgan_gp: settled 2, still improving 1" in _line(text, "At the budget (the rule under How it was measured)")
    assert ("wgan_gp seed 1 was still improving at the budget: over 500-1000 GFLOP W1 moved by -0.08 against a "
            "tolerance of ± 0.03; more compute would likely lower it further.") in text
    gp1 = next(r for r in d.models if r.name == "wgan_gp").runs[1]
    gp1.convergence = Convergence("worse", 0.08, 0.03, 500.0, 6)
    assert ("wgan_gp seed 1 was getting worse at the budget: over 500-1000 GFLOP W1 moved by 0.08 against a "
            "tolerance of ± 0.03; its numbers depend on where the budget cut it.") in "\n".join(reading(d))
    index = render_index([d], {"ring8": "results/ring8.md"})
    assert "wgan_gp: settled 2, getting worse 1" in index


def test_diverged_runs_are_shown_as_diverged_not_numbers():
    d = _ring([
        _model("gan", [0, 0, 0], [0, 0, 0], diverged=[0, 1, 2]),
        _model("wgan", [0.30, 0.31, 0.29], [0.01, 0.02, 0.03], modes=[8, 8, 8], diverged=[1]),
        _model("wgan_gp", [0.35, 0.28, 0.33], [0.02, 0.05, 0.03], modes=[8, 7, 8]),
    ])
    table, _ = comparison_table(d)
    gan = _row(table, "gan")
    cells = [c.strip() for c in gan.strip("|").split("|")]
    assert cells[0] == "gan (**diverged in every seed**)"
    assert cells[1:-4] == ["diverged"] * 10  # every metric column; no number, no zero
    assert cells[-4:] == ["diverged 3", "40", "120", "12 ± 2"]  # state, GFLOP used, steps, train time
    # one of three seeds diverged: the cells are over the other two (0.30 and 0.29), and say so
    wgan = _row(table, "wgan")
    assert wgan.startswith("| wgan (**1 of 3 seeds diverged**) | 0.02 ± 0.014 (n=2) | — | — | 0.295 ± 0.0071 (n=2) | "
                           "0.147 ± 0.0035 (n=2) |")
    assert "| settled 2, diverged 1 |" in wgan
    text = "\n".join(reading(d))
    for seed in (0, 1, 2):
        assert (f"gan seed {seed} diverged after 120 generator steps (critic_loss became nan at generator step 121); "
                "it has no metrics and is left out of the means.") in text
    assert "wgan seed 1 diverged after 120 generator steps" in text
    assert "wgan seed 0 diverged" not in text and "wgan_gp seed" not in text
    # paired over the two seeds both have: wgan - wgan_gp = -0.05, -0.04
    line = _line(text, "Lowest mean W1: wgan (0.295 ± 0.0071)")
    assert "not separated at alpha = 0.05 (Holm) from gan (paired test undefined over 0 seeds), wgan_gp (-0.045 [" \
        in line  # gan has no numbers to compare; wgan - wgan_gp -0.05, -0.04: p = 0.07 alone in its family
    index = render_index([d], {"ring8": "results/ring8.md"})
    assert "gan seed 0, gan seed 1, gan seed 2, wgan seed 1" in index and "gan: diverged 3" in index


def test_likelihoods_get_a_verdict_only_when_the_paired_test_separates_them():
    m = _models(
        avb=_model("avb", [0.7, 0.75, 0.65], [0.4, 0.45, 0.35], modes=[5, 6, 4],
                   loglik=[(-1.9, -2.0, 0.2), (-2.0, -2.1, 0.2), (-1.8, -2.05, 0.2)]),
        vae=_model("vae", [0.8, 0.85, 0.75], [0.6, 0.65, 0.55], modes=[1, 0, 2],
                   loglik=[(-2.2, -2.1, 0.2), (-2.3, -2.25, 0.2), (-2.1, -1.95, 0.2)]),
    )
    text = "\n".join(reading(_ring(m)))
    # avb - vae: 0.1, 0.15, -0.1 -> 0.05 ± 0.132, t = 0.65, p = 0.58
    assert ("Importance-sampled log-likelihood, paired over seeds on the same test points: avb and vae are not "
            "distinguishable at alpha = 0.05 with 3 seeds (difference 0.05 ± 0.13 nats, paired t-test over 3 seeds, "
            "p = 0.58).") in text
    assert "is higher than" not in _line(text, "Importance-sampled log-likelihood")


def test_with_ais_the_verdict_and_the_elbo_gap_use_ais_on_its_own_points():
    """AIS runs on a subset of the IS points: the verdict pairs the AIS numbers, and each ELBO gap is taken
    against the ELBO on that same subset (AisEstimate.elbo), not the ELBO over all points."""
    d = _ring()
    ais = {"avb": [(-3.0, 1.0), (-2.8, 1.0), (-3.1, 1.0)], "vae": [(-2.0, -2.5), (-1.9, -2.3), (-2.1, -2.7)]}
    for r in d.models:
        for x, (ll, elbo) in zip(r.ok_runs, ais.get(r.name, [])):
            x.likelihood.ais = AisEstimate(ll, 0.1, 100, 16, 200, 5, 0.65, 0.5, elbo=elbo)
    text = "\n".join(reading(d))
    # vae - avb AIS: 1.0, 0.9, 1.0 -> 0.967 ± 0.0577, t = 29, p = 0.0012 (the IS numbers would give avb < vae too)
    assert ("AIS log-likelihood, paired over seeds on the same test points: vae is higher than avb (difference "
            "0.967 ± 0.058 nats, paired t-test over 3 seeds, p = 0.0012).") in text
    assert "(AIS)" in comparison_table(d)[0]
    # gaps on AIS's points: avb 1.0 - (-3.0, -2.8, -3.1) = 4.0, 3.8, 4.1; vae -2.5 + 2.0 ... = -0.5, -0.4, -0.6;
    # against the ELBO over all IS points (0.6, 0.5, 0.7 and -2.2, -2.1, -2.3) they would be 3.6 and -0.2
    assert "avb's ELBO, an estimate" in text and "exceeds its AIS log-likelihood by 3.97 ± 0.15 nats" in text
    assert "vae's ELBO, a lower bound (analytic KL), is 0.5 ± 0.1 nats below its AIS log-likelihood" in text
    # the table's ELBO averages all 1000 points, so the sentence says which points its gap is over
    assert ("below its AIS log-likelihood, both on the same 100 test points (the table's ELBO and "
            "importance-sampled columns are over all 1000); the importance sampler's") in text


def test_the_bdmc_gap_is_reported_and_qualifies_a_verdict_it_could_explain():
    """BDMC's gap (reverse - forward AIS on simulated points) is stated per model; a separated AIS difference
    smaller than the larger gap gets the caveat that it may be the estimator's."""
    d = _ring()
    # vae - avb AIS: 0.3, 0.2, 0.25 -> 0.25 ± 0.05, p = 0.0126: separated; gaps avb 0.5 ± 0, vae 0.125 ± 0
    ais = {"avb": [-3.0, -2.9, -3.05], "vae": [-2.7, -2.7, -2.8]}
    gap = {"avb": 0.5, "vae": 0.125}
    for r in d.models:
        for x, ll in zip(r.ok_runs, ais.get(r.name, [])):
            x.likelihood.ais = AisEstimate(ll, 0.1, 100, 16, 200, 5, 0.65, 0.5, elbo=ll - 0.5, bdmc_points=20,
                                           bdmc_lower=-1.0, bdmc_upper=-1.0 + gap[r.name])
    text = "\n".join(reading(d))
    assert "vae is higher than avb (difference 0.25 ± 0.05 nats" in text
    assert "The difference is within the AIS error that BDMC measured (0.5 nats, below), so it may be the " \
           "estimator's." in text
    assert ("avb's AIS, checked on 20 points simulated from the model itself (bidirectional Monte Carlo: their "
            "log p(x) lies between forward AIS, -1 ± 0, and reverse AIS from the exact posterior draw, -0.5 ± 0 "
            "nats): a gap of 0.5 ± 0 nats") in text
    assert "vae's AIS" in text and "a gap of 0.125 ± 0 nats, a bound on how far" in text
    # bounds that cross (noise with few simulated points) are said to agree, not called a bound
    for x in next(r for r in d.models if r.name == "vae").ok_runs:
        x.likelihood.ais.bdmc_upper = -1.125
    assert "a gap of -0.125 ± 0 nats, below zero: the two stochastic bounds agree within their noise" in \
        "\n".join(reading(d))
    # a difference larger than both gaps stands without the caveat
    for x in next(r for r in d.models if r.name == "avb").ok_runs:
        x.likelihood.ais.loglik -= 1.0
    assert "may be the estimator's" not in "\n".join(reading(d))


def test_unavailable_inception_fid_is_footnoted_with_its_reason():
    m = _model("gan", [1.0, 1.1, 0.9], [5.0, 5.5, 4.5], kind="images")
    real = RealRecord("digits", "images", 1437, 360, 360, SampleScores(0.5, 0.2, 1.0), _how("images"))
    d = DatasetResults("digits", "images", [m], real)
    table, notes = comparison_table(d)
    assert table.splitlines()[0].startswith("| model | Inception FID | domain FID | precision | recall | W1 | sliced W1 "
                                            "| ELBO |")
    assert _row(table, "gan").startswith("| gan | unavailable [1] | 5 ± 0.5 | — | — | 1 ± 0.1 |")
    assert notes == ["put the weights file at /x"]
    assert _row(table, "real data:").startswith("| real data: training split vs held-out | unavailable | 1 | — | — "
                                                "| 0.5 |")
    page = render_dataset(d, {"seeds": [0, 1, 2]})
    assert "[1] put the weights file at /x" in page
    assert "- Inception FID (2048 dims, pytorch-fid): unavailable: put the weights file at /x" in page


def test_pages_link_figures_params_and_versions():
    page = render_dataset(_ring(), {"seeds": [0, 1, 2], "clip": 0.01})
    assert "![samples](../figures/ring8/samples.png)" in page
    assert "clip: 0.01" in page and "- torch: 2.x" in page
    assert "Training CPU" not in page  # records from before the CPU was kept
    d = _ring()
    for r in d.models:
        for t in r.trains:
            t.cpu = "Some CPU (AVX2)"
    assert "- Training CPU: Some CPU (AVX2)." in render_dataset(d, {"seeds": [0, 1, 2]})
    assert "Every model cell is the mean ± std over 3 seeds, measured on 2500 samples" in page
    assert "every model is trained once per seed (0, 1, 2)" in page
    assert "paired t-test over the seeds separates them at alpha = 0.05 after Holm's correction" in page
    assert "- Training device: cpu; evaluation device: cpu." in page
    # the page opens with the budget, the compute figure (when drawn) and the anytime table
    assert page.startswith("# ring8: GAN, WGAN, WGAN-GP, AVB and a VAE at equal compute\n\nEvery model trained for "
                           "the same 1000 GFLOP on ring8 (3 seeds each).")
    d = _ring()
    d.figures = ["../figures/ring8/w1_vs_compute.png", "../figures/ring8/samples.png"]
    page = render_dataset(d, {"seeds": [0, 1, 2]})
    assert page.index("![W1 against training compute](../figures/ring8/w1_vs_compute.png)") < \
        page.index("| model | W1 at 250 GFLOP (1/4)") < page.index("## Verdicts at the budget") < \
        page.index("## Every metric at the budget")
    index = render_index([_ring()], {"ring8": "results/ring8.md"})
    assert "| [ring8](results/ring8.md) | 1000 | wgan (0.3 ± 0.01), not separated from wgan_gp | none |" in index


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
    assert (tmp_path / "metrics/eval/wgan/ring8/seed2.json").exists()
    assert (tmp_path / "metrics/train/vae/ring8/seed0.json").exists()
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
    assert "| wgan | 0.02 ± 0.01 | 0.92 ± 0.02 | 0.93 ± 0.02 | 0.3 ± 0.01 | 0.15 ± 0.005 | 8 ± 0 of 8 | 90 ± 2 |" in page
    assert "Lowest mean W1: wgan (0.3 ± 0.01); below " in page
    assert "not separated at alpha = 0.1 (Holm) from wgan_gp" in page
    assert "max(0.2 x the real-data floor's W1" in page
    assert "At the budget (the rule under How it was measured): gan: settled 3; wgan: settled 3;" in page
    assert "![samples](../figures/ring8/samples.png)" in page
    assert "curves.png" not in page  # only figures that exist
    index = (tmp_path / "reports/index.md").read_text()
    assert "[ring8](results/ring8.md)" in index and "wgan (0.3 ± 0.01)" in index


def test_late_snapshot_correlation_is_reported_beside_the_whole_run():
    m = _model("wgan", [0.30, 0.31, 0.29], [0.01, 0.02, 0.03], modes=[8, 8, 8], corr=[0.3, 0.4, 0.2])
    for x, late in zip(m.runs, (0.9, 0.8, 0.85)):
        x.estimate_vs_w1.spearman_late, x.estimate_vs_w1.snapshots_late, x.estimate_vs_w1.late_from = late, 11, 800
    text = "\n".join(reading(DatasetResults("ring8", "points", [m], _real())))
    assert "are moderately correlated: Spearman rho 0.3 ± 0.1 (per seed: 0.30, 0.40, 0.20)" in text
    assert ("Leaving out the first 10% of training, where the critic is still being trained from its "
            "initialisation (step >= 800: 11 snapshots per seed), they track each other closely: Spearman rho "
            "0.85 ± 0.05 (per seed: 0.90, 0.80, 0.85)") in text


def test_late_ranks_running_opposite_are_read_from_the_late_snapshots():
    """digits WGAN-GP at 28k steps: late in training the critic's estimate rose toward a falling W1."""
    m = _model("wgan_gp", [1.43, 1.42, 1.43], [8.0, 7.0, 7.0], corr=[0.55, 0.69, 0.68], kind="images")
    ends = ((0.824, 0.895, 1.558, 1.446), (0.805, 0.846, 1.545, 1.437), (0.774, 0.789, 1.564, 1.444))
    for x, (e0, e1, w0, w1) in zip(m.runs, ends):
        x.estimate_vs_w1.spearman_late, x.estimate_vs_w1.snapshots_late, x.estimate_vs_w1.late_from = -0.9, 3, 2800
        mid = (e0 + e1) / 2, (w0 + w1) / 2
        x.trajectory = [SnapshotW1(1000, 1.9, 0.9), SnapshotW1(3467, w0, e0), SnapshotW1(12000, mid[1], mid[0]),
                        SnapshotW1(28000, w1, e1)]
    text = "\n".join(reading(DatasetResults("digits", "images", [m], _real())))
    assert "they move in opposite directions: Spearman rho -0.9 ± 0 (per seed: -0.90, -0.90, -0.90)." in text
    assert ("Over those snapshots the estimate went from 0.82 to 0.9, 0.81 to 0.85, 0.77 to 0.79 per seed, W1 from "
            "1.56 to 1.45, 1.54 to 1.44, 1.56 to 1.44. In every seed the estimate stayed below W1 and rose toward it "
            "(its ratio to W1 from 0.53 to 0.62, 0.52 to 0.59, 0.49 to 0.55): late in training its changes follow "
            "the critic's fit, how much of W1 it captures, more than how W1 itself moves.") in text
    # a GAN's JS estimate is no W1 estimate: the same snapshots give the numbers without that reading
    g = _model("gan", [1.43, 1.42, 1.43], [8.0, 7.0, 7.0], corr=[0.55, 0.69, 0.68], kind="images")
    for x, y in zip(g.runs, m.runs):
        x.estimate_vs_w1, x.trajectory = y.estimate_vs_w1, y.trajectory
    text = "\n".join(reading(DatasetResults("digits", "images", [g], _real())))
    assert "Over those snapshots the estimate went from 0.82 to 0.9" in text and "In every seed" not in text
    # one seed whose estimate fell: the numbers, without the reading that needs every seed
    m.runs[2].trajectory[-1] = SnapshotW1(28000, 1.444, 0.70)
    text = "\n".join(reading(DatasetResults("digits", "images", [m], _real())))
    assert "0.77 to 0.7 per seed, W1 from" in text and "In every seed" not in text
    # correlated late ranks: no such line
    for x in m.runs:
        x.estimate_vs_w1.spearman_late = 0.8
    assert "Over those snapshots" not in "\n".join(reading(DatasetResults("digits", "images", [m], _real())))


def test_how_it_was_measured_names_the_classifier_its_accuracy_and_precision_recall():
    m = _model("gan", [1.0, 1.1, 0.9], [5.0, 5.5, 4.5], kind="images", pr=[(0.5, 0.4), (0.6, 0.3), (0.7, 0.2)])
    how = _how("images")
    how.domain_features, how.domain_dims, how.domain_n_real = "classifier", 64, 360
    how.classifier_test_accuracy, how.classifier_arch, how.pr_k = 0.9833, "cnn", 3
    real = RealRecord("digits", "images", 1437, 360, 1437, SampleScores(0.5, 0.2, 1.0, precision=0.9, recall=0.8),
                      how, classifier_seconds=8.5)
    page = render_dataset(DatasetResults("digits", "images", [m], real), {"seeds": [0, 1, 2]})
    assert ("- Domain FID: Frechet distance on 64-dimensional features of a small CNN trained on the training split "
            "(its held-out accuracy: 98.3%); 2500 generated against 360 held-out samples.") in page
    assert ("- Precision and recall (Kynkaanniemi et al. 2019, k = 3): on the domain FID's classifier features, "
            "2500 generated against 2000 held-out samples (W1's).") in page
    assert "higher for precision, recall, modes" in page
    table = page.split("## Every metric at the budget")[1]
    assert _row(table, "gan").startswith("| gan | unavailable [1] | 5 ± 0.5 | 0.6 ± 0.1 | 0.3 ± 0.1 | 1 ± 0.1 |")
    assert _row(page, "real data:").startswith("| real data: training split vs held-out | unavailable | 1 | 0.9 | 0.8 |")
    # 2-D points: the same two numbers on the raw coordinates; a record without them has no such line
    d = _ring()
    d.real.how.pr_k = 3
    page = render_dataset(d, {"seeds": [0, 1, 2]})
    assert "- Domain FID: Frechet distance on 2-dimensional raw coordinates; 2500 generated" in page
    assert "(Kynkaanniemi et al. 2019, k = 3): on the domain FID's raw coordinates" in page
    assert "Precision and recall" not in render_dataset(_ring(), {"seeds": [0, 1, 2]})


def test_how_it_was_measured_names_the_learning_rate_schedule_of_every_model():
    d = _ring()
    assert "- Learning rate: constant for every model (`train.lr_schedule`)." in render_dataset(d, {"seeds": [0, 1, 2]})
    d.lr_schedule = "linear"
    assert "- Learning rate: linear for every model" in render_dataset(d, {"seeds": [0, 1, 2]})
