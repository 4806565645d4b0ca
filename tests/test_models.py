"""Step objects and the one training loop, on tiny nets and data."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from pipeline import io
from pipeline.models import losses
from pipeline.config import Params, ParamsError
from pipeline.data.datasets import DataMeta
from pipeline.models.core import AVB, WGAN, build, critic_step, make_optimizer
from pipeline.models.core import model_config
from pipeline.models.registry import section as model_section
from pipeline.training.loop import checkpoint, fit, restore

from .conftest import params_with

POINTS = DataMeta("ring8", "points", (2,), 256, 64)
IMAGES = DataMeta("digits", "images", (1, 8, 8), 256, 64, levels=16, num_classes=10)


def tiny(**over) -> Params:
    raw = {"net": {"z_dim": 4, "g_hidden": [16], "d_hidden": [16]}, "train": {"log_every": 5}}
    for section, vals in over.items():
        raw[section] = vals if not isinstance(vals, dict) else raw.get(section, {}) | vals
    return params_with(raw)


@pytest.mark.parametrize("model", ["gan", "wgan", "avb", "vae"])
@pytest.mark.parametrize("meta", [POINTS, IMAGES], ids=["points", "images"])
def test_every_model_trains_and_round_trips(model, meta, tmp_path: Path):
    params = tiny(**{model: {"steps": 6, "batch_size": 8}})
    torch.manual_seed(0)
    step = build(model, params, meta)
    data = torch.randn(64, *meta.shape).clamp(-1, 1)
    res = fit(step, data, 6, log_every=5, n_snapshots=2, progress=False)
    assert res.ok and res.steps_done == 6
    assert [r["step"] for r in res.rows] == [5, 6]
    assert [s["step"] for s in res.snapshots] == [3, 6]
    # checkpoint: plain data, loadable with weights_only=True, rebuilds the same sampler
    path = tmp_path / "m.pt"
    io.save_torch(path, checkpoint(step, res, model_config(model, params, meta.name)))
    again = restore(io.load_torch(path))
    g = lambda: torch.Generator().manual_seed(1)
    torch.testing.assert_close(again.sample(5, g()), step.eval().sample(5, g()))
    assert again.sample(5, g()).shape == (5, *meta.shape)


@pytest.mark.parametrize("model", ["avb", "vae"])
def test_a_latent_model_simulates_the_pairs_it_samples(model):
    """simulate(n) gives the samples sample(n) gives (same draws) and the z behind each: x ~ p(x|z)."""
    torch.manual_seed(0)
    step = build(model, tiny(), POINTS).eval()
    g = lambda: torch.Generator().manual_seed(3)
    x, z = step.simulate(500, g())
    torch.testing.assert_close(x, step.sample(500, g()))
    assert z.shape == (500, 4)
    mean, log_std = step.decoder(z)
    # standardised residuals of x given its z are N(0, 1)
    r = ((x - mean) / log_std.exp()).flatten()
    assert abs(r.mean().item()) < 0.1 and abs(r.std().item() - 1) < 0.1


def test_clipping_holds_for_every_critic_parameter_after_each_step():
    params = tiny(wgan={"lr": 0.5, "optimizer": "adam", "batch_size": 16}, clip=0.02)  # big steps push weights out
    step: WGAN = build("wgan", params, POINTS)
    data = torch.randn(128, 2) * 3
    c = torch.tensor(0.02)
    for _ in range(3):
        step.inner(data[:16])
        for name, p in step.D.named_parameters():
            assert (p.abs() <= c).all(), name
    assert any((p.abs() == c).any() for p in step.D.parameters())  # the bound was actually hit


def test_reference_schedule():
    step = build("wgan", tiny(wgan={"reference_schedule": True, "n_critic": 5}), POINTS)
    assert [step.inner_count(i) for i in (0, 24, 25, 499, 500, 501)] == [100, 100, 5, 5, 100, 5]
    plain = build("wgan", tiny(), POINTS)
    assert {plain.inner_count(i) for i in range(600)} == {5}


class _AlgorithmOneWGAN(WGAN):
    """The core WGAN's critic update and optimisers as they were before the constraint switch (a reference)."""

    def _opt(self, m):
        return torch.optim.RMSprop(m.parameters(), lr=self.p.lr, foreach=True)

    @property
    def opt_d(self):
        if not hasattr(self, "_od"):
            self._od = self._opt(self.D)
        return self._od

    @property
    def opt_g(self):
        if not hasattr(self, "_og"):
            self._og = self._opt(self.G)
        return self._og

    def inner(self, x):
        with torch.no_grad():
            fake = self.G(self._z(len(x), x.device))
        scores = self.D(torch.cat([x, fake]))
        loss = losses.wgan_critic_loss(scores[: len(x)], scores[len(x):])
        self.opt_d.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_d.step()
        losses.clip_weights_(self._critic_params, self.clip)
        return {"critic_loss": loss.detach(), "w_estimate": -loss.detach()}


