"""Theory parts: analytic answers exactly, learned estimates at small scale."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Optional

import pytest
import torch
from torch import nn

from pipeline.config import ParamsError, parse_params
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
from pipeline.theory import avb_toy, energy, findings, lines, mixture, report, vanishing
from pipeline.theory.ablation import input_gradient_norm
from pipeline.theory.findings import MainRun
from pipeline.theory.nets import EnsembleMLP
from pipeline.training.loop import spaced_steps

from .conftest import section_with, shipped_with

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
    p = section_with("theory.lines", batch_size=128, critic_steps=300)
    thetas = torch.tensor([-1.0, -0.6, 0.2, 0.6])
    est = lines.critic_w1_estimates(thetas, "gp", p, torch.Generator().manual_seed(0))
    assert lines.relative_errors(est, thetas).max().item() <= 0.10
    torch.testing.assert_close(est, thetas.abs(), atol=0.0, rtol=0.10)


def test_discriminator_js_saturates_at_log2_and_is_zero_at_theta_0():
    p = section_with("theory.lines", batch_size=128, critic_steps=200)
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


TINY_MIX = section_with("theory.mixture", data={"toy_train": 200, "toy_test": 100},
                        net={"g_hidden": [8], "d_hidden": [8]})


def test_theory_mixture_is_the_core_data_set():
    m = mixture.load_mixture(section_with("theory.mixture"), 0)
    assert m.train.shape == (5000, 2) and m.test.shape == (500, 2) and len(m.centers) == 8
    assert m.meta.std == 0.05


def test_core_wgan_variants_train_in_chunks_with_a_warmup():
    mix = mixture.load_mixture(TINY_MIX, 0)
    theory = section_with("theory")
    base = theory.wgan
    for keys in ({"constraint": "gp", "optimizer": "adam"}, {"constraint": "sn"}, {"warmup": 3}):
        run = theory.wgan_run(keys, 4)
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
    p = section_with("theory.avb_toy", steps=150, batch_size=32, is_samples=5000, n_plot=10, hidden=[16, 16])
    r, posteriors = avb_toy.run_avb_toy(p, 0)
    for ll in (r.avb, r.vae):
        assert ll.mean <= avb_toy.OPTIMUM + 3 * ll.mc_stderr
        assert ll.mean == pytest.approx(ll.quadrature, abs=max(5 * ll.mc_stderr, 0.01))
    assert len(posteriors["avb"]) == 4 and len(posteriors["avb"][0]) == 10


# --- params and report --------------------------------------------------------------------


def test_theory_params_one_line_errors():
    assert parse_params(shipped_with({"theory": {}})).theory.lines.n_theta == 11
    with pytest.raises(ParamsError, match=r"unknown key 'theory.lines.n_thetas'"):
        parse_params(shipped_with({"theory": {"lines": {"n_thetas": 5}}}))
    with pytest.raises(ParamsError, match=r"theory.lines.n_theta = 10"):
        parse_params(shipped_with({"theory": {"lines": {"n_theta": 10}}}))
    with pytest.raises(ParamsError, match=r"^params.yaml: theory.ablation.rows.x.constraint = 'l2'"):
        parse_params(shipped_with({"theory": {"ablation": {"rows": {"x": {"constraint": "l2"}}}}}))
    with pytest.raises(ParamsError, match=r"^params.yaml: theory.energy.runs.gp.lr = True: must be a number"):
        parse_params(shipped_with({"theory": {"energy": {"runs": {"gp": {"lr": True}}}}}))
    with pytest.raises(ParamsError, match=r"^params.yaml: theory.meaningful.wgan.n_critc = 5: unknown key$"):
        parse_params(shipped_with({"theory": {"meaningful": {"wgan": {"n_critc": 5}}}}))
    with pytest.raises(ParamsError, match="main = 'nope'"):
        parse_params(shipped_with({"theory": {"energy": {"main": "nope"}}}))
    with pytest.raises(ParamsError, match=r"unknown key 'theory.mixture.data.toy_trian'"):
        parse_params(shipped_with({"theory": {"mixture": {"data": {"toy_trian": 5}}}}))
    for where in ("theory.wgan", "theory.meaningful.gan", "theory.ablation.rows.adam_gp"):
        *path, last = where.split(".")
        with pytest.raises(ParamsError, match=rf"^params.yaml: {where}.steps = 5: set by each part"):
            parse_params(shipped_with(_nested([*path, last, "steps"], 5)))


def _nested(path: list[str], value) -> dict:
    return {path[0]: _nested(path[1:], value)} if path else value


def test_theory_runs_are_keys_over_the_shared_base():
    raw = shipped_with({"theory": {"wgan": {"lr": 0.001}, "mixture": {"data": {"ring_std": 0.1}}}})
    raw["theory"]["ablation"]["rows"] = {"a": {"optimizer": "adam"}}  # the only row
    t = parse_params(raw).theory
    (run,) = t.wgan_runs(t.ablation.rows, 7).values()
    assert (run.optimizer, run.lr, run.beta2, run.warmup, run.clip, run.steps) == ("adam", 0.001, 0.9, 5, 0.01, 7)
    assert (t.mixture.data.toy_train, t.mixture.data.ring_std, t.mixture.net.z_dim) == (5000, 0.1, 2)


def test_params_yaml_theory_section_is_valid():
    from pipeline.config import load_params

    t = load_params().theory
    assert t.lines.n_theta >= 3
    assert t.wgan_runs(t.ablation.rows, 1)["adam_gp"].constraint == "gp"


# --- report: the findings it decides on, and the page they render to ---------------------------


def _lines_record(theta_wgan: float, theta_gan: float, w1_rel: float = 0.02,
                  theta_nonsaturating: Optional[float] = None) -> LinesResult:
    # binary fractions where seeds share a value: their spread is exactly 0, not rounding noise
    demo = lambda name, t: DemoRun(loss=name, thetas=[1.0, t], grad_norms=[0.5, 0.125])  # noqa: E731
    demos = {"wgan": demo("wgan", theta_wgan), "minimax": demo("minimax", theta_gan)}
    if theta_nonsaturating is not None:
        demos["nonsaturating"] = demo("nonsaturating", theta_nonsaturating)
    return LinesResult(thetas=[-1.0, 0.0, 1.0], w1_gp=[1.0, 0.0, 1.0], w1_clip=[0.01, 0.0, 0.01],
                       js_gan=[0.69, 0.0, 0.69], clip_scale=0.01, w1_rel_error_max=w1_rel, clip_rel_error_max=0.0,
                       js_min_nonzero=0.69, demos=demos)


def _seeds(part: str, records: list, seeds: tuple = (0, 1, 2)) -> TheorySeeds:
    """What `python -m stages theory <part>` writes: each seed's `metrics()`, metric by metric."""
    per_seed = [r.metrics() for r in records]
    return TheorySeeds(part=part, seeds=list(seeds), metrics={k: [m.get(k) for m in per_seed] for k in per_seed[0]})


