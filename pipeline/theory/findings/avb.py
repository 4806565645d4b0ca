"""Part 6, the AVB paper's toy example: AVB's log-likelihood against the VAE's and the optimum, and
whether either estimate, or AVB's training ELBO, lands above the optimum (`avb_toy`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

from pipeline.records import AvbToyResult, TheorySeeds
from pipeline.theory.findings.common import STDERRS, PerSeed, Stat, Verdict, finite


@dataclass(frozen=True)
class ToyModel:
    name: str  # avb | vae
    loglik: Stat
    stderr: Stat
    quadrature: Stat
    elbo: Stat
    per_point: tuple[float, ...]  # the first seed's, per image


@dataclass(frozen=True)
class Count:
    """Seeds where something holds, of those counted (a fact to report where it happens, not a verdict)."""

    seeds: int
    of: int


@dataclass(frozen=True)
class AvbToy:
    first_seed: Optional[int]
    optimum: float
    models: tuple[ToyModel, ...]
    gap: Stat  # AVB minus VAE log p(x), seed by seed
    avb_below_optimum: Stat  # AVB minus the optimum
    avb_better: Verdict
    stderrs: int
    above_optimum: tuple[tuple[str, Count], ...]  # models estimated above the optimum by > STDERRS std. errors
    avb_elbo: Stat
    elbo_above_optimum: Count  # AVB's training ELBO above the optimum: not a bound


def avb_toy(d: AvbToyResult, ts: Optional[TheorySeeds] = None) -> AvbToy:
    s = PerSeed.of(d, ts)

    def count(keys: list[str], pred: Callable[..., bool]) -> Count:
        v = s.verdict(keys, pred)
        return Count(v.held, v.seeds)

    models = tuple(ToyModel(m, s.stat(f"{m}_loglik"), s.stat(f"{m}_loglik_stderr"), s.stat(f"{m}_quadrature"),
                            s.stat(f"{m}_elbo"), tuple(ll.per_point)) for m, ll in (("avb", d.avb), ("vae", d.vae)))
    above = ((m, count([f"{m}_loglik", f"{m}_loglik_stderr", "optimum"],
                       lambda v, se, o: finite(v) and finite(se) and v - o > STDERRS * se)) for m in ("avb", "vae"))
    return AvbToy(
        first_seed=s.first_seed,
        optimum=d.optimum,
        models=models,
        gap=s.stat("avb_loglik", "vae_loglik", fn=lambda a, v: a - v),
        avb_below_optimum=s.stat("avb_loglik", "optimum", fn=lambda a, o: a - o),
        avb_better=s.verdict(["avb_loglik", "vae_loglik"], lambda a, v: finite(a) and finite(v) and a > v),
        stderrs=STDERRS,
        above_optimum=tuple((m, c) for m, c in above if c.seeds),
        avb_elbo=s.stat("avb_elbo"),
        elbo_above_optimum=count(["avb_elbo", "optimum"], lambda e, o: finite(e) and e > o),
    )
