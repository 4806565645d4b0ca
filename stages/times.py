"""times: how long each stage of the last `dvc repro` took, from its outputs' modification times.

DVC keeps no timings, but every stage writes its outputs last; read in the order they were finished,
a stage's wall time is the time from the previous stage's last output to its own. This is how the
the timing tables are made (`--since` the moment `dvc repro` started gives the first stage too).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Callable, Optional

import typer
import yaml

from .common import fail


def finished(lock: dict, root: Path, mtime: Callable[[Path], float] = os.path.getmtime) -> dict[str, float]:
    """Stage -> the newest modification time among its outputs (files, or every file under a folder);
    stages whose outputs are all missing are left out."""
    done = {}
    for name, stage in lock.get("stages", {}).items():
        times = []
        for out in stage.get("outs", []):
            path = root / out["path"]
            files = [p for p in path.rglob("*") if p.is_file()] if path.is_dir() else [path] if path.exists() else []
            times += [mtime(p) for p in files]
        if times:
            done[name] = max(times)
    return done


def durations(done: dict[str, float], since: Optional[float] = None) -> list[tuple[str, Optional[float]]]:
    """(stage, seconds) in the order the stages finished; the first has none unless `since` is given.
    With `since`, a stage that finished before it did not run in this repro and is left out."""
    out, prev = [], since
    for name, t in sorted(done.items(), key=lambda kv: kv[1]):
        if since is not None and t < since:
            continue
        out.append((name, None if prev is None else t - prev))
        prev = t
    return out


def _clock(seconds: Optional[float]) -> str:
    if seconds is None:
        return "—"
    m, s = divmod(round(seconds, 1), 60)  # rounded first: 4019.96 s is 67 min 0.0 s, not 66 min 60.0 s
    return f"{int(m)} min {s:.1f} s" if m else f"{s:.1f} s"


def main(
    since: Annotated[Optional[float], typer.Option(help="Unix time `dvc repro` started (e.g. `date +%s` before it): "
                                                  "times the first stage too.")] = None,
    lock: Annotated[Path, typer.Option(help="The dvc.lock of the run.")] = Path("dvc.lock"),
) -> None:
    """Print each stage's wall time in the last `dvc repro` (from dvc.lock's outputs), then the sums
    per stage family (`evaluate@gan` and `evaluate@vae` are `evaluate`)."""
    if not lock.exists():
        raise fail(f"{lock} not found: run `dvc repro` first")
    done = finished(yaml.safe_load(lock.read_text()) or {}, lock.parent)
    if not done:
        raise fail(f"no output of any stage in {lock} exists: run `dvc repro` (or `dvc checkout`) first")
    rows = durations(done, since)
    if not rows:
        typer.echo("no stage ran since then")
        return
    families: dict[str, float] = {}
    typer.echo("| stage | wall time |\n|---|---:|")
    for name, sec in rows:
        typer.echo(f"| {name} | {_clock(sec)} |")
        if sec is not None:
            family = name.split("@")[0]
            families[family] = families.get(family, 0.0) + sec
    typer.echo("\n| stages | wall time |\n|---|---:|")
    for family, sec in families.items():
        typer.echo(f"| {family} | {_clock(sec)} |")
    timed = [sec for _, sec in rows if sec is not None]
    typer.echo(f"\ntotal: {_clock(sum(timed))} over {len(timed)} timed stages"
               + ("" if since is not None else " (the first stage untimed: pass --since)"))