def _lines(thetas_wgan, thetas_gan=(0.9, 0.9, 0.9), w1_rel=(0.02, 0.02, 0.02)) -> findings.Lines:
    recs = [_lines_record(w, g, e) for w, g, e in zip(thetas_wgan, thetas_gan, w1_rel)]
    return findings.lines(recs[0], _seeds("lines", recs))


def test_a_verdict_holds_in_every_seed_fails_in_every_seed_or_is_not_settled():
    f = _lines([0.01, -0.02, 0.03])
    assert (f.wgan_reaches.held, f.wgan_reaches.seeds, f.wgan_reaches.state) == (3, 3, "holds")
    assert f.minimax_stays.state == "holds" and f.wgan.first_below == 1 and f.wgan_ends_below
    f = _lines([0.3, 0.2, 0.4], thetas_gan=(0.01, 0.02, 0.0))
    assert (f.wgan_reaches.held, f.wgan_reaches.state) == (0, "fails") and f.minimax_stays.state == "fails"
    assert f.wgan.first_below is None
    f = _lines([0.01, 0.02, 0.3], w1_rel=(0.05, 0.2, 0.05))
    assert (f.wgan_reaches.held, f.wgan_reaches.state) == (2, "unsettled")
    assert (f.gp_within.held, f.gp_within.state) == (2, "unsettled")
    assert _lines([0.01] * 3, w1_rel=(0.1, 0.1, 0.1)).gp_within.state == "holds"  # the tolerance is inclusive


def test_a_stated_number_is_the_spread_over_seeds_and_a_missing_seed_is_not_counted():
    import statistics

    f = _lines([0.01, -0.02, 0.06])
    assert f.wgan_theta.values == (0.01, 0.02, 0.06)  # |theta| seed by seed, not the signed mean
    assert f.wgan_theta.spread.std == pytest.approx(statistics.stdev([0.01, 0.02, 0.06]))
    f = _lines([0.01, float("nan"), 0.03])
    assert (f.wgan_theta.n, f.wgan_reaches.held, f.wgan_reaches.state) == (2, 2, "unsettled")
    assert report.ms(f.wgan_theta) == "0.020 ± 0.014 (n=2)"


