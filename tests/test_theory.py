"""Theory parts (issue 4): analytic answers exactly, learned estimates at small scale."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from pipeline.config import LinesParams, MixtureParams, ParamsError, TheoryParams, TheoryWgan, parse_params
from pipeline.models.losses import gradient_penalty
from pipeline.records import (
    THEORY_RECORDS,
    AblationResult,
    AblationRow,
    AvbToyResult,
    DemoRun,
    EnergyCheckpoint,
    EnergyResult,
    EnergyRun,
    LinesResult,
    LogLik,
    MeaningfulResult,
    RunTrace,
    TheorySeeds,
    VanishingResult,
    W1Checkpoint,
)
from pipeline.theory import avb_toy, energy, lines, mixture, report, vanishing
from pipeline.theory.ablation import input_gradient_norm
from pipeline.theory.nets import EnsembleMLP
from pipeline.training.loop import spaced_steps

torch.set_num_threads(1)


# --- part 1: parallel lines ------------------------------------------------------------


def test_analytic_curves_are_example_1():
    theta = torch.tensor([-1.0, -0.2, 0.0, 0.3, 1.0])
    torch.testing.assert_close(lines.analytic_w1(theta), torch.tensor([1.0, 0.2, 0.0, 0.3, 1.0]))
    torch.testing.assert_close(lines.analytic_js(theta), torch.tensor([math.log(2), math.log(2), 0.0, math.log(2), math.log(2)]))
    kl = lines.analytic_kl(theta)
    assert kl[2].item() == 0.0 and all(math.isinf(kl[i].item()) for i in (0, 1, 3, 4))
    torch.testing.assert_close(lines.analytic_tv(theta), torch.tensor([1.0, 1.0, 0.0, 1.0, 1.0]))


def test_theta_grid_holds_zero_and_the_ends():
    g = lines.theta_grid(11)
    assert g[0].item() == -1.0 and g[5].item() == 0.0 and g[-1].item() == 1.0
    assert g[3].item() == pytest.approx(-0.4)


def test_gradient_penalty_of_linear_critics():
    real, fake = torch.randn(64, 2), torch.randn(64, 2)
    unit = lambda x: x @ torch.tensor([0.6, 0.8])  # noqa: E731  ||grad|| = 1 everywhere
    double = lambda x: x @ torch.tensor([1.2, 1.6])  # noqa: E731  ||grad|| = 2
    assert gradient_penalty(unit, real, fake).item() == pytest.approx(0.0, abs=1e-6)
    assert gradient_penalty(double, real, fake).item() == pytest.approx(1.0, abs=1e-5)
    torch.testing.assert_close(input_gradient_norm(double, real), torch.full((64,), 2.0))
    # an ensemble (E, B, d): the members' penalties summed
    e_real, e_fake = torch.randn(3, 64, 2), torch.randn(3, 64, 2)
    assert gradient_penalty(double, e_real, e_fake, batch_dims=2).item() == pytest.approx(3.0, abs=1e-4)


def test_ensemble_members_are_independent():
    net = EnsembleMLP(3, [2, 8, 1])
    x = torch.randn(3, 5, 2)
    out = net(x)
    assert out.shape == (3, 5)
    out[0].sum().backward()
    assert net.weights[0].grad[1:].abs().sum().item() == 0.0  # members 1, 2 untouched by member 0's output
    assert net.weights[0].grad[0].abs().sum().item() > 0.0


def test_gp_critic_w1_within_10_percent_of_abs_theta():
    p = LinesParams(batch_size=128, critic_steps=300)
    thetas = torch.tensor([-1.0, -0.6, 0.2, 0.6])
    est = lines.critic_w1_estimates(thetas, "gp", p, torch.Generator().manual_seed(0))
    assert lines.relative_errors(est, thetas).max().item() <= 0.10
    torch.testing.assert_close(est, thetas.abs(), atol=0.0, rtol=0.10)


def test_discriminator_js_saturates_at_log2_and_is_zero_at_theta_0():
    p = LinesParams(batch_size=128, critic_steps=200)
    js = lines.discriminator_js_estimates(torch.tensor([0.0, 0.5]), p, torch.Generator().manual_seed(0))
    assert js[0].item() == pytest.approx(0.0, abs=0.01)
    assert js[1].item() == pytest.approx(math.log(2), abs=0.01)


def test_relative_errors_and_scale_fit():
    th = torch.tensor([-1.0, -0.1, 0.0, 0.5])
    est = 0.01 * th.abs()
    assert lines.fit_scale(est, th) == pytest.approx(0.01)
    torch.testing.assert_close(lines.relative_errors(est, th, scale=0.01), torch.zeros(2))


# --- part 2 ------------------------------------------------------------------------------


def test_log_spaced_steps_cover_both_ends():
    s = spaced_steps(1000, 7, log=True)
    assert s[0] == 1 and s[-1] == 1000 and s == sorted(set(s))


def test_wgan_generator_gradient_of_a_linear_critic_is_its_slope():
    critic = nn.Linear(1, 1, bias=False)
    nn.init.constant_(critic.weight, 0.7)
    from pipeline.theory.nets import Squeeze

    f = Squeeze(critic)
    mean, std = torch.tensor(2.0, requires_grad=True), torch.tensor(0.3, requires_grad=True)
    z = torch.randn(100_000, generator=torch.Generator().manual_seed(0))
    z = (z - z.mean()) / z.std()  # E z = 0 exactly: d/ds vanishes, d/dm = -0.7
    from pipeline.models.losses import wgan_generator_loss

    assert vanishing.generator_grad_norm(f, wgan_generator_loss, [mean, std], z) == pytest.approx(0.7, rel=1e-4)


# --- parts 3-5 ---------------------------------------------------------------------------


def test_exact_w1_of_a_shift_is_the_shift():
    x = torch.rand(200, 2, generator=torch.Generator().manual_seed(0))
    assert mixture.exact_w1(x, x + torch.tensor([0.3, 0.4])) == pytest.approx(0.5, abs=1e-6)  # float32 inputs
    assert mixture.exact_w1(x, x) == pytest.approx(0.0, abs=1e-12)


def test_checkpoint_steps():
    assert spaced_steps(100, 4) == [25, 50, 75, 100]
    assert spaced_steps(10, 0) == []
    log = mixture.checkpoint_steps(1000, 4)
    assert log == [10, 46, 215, 1000]


def test_energy_agreement_of_the_log_density_itself_is_one():
    centers = torch.tensor([[0.0, 0.0], [2.0, 0.0]])
    _, _, pts = energy.grid_points(centers, 0.1, 0.5, 30)
    from pipeline.data.datasets import mixture_log_density

    lp = mixture_log_density(pts, centers, 0.1)
    near = energy.near_mask(pts, centers, 0.1, 3.0)
    assert 0 < near.float().mean().item() < 1
    a = energy.agreement(lp, lp, near)
    assert a == {"all": pytest.approx(1.0), "near": pytest.approx(1.0), "far": pytest.approx(1.0)}
    assert energy.agreement(-lp, lp, near)["all"] == pytest.approx(-1.0)


TINY_MIX = MixtureParams(data={"toy_train": 200, "toy_test": 100}, net={"g_hidden": [8], "d_hidden": [8]})


def test_theory_mixture_is_the_core_data_set():
    m = mixture.load_mixture(MixtureParams(), 0)
    assert m.train.shape == (5000, 2) and m.test.shape == (500, 2) and len(m.centers) == 8
    assert m.meta.std == 0.05


def test_core_wgan_variants_train_in_chunks_with_a_warmup():
    mix = mixture.load_mixture(TINY_MIX, 0)
    base = TheoryParams().wgan
    for keys in (TheoryWgan(constraint="gp", optimizer="adam"), TheoryWgan(constraint="sn"), TheoryWgan(warmup=3)):
        run = TheoryParams().wgan_run(keys, 4)
        step = mixture.make_wgan(TINY_MIX, mix, run.model_copy(update={"batch_size": 16}))
        rows, evals, err = mixture.train_with_checkpoints(step, mix.train, 4, [2, 4], 0, lambda s, d: {"d": d})
        assert err is None and [e["step"] for e in evals] == [2, 4] and rows[-1]["step"] == 4
        if run.constraint == "clip":
            assert max(p.abs().max().item() for p in step.D.parameters()) <= base.clip + 1e-9
    # the warm-up counts over the whole run, not per chunk: 3 x 100 + 1 x 5 critic steps
    assert [step.inner_count(i) for i in range(5)] == [100, 100, 100, 5, 5]


# --- part 6 ------------------------------------------------------------------------------


class _QuadrantDecoder(nn.Module):
    """p(x = e_j | z) ~ 1 when z lies in quadrant j: the optimum, log p(e_j) = log 1/4."""

    def forward(self, z):
        q = (z[..., 0] > 0).long() * 2 + (z[..., 1] > 0).long()
        return 40.0 * nn.functional.one_hot(q, 4).to(z.dtype) - 20.0


class _ConstantDecoder(nn.Module):
    """Logits independent of z: p(e_j) = s(a)(1 - s(a))^3 for every image."""

    def forward(self, z):
        return torch.full((*z.shape[:-1], 4), -1.0, dtype=z.dtype)


def test_toy_loglik_of_the_optimal_decoder_is_minus_log_4_and_never_above():
    ll = avb_toy.log_likelihood(_QuadrantDecoder(), 20_000, torch.Generator().manual_seed(0))
    assert ll.quadrature == pytest.approx(-math.log(4), abs=1e-3)
    assert ll.mean == pytest.approx(-math.log(4), abs=4 * ll.mc_stderr + 1e-6)
    assert ll.mean <= avb_toy.OPTIMUM + 3 * ll.mc_stderr


def test_toy_loglik_of_a_constant_decoder_is_exact():
    s = 1 / (1 + math.e)  # sigmoid(-1)
    exact = math.log(s) + 3 * math.log(1 - s)
    ll = avb_toy.log_likelihood(_ConstantDecoder(), 1000, torch.Generator().manual_seed(0))
    assert ll.mean == pytest.approx(exact, abs=1e-5)
    assert ll.quadrature == pytest.approx(exact, abs=1e-5)


def test_short_toy_training_stays_below_the_optimum():
    from pipeline.config import AvbToyParams

    p = AvbToyParams(steps=150, batch_size=32, is_samples=5000, n_plot=10, hidden=[16, 16])
    r, posteriors = avb_toy.run_avb_toy(p, 0)
    for ll in (r.avb, r.vae):
        assert ll.mean <= avb_toy.OPTIMUM + 3 * ll.mc_stderr
        assert ll.mean == pytest.approx(ll.quadrature, abs=max(5 * ll.mc_stderr, 0.01))
    assert len(posteriors["avb"]) == 4 and len(posteriors["avb"][0]) == 10


# --- params and report --------------------------------------------------------------------


def test_theory_params_one_line_errors():
    assert parse_params({"theory": {}}).theory.lines.n_theta == 11
    with pytest.raises(ParamsError, match=r"unknown key 'theory.lines.n_thetas'"):
        parse_params({"theory": {"lines": {"n_thetas": 5}}})
    with pytest.raises(ParamsError, match=r"theory.lines.n_theta = 10"):
        parse_params({"theory": {"lines": {"n_theta": 10}}})
    with pytest.raises(ParamsError, match=r"theory.ablation.rows.x.constraint = 'l2'"):
        parse_params({"theory": {"ablation": {"rows": {"x": {"constraint": "l2"}}}}})
    with pytest.raises(ParamsError, match="main = 'nope'"):
        parse_params({"theory": {"energy": {"main": "nope"}}})
    with pytest.raises(ParamsError, match=r"unknown key 'theory.mixture.data.toy_trian'"):
        parse_params({"theory": {"mixture": {"data": {"toy_trian": 5}}}})
    with pytest.raises(ParamsError, match="steps is set by each part"):
        parse_params({"theory": {"wgan": {"steps": 5}}})


def test_theory_runs_are_keys_over_the_shared_base():
    t = parse_params({"theory": {"wgan": {"lr": 0.001}, "mixture": {"data": {"ring_std": 0.1}},
                                 "ablation": {"rows": {"a": {"optimizer": "adam"}}}}}).theory
    (run,) = t.wgan_runs(t.ablation.rows, 7).values()
    assert (run.optimizer, run.lr, run.beta2, run.warmup, run.clip, run.steps) == ("adam", 0.001, 0.9, 5, 0.01, 7)
    assert (t.mixture.data.toy_train, t.mixture.data.ring_std, t.mixture.net.z_dim) == (5000, 0.1, 2)


def test_params_yaml_theory_section_is_valid():
    from pipeline.config import load_params

    t = load_params().theory
    assert t.lines.n_theta >= 3
    assert t.wgan_runs(t.ablation.rows, 1)["adam_gp"].constraint == "gp"


def _lines_record(theta_wgan: float, theta_gan: float, w1_rel: float = 0.02) -> LinesResult:
    demo = lambda name, t: DemoRun(name, [1.0, t], [0.5, 0.1])  # noqa: E731
    return LinesResult([-1.0, 0.0, 1.0], [1.0, 0.0, 1.0], [0.01, 0.0, 0.01], [0.69, 0.0, 0.69], 0.01, w1_rel, 0.0,
                       0.69, {"wgan": demo("wgan", theta_wgan), "minimax": demo("minimax", theta_gan)})


def _seeds(part: str, records: list, seeds: tuple = (0, 1, 2)) -> TheorySeeds:
    """What `python -m stages theory <part>` writes: each seed's `metrics()`, metric by metric."""
    per_seed = [r.metrics() for r in records]
    return TheorySeeds(part, list(seeds), {k: [m.get(k) for m in per_seed] for k in per_seed[0]})


