"""Evaluation: the in-memory FID against pytorch-fid's own path-based function, the
Inception weights lookup (never a download in a test), the sample-count refusal,
and real statistics + one model's evaluation on tiny data."""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from pipeline.evaluation import evaluate as ev
from pipeline.evaluation import features as feat
from pipeline.evaluation import metrics
from pipeline.config import ParamsError, parse_params
from pipeline.data.datasets import prepare, to_model_space
from pipeline.models.core import build, model_config
from pipeline.evaluation.real_stats import RealStats, real_statistics
from pipeline.records import EvalRecord, RealRecord, TrainRecord
from pipeline.training.loop import checkpoint, fit

from .conftest import params_with, section_with, shipped_with


# --- the in-memory FID is pytorch-fid's FID ----------------------------------------


def _random_fid_inception_weights(path: Path) -> Path:
    """pytorch-fid's FID Inception architecture (fid_inception_v3 without its download), seeded random weights."""
    import pytorch_fid.inception as inc

    with torch.random.fork_rng():
        torch.manual_seed(0)
        net = inc._inception_v3(num_classes=1008, aux_logits=False, weights=None)
        net.Mixed_5b = inc.FIDInceptionA(192, pool_features=32)
        net.Mixed_5c = inc.FIDInceptionA(256, pool_features=64)
        net.Mixed_5d = inc.FIDInceptionA(288, pool_features=64)
        net.Mixed_6b = inc.FIDInceptionC(768, channels_7x7=128)
        net.Mixed_6c = inc.FIDInceptionC(768, channels_7x7=160)
        net.Mixed_6d = inc.FIDInceptionC(768, channels_7x7=160)
        net.Mixed_6e = inc.FIDInceptionC(768, channels_7x7=192)
        net.Mixed_7b = inc.FIDInceptionE_1(1280)
        net.Mixed_7c = inc.FIDInceptionE_2(2048)
    torch.save(net.state_dict(), path)
    return path


def _write_pngs(images: np.ndarray, folder: Path) -> None:
    from PIL import Image

    folder.mkdir()
    for i, img in enumerate(images):
        Image.fromarray(img).save(folder / f"{i:04d}.png")  # sorted names: pytorch-fid's order is ours


@pytest.mark.parametrize("resize", [
    False,  # 32x32 straight into the net: the same code path, seconds instead of a minute
    pytest.param(True, marks=pytest.mark.slow),  # pytorch-fid's default 299x299 resize, through load_inception
])
def test_in_memory_fid_matches_pytorch_fid_paths(tmp_path: Path, monkeypatch, resize: bool):
    import pytorch_fid.fid_score as fid_score
    import pytorch_fid.inception as inc

    weights = _random_fid_inception_weights(tmp_path / "w.pth")
    dims, n = 64, 70  # the smallest block; n must exceed dims
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, (n, 32, 32), dtype=np.uint8)
    b = (rng.integers(0, 256, (n, 32, 32)) * np.linspace(0.2, 1, 32)).astype(np.uint8)  # darker on the left
    _write_pngs(a, tmp_path / "a")
    _write_pngs(b, tmp_path / "b")
    # pytorch-fid fetches weights through load_state_dict_from_url: hand it the same file, no network.
    monkeypatch.setattr(inc, "load_state_dict_from_url", lambda *args, **kw: torch.load(weights))
    if not resize:
        class NoResize(inc.InceptionV3):
            def __init__(self, blocks):
                super().__init__(blocks, resize_input=False)

        monkeypatch.setattr(fid_score, "InceptionV3", NoResize)
    reference = fid_score.calculate_fid_given_paths([str(tmp_path / "b"), str(tmp_path / "a")], 50, "cpu", dims,
                                                    num_workers=0)

    if resize:
        net = feat.load_inception(weights, dims)  # the pipeline's loader, weights from a path
    else:
        net = inc.InceptionV3([inc.InceptionV3.BLOCK_INDEX_BY_DIM[dims]], resize_input=False).eval()
    as_unit = lambda x: torch.from_numpy(x).float().div(255).unsqueeze(1)  # noqa: E731  (N, 1, H, W) in [0, 1]
    fa, fb = feat.inception_features(net, as_unit(a)), feat.inception_features(net, as_unit(b))
    ours = metrics.fid_from_features(fb, fa)
    assert reference > 1e-3  # a real difference, not two zeros
    assert ours == pytest.approx(reference, rel=1e-3)
    assert metrics.fid_from_features(fa, fa) == pytest.approx(0, abs=1e-6 * reference)


