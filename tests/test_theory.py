"""Theory parts (issue 4): analytic answers exactly, learned estimates at small scale."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from pipeline.config import LinesParams, MixtureParams, ParamsError, TheoryParams, TheoryWgan, parse_params
from pipeline.losses import gradient_penalty
from pipeline.records import THEORY_RECORDS, DemoRun, LinesResult
from pipeline.theory import avb_toy, energy, lines, mixture, report, vanishing
from pipeline.theory.ablation import input_gradient_norm
from pipeline.theory.nets import EnsembleMLP
from pipeline.train import spaced_steps

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
    from pipeline.losses import wgan_generator_loss

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
    from pipeline.data import mixture_log_density

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


def _lines_record(theta_wgan: float, theta_gan: float) -> LinesResult:
    demo = lambda name, t: DemoRun(name, [1.0, t], [0.5, 0.1])  # noqa: E731
    return LinesResult([-1.0, 0.0, 1.0], [1.0, 0.0, 1.0], [0.01, 0.0, 0.01], [0.69, 0.0, 0.69], 0.01, 0.02, 0.0,
                       0.69, {"wgan": demo("wgan", theta_wgan), "minimax": demo("minimax", theta_gan)})


def test_report_states_the_demo_verdict_from_the_numbers():
    good = report._lines(_lines_record(0.01, 0.9))
    assert "final |theta| = 0.010 < 0.05 (the claim holds" in good and "NOT" not in good
    bad = report._lines(_lines_record(0.3, 0.01))
    assert "NOT below 0.05" in bad and "does NOT show" in bad
    m = _lines_record(0.01, 0.9).metrics()
    assert m["wgan_theta_final"] == 0.01 and m["minimax_theta_final"] == 0.9 and len(m) <= 5


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
    assert table.rows["a"].status == "ok" and table.metrics().keys() == {"a_w1", "b_w1"}
    with pytest.raises(KeyError, match="unknown ablation row"):
        ablation.run_ablation(p, runs, TINY_MIX, 0, only=["c"])


def test_over_seeds_table_gives_every_seed_and_the_spread():
    from pipeline.records import TheorySeeds

    ts = TheorySeeds("lines", [0, 1, 2], {"wgan_theta_final": [0.01, 0.03, 0.02], "minimax_theta_final": [0.9, None, 0.7]})
    text = report._over_seeds({"lines": ts})
    assert "| metric | seed 0 | seed 1 | seed 2 | mean ± std |" in text
    assert "| wgan_theta_final | 0.010 | 0.030 | 0.020 | 0.020 ± 0.010 |" in text
    assert "| minimax_theta_final | 0.900 | n/a | 0.700 | 0.800 ± 0.141 (n=2) |" in text
