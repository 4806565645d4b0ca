"""The whole params.yaml: the root schema, the strict YAML loader and one line per problem."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import Field, ValidationError, field_validator, model_validator

from pipeline.config.core import (
    DCGAN_DATASETS, IMAGE_DATASETS, SEED_MAX, AvbParams, Bool, BudgetParams, DataParams, DatasetName, EvalParams, Float,
    GanParams, Int, KeyProblems, NetParams, ParamsError, TrainParams, VaeParams, WganGpParams, WganParams, _Section, message)
from pipeline.config.theory import TheoryParams

# --- the whole file --------------------------------------------------------------


# keys that the comparison sets for every model alike, and where
SHARED_KEYS = {"steps": "budget.gflop (the steps follow from each model's FLOPs per step)",
               "batch_size": "budget.batch_size", "lr_decay": "train.lr_schedule"}


class Params(_Section):
    seed: Int  # 0..2**32 - 1 (SEED_MAX): the data split and the evaluation's draws (test points, noise)
    # one training run per seed (weight init, batches, noise): reports show mean ± std over them
    seeds: list[Int]
    device: Literal["auto", "cpu", "cuda"]
    # torch.use_deterministic_algorithms(True); on CUDA also cuDNN deterministic, no benchmark, and
    # CUBLAS_WORKSPACE_CONFIG=:4096:8: same params and device, same weights
    deterministic: Bool
    clip: Float = Field(gt=0)  # WGAN weight clipping bound c, top-level for `dvc exp run -S clip=...`
    datasets: list[DatasetName]
    data: DataParams
    net: NetParams
    train: TrainParams
    budget: BudgetParams
    gan: GanParams
    wgan: WganParams
    wgan_gp: WganGpParams
    avb: AvbParams
    vae: VaeParams
    eval: EvalParams
    theory: TheoryParams

    @field_validator("seed")
    @classmethod
    def _seed_range(cls, v: int) -> int:
        if not 0 <= v <= SEED_MAX:
            raise ValueError(f"must be within 0..{SEED_MAX} (2**32 - 1: scikit-learn's random_state limit)")
        return v

    @field_validator("seeds")
    @classmethod
    def _seed_list(cls, v: list[int]) -> list[int]:
        if not v:
            raise ValueError("must list at least one seed")
        if len(set(v)) != len(v):
            raise ValueError("must not repeat a seed (a repeated run adds no information and breaks the pairing)")
        if bad := [s for s in v if not 0 <= s <= SEED_MAX]:
            raise ValueError(f"{bad[0]} is outside 0..{SEED_MAX}")
        return v

    @field_validator("datasets")
    @classmethod
    def _non_empty(cls, v: list[str]) -> list[str]:
        if not v:
            raise ValueError("must name at least one data set")
        if repeated := sorted({d for d in v if v.count(d) > 1}):
            raise ValueError(f"must not repeat a data set ({', '.join(repeated)}): each is run once")
        return v

    @model_validator(mode="after")
    def _between_keys(self):
        """Constraints that hold only for some data sets, checked only when such a data set is listed."""
        problems: list[tuple[str, object, str]] = []
        # one budget and schedule for every model: a model section may not set its own
        for name in ("gan", "wgan", "wgan_gp", "avb", "vae"):
            sec = getattr(self, name)
            for key, where, value in (*((k, k, getattr(sec, k)) for k in sorted(sec.model_fields_set & set(SHARED_KEYS))),
                                      *((k, f"per_dataset.{ds}.{k}", v) for ds, o in sec.per_dataset.items()
                                        for k, v in o.items() if k in SHARED_KEYS)):
                problems.append((f"{name}.{where}", value, f"set for every model alike by {SHARED_KEYS[key]}"))
        missing = [d for d in self.datasets if d not in self.budget.gflop]
        if missing:
            problems.append(("budget.gflop", sorted(self.budget.gflop), f"has no budget for {', '.join(missing)}"))
        images = [d for d in self.datasets if d in IMAGE_DATASETS]
        n, clf, inc = self.eval.n_samples, self.eval.classifier, self.eval.inception
        why = f"with image data in datasets ({', '.join(images)}): a Frechet distance needs more samples than dimensions"
        if images and n <= clf.features:
            problems.append(("eval.n_samples", n, f"must exceed the domain classifier's {clf.features} feature dims "
                                                  f"(eval.classifier.features) {why}"))
        if images and inc.enabled and n <= inc.dims:
            problems.append(("eval.n_samples", n, f"must exceed the {inc.dims} Inception feature dims "
                                                  f"(eval.inception.dims) {why}"))
        not_28 = [d for d in self.datasets if d not in DCGAN_DATASETS]
        if self.net.arch == "dcgan" and not_28:
            problems.append(("net.arch", "dcgan", f"needs 28x28 images ({', '.join(DCGAN_DATASETS)}), but datasets "
                                                  f"lists {', '.join(not_28)}: use net.arch = 'mlp'"))
        if problems:
            raise KeyProblems(problems)
        return self


def _lines(err: ValidationError, source: str) -> list[str]:
    """Every error as `source: key.path = value: what is allowed`, one line each, in the models' field order."""
    lines: list[str] = []
    for e in err.errors():
        key = ".".join(str(p) for p in e["loc"])
        value, msg = e.get("input"), message(e)
        problem = e.get("ctx", {}).get("error")
        if isinstance(problem, KeyProblems):  # its keys are below the section that raised it
            lines += [f"{source}: {'.'.join(filter(None, (key, k)))} = {v!r}: {m}" for k, v, m in problem.problems]
        elif e["type"] == "missing":  # a key (or a whole section) left out: nothing stands in for it
            lines.append(f"{source}: missing key '{key}'")
        elif e["type"] == "extra_forbidden":
            lines.append(f"{source}: unknown key '{key}'")
        elif value is None and e["type"] in ("model_type", "dict_type"):
            # `gan:` with nothing under it: YAML reads None
            lines.append(f"{source}: {key} = None: an empty section; indent its keys under it")
        elif isinstance(value, dict):  # a whole section's check: its keys are in the message
            lines.append(f"{source}: {key}: {msg}")
        else:
            lines.append(f"{source}: {key} = {value!r}: {msg}")
    return list(dict.fromkeys(lines))  # one line per problem, even if pydantic repeats one


