"""params.yaml validation: every bad value is one line naming the key, before any work."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from pipeline.config import ParamsError, load_params, parse_params

from pipeline.training.device import resolve_device
from stages.__main__ import app
from tests.conftest import REPO, shipped, shipped_with


def default_raw() -> dict:
    return shipped()


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
        ("datasets", [], "datasets = []: must name at least one data set"),
        ("datasets", ["ring8", "digits", "ring8"], "datasets = ['ring8', 'digits', 'ring8']: must not "
                                                   "repeat a data set (ring8)"),
        ("seeds", [0, 1, 0], "seeds = [0, 1, 0]: must not repeat a seed"),
        # a boolean is not a number: YAML's true would otherwise pass as 1 (an int) or 1.0 (a float)
        ("seed", True, "seed = True: must be a number, not a boolean"),
        ("seeds", [0, True], "seeds.1 = True: must be a number, not a boolean"),
        ("clip", True, "clip = True: must be a number, not a boolean"),
        ("wgan.gp_weight", False, "wgan.gp_weight = False: must be a number, not a boolean"),
        ("budget.gflop", {"ring8": True, "digits": 1000}, "budget.gflop.ring8 = True: must be a number, not a boolean"),
        ("net.g_hidden", [256, True], "net.g_hidden.1 = True: must be a number, not a boolean"),
        ("theory.lines.critic_betas", [0.5, True], "theory.lines.critic_betas.1 = True: must be a number"),
        ("eval.ais.bdmc_points", 2.5, "eval.ais.bdmc_points = 2.5: Input should be a valid integer"),
        ("theory.ablation.steps", "400", "theory.ablation.steps = '400': Input should be a valid integer"),
        # ... nor a number a boolean
        ("deterministic", 1, "deterministic = 1: Input should be a valid boolean"),
        ("eval.ais.enabled", "true", "eval.ais.enabled = 'true': Input should be a valid boolean"),
        ("net.g_hidden", [256, 0], "net.g_hidden"),
        ("eval.pr_k", 0, "eval.pr_k = 0: Input should be greater than or equal to 1"),
        ("eval.classifier.arch", "vgg", "eval.classifier.arch = 'vgg': Input should be 'mlp' or 'cnn'"),
        ("eval.classifier.channels", 0, "eval.classifier.channels = 0: Input should be greater than or equal to 1"),
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


def test_numbers_as_yaml_writes_them():
    """An int where a float is expected is a float (YAML reads `10` as int); PyYAML reads `1e-4` (no dot) as a
    string, which is a float all the same."""
    p = parse_params(shipped_with({"wgan": {"gp_weight": 10, "lr": "1e-4"}, "budget": {"gflop": {"ring8": 1000}}}))
    assert (p.wgan.gp_weight, p.wgan.lr, p.budget.gflop["ring8"]) == (10.0, 1e-4, 1000.0)
    assert all(isinstance(v, float) for v in (p.wgan.gp_weight, p.wgan.lr, p.budget.gflop["ring8"]))


# --- a missing key: one line naming it; params.yaml is complete ----------------------------------------

# Mappings whose keys are the user's own names (data sets, WGAN runs, ablation rows): one key as a whole.
WHOLE = {"budget.gflop", "theory.meaningful.wgan", "theory.energy.runs", "theory.ablation.rows"}
# Overlays (keys for one data set only): leaving one out is no fallback to a value hidden in code; the
# section's own keys, in params.yaml, then hold for every data set. So they may be left out.
OPTIONAL = {"wgan_gp.per_dataset", "eval.classifier.per_dataset"}


def _key_paths(node: dict, prefix: str = "") -> list[str]:
    """Every key path of params.yaml, sections and leaves alike, not into a WHOLE or OPTIONAL mapping."""
    out = []
    for k, v in node.items():
        path = f"{prefix}{k}"
        out.append(path)
        if isinstance(v, dict) and path not in WHOLE | OPTIONAL:
            out += _key_paths(v, f"{path}.")
    return out


def _without(raw: dict, dotted: str) -> dict:
    *path, last = dotted.split(".")
    node = raw
    for k in path:
        node = node[k]
    del node[last]
    return raw


def test_shipped_params_are_complete():
    """The shipped file loads, and it holds every key of the schema: none is filled in by the code, bar what
    the comparison derives (a model section's steps, batch size and lr schedule, None until then)."""
    p = load_params(REPO / "params.yaml")
    derived = {"steps", "batch_size", "lr_decay"}
    for name in ("gan", "wgan", "wgan_gp", "avb", "vae"):
        sec = getattr(p, name)
        assert {getattr(sec, k) for k in derived} == {None}
        assert set(type(sec).model_fields) - sec.model_fields_set - {"per_dataset"} == derived


@pytest.mark.parametrize("key", _key_paths(shipped()))
def test_a_missing_key_is_one_line_naming_it(key):
    if key in OPTIONAL:
        parse_params(_without(shipped(), key))
        return
    with pytest.raises(ParamsError) as e:
        parse_params(_without(shipped(), key))
    assert str(e.value) == f"params.yaml: missing key '{key}'"


def test_params_yaml_reads_as_configuration():
    """Every key says in one trailing comment what it does; no comment runs past two lines (measurements
    and their history live in docs/decisions.md)."""
    block = 0
    for n, line in enumerate((REPO / "params.yaml").read_text().splitlines(), 1):
        block = block + 1 if line.lstrip().startswith("#") else 0
        assert block <= 2, f"params.yaml:{n}: a comment block longer than 2 lines"
        if line.strip() and not line.lstrip().startswith("#"):
            assert " # " in line or "  #" in line, f"params.yaml:{n}: a key without a comment: {line.strip()}"


# --- every bad input gets one line ----------------------------------------------------------------------

# Problems found before the values are read (the YAML itself); BAD_KEYS: values, each file params.yaml's
# own with the keys given on top.
BAD_FILES = [
    # (id, params.yaml text, expected substring, lines)
    ("yaml-syntax", "seed: 0\ngan:\n  lr: 0.1\n   steps: 3: 4\n", ":4:9: mapping values are not allowed here", 1),
    ("yaml-flow", "gan:\n  lr: [1, 2\n  steps: 3\n", ":3:8: expected ',' or ']'", 1),
    ("yaml-tab", "gan:\n\tlr: 1\n", ":2:1: found character '\\t' that cannot start any token", 1),
    ("not-utf8", b"seed: \xff\n", ": byte 6: not YAML text", 1),
    ("duplicate-key", "gan:\n  lr: 0.1\n  steps: 5\n  lr: 0.2\n", ":4:3: duplicate key 'gan.lr' (first on line 2)", 1),
    ("duplicate-top", "seed: 0\nclip: 0.1\nseed: 1\n", ":3:1: duplicate key 'seed' (first on line 1)", 1),
    ("empty-file", "", ": is empty: expected the params mapping", 1),
    ("only-comments", "# seed: 0\n", ": is empty", 1),
]
BAD_KEYS = [
    ("empty-section", "gan:\nclip: 0.1\n", ": gan = None: an empty section", 1),
    ("empty-sections", "gan:\nwgan:\n", ": wgan = None: an empty section", 2),
    ("seed-huge", f"seed: {2**70}\n", f": seed = {2**70}: must be within 0..4294967295", 1),
    ("seed-2**32", f"seed: {2**32}\n", ": seed = 4294967296: must be within 0..4294967295", 1),
    ("seed-negative", "seed: -1\n", ": seed = -1: must be within 0..4294967295", 1),
    ("lr-inf", "gan:\n  lr: .inf\n", ": gan.lr = inf: Input should be a finite number", 1),
    ("lr-nan", "wgan:\n  lr: .nan\n", ": wgan.lr = nan: Input should be a finite number", 1),
    ("theory-nan", "theory:\n  vanishing:\n    real_mean: .nan\n", ": theory.vanishing.real_mean = nan: Input should "
                                                                        "be a finite number", 1),
    ("test-fraction-low", "data:\n  test_fraction: 0.001\n", ": data.test_fraction = 0.001: must be "
                                                               "within 0.00575..0.99425", 1),
    ("test-fraction-high", "data:\n  test_fraction: 0.995\n", "digits' smallest class (174 images)", 1),
    ("w1-memory", "eval:\n  n_samples: 23171\n", ": eval.n_samples = 23171: must be at most 23170: "
                                                  "the exact W1's n x n float64 cost matrix", 1),
    ("w1-snapshot-memory", "eval:\n  snapshot_samples: 100000\n", ": eval.snapshot_samples = 100000: "
                                                                    "must be at most 23170", 1),
    ("fid-dims-with-images", "datasets: [ring8, mnist]\neval:\n  n_samples: 2000\n",
     ": eval.n_samples = 2000: must exceed the 2048 Inception feature dims (eval.inception.dims) with image data in "
     "datasets (mnist)", 1),
    ("pr-k-needs-k-plus-one-samples", "datasets: [ring8]\neval:\n  n_samples: 100\n  pr_k: 100\n",
     ": eval: pr_k = 100 must be below n_samples = 100: a k-th nearest neighbour needs k + 1 samples",
     1),
    ("classifier-dims-with-images", "datasets: [digits]\neval:\n  n_samples: 50\n",
     ": eval.n_samples = 50: must exceed the domain classifier's 64 feature dims", 2),
    ("dcgan-needs-28x28", "datasets: [ring8, digits, mnist]\nnet:\n  arch: dcgan\n",
     ": net.arch = 'dcgan': needs 28x28 images (mnist, fashion_mnist), but datasets lists ring8, digits", 1),
    ("all-errors-at-once", "seed: -1\ngan:\n  lr: 0\nwgan:\n  n_critic: 0\n  n_critc: 5\n",
     ": wgan.n_critic = 0: Input should be greater than or equal to 1", 4),
]


def _over_shipped(text: str) -> str:
    """params.yaml's text with the keys of `text` on top."""
    return yaml.safe_dump(shipped_with(yaml.safe_load(text)), sort_keys=False)


@pytest.mark.parametrize("text, expect, n_lines", [r[1:] for r in BAD_FILES] + [
    (_over_shipped(t), e, n) for _, t, e, n in BAD_KEYS], ids=[r[0] for r in BAD_FILES + BAD_KEYS])
def test_bad_file_is_one_line_per_problem(tmp_path: Path, text, expect, n_lines):
    path = tmp_path / "params.yaml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(ParamsError) as e:
        load_params(path)
    lines = str(e.value).split("\n")
    assert len(lines) == n_lines, lines
    assert all(line.startswith(f"{path}:") and "Traceback" not in line for line in lines), lines
    assert any(expect in line for line in lines), lines
    err = e.value  # no chained exception, so nothing prints a traceback of yaml's or pydantic's internals
    assert err.__cause__ is None and (err.__context__ is None or err.__suppress_context__)


@pytest.mark.parametrize(
    "text",
    [
        "datasets: [ring8, grid25]\neval:\n  n_samples: 500\n",  # Inception / classifier dims: images only
        "datasets: [mnist, fashion_mnist]\nnet:\n  arch: dcgan\n",  # dcgan on 28x28 images
        f"seed: {2**32 - 1}\ndata:\n  test_fraction: 0.006\neval:\n  snapshot_samples: 23170\n",  # the bounds
    ],
)
def test_constraints_apply_only_where_they_must(tmp_path: Path, text):
    (tmp_path / "params.yaml").write_text(_over_shipped(text))
    load_params(tmp_path / "params.yaml")


@pytest.mark.parametrize("text", ["{}\n", "seed: 0\n"])
def test_a_partial_file_is_refused_key_by_key(tmp_path: Path, text):
    """No key falls back to a value in the code: each one left out is a line."""
    (tmp_path / "params.yaml").write_text(text)
    with pytest.raises(ParamsError) as e:
        load_params(tmp_path / "params.yaml")
    lines = str(e.value).split("\n")
    assert f"{tmp_path / 'params.yaml'}: missing key 'theory'" in lines
    assert len(lines) == len(shipped()) - len(yaml.safe_load(text))


@pytest.mark.parametrize(
    "text, expect",
    [
        ("gan:\n  lr: [1, 2\n", ["params.yaml:3:1: expected ',' or ']'"]),
        ("seed: -1\nwgan:\n  n_critic: 0\neval:\n  n_samples: 1\n",
         ["params.yaml: seed = -1", "params.yaml: wgan.n_critic = 0", "params.yaml: eval.n_samples = 1"]),
    ],
    ids=["yaml-syntax", "three-errors"],
)
def test_stage_prints_one_line_per_problem_and_writes_nothing(tmp_path: Path, monkeypatch, text, expect):
    (tmp_path / "params.yaml").write_text(text if "[1, 2\n" in text else _over_shipped(text))
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["prepare", "--dataset", "ring8"])
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit)
    lines = [line.removeprefix("error: ") for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == len(expect), lines
    assert all(line.startswith(want) for line, want in zip(lines, expect)), lines
    assert "Traceback" not in result.output
    assert sorted(os.listdir(tmp_path)) == ["params.yaml"]  # nothing written


def test_cli_refuses_unknown_model_with_choices(tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["train", "gann", "--dataset", "ring8"])
    assert result.exit_code == 2
    assert "gann" in result.output and "wgan" in result.output  # names the allowed values


def test_per_dataset_keys_apply_to_that_data_set_only():
    p = parse_params(shipped_with({"wgan_gp": {"gp_weight": 10.0, "per_dataset": {"ring8": {"gp_weight": 0.1,
                                                                                            "n_critic": 3}}}}))
    assert p.wgan_gp.for_dataset("ring8").gp_weight == 0.1 and p.wgan_gp.for_dataset("ring8").n_critic == 3
    assert p.wgan_gp.for_dataset("digits").gp_weight == 10.0
    assert p.wgan_gp.for_dataset("ring8").per_dataset == {}  # resolved: what a checkpoint records
    with pytest.raises(ParamsError, match=r"^params.yaml: gan.per_dataset.ring8.stepz = 5: unknown key$"):
        parse_params(shipped_with({"gan": {"per_dataset": {"ring8": {"stepz": 5}}}}))
    with pytest.raises(ParamsError, match=r"^params.yaml: vae.per_dataset.digits.lr = -1: Input should be greater "
                                          r"than 0$"):
        parse_params(shipped_with({"vae": {"per_dataset": {"digits": {"lr": -1}}}}))
    with pytest.raises(ParamsError, match=r"wgan.per_dataset.cifar"):
        parse_params(shipped_with({"wgan": {"per_dataset": {"cifar": {}}}}))
    with pytest.raises(ParamsError, match=r"^params.yaml: wgan_gp.per_dataset.ring8.gp_weight = True: must be a "
                                          r"number, not a boolean$"):
        parse_params(shipped_with({"wgan_gp": {"per_dataset": {"ring8": {"gp_weight": True}}}}))


def test_classifier_epochs_per_data_set():
    c = parse_params(shipped()).eval.classifier  # a CNN, 3 epochs of MNIST's 60,000 images, 100 of digits'
    assert c.arch == "cnn" and c.for_dataset("digits").epochs == 100
    assert c.for_dataset("mnist").epochs == c.for_dataset("fashion_mnist").epochs == 3
    assert c.for_dataset("mnist").per_dataset == {} and c.for_dataset("mnist").arch == "cnn"
    raw = default_raw()
    assert load_params(REPO / "params.yaml").eval.classifier.for_dataset("mnist").epochs == 3
    raw["eval"]["classifier"]["per_dataset"] = {"digits": {"arch": "mlp", "epochs": 7}}  # replaces the defaults
    c = parse_params(raw).eval.classifier
    assert (c.for_dataset("digits").arch, c.for_dataset("digits").epochs) == ("mlp", 7)
    assert c.for_dataset("mnist").epochs == raw["eval"]["classifier"]["epochs"]
    with pytest.raises(ParamsError, match=r"eval.classifier.per_dataset.mnist.epochs = 0: Input should be greater"):
        parse_params(shipped_with({"eval": {"classifier": {"per_dataset": {"mnist": {"epochs": 0}}}}}))
    with pytest.raises(ParamsError, match=r"eval.classifier.per_dataset.mnist.epoch = 3: unknown key"):
        parse_params(shipped_with({"eval": {"classifier": {"per_dataset": {"mnist": {"epoch": 3}}}}}))