def test_a_number_missing_from_the_seeds_file_is_the_first_seeds_alone():
    recs = [_lines_record(0.01, 0.9), _lines_record(0.02, 0.9)]
    ts = _seeds("lines", recs, seeds=(4, 5))
    del ts.metrics["clip_scale"]  # a seeds file written before the metric was collected
    f = findings.lines(recs[0], ts)
    assert f.clip_scale == findings.Stat((0.01,), alone=True, first_seed=4)
    assert report.ms(f.clip_scale, 4) == "0.0100 [first seed (seed 4) only]"
    assert (f.wgan_reaches.seeds, f.wgan_reaches.alone, f.first_seed) == (2, False, 4)
    f = findings.lines(recs[0])  # no seeds file at all
    assert f.first_seed is None and f.wgan_reaches == findings.Verdict(1, 1, alone=True)


def test_number_formats():
    assert (report.num(0.1234), report.num(1.2e-5), report.num(12345.0), report.num(0.0)) == \
        ("0.123", "1.20e-05", "1.23e+04", "0.000")
    assert report.num(None) == report.num(float("nan")) == "n/a"
    assert report.ms(findings.Stat((0.9, None, 0.7))) == "0.800 ± 0.141 (n=2)"
    assert report.ms(findings.Stat((0.9, None, 0.7)), n=False) == "0.800 ± 0.141 (n=2)"  # a seed short: said
    assert report.ms(findings.Stat((1.0, 3.0)), 2, n=False) == "2.00 ± 1.41"
    assert report.ms(findings.Stat((None, None))) == "n/a"


def _vanishing_record(grad_last: float) -> VanishingResult:
    return VanishingResult(steps=[1, 10], grad_minimax=[0.1, grad_last], grad_nonsaturating=[0.125, 2.0],
                           grad_wgan=[0.01, 0.01], js_estimate=[0.1, 0.69], x=[0.0], d_of_x=[0.5], f_of_x=[0.0],
                           real=(-2.0, 0.3), fake=(2.0, 0.3))


def test_vanishing_gradient_verdicts():
    recs = [_vanishing_record(g) for g in (1e-4, 2e-4, 0.5)]  # last over largest: 1e-3, 2e-3, 1
    f = findings.vanishing(recs[0], _seeds("vanishing", recs))
    assert (f.minimax_vanishes.held, f.minimax_vanishes.state) == (2, "unsettled")
    assert f.nonsaturating_grows.state == "holds" and f.wgan_steady.state == "holds"
    assert [(x.step, x.minimax) for x in f.steps] == [(1, 0.1), (10, 1e-4)]


def _meaningful_record(spearman_wgan: float, spearman_gan: float) -> MeaningfulResult:
    run = lambda m, rho: RunTrace(model=m, estimate_key="w_estimate", rows=[],  # noqa: E731
                                  checkpoints=[W1Checkpoint(step=10, w1=0.5, estimate=0.1)], pearson=rho, spearman=rho)
    return MeaningfulResult(runs={"wgan": run("wgan", spearman_wgan), "gan": run("gan", spearman_gan)},
                            w1_floor=0.0625)


def test_the_meaningful_loss_and_the_main_runs_read_against_it():
    recs = [_meaningful_record(w, g) for w, g in ((0.8, 0.1), (0.7, float("nan")), (0.9, 0.6))]
    main = [MainRun("ring8", "wgan", 0, 0.6, 0.7), MainRun("ring8", "wgan", 1, 0.2, 0.4),
            MainRun("ring8", "gan", 0, 0.1, 0.9), MainRun("digits", "wgan_gp", 0, None, None)]
    f = findings.meaningful(recs[0], _seeds("meaningful", recs), main)
    assert f.wgan_tracks.state == "holds" and f.wgan_first_step == 10
    # an undefined correlation counts as not tracking
    assert (f.gan_does_not_track.held, f.gan_does_not_track.state) == (2, "unsettled")
    assert [(g.dataset, g.model, g.tracking, g.runs) for g in f.main.groups] == \
        [("ring8", "wgan", 1, 2), ("ring8", "gan", 1, 1), ("digits", "wgan_gp", 0, 1)]
    assert (f.main.critics, f.main.critics_tracking, f.main.all_track) == (3, 1, False)  # the GAN is no critic
    assert findings.main_runs([MainRun("ring8", "wgan", 0, 0.1, 0.5), MainRun("ring8", "gan", 0, 0.1, 0.1)]).all_track
    assert findings.meaningful(recs[0]).main is None


