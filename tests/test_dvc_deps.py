"""Every DVC stage declares the code it runs: a module its command imports, directly or through
another of ours, is in its deps, so editing that module reruns the stage (`dvc status` says so).

The imports are read statically (every `import` in a module, function-level ones included), so a
lazily imported module counts too. `stages/theory.py` imports each part's modules inside that
part's command, so a theory part is checked against its own part's modules, not the others'.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO

# Never a dep: the dispatcher picks the command's module and computes nothing.
NOT_CODE = {"stages/__main__.py"}


def _module_file(module: str) -> Path | None:
    for candidate in (REPO / (module.replace(".", "/") + ".py"), REPO / module.replace(".", "/") / "__init__.py"):
        if candidate.exists():
            return candidate
    return None


def _imported_modules(path: Path) -> set[str]:
    """Our modules (pipeline.*, stages.*) that `path` imports anywhere in its body."""
    package = path.relative_to(REPO).with_suffix("").parts[:-1]  # a module's or an __init__'s package
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = list(package[: len(package) - node.level + 1]) if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            found.add(module)  # `from pkg import mod` may name a module: try both
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return {m for m in found if m.split(".")[0] in ("pipeline", "stages")}


def _code_closure(*modules: str) -> set[str]:
    """Repo-relative .py files that importing `modules` can run (package __init__ files left out)."""
    seen: set[Path] = set()
    todo = list(modules)
    while todo:
        path = _module_file(todo.pop())
        if path is None or path in seen:
            continue
        seen.add(path)
        todo.extend(_imported_modules(path))
    files = {str(p.relative_to(REPO)) for p in seen}
    return {f for f in files if not f.endswith("__init__.py")} - NOT_CODE


def _stages() -> dict[str, dict]:
    """dvc.yaml's stages, a foreach expanded to one entry per item (`theory@lines`, ...)."""
    doc = yaml.safe_load((REPO / "dvc.yaml").read_text())
    variables = {k: v for entry in doc.get("vars", []) for k, v in entry.items()}
    variables.setdefault("datasets", yaml.safe_load((REPO / "params.yaml").read_text())["datasets"])
    out: dict[str, dict] = {}
    for name, stage in doc["stages"].items():
        if "foreach" not in stage:
            out[name] = stage
            continue
        items = stage["foreach"]
        if isinstance(items, str):  # ${theory_parts}, ${models}, ${datasets}
            items = variables[items.strip("${}")]
        for key, item in (items.items() if isinstance(items, dict) else ((i, i) for i in items)):
            text = yaml.safe_dump(stage["do"])
            text = text.replace("${key}", str(key)).replace("${item}", str(item))
            if isinstance(item, dict):
                text = re.sub(r"\$\{item\.(\w+)\[(\d+)\]\}", lambda m: str(item[m[1]][int(m[2])]), text)
            out[f"{name}@{key}"] = yaml.safe_load(text)
    return out


def _declared_code(stage: dict) -> set[str]:
    deps = {d if isinstance(d, str) else next(iter(d)) for d in stage.get("deps", [])}
    return {d for d in deps if d.endswith(".py")}


def _needed_code(stage: dict) -> set[str]:
    command = re.match(r"python -m stages (\S+)(?: (\S+))?", stage["cmd"])
    assert command, stage["cmd"]
    name, arg = command[1].replace("-", "_"), command[2]
    if name != "theory":
        return _code_closure(f"stages.{name}")
    # What every theory command runs (stages/theory.py and its imports outside pipeline.theory),
    # then its own modules: a part's and the figures, or the report's.
    shared = {"stages/theory.py"} | _code_closure(
        *(m for m in _imported_modules(REPO / "stages/theory.py") if not m.startswith("pipeline.theory")))
    own = ("pipeline.theory.report",) if arg == "report" else (f"pipeline.theory.{arg}", "pipeline.theory.figures")
    return shared | _code_closure(*own)


@pytest.mark.parametrize("name", sorted(_stages()))
def test_stage_declares_every_module_it_runs(name):
    stage = _stages()[name]
    missing = sorted(_needed_code(stage) - _declared_code(stage))
    assert not missing, f"dvc.yaml stage {name} runs {missing} but does not list them in deps"
