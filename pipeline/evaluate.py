"""Turning trained models into numbers: the `eval:` params, the real-data
statistics computed once per data set, and the evaluation of one model.

Every comparison is against the held-out (test) split. Spaces: 2D points are
raw coordinates; images enter W1 as pixels in [0, 1] and the Frechet
distances as features; log-likelihoods are in the decoder's model space
(pixels in [-1, 1]), in nats per sample.
"""

from __future__ import annotations

import platform
import time
from dataclasses import dataclass, field
from typing import Optional

import numpy as np
import torch
from torch import Tensor

from . import features as feat
from .config import EvalParams, InceptionParams, LoglikParams
from . import metrics
from .data import DataMeta, Prepared, to_model_space, to_unit_interval
from .losses import gaussian_kl_to_standard, standard_normal_logpdf
from .models import Step

# --- shared helpers ----------------------------------------------------------------


def metric_space(x: Tensor, meta: DataMeta) -> np.ndarray:
    """Model space -> where W1 is measured: points unchanged, images as [0, 1] pixels, flattened."""
    x = x.detach().float().cpu()
    if meta.kind == "images":
        x = to_unit_interval(x.clone()).flatten(1)
    return x.double().numpy()


def subset(n_total: int, n: int, seed: int) -> Tensor:
    """A seeded random choice of min(n, n_total) indices (all of them, in order, when n >= n_total)."""
    if n >= n_total:
        return torch.arange(n_total)
    return torch.randperm(n_total, generator=torch.Generator().manual_seed(seed))[:n]


@torch.no_grad()
def generate(step: Step, n: int, seed: int) -> Tensor:
    """n samples in model space, from a seeded noise stream (the same z for every model)."""
    dev = next(step.generator().parameters()).device
    gen = torch.Generator(device=dev).manual_seed(seed)
    return torch.cat([step.sample(len(idx), gen) for idx in torch.arange(n).split(4096)]).cpu()


def versions() -> dict:
    import ot
    import scipy
    from importlib.metadata import version

    return {"python": platform.python_version(), "torch": torch.__version__, "pytorch-fid": version("pytorch-fid"),
            "POT": ot.__version__, "numpy": np.__version__, "scipy": scipy.__version__,
            "platform": platform.platform()}


# --- real-data statistics: once per data set ---------------------------------------


@dataclass
class RealStats:
    state: dict  # saved with pipeline.io.save_torch; read back by `evaluate_model`
    metrics: dict  # classifier accuracy and the real-vs-real floor


def _domain_extractor(state: dict, device: torch.device):
    """x in model space -> (N, d) features for the domain Frechet distance."""
    c = state["classifier"]
    if c is None:  # 2D mixtures: the raw coordinates
        return lambda x: x.detach().double().cpu().flatten(1).numpy()
    clf = feat.Classifier(c["in_dim"], c["hidden"], c["features"], c["classes"])
    clf.load_state_dict(c["state"])
    clf.to(device).eval()
    return lambda x: feat.classifier_features(clf, x.to(device))


def _inception_stats(images01: Tensor, p: InceptionParams, device) -> dict:
    """Inception mean/covariance of the real test images, or why they cannot be had."""
    out = {"available": False, "reason": "", "dims": p.dims}
    reasons = []
    if not p.enabled:
        reasons.append("disabled (eval.inception.enabled: false)")
    if len(images01) <= p.dims:
        reasons.append(f"the held-out split has {len(images01)} images, not more than the {p.dims} "
                       "Inception feature dims (lower eval.inception.dims, or use a larger data set)")
    lookup = feat.find_inception_weights(p.weights, p.download) if p.enabled else None
    if lookup is not None and lookup.path is None:
        reasons.append(lookup.reason)
    if reasons:
        return out | {"reason": "; ".join(reasons)}
    net = feat.load_inception(lookup.path, p.dims, device)
    mu, sigma = metrics.gaussian_stats(feat.inception_features(net, images01, p.batch_size), "real images")
    return out | {"available": True, "mu": torch.from_numpy(mu), "sigma": torch.from_numpy(sigma),
                  "n": len(images01), "weights_source": lookup.source,
                  "weights_sha256": feat.sha256_prefix(lookup.path), "net": net}