def _energy_record(final: float, w1s: tuple = (0.9, 0.5)) -> EnergyResult:
    run = lambda a: EnergyRun(checkpoints=[EnergyCheckpoint(step=10, all=0.3, near=0.0, far=0.3, w1=w1s[0]),  # noqa: E731
                                           EnergyCheckpoint(step=20, all=a, near=0.0, far=a, w1=w1s[1])])
    return EnergyResult(grid=10, near_fraction=0.1, main="clip", runs={"clip": run(final), "sn": run(final / 2)})


def test_energy_verdicts_and_generators_not_settled_or_moving_away():
    recs = [_energy_record(a) for a in (0.6, 0.7, 0.2)]
    f = findings.energy(recs[0], _seeds("energy", recs))
    assert (f.agrees.held, f.near_lower.state) == (2, "holds")
    assert (f.fades.held, f.fades.seeds) == (1, 3)  # only 0.2 ends more than 0.05 below its peak of 0.3
    assert [(d.run, d.w1_from, d.w1_to, d.step) for d in f.unsettled] == [("clip", 0.9, 0.5, 20), ("sn", 0.9, 0.5, 20)]
    assert f.moved_away == () and [n for n, _ in f.finals] == ["clip", "sn"]
    assert f.finals[1][1].values == (0.3, 0.35, 0.1)
    f = findings.energy(_energy_record(0.6, w1s=(0.5, 0.52)))
    assert [d.run for d in f.moved_away] == ["clip", "sn"] and f.unsettled == ()


WGAN_RUN = {"optimizer": "rmsprop", "beta1": 0.5, "beta2": 0.9, "constraint": "clip", "clip": 0.01}


def _ablation_record(w1_rms: float, w1_adam: float, rel_rms: float = 0.25, rel_adam: float = 0.5) -> AblationResult:
    row = lambda w1, rel, **run: AblationRow(run=WGAN_RUN | run, status="ok", w1=w1, w_rel_std=rel,  # noqa: E731
                                             w_final=2.5e-5, w_std=0.03125, corr_w_w1=0.875, lipschitz=1.25,
                                             energy_spearman=-0.25)
    return AblationResult(steps=10, last_fraction=0.2, rows={
        "rmsprop_clip0.01": row(w1_rms, rel_rms), "adam_clip0.01": row(w1_adam, rel_adam, optimizer="adam"),
        "adam_sn": row(1.0, 1.0, optimizer="adam", constraint="sn")})


def test_ablation_ranks_rows_by_their_mean_and_counts_each_seed():
    recs = [_ablation_record(0.4, 0.6), _ablation_record(0.4, 0.6), _ablation_record(0.5, 0.45)]
    f = findings.ablation(recs[0], _seeds("ablation", recs))
    assert f.rows[1].setting == findings.Setting("adam", 0.5, 0.9, "clip", 0.01)
    assert (f.best.row.name, f.best.lowest.held, f.best.lowest.state) == ("rmsprop_clip0.01", 2, "unsettled")
    assert (f.stable.row.name, f.stable.lowest.state) == ("rmsprop_clip0.01", "holds")
    assert (f.optimisers.adam_worse.held, f.optimisers.adam_worse.state) == (2, "unsettled")
    assert [r.name for r in f.poor_rows] == ["adam_sn"] and f.diverged == ()  # 1.0 > 2 x 0.433
    recs = [_ablation_record(float("nan"), 0.6), _ablation_record(0.4, 0.6), _ablation_record(0.5, 0.7)]
    f = findings.ablation(recs[0], _seeds("ablation", recs))
    assert [(d.row.name, d.seeds, d.of) for d in f.diverged] == [("rmsprop_clip0.01", 1, 3)]
    assert f.best.row.name == "rmsprop_clip0.01" and f.best.stat.n == 2
    f = findings.ablation(_ablation_record(float("nan"), float("nan")))  # both rows of the claim undefined
    assert f.optimisers is None and f.best.row.name == "adam_sn"


def _avb_record(avb: float, vae: float) -> AvbToyResult:
    ll = lambda v: LogLik(mean=v, mc_stderr=0.003, per_point=[v] * 4, ess_fraction=0.5, quadrature=v)  # noqa: E731
    return AvbToyResult(avb=ll(avb), vae=ll(vae), elbo={"avb": avb - 0.05, "vae": vae - 0.05}, optimum=-math.log(4))