def test_load_inception_reads_the_given_file(tmp_path: Path):
    weights = _random_fid_inception_weights(tmp_path / "w.pth")
    net = feat.load_inception(weights, 64)
    assert not net.training
    conv = net.blocks[0][0].conv.weight
    torch.testing.assert_close(conv, torch.load(weights)["Conv2d_1a_3x3.conv.weight"])


# --- weights lookup: a reason, never a crash, never a download here ----------------------


@pytest.fixture
def empty_hub(tmp_path: Path, monkeypatch) -> Path:
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    monkeypatch.delenv(feat.WEIGHTS_ENV, raising=False)
    return tmp_path / "hub"


def test_weights_missing_gives_reason_and_where_to_put_them(empty_hub: Path, monkeypatch):
    def offline(*args, **kw):
        raise OSError("no network")

    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)
    found = feat.find_inception_weights(None, download=True)
    assert found.path is None
    assert "download failed" in found.reason and "no network" in found.reason
    assert str(empty_hub / "checkpoints" / feat.FID_WEIGHTS_NAME) in found.reason
    assert "eval.inception.weights" in found.reason and feat.WEIGHTS_ENV in found.reason
    assert "download disabled" in feat.find_inception_weights(None, download=False).reason


def _accept(monkeypatch, f: Path) -> None:
    """Make `f` the published file: its own sha256 prefix stands in for pytorch-fid's."""
    monkeypatch.setattr(feat, "FID_WEIGHTS_SHA256_PREFIX", hashlib.sha256(f.read_bytes()).hexdigest()[:8])


def test_weights_from_params_env_or_cache(empty_hub: Path, tmp_path: Path, monkeypatch):
    f = tmp_path / "w.pth"
    f.write_bytes(b"x")
    _accept(monkeypatch, f)
    assert feat.find_inception_weights(str(f), download=False).source == "params"
    missing = feat.find_inception_weights(str(tmp_path / "nope.pth"), download=False)
    assert missing.path is None and "is not a file" in missing.reason
    monkeypatch.setenv(feat.WEIGHTS_ENV, str(f))
    assert feat.find_inception_weights(None, download=False).path == f
    monkeypatch.delenv(feat.WEIGHTS_ENV)
    cached = empty_hub / "checkpoints" / feat.FID_WEIGHTS_NAME
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"x")
    assert feat.find_inception_weights(None, download=False).source == "cache"


def test_weights_with_another_hash_are_refused_wherever_found(empty_hub: Path, tmp_path: Path, monkeypatch):
    f = tmp_path / "w.pth"
    f.write_bytes(b"not the weights")
    got = hashlib.sha256(b"not the weights").hexdigest()[:8]
    assert got != feat.FID_WEIGHTS_SHA256_PREFIX == "6726825d"  # the digits in pytorch-fid's file name
    cached = empty_hub / "checkpoints" / feat.FID_WEIGHTS_NAME
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"not the weights")
    for source, configured, env in (("params", str(f), None), ("env", None, str(f)), ("cache", None, None)):
        if env:
            monkeypatch.setenv(feat.WEIGHTS_ENV, env)
        found = feat.find_inception_weights(configured, download=True)  # a refused file is not replaced
        monkeypatch.delenv(feat.WEIGHTS_ENV, raising=False)
        path = cached if source == "cache" else f
        assert found.path is None and found.source == source
        assert f"{path} has sha256 {got}..., not 6726825d... as published for {feat.FID_WEIGHTS_NAME}" in found.reason
        assert "\n" not in found.reason
    assert cached.read_bytes() == b"not the weights"  # refused, not deleted: it may be someone's file
    # the same file is accepted once its prefix is the published one: the check is by content only
    _accept(monkeypatch, f)
    assert feat.find_inception_weights(str(f), download=False).path == f


def test_download_is_checked_against_the_published_hash(empty_hub: Path, monkeypatch):
    calls = []

    def fake_download(url, dst, hash_prefix=None, progress=True):  # torch's check, without the network
        calls.append(hash_prefix)
        content = b"downloaded"
        if hashlib.sha256(content).hexdigest()[:len(hash_prefix)] != hash_prefix:
            raise RuntimeError(f'invalid hash value (expected "{hash_prefix}", got "...")')
        Path(dst).write_bytes(content)

    monkeypatch.setattr(torch.hub, "download_url_to_file", fake_download)
    found = feat.find_inception_weights(None, download=True)
    assert calls == ["6726825d"]
    assert found.path is None and "download failed" in found.reason and 'expected "6726825d"' in found.reason
    assert not (empty_hub / "checkpoints" / feat.FID_WEIGHTS_NAME).exists()  # nothing kept
    monkeypatch.setattr(feat, "FID_WEIGHTS_SHA256_PREFIX", hashlib.sha256(b"downloaded").hexdigest()[:8])
    found = feat.find_inception_weights(None, download=True)
    assert found.source == "download" and found.path.read_bytes() == b"downloaded"


