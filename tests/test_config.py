"""params.yaml validation: every bad value is one line naming the key, before any work."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from pipeline.config import ParamsError, load_params, parse_params, resolve_device
from stages.__main__ import app
from tests.conftest import REPO


def default_raw() -> dict:
    return yaml.safe_load((REPO / "params.yaml").read_text())


def test_repo_params_are_valid():
    p = load_params(REPO / "params.yaml")
    assert p.clip > 0 and p.wgan.n_critic >= 1


def with_(raw: dict, dotted: str, value) -> dict:
    node = raw
    *path, last = dotted.split(".")
    for k in path:
        node = node[k]
    node[last] = value
    return raw


@pytest.mark.parametrize(
    "key, value, expect",
    [
        ("clip", 0, "clip = 0: Input should be greater than 0"),
        ("clip", -0.01, "clip = -0.01"),
        ("wgan.n_critic", 0, "wgan.n_critic = 0: Input should be greater than or equal to 1"),
        ("wgan.lr", 0.0, "wgan.lr = 0.0: Input should be greater than 0"),
        ("gan.lr", -1e-4, "gan.lr"),
        ("avb.adversary_lr", 0, "avb.adversary_lr"),
        ("wgan.optimizer", "sgd", "wgan.optimizer = 'sgd': Input should be 'rmsprop' or 'adam'"),
        ("gan.g_loss", "hinge", "Input should be 'nonsaturating' or 'minimax'"),
        ("device", "tpu", "device = 'tpu': Input should be 'auto', 'cpu' or 'cuda'"),
        ("net.arch", "resnet", "net.arch"),
        ("wgan.batch_size", "64x", "wgan.batch_size = '64x': Input should be a valid integer"),
        ("datasets", ["ring8", "cifar10"], "datasets.1 = 'cifar10': Input should be 'ring8', 'grid25'"),
        ("datasets", [], "datasets = []: Value error, must name at least one data set"),
        ("net.g_hidden", [256, 0], "net.g_hidden"),
    ],
)
def test_bad_value_is_one_line_naming_the_key(key, value, expect):
    with pytest.raises(ParamsError) as e:
        parse_params(with_(default_raw(), key, value))
    msg = str(e.value)
    assert "\n" not in msg
    assert msg.startswith("params.yaml: ")
    assert expect in msg


@pytest.mark.parametrize("key, value", [("eval.n_samples", 0), ("theory.lines.n_theta", 4)])
def test_sections_owned_by_other_stages_are_checked_at_every_stage(key, value):
    with pytest.raises(ParamsError, match=rf"^params.yaml: {key} = {value}: "):
        parse_params(with_(default_raw(), key, value))


@pytest.mark.parametrize("where", ["", "wgan."])
def test_unknown_key_is_refused(where):
    raw = default_raw()
    target = raw if not where else raw["wgan"]
    target["n_critc"] = 5  # the typo a user makes
    with pytest.raises(ParamsError, match=rf"unknown key '{where}n_critc'"):
        parse_params(raw)


def test_device_auto_and_missing_cuda():
    import torch

    assert resolve_device("cpu").type == "cpu"
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    if not torch.cuda.is_available():
        with pytest.raises(ParamsError, match="no CUDA device"):
            resolve_device("cuda")


def test_stage_refuses_bad_params_before_writing(tmp_path: Path, monkeypatch):
    raw = with_(default_raw(), "wgan.n_critic", 0)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw))
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["prepare", "--dataset", "ring8"])
    assert result.exit_code == 2
    lines = [l for l in result.output.splitlines() if l.strip()]
    assert lines == ["error: params.yaml: wgan.n_critic = 0: Input should be greater than or equal to 1"]
    assert sorted(os.listdir(tmp_path)) == ["params.yaml"]  # nothing written


def test_cli_refuses_unknown_model_with_choices(tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["train", "gann", "--dataset", "ring8"])
    assert result.exit_code == 2
    assert "gann" in result.output and "wgan" in result.output  # names the allowed values
