"""Test-split ELBO and importance-sampled log p(x) for the latent models (AVB, VAE).

One estimator for both, so the two are judged alike; log-likelihoods are in
the decoder's model space (pixels in [-1, 1]), in nats per sample.
"""

from __future__ import annotations

from typing import Optional

import numpy as np
import torch
from torch import Tensor

from pipeline.evaluation import metrics
from pipeline.evaluation.ais import ais_log_likelihood, bdmc, model_log_px_z
from pipeline.config import AisParams, LoglikParams
from pipeline.models.losses import standard_normal_logpdf
from pipeline.models.core import LatentModel
from pipeline.records import AisEstimate, Likelihood


@torch.no_grad()
def likelihood(step: LatentModel, x: Tensor, p: LoglikParams, seed: int, ais: Optional[AisParams] = None) -> Likelihood:
    """For each x: K encoder draws z ~ q(z|x) give the model's ELBO (`step.elbo`) and a
    moment-matched diagonal Gaussian r(z|x) = N(mean, (std_scale * std)^2); K fresh draws
    from r give log w = log p(x|z) + log p(z) - log r(z|x), and
    `metrics.importance_log_likelihood`. It needs no density of q, which AVB's
    implicit encoder does not have. `ais` (eval.ais): AIS on the first test points too, when enabled.
    """
    torch.manual_seed(seed)  # AVB's encoder noise comes from the global stream
    k = p.samples
    elbos, log_ws = [], []
    for xb in x.split(p.chunk):
        z_q = step.posterior_samples(xb, k)  # (K, B, z_dim)
        log_px_z = step.log_likelihood_terms(xb, z_q) - standard_normal_logpdf(z_q)  # (K, B)
        elbos.append(step.elbo(xb, z_q, log_px_z).cpu())
        r = torch.distributions.Normal(z_q.mean(0), p.std_scale * z_q.std(0).clamp_min(1e-4))
        z_r = r.sample((k,))
        log_ws.append((step.log_likelihood_terms(xb, z_r) - r.log_prob(z_r).sum(-1)).cpu())
    elbo = torch.cat(elbos).double().numpy()
    ll = metrics.importance_log_likelihood(torch.cat(log_ws, 1).double().numpy())
    return Likelihood(
        elbo=float(elbo.mean()), elbo_se=float(elbo.std(ddof=1) / np.sqrt(len(elbo))),
        loglik=ll.mean, loglik_se=ll.stderr, ess_fraction=ll.ess_fraction,
        points=len(elbo), samples=k, std_scale=p.std_scale,
        units="nats per sample, model space" + (" (pixels in [-1, 1])" if step.images else ""),
        ais=_ais(step, x[: ais.points], ais, seed, elbo[: ais.points]) if ais is not None and ais.enabled else None,
    )


def _ais(step: LatentModel, x: Tensor, p: AisParams, seed: int, elbo: np.ndarray) -> AisEstimate:
    """AIS (pipeline/evaluation/ais.py) on the first `p.points` of the same test points; `elbo`: theirs. With
    `p.bdmc_points`, BDMC with the same settings on that many points simulated from the model."""
    settings = dict(chains=p.chains, steps=p.steps, leapfrog=p.leapfrog, step_size=p.step_size, seed=seed)
    log_px_z = model_log_px_z(step)
    with torch.enable_grad():  # HMC needs d log p(x|z) / dz
        r = ais_log_likelihood(log_px_z, x, step.net_params.z_dim, **settings)
        sim = None
        if p.bdmc_points:
            x_sim, z_sim = step.simulate(p.bdmc_points, torch.Generator(device=x.device).manual_seed(seed))
            sim = bdmc(log_px_z, x_sim, z_sim, **settings)
    return AisEstimate(r.mean, r.stderr, len(x), r.chains, r.steps, r.leapfrog, r.acceptance, r.ess / r.chains,
                       elbo=float(elbo.mean()), bdmc_points=p.bdmc_points,
                       bdmc_lower=None if sim is None else sim.lower.mean,
                       bdmc_upper=None if sim is None else float(sim.upper.mean()))