# --- params ----------------------------------------------------------------------


def test_eval_params_refuse_samples_not_above_feature_dims():
    with pytest.raises(ParamsError, match=r"eval\.n_samples = 2000: .*2048 Inception feature dims"):
        parse_params(shipped_with({"eval": {"n_samples": 2000}})).eval
    with pytest.raises(ParamsError, match=r"eval\.n_samples = 64: .*64 feature dims"):
        parse_params(shipped_with({"eval": {"n_samples": 64, "inception": {"enabled": False}}})).eval
    with pytest.raises(ParamsError, match="unknown key 'eval.n_sample'"):
        parse_params(shipped_with({"eval": {"n_sample": 3000}})).eval
    with pytest.raises(ParamsError, match=r"eval\.inception\.dims = 100"):
        parse_params(shipped_with({"eval": {"inception": {"dims": 100}}})).eval
    ok = parse_params(shipped_with({"eval": {"n_samples": 100, "inception": {"dims": 64},
                                             "classifier": {"features": 8}}})).eval
    assert ok.n_samples == 100


# --- real statistics and one model, end to end on tiny data -------------------------------

TINY_EVAL = {"n_samples": 300, "sliced_samples": 400, "sliced_projections": 20, "snapshot_samples": 100,
             "inception": {"enabled": False}, "classifier": {"features": 8, "hidden": 32, "epochs": 10},
             "loglik": {"samples": 8, "max_points": 50}, "ais": {"enabled": False}}


def _trained(model: str, prepared, steps: int = 20) -> tuple[dict, TrainRecord, list[dict]]:
    params = params_with({"net": {"z_dim": 4, "g_hidden": [32], "d_hidden": [32]}, "budget": {"batch_size": 32}})
    torch.manual_seed(0)
    step = build(model, params, prepared.meta)
    res = fit(step, to_model_space(prepared.train_x, prepared.meta), steps, log_every=5, n_snapshots=4,
              progress=False)
    train = TrainRecord(model, prepared.meta.name, 0, res.status, res.steps_done, res.inner_steps_done, res.seconds,
                        "cpu", res.message)
    return checkpoint(step, res, model_config(model, params, prepared.meta.name)), train, res.rows


def _evaluate(ring_or_data, model: str, steps: int = 20, status: str = "ok"):
    data, p, (stats, real) = ring_or_data
    ckpt, train, rows = _trained(model, data, steps)
    if status != "ok":
        train.status, train.message = status, "d_loss became nan at generator step 5"
    return ev.evaluate_model(ckpt, train, data, stats, rows, p, seed=0, device=torch.device("cpu")), real


@pytest.fixture(scope="module")
def ring():
    data = prepare("ring8", section_with("data", toy_train=600, toy_test=400), seed=0, download_dir=Path("."))
    p = parse_params(shipped_with({"eval": TINY_EVAL})).eval
    return data, p, real_statistics(data, p, seed=0, device=torch.device("cpu"))


def test_real_statistics_of_a_mixture(ring):
    data, p, (stats, real) = ring
    assert stats.domain_features == "coordinates" and real.how.domain_dims == 2
    torch.testing.assert_close(stats.domain_mu, data.test_x.double().mean(0))
    assert real.floor.modes_covered == 8 and real.floor.high_quality_pct > 95
    assert real.floor.w1 < 0.2 and real.n_train_used == 300
    # real against real in the same sizes: only the samples' tails fall outside the other set's k-NN balls
    assert real.how.pr_k == 3 and real.floor.precision > 0.9 and real.floor.recall > 0.9
    # the records round-trip through JSON unchanged
    assert RealRecord.from_json(json.loads(json.dumps(real.to_json()))) == real
    assert RealStats.from_state(stats.to_state()).inception == stats.inception


@pytest.mark.parametrize("model", ["wgan", "vae"])
def test_evaluate_one_model(ring, model):
    res, real = _evaluate(ring, model)
    r = res.record
    assert r.ok and r.how.n_generated == 300
    assert r.scores.w1 > real.floor.w1  # 20 steps cannot beat real data
    assert 0 <= r.scores.modes_covered <= 8 and 0 <= r.scores.high_quality_pct <= 100
    assert r.how.ground_cost == "euclidean" and r.how.n_real == 300
    assert 0 <= r.scores.precision <= 1 and 0 <= r.scores.recall <= 1 and r.how.pr_k == 3
    assert r.scores.recall < real.floor.recall  # 20 steps cannot cover the real data as well as real data
    assert {"precision", "recall"} <= set(r.metrics())
    assert [t["step"] for t in res.trajectory] == [5, 10, 15, 20]
    assert all(math.isfinite(t["w1"]) and math.isfinite(t["estimate"]) for t in res.trajectory)
    assert res.preview.shape == (300, 2)
    assert (r.likelihood is not None) == (model == "vae")
    if model == "vae":  # the VAE's ELBO bounds log p(x) from below
        assert r.likelihood.elbo <= r.likelihood.loglik + 3 * r.likelihood.loglik_se
    assert EvalRecord.from_json(json.loads(json.dumps(r.to_json()))).metrics() == r.metrics()


