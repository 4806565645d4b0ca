"""`net.autocast: bf16` and `net.channels_last` on the DCGAN nets: equivalent to the defaults on CPU, tiny scale.

Tolerances, measured on CPU (torch 2.14) and stated here once:
- channels_last changes only the order of float sums inside the convs: losses agree to 1e-5 relative
  (measured: equal, or one float32 ulp), and every weight and buffer to 1e-5 relative or 0.1 lr absolute.
  The lr term: RMSProp divides each gradient by its own running scale, so a weight whose gradient is a sum
  that cancels to rounding noise moves by up to about lr in a direction the noise picks, in either layout
  (measured after 20 critic steps: 2% of the critic head's weights, by at most 1.9e-6 = 0.04 lr).
- bf16 keeps about 3 significant digits (8-bit mantissa, 2**-8 = 3.9e-3 relative per value): the losses
  each step minimises agree to 2e-2 relative over a few steps (measured at most 2.8e-3).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from pipeline import io
from pipeline.config import Params, ParamsError, parse_params
from pipeline.data.datasets import DataMeta
from pipeline.models.core import build, model_config
from pipeline.training.loop import checkpoint, fit, optimizers, restore

from .conftest import params_with, shipped_with

MNIST = DataMeta("mnist", "images", (1, 28, 28), 64, 64, levels=255)
CL_RTOL = 1e-5  # losses, channels_last against contiguous
CL_WEIGHT_LR = 0.1  # weights and buffers: absolute tolerance, in units of lr (beside the relative CL_RTOL)
BF16_RTOL = 2e-2  # losses, bf16 autocast against float32

# the losses each model's two updates minimise (a WGAN's W estimate is a difference of two near-equal
# means: bf16's error on each score is larger than it at the start, so it is compared through its loss)
MINIMISED = {"gan": ["d_loss", "g_loss"], "wgan": ["critic_loss", "g_loss"], "wgan_gp": ["critic_loss", "g_loss"],
             "avb": ["adversary_loss", "elbo"], "vae": ["elbo"]}


@pytest.fixture(autouse=True)
def _one_thread():
    """One intra-op thread, as training runs (train.threads): on a shared 2-core CPU two threads made
    these tiny runs 50x slower (13 s against 0.2 s for 4 WGAN generator steps)."""
    was = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(was)


def dcgan(model: str = "wgan", **net) -> Params:
    """Tiny DCGAN nets (8 and 16 channels) for 28x28 images, batches of 16."""
    return params_with({"datasets": ["mnist"], "net": {"arch": "dcgan", "width": 8, "z_dim": 8, "d_hidden": [16]} | net,
                        "budget": {"batch_size": 16}})


def trained(model: str, steps: int = 4, **net):
    """The same initial weights (seed 0) and batches and noise (fit's seed 3): only `net` differs."""
    torch.manual_seed(0)
    step = build(model, dcgan(model, **net), MNIST)
    data = torch.rand(64, 1, 28, 28, generator=torch.Generator().manual_seed(1)) * 2 - 1
    res = fit(step, data, steps, log_every=1, seed=3, progress=False)
    assert res.ok
    return step, res


def _assert_rows_close(rows, ref, keys, rtol, atol=0.0):
    for row, r in zip(rows, ref, strict=True):
        for k in keys:
            assert row[k] == pytest.approx(r[k], rel=rtol, abs=atol), (row["step"], k)


def test_channels_last_lays_out_the_convs_and_images_only():
    plain, cl = (build("wgan", dcgan(channels_last=c), MNIST) for c in (False, True))
    fmt = torch.channels_last
    conv = cl.D.features[2].weight  # (2w, w, 4, 4): unambiguous, unlike a 1-channel tensor
    assert conv.is_contiguous(memory_format=fmt) and not conv.is_contiguous()
    assert cl.G.body[4].weight.is_contiguous(memory_format=fmt)
    assert plain.D.features[2].weight.is_contiguous()
    # the generator's 7x7 state and its transposed convs run in NHWC too
    hidden = cl.G.body[:4](torch.randn(2, 8))
    assert hidden.shape == (2, 16, 7, 7) and hidden.is_contiguous(memory_format=fmt)
    # the same parameter names and shapes: a checkpoint loads into either
    assert {k: v.shape for k, v in cl.state_dict().items()} == {k: v.shape for k, v in plain.state_dict().items()}


def test_channels_last_trains_a_wgan_to_the_same_losses_and_weights():
    """The paper's WGAN (RMSProp, weight clipping), 4 generator and 20 critic steps."""
    ref, ref_res = trained("wgan")
    step, res = trained("wgan", channels_last=True)
    # the clipped critic's loss (~5e-6) is a difference of two means of scores of ~1e-2 (as its g_loss):
    # compared to CL_RTOL of that scale, 1e-7 (measured 9.3e-10, one float32 ulp of 0.01)
    _assert_rows_close(res.rows, ref_res.rows, ["critic_loss", "g_loss", "w_estimate"], CL_RTOL, atol=1e-7)
    want, lr = ref.state_dict(), ref.p.lr
    for k, v in step.state_dict().items():
        torch.testing.assert_close(v, want[k], rtol=CL_RTOL, atol=CL_WEIGHT_LR * lr, msg=k)


@pytest.mark.parametrize("model", ["gan", "wgan_gp", "avb", "vae"])
def test_channels_last_gives_the_same_losses_for_every_model(model):
    """Losses only: Adam moves the bias of the Linear before the generator's BatchNorm1d by about lr
    times the sign of rounding noise (its exact gradient is 0: the BatchNorm subtracts it again), in
    either layout, so that bias and the BatchNorm's running mean differ; the outputs in train mode do not."""
    _, ref = trained(model, steps=3)
    _, res = trained(model, steps=3, channels_last=True)
    _assert_rows_close(res.rows, ref.rows, MINIMISED[model], CL_RTOL)


@pytest.mark.parametrize("model", ["gan", "wgan", "wgan_gp", "avb", "vae"])
def test_bf16_autocast_trains_every_model_to_nearly_the_same_losses(model):
    """The gradient penalty (a double backward through the bf16 critic) and AVB's dT/dz run under it too."""
    _, ref = trained(model, steps=3)
    step, res = trained(model, steps=3, autocast="bf16")
    rows, ref_rows = res.rows, ref.rows
    keys = MINIMISED[model] if model != "wgan" else ["g_loss"]  # the clipped critic's loss is ~1e-6
    _assert_rows_close(rows, ref_rows, keys, BF16_RTOL)
    # and it did run in bf16: the losses are not float32's
    assert any(row[k] != r[k] for row, r in zip(rows, ref_rows) for k in keys)
    # weights and optimiser state stay float32
    assert {v.dtype for v in step.state_dict().values() if v.is_floating_point()} == {torch.float32}
    for opt in optimizers(step).values():
        assert {t.dtype for s in opt.state.values() for t in s.values() if t.is_floating_point()} <= {torch.float32}


@pytest.mark.parametrize("arch", ["dcgan", "mlp"])
def test_bf16_outputs_are_float32_and_eval_mode_is_float32_exactly(arch):
    net = {} if arch == "dcgan" else {"arch": "mlp", "g_hidden": [32], "d_hidden": [32]}
    ps = [dcgan(**net | {"autocast": a}) if arch == "dcgan" else
          params_with({"net": net | {"autocast": a}}) for a in ("none", "bf16")]
    meta = MNIST if arch == "dcgan" else DataMeta("digits", "images", (1, 8, 8), 64, 64, levels=16)
    (plain, bf16) = (build("wgan", p, meta) for p in ps)
    bf16.load_state_dict(plain.state_dict())
    z, x = torch.randn(16, 8 if arch == "dcgan" else 16), torch.rand(16, *meta.shape) * 2 - 1
    for net_ in ("G", "D"):
        inp = z if net_ == "G" else x
        want, got = getattr(plain, net_)(inp), getattr(bf16, net_)(inp)
        assert got.dtype == torch.float32 and got.shape == want.shape
        assert not torch.equal(got, want)  # bf16 in train mode
        err = (got - want).abs().max() / want.abs().max()
        assert err.item() < BF16_RTOL
        # eval mode (sampling, evaluation): float32, the same numbers as without the flag (from the same
        # BatchNorm statistics: the train-mode calls above updated them from bf16 and float32 activations)
        bf16.load_state_dict(plain.state_dict())
        plain.eval(), bf16.eval()
        assert torch.equal(getattr(bf16, net_)(inp), getattr(plain, net_)(inp))
        plain.train(), bf16.train()


@pytest.mark.parametrize("flags", [{"channels_last": True}, {"autocast": "bf16"},
                                   {"channels_last": True, "autocast": "bf16"}], ids=["cl", "bf16", "both"])
def test_checkpoints_load_whatever_the_flags(flags, tmp_path: Path):
    """A checkpoint records the flags (model_config has the whole `net:`) and rebuilds with them; its
    weights load into nets built with or without them, and into old configs that lack the keys."""
    step, res = trained("vae", steps=2, **flags)
    path = tmp_path / "m.pt"
    config = model_config("vae", dcgan("vae", **flags), "mnist")
    assert {k: config["net"][k] for k in flags} == flags
    io.save_torch(path, checkpoint(step, res, config))
    ckpt = io.load_torch(path)
    g = lambda: torch.Generator().manual_seed(1)
    want = step.eval().sample(4, g())
    torch.testing.assert_close(restore(ckpt).sample(4, g()), want, rtol=0, atol=0)
    for k in ("autocast", "channels_last"):  # as a checkpoint written before these keys existed
        ckpt["config"]["net"].pop(k)
    torch.testing.assert_close(restore(ckpt).sample(4, g()), want, rtol=1e-5, atol=1e-6)


def test_the_flags_are_validated():
    with pytest.raises(ParamsError, match=r"net.autocast = 'fp16': Input should be 'none' or 'bf16'"):
        parse_params(shipped_with({"datasets": ["mnist"], "net": {"arch": "dcgan", "autocast": "fp16"}}))
    with pytest.raises(ParamsError, match=r"^params.yaml: net.channels_last = True: .*only with net.arch = 'dcgan'"):
        parse_params(shipped_with({"net": {"channels_last": True}}))
    with pytest.raises(ParamsError, match=r"net.channels_last = 'yes please'"):
        parse_params(shipped_with({"datasets": ["mnist"], "net": {"arch": "dcgan", "channels_last": "yes please"}}))
    p = parse_params(shipped_with({"datasets": ["mnist"], "net": {"arch": "dcgan", "channels_last": True,
                                                                  "autocast": "bf16"}}))
    assert p.net.channels_last and p.net.autocast == "bf16"
    # bf16 applies to the MLPs too
    assert parse_params(shipped_with({"net": {"autocast": "bf16"}})).net.autocast == "bf16"