def real_statistics(prepared: Prepared, p: EvalParams, seed: int, device: torch.device) -> RealStats:
    """Features, mean and covariance of the held-out split, the domain classifier,
    and the floor: the same metrics between the real training and held-out splits."""
    meta = prepared.meta
    test = to_model_space(prepared.test_x, meta)
    train = to_model_space(prepared.train_x, meta)
    state: dict = {"dataset": meta.name, "classifier": None, "inception": {"available": False, "reason": ""}}
    out_metrics: dict = {"n_test": len(test), "n_train": len(train)}
    if meta.kind == "images":
        c = p.classifier
        torch.manual_seed(seed)
        clf = feat.Classifier(int(np.prod(meta.shape)), c.hidden, c.features, meta.num_classes).to(device)
        feat.train_classifier(train.to(device), prepared.train_y.to(device), clf, epochs=c.epochs,
                              batch_size=c.batch_size, lr=c.lr, seed=seed)
        acc = feat.accuracy(clf, test.to(device), prepared.test_y.to(device))
        state["classifier"] = {"in_dim": int(np.prod(meta.shape)), "hidden": c.hidden, "features": c.features,
                               "classes": meta.num_classes, "test_accuracy": acc,
                               "state": {k: v.cpu() for k, v in clf.state_dict().items()}}
        out_metrics["classifier_test_accuracy"] = round(acc, 4)
        state["inception"] = _inception_stats(to_unit_interval(test.clone()), p.inception, device)
    extract = _domain_extractor(state, device)
    test_feats = extract(test)
    mu, sigma = metrics.gaussian_stats(test_feats, f"held-out {meta.name} samples")
    state["domain"] = {"features": "classifier" if state["classifier"] else "coordinates",
                       "dims": test_feats.shape[1], "mu": torch.from_numpy(mu), "sigma": torch.from_numpy(sigma),
                       "n": len(test)}

    # The floor: what a perfect generator would score with this many samples.
    pick = subset(len(train), p.n_samples, seed)
    real_fake = train[pick]
    scores = _sample_metrics(real_fake, train, test, state, meta, p, seed, inception_net=state["inception"].get("net"))
    out_metrics["floor"] = _rounded(scores.metrics) | {"n_train_used": len(pick)}
    if meta.kind == "points":
        out_metrics["floor"]["modes_total"] = len(meta.centers)
    state["inception"].pop("net", None)
    return RealStats(state, out_metrics)


# --- evaluating one model ------------------------------------------------------------


@dataclass
class Scores:
    metrics: dict = field(default_factory=dict)  # flat numbers for dvc metrics
    record: dict = field(default_factory=dict)  # how each number was obtained


def _sample_metrics(fake: Tensor, pool: Tensor, test: Tensor, state: dict, meta: DataMeta, p: EvalParams,
                    seed: int, inception_net=None) -> Scores:
    """FID(s), W1, sliced W1 and (2D) mode coverage of `fake` against the held-out `test`.

    `pool` supplies the extra samples the sliced W1 uses (the generator for a
    model, the training split for the floor); here it is only subsampled.
    """
    m, rec = {}, {}
    real_idx = subset(len(test), p.n_samples, seed + 1)
    x_fake, x_real = metric_space(fake, meta), metric_space(test[real_idx], meta)
    m["w1"] = metrics.w1_exact(x_fake, x_real)
    rec["w1"] = {"n_generated": len(x_fake), "n_real": len(x_real), "ground_cost": "euclidean",
                 "space": "pixels in [0, 1]" if meta.kind == "images" else "coordinates", "solver": "ot.emd2"}
    x_sliced = metric_space(pool, meta)
    m["w1_sliced"] = metrics.w1_sliced(x_sliced, metric_space(test, meta), p.sliced_projections, seed)
    rec["w1_sliced"] = {"n_generated": len(x_sliced), "n_real": len(test), "projections": p.sliced_projections,
                        "ground_cost": "euclidean"}

    dom = state["domain"]
    fake_feats = _domain_extractor(state, fake.device)(fake)
    m["fid_domain"] = metrics.frechet_distance(*metrics.gaussian_stats(fake_feats, "generated samples"),
                                               dom["mu"].numpy(), dom["sigma"].numpy())
    rec["fid_domain"] = {"features": dom["features"], "dims": dom["dims"], "n_generated": len(fake),
                         "n_real": dom["n"]}
    if state["classifier"] is not None:
        rec["fid_domain"]["classifier_test_accuracy"] = state["classifier"]["test_accuracy"]

    if meta.kind == "images":
        inc = state["inception"]
        rec["fid_inception"] = {k: v for k, v in inc.items() if k not in ("mu", "sigma", "net")}
        if inc["available"] and inception_net is not None:
            f = feat.inception_features(inception_net, to_unit_interval(fake.clone()), p.inception.batch_size)
            m["fid_inception"] = metrics.frechet_distance(*metrics.gaussian_stats(f, "generated images"),
                                                          inc["mu"].numpy(), inc["sigma"].numpy())
        else:
            m["fid_inception"] = None  # unavailable: the record says why; never a substitute number
    else:
        cov = metrics.mode_coverage(x_fake, np.asarray(meta.centers), meta.std, p.mode_n_std, p.mode_min_fraction)
        m["modes_covered"] = cov.modes_covered
        m["high_quality_pct"] = round(100 * cov.high_quality_share, 2)
        rec["modes"] = {"modes_total": cov.modes_total, "min_count": cov.min_count, "counts": cov.counts,
                        "n_std": p.mode_n_std, "min_fraction": p.mode_min_fraction}
    return Scores(m, rec)


