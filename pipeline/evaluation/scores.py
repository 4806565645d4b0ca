"""Distances between a sample set and the held-out split: exact and sliced W1,
Frechet distances on domain and Inception features, precision and recall on the
domain features, and (2-D) mode coverage.

One function, `sample_scores`, serves both a model's samples and the real
training split (the floor), so the two rows of a table are measured alike.
Spaces: 2-D points are raw coordinates; images enter W1 as pixels in [0, 1]
and the Frechet distances, precision and recall as features (the domain
classifier's; for 2-D points the domain features are the raw coordinates).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np
import torch
from torch import Tensor, nn

from pipeline.evaluation import features as feat
from pipeline.evaluation import metrics
from pipeline.config import EvalParams
from pipeline.data.datasets import DataMeta, to_unit_interval
from pipeline.records import InceptionInfo, Measurement, ModeInfo, SampleScores

Extractor = Callable[[Tensor], np.ndarray]  # x in model space -> (N, d) float64 features


@dataclass
class Reference:
    """What sample sets are compared against: the held-out split and its feature statistics."""

    test: Tensor  # held-out split, model space
    domain: Extractor
    domain_features: str  # "coordinates" or "classifier"
    domain_mu: np.ndarray
    domain_sigma: np.ndarray
    inception: InceptionInfo
    inception_net: Optional[nn.Module] = None
    inception_mu: Optional[np.ndarray] = None
    inception_sigma: Optional[np.ndarray] = None
    classifier_test_accuracy: Optional[float] = None
    classifier_arch: Optional[str] = None
    _held_out: dict = field(default_factory=dict, repr=False)

    def held_out(self, n: int, seed: int, k: int) -> tuple[Tensor, np.ndarray, np.ndarray]:
        """W1's seeded subset of the held-out split: its indices, domain features and k-NN radii.
        Every sample set of one evaluation is scored against the same subset, so it is computed once."""
        key = (n, seed, k)
        if key not in self._held_out:
            idx = subset(len(self.test), n, seed)
            feats = self.domain(self.test[idx])
            self._held_out[key] = idx, feats, metrics.knn_radii(feats.reshape(len(feats), -1), k)
        return self._held_out[key]


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


def snapshot_reference(test: Tensor, meta: DataMeta, n: int, seed: int) -> np.ndarray:
    """The held-out subset every generator snapshot's W1 is measured against (the same for every model,
    and for the floor at the snapshots' sample size)."""
    return metric_space(test[subset(len(test), n, seed + 2)], meta)


def n_generated(p: EvalParams, meta: DataMeta) -> int:
    """Generated samples per model: `eval.n_samples`, but no more than the training split has, so the
    real-data floor (training samples in their place) is measured with the same sample size."""
    return min(p.n_samples, meta.n_train)


def rounded(v: float, digits: int = 6) -> float:
    """Six significant digits: the metrics files stay readable and diff-stable."""
    return float(f"{v:.{digits}g}")


def _inception_fid(fake: Tensor, ref: Reference, batch_size: int) -> Optional[float]:
    if not ref.inception.available or ref.inception_net is None:
        return None  # unavailable: InceptionInfo.reason says why; never a substitute number
    f = feat.inception_features(ref.inception_net, to_unit_interval(fake.clone()), batch_size)
    return metrics.frechet_distance(*metrics.gaussian_stats(f, "generated images"), ref.inception_mu,
                                    ref.inception_sigma)


def _modes(x_fake: np.ndarray, meta: DataMeta, p: EvalParams) -> tuple[metrics.ModeCoverage, ModeInfo]:
    cov = metrics.mode_coverage(x_fake, np.asarray(meta.centers), meta.std, p.mode_n_std, p.mode_min_fraction)
    return cov, ModeInfo(cov.modes_total, cov.min_count, list(cov.counts), p.mode_n_std, p.mode_min_fraction)


def sample_scores(fake: Tensor, pool: Tensor, ref: Reference, meta: DataMeta, p: EvalParams,
                  seed: int) -> tuple[SampleScores, Measurement]:
    """Every distance of `fake` to the held-out split, and how each was measured.

    `pool` supplies the extra samples the sliced W1 uses (more of the
    generator's for a model, the training split for the floor).
    """
    real_idx, real_feats, real_radii = ref.held_out(p.n_samples, seed + 1, p.pr_k)
    x_fake, x_real = metric_space(fake, meta), metric_space(ref.test[real_idx], meta)
    x_pool = metric_space(pool, meta)
    fake_feats = ref.domain(fake)
    fid_domain = metrics.frechet_distance(*metrics.gaussian_stats(fake_feats, "generated samples"),
                                          ref.domain_mu, ref.domain_sigma)
    # the same held-out subset as W1's, in the domain FID's feature space
    pr = metrics.precision_recall(real_feats, fake_feats, p.pr_k, real_radii=real_radii)
    scores = SampleScores(
        w1=rounded(metrics.w1_exact(x_fake, x_real)),
        w1_sliced=rounded(metrics.w1_sliced(x_pool, metric_space(ref.test, meta), p.sliced_projections, seed)),
        fid_domain=rounded(fid_domain),
        precision=rounded(pr.precision), recall=rounded(pr.recall),
    )
    how = Measurement(
        n_generated=len(x_fake), n_real=len(x_real),
        space="pixels in [0, 1]" if meta.kind == "images" else "coordinates",
        sliced_n_generated=len(x_pool), sliced_n_real=len(ref.test), projections=p.sliced_projections,
        domain_features=ref.domain_features, domain_dims=fake_feats.shape[1], domain_n_real=len(ref.test),
        classifier_test_accuracy=ref.classifier_test_accuracy, classifier_arch=ref.classifier_arch, pr_k=p.pr_k,
    )
    if meta.kind == "images":
        fid = _inception_fid(fake, ref, p.inception.batch_size)
        scores.fid_inception = None if fid is None else rounded(fid)
        how.inception = ref.inception
    else:
        cov, how.modes = _modes(x_fake, meta, p)
        scores.modes_covered = cov.modes_covered
        scores.high_quality_pct = rounded(round(100 * cov.high_quality_share, 2))
        kl = metrics.mode_kl(cov.counts)
        scores.mode_kl = None if not np.isfinite(kl) else rounded(kl)
    return scores, how
