"""Theory parts (issue 4): analytic answers exactly, learned estimates at small scale."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from pipeline.config import ParamsError, parse_params
from pipeline.theory import avb_toy, energy, lines, mixture, report, vanishing
from pipeline.theory.lipschitz import gradient_penalty, input_gradient_norm
from pipeline.theory.nets import EnsembleMLP
from pipeline.config import LinesParams

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


def test_log_steps_cover_both_ends():
    s = vanishing.log_steps(1000, 7)
    assert s[0] == 1 and s[-1] == 1000 and s == sorted(set(s))


def test_wgan_generator_gradient_of_a_linear_critic_is_its_slope():
    critic = nn.Linear(1, 1, bias=False)
    nn.init.constant_(critic.weight, 0.7)
    from pipeline.theory.nets import Squeeze

    f = Squeeze(critic)
    mean, std = torch.tensor(2.0, requires_grad=True), torch.tensor(0.3, requires_grad=True)
    z = torch.randn(100_000, generator=torch.Generator().manual_seed(0))
    z = (z - z.mean()) / z.std()  # E z = 0 exactly: d/ds vanishes, d/dm = -0.7
    from pipeline.losses import wgan_generator_loss

    assert vanishing.generator_grad_norm(f, wgan_generator_loss, [mean, std], z) == pytest.approx(0.7, rel=1e-4)


# --- parts 3-5 ---------------------------------------------------------------------------


def test_exact_w1_of_a_shift_is_the_shift():
    x = torch.rand(200, 2, generator=torch.Generator().manual_seed(0))
    assert mixture.exact_w1(x, x + torch.tensor([0.3, 0.4])) == pytest.approx(0.5, abs=1e-6)  # float32 inputs
    assert mixture.exact_w1(x, x) == pytest.approx(0.0, abs=1e-12)


def test_checkpoint_steps():
    assert mixture.checkpoint_steps(100, 4) == [25, 50, 75, 100]
    log = mixture.checkpoint_steps(1000, 4, log=True)
    assert log[0] == 10 and log[-1] == 1000 and len(log) == 4


def test_energy_agreement_of_the_log_density_itself_is_one():
    centers = torch.tensor([[0.0, 0.0], [2.0, 0.0]])
    _, _, pts = energy.grid_points(centers, 0.1, 0.5, 30)
    from pipeline.data import mixture_log_density

    lp = mixture_log_density(pts, centers, 0.1)
    near = energy.near_mask(pts, centers, 0.1, 3.0)
    assert 0 < near.float().mean().item() < 1
    a = energy.agreement(lp, lp, near)
    assert a == {"all": pytest.approx(1.0), "near": pytest.approx(1.0), "far": pytest.approx(1.0)}
    assert energy.agreement(-lp, lp, near)["all"] == pytest.approx(-1.0)


def test_wgan_variants_train_through_the_core_loop():
    from pipeline.config import MixtureParams, WganRun

    m = MixtureParams(n_train=200, n_eval=100, g_hidden=[8], d_hidden=[8])
    mix = mixture.make_mixture(m, 0)
    for run in (WganRun(constraint="gp"), WganRun(constraint="sn"), WganRun(constraint="clip", clip=0.01)):
        step = mixture.ConstrainedWGAN(mixture.net_params(m), mix.meta, run, 16)
        rows, evals, err = mixture.train_with_checkpoints(step, mix.train, 4, [2, 4], 0, lambda s, d: {"d": d},
                                                          log_every=1)
        assert err is None and [e["step"] for e in evals] == [2, 4] and rows[-1]["step"] == 4
        if run.constraint == "clip":
            assert max(p.abs().max().item() for p in step.D.parameters()) <= 0.01 + 1e-9


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
    r = avb_toy.run_avb_toy(p, 0)
    for ll in (r.avb, r.vae):
        assert ll.mean <= avb_toy.OPTIMUM + 3 * ll.mc_stderr
        assert ll.mean == pytest.approx(ll.quadrature, abs=max(5 * ll.mc_stderr, 0.01))
    assert len(r.posteriors["avb"]) == 4 and len(r.posteriors["avb"][0]) == 10


# --- params and report --------------------------------------------------------------------


def test_theory_params_one_line_errors():
    assert parse_params({"theory": {}}).theory.lines.n_theta == 11
    with pytest.raises(ParamsError, match=r"unknown key 'theory.lines.n_thetas'"):
        parse_params({"theory": {"lines": {"n_thetas": 5}}}).theory
    with pytest.raises(ParamsError, match=r"theory.lines.n_theta = 10"):
        parse_params({"theory": {"lines": {"n_theta": 10}}}).theory
    with pytest.raises(ParamsError, match=r"theory.ablation.rows.x.constraint = 'l2'"):
        parse_params({"theory": {"ablation": {"rows": {"x": {"constraint": "l2"}}}}}).theory
    with pytest.raises(ParamsError, match="main = 'nope'"):
        parse_params({"theory": {"energy": {"main": "nope"}}}).theory


def test_params_yaml_theory_section_is_valid():
    from pipeline.config import load_params

    assert load_params().theory.lines.n_theta >= 3


def _lines_details(theta_wgan: float, theta_gan: float) -> dict:
    th = [-1.0, 0.0, 1.0]
    demo = lambda t: {"thetas": [1.0, t], "grad_norms": [0.5, 0.1], "theta_final": t}  # noqa: E731
    return {"thetas": th, "w1_gp": [1.0, 0.0, 1.0], "w1_clip": [0.01, 0.0, 0.01], "js_gan": [0.69, 0.0, 0.69],
            "clip_scale": 0.01, "clip_rel_error_max": 0.0, "w1_rel_error_max": 0.02,
            "demos": {"wgan": demo(theta_wgan), "minimax": demo(theta_gan)}}


def test_report_states_the_demo_verdict_from_the_numbers():
    good = report._lines(_lines_details(0.01, 0.9))
    assert "final |theta| = 0.010 < 0.05 (the claim holds" in good and "NOT" not in good
    bad = report._lines(_lines_details(0.3, 0.01))
    assert "NOT below 0.05" in bad and "does NOT show" in bad
    m = report.lines_metrics(_lines_details(0.01, 0.9))
    assert m["lines_theta_final_wgan"] == 0.01 and m["lines_theta_final_gan"] == 0.9


def test_ablation_row_unknown_name_is_one_line_error():
    from typer.testing import CliRunner

    from stages.__main__ import app

    res = CliRunner().invoke(app, ["theory", "ablation", "--row", "nope"])
    assert res.exit_code == 2
    assert "unknown ablation row" in res.output


def test_an_ablation_row_rerun_alone_gives_the_table_numbers():
    """What makes the report's per-row command honest: a row does not depend on the rows before it."""
    from pipeline.theory import ablation
    from pipeline.config import AblationParams, MixtureParams, WganRun

    m = MixtureParams(n_train=200, n_eval=100, g_hidden=[8], d_hidden=[8])
    p = AblationParams(steps=20, checkpoints=2, rows={"a": WganRun(warmup=1), "b": WganRun(constraint="sn", warmup=1)})
    table = ablation.run_ablation(p, m, 0)
    alone = ablation.run_ablation(p, m, 0, only=["b"])
    assert alone["b"] == table["b"]
    with pytest.raises(KeyError, match="unknown ablation row"):
        ablation.run_ablation(p, m, 0, only=["c"])