def test_avb_toy_differences_are_paired_seed_by_seed():
    recs = [_avb_record(a, v) for a, v in ((-1.45, -1.6), (-1.7, -1.6), (-1.45, -1.6))]
    f = findings.avb_toy(recs[0], _seeds("avb_toy", recs))
    assert (f.avb_better.held, f.avb_better.state) == (2, "unsettled")
    assert f.gap.values == pytest.approx((0.15, -0.1, 0.15))
    assert f.above_optimum == () and f.elbo_above_optimum == findings.Count(0, 3)
    recs = [_avb_record(-1.2, -1.6), _avb_record(-1.45, -1.6)]  # -1.2 is above -log 4 by 62 standard errors
    f = findings.avb_toy(recs[0], _seeds("avb_toy", recs, seeds=(0, 1)))
    assert f.above_optimum == (("avb", findings.Count(1, 2)),) and f.elbo_above_optimum == findings.Count(1, 2)


GOLDEN = Path(__file__).parent / "golden" / "theory" / "theory.md"


def _golden_page() -> str:
    """The page from a small fixed set of records reaching every kind of sentence: verdicts that hold,
    fail and are not settled, a seed without a value, a metric missing from a seeds file, a part
    without a seeds file, a diverged ablation row, generators not settled, the main runs."""
    per_seed = {
        "lines": [_lines_record(0.01, 0.9, 0.05, 0.001), _lines_record(-0.02, 0.95, 0.2, 0.002),
                  _lines_record(float("nan"), 0.8, 0.08, -0.001)],
        "vanishing": [_vanishing_record(g) for g in (1e-4, 2e-4, 0.5)],
        "meaningful": [_meaningful_record(w, g) for w, g in ((0.8, 0.1), (0.7, float("nan")), (0.9, 0.6))],
        "energy": [_energy_record(a) for a in (0.6, 0.7, 0.2)],
        "ablation": [_ablation_record(float("nan"), 0.6), _ablation_record(0.4, 0.6), _ablation_record(0.5, 0.45)],
        "avb_toy": [_avb_record(a, v) for a, v in ((-1.2, -1.6), (-1.7, -1.6), (-1.45, -1.6))],
    }
    records = {p: r[0] for p, r in per_seed.items()}
    for i, r in enumerate(records.values()):
        r.seconds = 10.0 * (i + 1)
    seeds = {p: _seeds(p, r) for p, r in per_seed.items() if p != "avb_toy"}  # avb_toy: its first seed alone
    del seeds["lines"].metrics["clip_scale"]
    main = [MainRun("ring8", "wgan", 0, 0.6, 0.7), MainRun("ring8", "wgan", 1, 0.2, 0.4),
            MainRun("ring8", "gan", 0, 0.1, 0.9), MainRun("digits", "wgan_gp", 0, None, None)]
    return report.render(records, seeds, main)


def test_the_page_matches_its_golden_file():
    """The whole page from fixed records against tests/golden/theory/theory.md; after a deliberate
    change of wording or layout, `UPDATE_GOLDEN=1 pytest -k golden` rewrites the file: review its diff."""
    import difflib
    import os

    text = _golden_page()
    if os.environ.get("UPDATE_GOLDEN"):
        GOLDEN.parent.mkdir(parents=True, exist_ok=True)
        GOLDEN.write_text(text, encoding="utf-8")
    expected = GOLDEN.read_text(encoding="utf-8")
    if text != expected:
        diff = "".join(difflib.unified_diff(expected.splitlines(True), text.splitlines(True),
                                            fromfile=str(GOLDEN.relative_to(Path(__file__).parents[1])),
                                            tofile="rendered now"))
        pytest.fail(f"the theory page differs from its golden file (UPDATE_GOLDEN=1 rewrites it):\n{diff}",
                    pytrace=False)


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
    from pipeline.theory import ablation

    p = section_with("theory.ablation", steps=20, checkpoints=2)
    t = section_with("theory", wgan={"warmup": 1})
    runs = t.wgan_runs({"a": {}, "b": {"constraint": "sn"}}, p.steps)
    table = ablation.run_ablation(p, runs, TINY_MIX, 0)
    alone = ablation.run_ablation(p, runs, TINY_MIX, 0, only=["b"])
    assert alone.rows["b"] == table.rows["b"]
    assert table.rows["a"].status == "ok"
    assert table.metrics().keys() == {"a_w1", "b_w1", "a_w_rel_std", "b_w_rel_std"}
    with pytest.raises(KeyError, match="unknown ablation row"):
        ablation.run_ablation(p, runs, TINY_MIX, 0, only=["c"])
