"""The model registry is the one list of models: dvc.yaml, params and the CLI agree with it."""

from __future__ import annotations

import yaml

from pipeline.models import core as models
from pipeline.config import Params
from pipeline.models.registry import MODELS, NAMES, ModelName
from tests.conftest import REPO


def _dvc_yaml() -> dict:
    return yaml.safe_load((REPO / "dvc.yaml").read_text())


def test_dvc_yaml_names_the_registry_models():
    d = _dvc_yaml()
    (models_var,) = [v["models"] for v in d["vars"] if "models" in v]
    assert models_var == list(NAMES)
    train_stages = sorted(k.removeprefix("train_") for k in d["stages"] if k.startswith("train_"))
    assert train_stages == sorted(NAMES)


def test_each_train_stage_declares_its_section_and_top_level_params():
    stages = _dvc_yaml()["stages"]
    for spec in MODELS.values():
        declared = stages[f"train_{spec.name}"]["params"]
        assert spec.section in declared and set(spec.top_level) <= set(declared)
        # no other model's section: changing it must not rerun this model
        assert not {s.section for s in MODELS.values() if s is not spec} & set(declared)


def test_every_spec_points_at_a_step_class_and_a_params_section():
    for spec in MODELS.values():
        assert issubclass(getattr(models, spec.step), models.Step)
        assert spec.section in Params.model_fields
        assert all(k in Params.model_fields for k in spec.top_level)
        assert spec.latent == bool(spec.elbo_kind)
    assert [m.value for m in ModelName] == list(NAMES)