def _lines_section(thetas_wgan, thetas_gan=(0.9, 0.9, 0.9), w1_rel=(0.02, 0.02, 0.02)) -> str:
    recs = [_lines_record(w, g, e) for w, g, e in zip(thetas_wgan, thetas_gan, w1_rel)]
    return report.section("lines", recs[0], _seeds("lines", recs))


def _bullet(text: str, start: str) -> str:
    (line,) = [x for x in text.splitlines() if x.startswith(start)]
    return line


def test_report_states_the_demo_verdict_from_every_seed():
    good = _lines_section([0.01, -0.02, 0.03])
    assert "below 0.05 in all 3 seeds: the claim holds" in _bullet(good, "- WGAN:") and "NOT" not in good
    bad = _lines_section([0.3, 0.2, 0.4], thetas_gan=(0.01, 0.02, 0.0))
    assert "below 0.05 in none of the 3 seeds: the claim fails" in _bullet(bad, "- WGAN:")
    assert "in none of the 3 seeds: the minimax GAN got there too" in bad and "does NOT show" in bad
    m = _lines_record(0.01, 0.9).metrics()
    assert m["wgan_theta_final"] == 0.01 and m["minimax_theta_final"] == 0.9
    assert m["clip_scale"] == 0.01 and m["minimax_grad_last"] == 0.1 and m["nonsaturating_theta_final"] is None