def test_default_clip_wgan_is_unchanged_bit_for_bit():
    """Default params (RMSProp, clipping): the same weights and log as Algorithm 1's update before the switch."""
    params = tiny(wgan={"batch_size": 16})
    results = []
    for cls in (WGAN, _AlgorithmOneWGAN):
        torch.manual_seed(0)
        step = cls(params.net, POINTS, model_section("wgan", params, POINTS.name), params.clip)
        res = fit(step, torch.randn(256, 2), 12, log_every=4, n_snapshots=3, seed=3, progress=False)
        results.append((step.state_dict(), res.rows))
    (new, rows_new), (ref, rows_ref) = results
    assert all(torch.equal(new[k], ref[k]) for k in ref)
    assert [{k: v for k, v in r.items() if k != "seconds"} for r in rows_new] == \
        [{k: v for k, v in r.items() if k != "seconds"} for r in rows_ref]


def test_gradient_penalty_of_a_linear_critic():
    """f(x) = <w, x>: grad f = w everywhere, so the penalty is (||w|| - 1)^2 whatever the points (WGAN-GP eq. 3)."""
    w = torch.tensor([[0.9, -1.2], [0.0, 0.0]]).view(1, 2, 2)  # an image-shaped critic weight, ||w|| = 1.5
    critic = lambda x: (x * w).flatten(1).sum(1)  # noqa: E731
    real, fake = torch.randn(32, 1, 2, 2), torch.randn(32, 1, 2, 2)
    assert losses.gradient_penalty(critic, real, fake).item() == pytest.approx(0.25, rel=1e-5)


class _LinearCritic(torch.nn.Module):
    def __init__(self, lin: torch.nn.Linear):
        super().__init__()
        self.lin = lin

    def forward(self, x):
        return self.lin(x).squeeze(1)


def test_gp_critic_loss_is_wgan_loss_plus_weighted_penalty():
    params = tiny(wgan={"constraint": "gp", "optimizer": "adam", "gp_weight": 4.0, "batch_size": 8})
    step: WGAN = build("wgan", params, POINTS)
    lin = torch.nn.Linear(2, 1, bias=False)
    torch.nn.init.constant_(lin.weight, 0.5)  # ||w|| = sqrt(0.5)
    step.D = _LinearCritic(lin)
    real, fake = torch.randn(8, 2), torch.randn(8, 2)
    opt = torch.optim.SGD(step.D.parameters(), lr=0.0)
    loss, w = critic_step(step.D, opt, real, fake, step.p, step.clip)
    f = lambda x: x @ torch.tensor([0.5, 0.5])  # noqa: E731
    w_true = f(real).mean() - f(fake).mean()
    assert w.item() == pytest.approx(w_true.item(), abs=1e-6)
    assert loss.item() == pytest.approx(-w_true.item() + 4.0 * (math.sqrt(0.5) - 1) ** 2, abs=1e-5)


def test_spectral_normalised_critic_has_unit_singular_values():
    params = tiny(wgan={"constraint": "sn", "optimizer": "adam", "lr": 0.05, "batch_size": 16},
                  net={"d_hidden": [32, 32]})
    torch.manual_seed(0)
    step: WGAN = build("wgan", params, POINTS)
    for _ in range(20):  # big steps: the raw weights move far, the normalised ones stay at norm 1
        step.inner(torch.randn(16, 2) * 2)
    layers = [m for m in step.D.modules() if isinstance(m, torch.nn.Linear)]
    assert len(layers) == 3 and all(hasattr(m, "parametrizations") for m in layers)
    for m in layers:
        sigma = torch.linalg.matrix_norm(m.weight.detach(), ord=2).item()
        assert sigma == pytest.approx(1.0, abs=0.05)
    assert max(m.parametrizations.weight.original.abs().max().item() for m in layers) > 0.05  # not clipped


def test_one_meaning_of_adam_and_the_warmup():
    p = tiny(wgan={"optimizer": "adam", "warmup": 2}).wgan
    assert make_optimizer([torch.nn.Parameter(torch.zeros(1))], p).defaults["betas"] == (0.5, 0.9)
    step = build("wgan", tiny(wgan={"warmup": 2, "n_critic": 3}), POINTS)
    assert [step.inner_count(i) for i in range(4)] == [100, 100, 3, 3]


def test_divergence_stops_with_the_exact_step():
    step = build("gan", tiny(), POINTS)
    real_outer = step.outer
    calls = {"n": 0}

    def outer(x):
        calls["n"] += 1
        logs = real_outer(x)
        if calls["n"] == 13:
            logs["g_loss"] = torch.tensor(float("nan"))
        return logs

    step.outer = outer
    res = fit(step, torch.randn(64, 2), 50, log_every=5, n_snapshots=10, progress=False)
    assert res.status == "diverged"
    assert res.message == "diverged at generator step 13: g_loss became nan"
    assert res.steps_done == 10  # the last step whose losses were all finite and logged
    assert all(s["step"] <= 10 for s in res.snapshots)
    assert calls["n"] == 15  # stopped at the log row that saw it, not at the end


