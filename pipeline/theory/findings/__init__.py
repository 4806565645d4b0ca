"""What the theory parts' records say, as typed findings; pipeline/theory/report.py renders them
through the templates in pipeline/theory/templates/ into reports/theory.md.

One finding per part (and one for the main comparison's WGAN-family runs), holding the numbers its
section states and every verdict its prose turns on. Pure functions of the records: nothing here
trains, samples, reads a file or writes a word of the page.

    common.py           the claims' criteria (REL_TOL, TRACKS, ...), Stat, Verdict, PerSeed
    divergences.py      part 1 `lines` (critics track W1, JS saturates), part 2 `vanishing` (gradients)
    critic_value.py     part 3 `meaningful` (+ `main_runs`: the main comparison), part 4 `energy`
    critic_training.py  part 5 `ablation` (critic optimiser and Lipschitz constraint)
    avb.py              part 6 `avb_toy` (the AVB paper's toy example)
    sections.py         `page`: every part's finding, in the page's order (`PARTS`)

Importers name everything from here: `findings.lines(record, seeds)`, `findings.Stat`.
"""

from pipeline.theory.findings.avb import AvbToy, Count, ToyModel, avb_toy
from pipeline.theory.findings.common import (
    FADE,
    JS_SHARE,
    OPTIMISERS,
    POOR,
    REL_TOL,
    SETTLED,
    STDERRS,
    STEADY,
    TARGET,
    TRACKS,
    VANISHED,
    PerSeed,
    Stat,
    Verdict,
    finite,
)
from pipeline.theory.findings.critic_training import (
    Ablation,
    AblationLine,
    Diverged,
    Optimisers,
    Ranked,
    Setting,
    ablation,
)
from pipeline.theory.findings.critic_value import (
    Checkpoint,
    Drift,
    Energy,
    EnergyPoint,
    MainGroup,
    MainRun,
    MainRuns,
    Meaningful,
    energy,
    main_runs,
    meaningful,
)
from pipeline.theory.findings.divergences import Demo, GradientStep, GridPoint, Lines, Vanishing, lines, vanishing
from pipeline.theory.findings.sections import PARTS, Page, Section, SeedTable, page

__all__ = [
    "FADE", "JS_SHARE", "OPTIMISERS", "POOR", "REL_TOL", "SETTLED", "STDERRS", "STEADY", "TARGET", "TRACKS",
    "VANISHED", "PerSeed", "Stat", "Verdict", "finite",
    "Demo", "GradientStep", "GridPoint", "Lines", "Vanishing", "lines", "vanishing",
    "Checkpoint", "Drift", "Energy", "EnergyPoint", "MainGroup", "MainRun", "MainRuns", "Meaningful", "energy",
    "main_runs", "meaningful",
    "Ablation", "AblationLine", "Diverged", "Optimisers", "Ranked", "Setting", "ablation",
    "AvbToy", "Count", "ToyModel", "avb_toy",
    "PARTS", "Page", "SeedTable", "Section", "page",
]