def test_a_verdict_one_seed_disagrees_with_is_not_settled():
    text = _bullet(_lines_section([0.01, 0.02, 0.3]), "- WGAN:")
    assert "below 0.05 in 2 of 3 seeds only: not settled" in text and "the claim holds" not in text
    text = _lines_section([0.01, 0.02, 0.03], w1_rel=(0.05, 0.2, 0.05))
    assert "within 10% in 2 of 3 seeds only: not settled" in _bullet(text, "- The gradient-penalty critic")
    assert "meets" not in text and "misses" not in text


def test_a_section_number_is_the_mean_and_std_over_seeds():
    import statistics

    w1_rel = (0.03, 0.07, 0.08)
    text = _lines_section([0.01, 0.02, 0.03], w1_rel=w1_rel)
    m, sd = statistics.mean(w1_rel), statistics.stdev(w1_rel)
    assert f"(`w1_rel_error_max`) is {m:.3f} ± {sd:.3f} (n=3);" in text
    # |theta| over the seeds, not the signed mean, and not the first seed's 0.010
    m, sd = statistics.mean([0.01, 0.02, 0.06]), statistics.stdev([0.01, 0.02, 0.06])
    assert f"final |theta| = {m:.3f} ± {sd:.3f} (n=3)" in _lines_section([0.01, -0.02, 0.06])
    # a seed without a value leaves n short and is not counted as holding
    recs = [_lines_record(0.01, 0.9), _lines_record(float("nan"), 0.9), _lines_record(0.03, 0.9)]
    text = _bullet(report.section("lines", recs[0], _seeds("lines", recs)), "- WGAN:")
    assert "final |theta| = 0.020 ± 0.014 (n=2)" in text and "in 2 of 3 seeds only: not settled" in text