# What each model's training log calls its running estimate of a distance.
TRAINING_ESTIMATE = {"gan": "js_estimate", "wgan": "w_estimate", "avb": "elbo", "vae": "elbo"}


def estimate_at(rows: list[dict], key: str, steps: list[int]) -> list[float]:
    """The training log's `key` averaged over the window before each step.

    Log rows are already means over `log_every` steps; the window is half the
    spacing between the requested steps, so that one noisy row cannot decide.
    """
    if not rows or key not in rows[0]:
        return [float("nan")] * len(steps)
    s = np.array([r["step"] for r in rows], float)
    v = np.array([r[key] for r in rows], float)
    gap = np.diff([0, *steps]).min() if steps else 1
    half = max(gap / 2, 1)
    out = []
    for t in steps:
        sel = (s > t - half) & (s <= t)
        out.append(float(v[sel].mean()) if sel.any() else float("nan"))
    return out


@torch.no_grad()
def w1_trajectory(step: Step, snapshots: list[dict], test: Tensor, meta: DataMeta, n: int, seed: int) -> list[dict]:
    """Exact W1 between n samples of each generator snapshot and the held-out split.

    Loads each snapshot into the step's generator: call it after every
    measurement of the final weights.
    """
    real = metric_space(test[subset(len(test), n, seed + 2)], meta)
    out = []
    for snap in snapshots:
        step.generator().load_state_dict(snap["state"])
        fake = generate(step, n, seed)
        if not torch.isfinite(fake).all():
            out.append({"step": snap["step"], "w1": float("nan")})
            continue
        out.append({"step": snap["step"], "w1": metrics.w1_exact(metric_space(fake, meta), real)})
    return out


def _avb_elbo(step, x: Tensor, z: Tensor, log_px_z: Tensor) -> Tensor:
    """ELBO = E_q[log p(x|z) - T(x, z)], T ~ log q(z|x) - log p(z)  (AVB, eq. 3.7)."""
    k, b, zd = z.shape
    xk = x.unsqueeze(0).expand(k, *x.shape).reshape(k * b, *x.shape[1:])
    return (log_px_z - step.T(xk, z.reshape(k * b, zd)).view(k, b)).mean(0)


def _vae_elbo(step, x: Tensor, z: Tensor, log_px_z: Tensor) -> Tensor:
    """ELBO = E_q[log p(x|z)] - KL(q(z|x) || p(z)), the KL analytic (Kingma & Welling 2014, eq. 10)."""
    mu, logvar = step.q_params(x)
    return log_px_z.mean(0) - gaussian_kl_to_standard(mu, logvar)


ELBO = {"avb": _avb_elbo, "vae": _vae_elbo}


@torch.no_grad()
def likelihood(step: Step, x: Tensor, p: LoglikParams, seed: int) -> dict:
    """Test-split ELBO and importance-sampled log p(x), the same estimator for AVB and the VAE.

    For each x: K encoder draws z ~ q(z|x) give the ELBO and a moment-matched
    diagonal Gaussian r(z|x) = N(mean, (std_scale * std)^2); K fresh draws
    from r give log w = log p(x|z) + log p(z) - log r(z|x), and
    `metrics.importance_log_likelihood`. It needs no density of q, which
    AVB's implicit encoder does not have.
    """
    torch.manual_seed(seed)  # AVB's encoder noise comes from the global stream
    k = p.samples
    elbos, log_ws = [], []
    for xb in x.split(p.chunk):
        z_q = step.posterior_samples(xb, k)  # (K, B, z_dim)
        log_px_z = step.log_likelihood_terms(xb, z_q) - standard_normal_logpdf(z_q)  # (K, B)
        elbos.append(ELBO[step.name](step, xb, z_q, log_px_z).cpu())
        r = torch.distributions.Normal(z_q.mean(0), p.std_scale * z_q.std(0).clamp_min(1e-4))
        z_r = r.sample((k,))
        log_ws.append((step.log_likelihood_terms(xb, z_r) - r.log_prob(z_r).sum(-1)).cpu())
    elbo = torch.cat(elbos).double().numpy()
    ll = metrics.importance_log_likelihood(torch.cat(log_ws, 1).double().numpy())
    return {
        "elbo": float(elbo.mean()), "elbo_se": float(elbo.std(ddof=1) / np.sqrt(len(elbo))),
        "loglik": ll.mean, "loglik_se": ll.stderr, "ess_fraction": ll.ess_fraction,
        "points": len(elbo), "samples": k, "std_scale": p.std_scale,
        "units": "nats per sample, model space" + (" (pixels in [-1, 1])" if step.images else ""),
    }


