"""Every model the pipeline compares, and what differs between them: one entry each.

The CLI's choices, the training stage, evaluation, the plots, the summary and
the report all iterate over `MODELS`; no other Python module spells a model's
name. To add a model:

1. its step class in `pipeline/models/core.py` (an `inner` and an `outer` update);
2. its params section in `pipeline/config/core.py` and `params.yaml`;
3. one `ModelSpec` below;
4. its name in the `models:` list at the top of `dvc.yaml` (`tests/test_registry.py`
   checks that the two lists agree).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


@dataclass(frozen=True)
class ModelSpec:
    name: str  # CLI argument, file names, summary keys
    label: str  # tables, legends
    step: str  # its class in pipeline.models.core
    section: str  # its params.yaml section (the nets' sizes come from `net`)
    estimate: str  # the training log's column that estimates a distance or a bound
    estimate_label: str  # what that column is, for axes and tables
    latent: bool  # an encoder/decoder model: ELBO and log-likelihood apply
    color: str  # one colour per model in every figure
    elbo_kind: str = ""  # latent models: "bound" (analytic KL) or "estimate" (an adversary stands in for the KL)
    top_level: tuple[str, ...] = ()  # top-level params its step reads besides its section


MODELS: dict[str, ModelSpec] = {
    s.name: s
    for s in (
        ModelSpec("gan", "GAN", "GAN", "gan", "js_estimate", "JS estimate (L(D) + log 4) / 2, nats", False,
                  "tab:red"),
        ModelSpec("wgan", "WGAN", "WGAN", "wgan", "w_estimate", "critic's W1 estimate (K x W1)", False,
                  "tab:blue", top_level=("clip",)),
        ModelSpec("wgan_gp", "WGAN-GP", "WGAN", "wgan_gp", "w_estimate",
                  "critic's W1 estimate (gradient penalty: K ~ 1)", False, "tab:cyan"),
        ModelSpec("avb", "AVB", "AVB", "avb", "elbo", "ELBO estimate with the adversary T, nats", True, "tab:green",
                  elbo_kind="estimate"),
        ModelSpec("vae", "VAE", "VAE", "vae", "elbo", "ELBO (analytic KL), nats", True, "tab:purple",
                  elbo_kind="bound"),
    )
}
NAMES: tuple[str, ...] = tuple(MODELS)
# The CLI's choice (a str Enum, so Typer refuses a typo with the allowed values).
ModelName = Enum("ModelName", {n: n for n in NAMES}, type=str)


def section(model: str, params, dataset: str):
    """The model's params section (a `pipeline.config` model) as it applies to `dataset`: its
    `per_dataset` keys applied, and what every model shares set from `budget` and `train` (the batch
    size, the lr schedule). Its `steps` follow from the FLOP budget (pipeline/training/budget.py `plan`), once the
    nets exist. Here, not in pipeline.models.core, so that a stage's main process can plan without torch."""
    own = getattr(params, MODELS[model].section).for_dataset(dataset)
    return own.model_copy(update={"batch_size": params.budget.batch_size, "lr_decay": params.train.lr_schedule})