def test_a_number_not_collected_per_seed_is_labelled_first_seed():
    recs = [_lines_record(0.01, 0.9), _lines_record(0.02, 0.9)]
    ts = _seeds("lines", recs, seeds=(4, 5))
    del ts.metrics["clip_scale"]  # a seeds file written before the metric was collected
    text = report.section("lines", recs[0], ts)
    assert "K = 0.0100 [first seed (seed 4) only]" in text
    assert text.count("*Figure: the first seed (seed 4) alone.*") == 2


def _vanishing_record(grad_last: float) -> VanishingResult:
    return VanishingResult([1, 10], [0.1, grad_last], [0.1, 2.0], [0.01, 0.01], [0.1, 0.69], [0.0], [0.5], [0.0],
                           (-2.0, 0.3), (2.0, 0.3))


def _meaningful_record(spearman_wgan: float, spearman_gan: float) -> MeaningfulResult:
    run = lambda m, rho: RunTrace(m, "w_estimate", [], [W1Checkpoint(10, 0.5, 0.1)], rho, rho)  # noqa: E731
    return MeaningfulResult({"wgan": run("wgan", spearman_wgan), "gan": run("gan", spearman_gan)}, 0.05)


def _energy_record(final: float) -> EnergyResult:
    run = lambda a: EnergyRun([EnergyCheckpoint(10, 0.3, 0.0, 0.3, 0.9), EnergyCheckpoint(20, a, 0.0, a, 0.5)])  # noqa: E731
    return EnergyResult(10, 0.1, "clip", {"clip": run(final), "sn": run(final / 2)})


