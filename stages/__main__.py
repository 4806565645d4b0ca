"""The pipeline's stages: `dvc repro` runs them from dvc.yaml; each also runs by hand."""

import importlib
import sys

import typer

# command name -> (module in stages/, how it is registered). One table, so a
# DVC stage's process imports only its own module: the others pull in
# matplotlib, POT and the theory code, seconds of start-up per stage.
COMMANDS: dict[str, tuple[str, dict]] = {
    "prepare": ("prepare", {"no_args_is_help": True}),
    "train": ("train", {"no_args_is_help": True}),
    "bench": ("bench", {}),
    "bench-seeds": ("bench_seeds", {}),  # not a DVC stage: processes against an ensemble of seeds
    # evaluation, plots, report
    "real-stats": ("real_stats", {"no_args_is_help": True}),
    "evaluate": ("evaluate", {"no_args_is_help": True}),
    "plot": ("plot", {}),
    "summary": ("summary", {}),
    "report": ("report", {}),
    "times": ("times", {}),  # not a DVC stage: the last run's stage times, for a timing table (docs/performance.md)
    # theory: a sub-app with one command per part
    "theory": ("theory", {"group": True}),
}


def build(only: str | None = None) -> typer.Typer:
    app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__)
    # A callback keeps `app` a group even with one command registered, so
    # `python -m stages prepare ...` parses the same whichever way it was built.
    app.callback()(lambda: None)
    for name, (module, opts) in COMMANDS.items():
        if only is not None and name != only:
            continue
        mod = importlib.import_module(f"{__package__ or 'stages'}.{module}")
        if opts.get("group"):
            app.add_typer(mod.app, name=name)
        else:
            app.command(name, **opts)(mod.main)
    return app


def _requested() -> str | None:
    """The command named on the command line, if it is one of ours (else: build them all, for --help)."""
    first = next((a for a in sys.argv[1:] if not a.startswith("-")), None)
    return first if first in COMMANDS else None


# `app` with every command, for tests and the console script; `python -m stages X` builds only X, and
# the worker processes a stage spawns (which import this module as __mp_main__) build none.
app = build() if __name__ not in ("__main__", "__mp_main__") else None

if __name__ == "__main__":
    build(_requested())()