@dataclass
class Evaluation:
    metrics: dict  # flat, for `dvc exp show`
    record: dict  # everything the report needs to say how the numbers were made
    trajectory: list[dict]  # {"step", "w1", "estimate"} per generator snapshot
    preview: np.ndarray  # samples for the figures: points (N, 2), images in [0, 1] (N, C, H, W); empty if diverged


def evaluate_model(ckpt: dict, prepared: Prepared, stats: dict, log_rows: list[dict], p: EvalParams, seed: int,
                   device: torch.device) -> Evaluation:
    """Every metric of one trained model against the held-out split."""
    from .train import restore

    t0 = time.perf_counter()
    meta, name = prepared.meta, ckpt["model"]
    status = ckpt["status"]
    test = to_model_space(prepared.test_x, meta)
    record = {"model": name, "dataset": meta.name, "kind": meta.kind, "train_status": status, "device": str(device),
              "versions": versions(), "seed": seed}
    step = restore(ckpt, device)
    m: dict = {"status": status["status"], "n_samples": p.n_samples}
    preview = np.zeros((0, *meta.shape), np.float32)
    if status["status"] == "ok":
        fake = generate(step, max(p.n_samples, p.sliced_samples), seed)
        if not torch.isfinite(fake).all():
            status = status | {"status": "diverged", "message": "generated samples are not finite"}
            m["status"] = "diverged"
    if m["status"] == "ok":
        inc = stats["inception"]
        net = None
        if meta.kind == "images" and inc["available"]:
            lookup = feat.find_inception_weights(p.inception.weights, download=False)
            if lookup.path is None:
                inc = inc | {"available": False, "reason": lookup.reason}
            else:
                net = feat.load_inception(lookup.path, p.inception.dims, device)
        scores = _sample_metrics(fake[: p.n_samples], fake[: p.sliced_samples], test, stats | {"inception": inc},
                                 meta, p, seed, inception_net=net)
        m |= scores.metrics
        record |= scores.record
        preview = preview_of(fake[: p.n_samples], meta)
        if name in ELBO:
            x = test[subset(len(test), p.loglik.max_points, seed + 3)].to(device)
            ll = likelihood(step, x, p.loglik, seed)
            m |= {"elbo": ll["elbo"], "loglik": ll["loglik"], "loglik_se": ll["loglik_se"]}
            record["likelihood"] = ll
    else:
        record["diverged"] = {"steps": status["steps"], "message": status["message"]}

    traj = w1_trajectory(step, ckpt.get("snapshots", []), test, meta, p.snapshot_samples, seed)
    key = TRAINING_ESTIMATE[name]
    for row, est in zip(traj, estimate_at(log_rows, key, [r["step"] for r in traj])):
        row["estimate"] = est
    corr = metrics.correlation([r["estimate"] for r in traj], [r["w1"] for r in traj])
    record["estimate_vs_w1"] = {"estimate": key, "pearson": corr.pearson, "spearman": corr.spearman,
                                "snapshots": corr.n, "n_samples": p.snapshot_samples}
    if corr.pearson is not None:
        m |= {"estimate_w1_pearson": round(corr.pearson, 4), "estimate_w1_spearman": round(corr.spearman, 4)}
    record["seconds"] = round(time.perf_counter() - t0, 2)
    return Evaluation(_rounded(m), record, traj, preview)


PREVIEW = {"points": 2500, "images": 64}  # scatter points / grid cells in the figures


def preview_of(x: Tensor, meta: DataMeta) -> np.ndarray:
    """The first few samples, as the figures show them: points raw, images in [0, 1]."""
    x = x[: PREVIEW[meta.kind]].detach().float().cpu()
    return (to_unit_interval(x.clone()) if meta.kind == "images" else x).numpy()


def _rounded(m: dict, digits: int = 6) -> dict:
    return {k: (float(f"{v:.{digits}g}") if isinstance(v, float) else v) for k, v in m.items()}