WGAN_RUN = {"optimizer": "rmsprop", "beta1": 0.5, "beta2": 0.9, "constraint": "clip", "clip": 0.01}


def _ablation_record(w1_rms: float, w1_adam: float, rel_rms: float = 0.2, rel_adam: float = 0.5) -> AblationResult:
    row = lambda w1, rel, **run: AblationRow(WGAN_RUN | run, "ok", w1=w1, w_rel_std=rel)  # noqa: E731
    return AblationResult(10, 0.2, {"rmsprop_clip0.01": row(w1_rms, rel_rms),
                                    "adam_clip0.01": row(w1_adam, rel_adam, optimizer="adam"),
                                    "adam_sn": row(1.0, 1.0, optimizer="adam", constraint="sn")})


def _avb_record(avb: float, vae: float) -> AvbToyResult:
    ll = lambda v: LogLik(v, 0.003, [v] * 4, 0.5, v)  # noqa: E731
    return AvbToyResult(ll(avb), ll(vae), {"avb": avb - 0.05, "vae": vae - 0.05}, -math.log(4))


def test_every_section_renders_from_every_seed_and_names_spectral_normalisation():
    per_seed = {
        "lines": [_lines_record(t, 0.9) for t in (0.01, 0.02, 0.03)],
        "vanishing": [_vanishing_record(g) for g in (1e-4, 2e-4, 3e-4)],
        "meaningful": [_meaningful_record(w, g) for w, g in ((0.8, 0.1), (0.7, -0.2), (0.9, 0.0))],
        "energy": [_energy_record(a) for a in (0.1, 0.2, 0.15)],
        "ablation": [_ablation_record(w, 0.6) for w in (0.4, 0.45, 0.5)],
        "avb_toy": [_avb_record(a, -1.6) for a in (-1.45, -1.44, -1.46)],
    }
    text = report.render({p: r[0] for p, r in per_seed.items()}, {p: _seeds(p, r) for p, r in per_seed.items()})
    assert "[first seed" not in text  # every number the text states is collected per seed
    assert text.count("*Figure: the first seed (seed 0) alone.*") == 7 and "## Over seeds" in text
    assert "adam_sn (Adam, spectral normalisation, Miyato et al. 2018)" in _bullet(text, "- Mean W1 over twice")
    assert "sn (spectral normalisation, Miyato et al. 2018)" in _bullet(text, "- By constraint")  # the energy runs
    assert "Adam(0.5, 0.9), spectral normalisation (Miyato et al. 2018)" in text  # the table's setting column
    assert "Spearman >= 0.5 in all 3 seeds: the loss tracks sample quality" in text
    assert "AVB above the VAE in all 3 seeds" in text
    assert "- Lowest mean W1: rmsprop_clip0.01 (RMSProp, weight clipping c=0.01), 0.450 ± 0.050 (n=3); " \
           "the lowest row in all 3 seeds" in text