def test_diverged_model_has_no_numbers(ring):
    res, _ = _evaluate(ring, "gan", steps=5, status="diverged")
    assert not res.record.ok and res.record.scores is None and res.record.metrics() == {}
    assert "nan" in res.record.message and res.preview.shape[0] == 0


def test_images_without_inception_weights_say_why():
    data = prepare("digits", section_with("data"), seed=0, download_dir=Path("."))
    p = parse_params(shipped_with({"eval": TINY_EVAL})).eval
    stats, real = real_statistics(data, p, seed=0, device=torch.device("cpu"))
    assert 0.5 < real.how.classifier_test_accuracy <= 1.0
    assert real.how.domain_dims == 8 and real.how.classifier_arch == "cnn" and real.classifier_seconds > 0
    assert stats.classifier["arch"] == "cnn" and stats.classifier["epochs"] == 10
    assert real.floor.precision > 0.8 and real.floor.recall > 0.8  # on the classifier's features
    res, _ = _evaluate((data, p, (stats, real)), "gan", steps=5)
    assert res.record.scores.fid_inception is None  # never a substitute number
    assert "disabled" in res.record.how.inception.reason
    assert res.record.scores.fid_domain > 0 and res.preview.shape == (64, 1, 8, 8)
    assert res.record.how.classifier_test_accuracy == real.how.classifier_test_accuracy
    assert res.record.scores.precision < real.floor.precision  # 5 GAN steps: noise, not digits


def test_uniform_circle_baseline_covers_every_mode_without_learning_them(ring):
    data, p, (stats, real) = ring
    (name, base), = real.baselines.items()
    assert name == "uniform on the circle"
    # 3 std = 0.15 of arc on each side of 8 modes on the unit circle: 8 * 0.3 / (2 pi) = 38% of the samples
    assert base.modes_covered == 8 and base.high_quality_pct == pytest.approx(38.2, abs=4)
    assert base.w1 > real.floor.w1 and base.mode_kl < 0.05
    # most of the circle lies between the modes: a low precision, about the high-quality share
    assert base.precision == pytest.approx(base.high_quality_pct / 100, abs=0.1) and base.precision < 0.5


def test_latent_model_samples_are_draws_not_decoder_means():
    from pipeline.data.datasets import DataMeta

    meta = DataMeta("ring8", "points", (2,), 10, 10)
    vae = build("vae", params_with({"net": {"z_dim": 2, "g_hidden": [8], "d_hidden": [8]}}), meta)
    with torch.no_grad():
        vae.decoder.raw_log_std.fill_(math.log(0.5))
    g = torch.Generator().manual_seed(0)
    x = vae.sample(20000, g)
    z = torch.randn(20000, 2, generator=torch.Generator().manual_seed(0))
    mean, log_std = vae.decoder(z)
    # same z stream, then Gaussian noise of the decoder's std on top of the means
    torch.testing.assert_close((x - mean).std(0), log_std.exp().expand(2), rtol=0.03, atol=0)


def test_ais_joins_the_likelihood_record_when_enabled(ring):
    data, p, (stats, real) = ring
    p = parse_params(shipped_with({"eval": TINY_EVAL | {"ais": {"enabled": True, "points": 5, "chains": 4, "steps": 10,
                                                                "leapfrog": 2, "bdmc_points": 0}}})).eval
    ckpt, train, rows = _trained("vae", data)
    res = ev.evaluate_model(ckpt, train, data, stats, rows, p, seed=0, device=torch.device("cpu"))
    a = res.record.likelihood.ais
    assert a.points == 5 and a.chains == 4 and math.isfinite(a.loglik) and 0 < a.acceptance <= 1
    assert res.record.metrics()["loglik_ais"] == a.loglik


class _PointGenerator:
    """A stand-in step: `sample` draws n points from `draw(n, gen)`; one parameter for the device."""

    def __init__(self, draw):
        self.draw, self.net = draw, torch.nn.Linear(1, 1)

    def generator(self):
        return self.net

    def sample(self, n, gen):
        return self.draw(n, gen)