def parse_params(raw: dict, source: str = "params.yaml") -> Params:
    """Validate a params mapping; raise :class:`ParamsError` with one line per problem."""
    if not isinstance(raw, dict):
        raise ParamsError(f"{source}: expected a mapping at the top level, got {type(raw).__name__}")
    try:
        params = Params.model_validate(raw)
    except ValidationError as err:
        raise ParamsError("\n".join(_lines(err, source))) from None
    return params


class _UniqueKeyLoader(yaml.SafeLoader):
    """yaml's SafeLoader, but a key given twice in one mapping is an error (SafeLoader keeps the last)."""

    def construct_document(self, node):
        self._refuse_duplicates(node, "", set())
        return super().construct_document(node)

    def _refuse_duplicates(self, node, path: str, seen: set[int]) -> None:
        if id(node) in seen:  # an alias: already walked (and a recursive one must not loop)
            return
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            first: dict[tuple[str, str], yaml.Node] = {}
            for key_node, value_node in node.value:
                name = str(key_node.value) if isinstance(key_node, yaml.ScalarNode) else "?"
                where = f"{path}.{name}" if path else name
                if isinstance(key_node, yaml.ScalarNode) and key_node.value != "<<":
                    was = first.setdefault((key_node.tag, key_node.value), key_node)
                    if was is not key_node:
                        raise yaml.constructor.ConstructorError(
                            None, None, f"duplicate key '{where}' (first on line {was.start_mark.line + 1})",
                            key_node.start_mark)
                self._refuse_duplicates(value_node, where, seen)
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                self._refuse_duplicates(item, f"{path}.{i}" if path else str(i), seen)


def _yaml_line(err: yaml.YAMLError, source: str) -> str:
    """`source:LINE:COL: problem` for a syntax error (1-based, as editors count)."""
    if isinstance(err, yaml.reader.ReaderError):  # bytes that are not UTF-8/16 text, or a control character
        return f"{source}: byte {err.position}: not YAML text ({err.reason})"
    mark = getattr(err, "problem_mark", None) or getattr(err, "context_mark", None)
    problem = getattr(err, "problem", None) or getattr(err, "context", None)
    if mark is None or problem is None:
        return f"{source}: " + " ".join(str(err).split())
    line = f"{source}:{mark.line + 1}:{mark.column + 1}: {problem}"
    context, at = getattr(err, "context", None), getattr(err, "context_mark", None)
    if context and at is not None and problem is not context and at.line != mark.line:
        line += f" ({context} on line {at.line + 1})"
    return line


def load_params(path: str | Path = "params.yaml") -> Params:
    """Read and validate params.yaml; raise :class:`ParamsError` with one line per problem."""
    path = Path(path)
    if not path.exists():
        raise ParamsError(f"{path}: not found (run from the repository root)")
    try:
        with path.open("rb") as f:  # bytes: yaml's reader reports bad encodings with a position
            raw = yaml.load(f, Loader=_UniqueKeyLoader)
    except yaml.YAMLError as err:
        raise ParamsError(_yaml_line(err, str(path))) from None
    except OSError as err:
        raise ParamsError(f"{path}: cannot be read: {err.strerror}") from None
    if raw is None:  # empty, or only comments: one line rather than a missing-key line per section
        raise ParamsError(f"{path}: is empty: expected the params mapping (see the repository's params.yaml)")
    return parse_params(raw, str(path))