def test_ablation_and_avb_verdicts_follow_the_seeds():
    import statistics

    recs = [_ablation_record(0.4, 0.6), _ablation_record(0.4, 0.6), _ablation_record(0.5, 0.45)]
    text = _bullet(report.section("ablation", recs[0], _seeds("ablation", recs)), "- RMSProp vs Adam")
    assert "Adam worse on both in 2 of 3 seeds only: not settled" in text and "as the paper reports" not in text
    recs = [_avb_record(a, v) for a, v in ((-1.45, -1.6), (-1.7, -1.6), (-1.45, -1.6))]
    text = _bullet(report.section("avb_toy", recs[0], _seeds("avb_toy", recs)), "- log p(x), AVB minus VAE")
    assert "AVB above the VAE in 2 of 3 seeds only: not settled" in text
    diffs = [0.15, -0.1, 0.15]  # paired, seed by seed
    assert f"(seed by seed): {statistics.mean(diffs):.3f} ± {statistics.stdev(diffs):.3f} (n=3) nats" in text


def test_lines_record_round_trips_through_json(tmp_path):
    r = _lines_record(0.01, float("nan"))
    r.write(tmp_path / "lines.json")
    back = LinesResult.read(tmp_path / "lines.json")
    assert back.demos["wgan"].theta_final == 0.01 and math.isnan(back.demos["minimax"].theta_final)
    assert back.metrics()["minimax_theta_final"] is None
    assert set(THEORY_RECORDS) == {"lines", "vanishing", "meaningful", "energy", "ablation", "avb_toy"}


def test_ablation_row_unknown_name_is_one_line_error():
    from typer.testing import CliRunner

    from stages.__main__ import app

    res = CliRunner().invoke(app, ["theory", "ablation", "--row", "nope"])
    assert res.exit_code == 2
    assert "unknown ablation row" in res.output


def test_an_ablation_row_rerun_alone_gives_the_table_numbers():
    """What makes the report's per-row command honest: a row does not depend on the rows before it."""
    from pipeline.config import AblationParams
    from pipeline.theory import ablation

    p = AblationParams(steps=20, checkpoints=2)
    t = TheoryParams(wgan=TheoryWgan(warmup=1))
    runs = t.wgan_runs({"a": TheoryWgan(), "b": TheoryWgan(constraint="sn")}, p.steps)
    table = ablation.run_ablation(p, runs, TINY_MIX, 0)
    alone = ablation.run_ablation(p, runs, TINY_MIX, 0, only=["b"])
    assert alone.rows["b"] == table.rows["b"]
    assert table.rows["a"].status == "ok"
    assert table.metrics().keys() == {"a_w1", "b_w1", "a_w_rel_std", "b_w_rel_std"}
    with pytest.raises(KeyError, match="unknown ablation row"):
        ablation.run_ablation(p, runs, TINY_MIX, 0, only=["c"])


def test_over_seeds_table_gives_every_seed_and_the_spread():
    ts = TheorySeeds("lines", [0, 1, 2], {"wgan_theta_final": [0.01, 0.03, 0.02], "minimax_theta_final": [0.9, None, 0.7]})
    text = report._over_seeds({"lines": ts})
    assert "| metric | seed 0 | seed 1 | seed 2 | mean ± std |" in text
    assert "| wgan_theta_final | 0.010 | 0.030 | 0.020 | 0.020 ± 0.010 |" in text
    assert "| minimax_theta_final | 0.900 | n/a | 0.700 | 0.800 ± 0.141 (n=2) |" in text