def test_dcgan_only_for_28x28():
    with pytest.raises(ParamsError, match="dcgan"):  # params listing only 28x28 sets, a stage run on digits
        build("gan", tiny(net={"arch": "dcgan"}, datasets=["mnist"]), IMAGES)
    with pytest.raises(ValueError, match="dcgan"):  # and at load time, when datasets lists other images
        tiny(net={"arch": "dcgan"})
    mnist = DataMeta("mnist", "images", (1, 28, 28), 10, 10, levels=255)
    step = build("wgan", tiny(net={"arch": "dcgan", "width": 8}, datasets=["mnist"]), mnist)
    assert step.sample(3).shape == (3, 1, 28, 28)


@pytest.mark.parametrize("adversary", ["concat", "product"])
def test_avb_adversary_learns_the_log_density_ratio(adversary):
    """AVB Proposition 1: T* = log q(z|x) - log p(z), checked where both are Gaussian, for either form of T.

    x ~ N(0, 1) in 1-D, a fixed encoder q(z|x) = N(a x, s^2), prior N(0, 1):
    T*(x, z) = log N(z; a x, s^2) - log N(z; 0, 1), and E_q[T*] = KL(q || p).
    """
    torch.manual_seed(0)
    a, s = 0.8, 0.5
    meta = DataMeta("toy", "points", (1,), 0, 0)
    params = tiny(net={"z_dim": 1, "d_hidden": [64, 64]}, avb={"adversary_lr": 3e-3, "adversary": adversary})
    avb: AVB = build("avb", params, meta)
    avb.encode = lambda x: a * x + s * torch.randn_like(x)  # the known black-box encoder
    for _ in range(1500):
        avb.inner(torch.randn(256, 1))

    x = torch.randn(4000, 1)
    z = avb.encode(x)
    log_q = -0.5 * ((z - a * x) / s) ** 2 - math.log(s) - 0.5 * math.log(2 * math.pi)
    t_star = (log_q - (-0.5 * z**2 - 0.5 * math.log(2 * math.pi))).squeeze(1)
    with torch.no_grad():
        t = avb.T(x, z)
    kl = math.log(1 / s) + (s**2 + a**2 * 1.0) / 2 - 0.5  # E_x KL(N(ax, s^2) || N(0, 1)), E[x^2] = 1
    assert t_star.mean().item() == pytest.approx(kl, rel=0.05)  # the sample itself is right
    assert t.mean().item() == pytest.approx(kl, rel=0.10)  # E_q[T] estimates the KL term
    assert torch.corrcoef(torch.stack([t, t_star]))[0, 1].item() > 0.95
    assert (t - t_star).abs().median().item() < 0.2


def test_adaptive_contrast_leaves_the_adversary_only_the_non_gaussian_part():
    """AVB section 3.3 where q(z|x) = N(a x, s^2) is Gaussian: r(z|x) (q's own moments) is q, so
    T* = log q - log r = 0 and the whole KL comes from the exact log r - log p(z) term."""
    torch.manual_seed(0)
    a, s = 0.8, 0.5
    meta = DataMeta("toy", "points", (1,), 0, 0)
    params = tiny(net={"z_dim": 1, "d_hidden": [64, 64]},
                  avb={"adversary_lr": 3e-3, "adaptive_contrast": True, "contrast_samples": 64})
    avb: AVB = build("avb", params, meta)
    avb.encode = lambda x: a * x + s * torch.randn_like(x)
    for _ in range(300):
        avb.inner(torch.randn(256, 1))
    x = torch.randn(2000, 1)
    z, z_t, log_r = avb._contrasted(x)
    with torch.no_grad():
        t = avb.T(x.repeat(64, 1), z_t.reshape(-1, 1))
    kl = math.log(1 / s) + (s**2 + a**2) / 2 - 0.5
    assert t.abs().mean().item() < 0.1  # nothing left for T to learn
    est = (t.view(64, -1) + log_r - (-0.5 * z.squeeze(-1) ** 2 - 0.5 * math.log(2 * math.pi))).mean()
    assert est.item() == pytest.approx(kl, rel=0.05)
    # and the model trains end to end with it, its ELBO estimate finite
    params = tiny(avb={"steps": 6, "batch_size": 8, "adaptive_contrast": True, "contrast_samples": 4})
    step = build("avb", params, POINTS)
    res = fit(step, torch.randn(64, *POINTS.shape), 6, log_every=3, progress=False)
    assert res.ok and all(math.isfinite(r["elbo"]) for r in res.rows)
    xs = torch.randn(5, *POINTS.shape)
    with torch.no_grad():
        zk = step.posterior_samples(xs, 4)
        assert torch.isfinite(step.elbo(xs, zk, torch.zeros(4, 5))).all()


@pytest.mark.gpu
def test_training_on_cuda_matches_the_cpu_contract():
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    dev = torch.device("cuda")
    params = tiny(wgan={"steps": 6, "batch_size": 8})
    step = build("wgan", params, IMAGES).to(dev)
    res = fit(step, torch.rand(64, 1, 8, 8, device=dev) * 2 - 1, 6, log_every=3, progress=False)
    assert res.ok and res.inner_steps_done == 30
    c = torch.tensor(params.clip, device=dev)
    assert all((p.abs() <= c).all() for p in step.D.parameters())
    assert step.sample(4).device.type == "cuda"
