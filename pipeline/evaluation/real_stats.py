"""The real-data side of every comparison, computed once per data set.

The held-out split's feature statistics (domain features: raw coordinates for
2-D points, a small classifier trained on the training split for images; and
pytorch-fid's Inception when its weights are there), and the floor: the same
distances between the real training split and the held-out split, i.e. what
a perfect generator scores with these sample sizes.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Optional

import numpy as np
import torch
from torch import Tensor

from pipeline.evaluation import features as feat
from pipeline.evaluation import metrics
from pipeline.config import ClassifierParams, EvalParams, InceptionParams
from pipeline.data.datasets import DataMeta, Prepared, to_model_space, to_unit_interval
from pipeline.records import InceptionInfo, RealRecord, SnapshotFloor
from pipeline.evaluation.scores import Reference, metric_space, n_generated, sample_scores, snapshot_reference, subset


@dataclass
class RealStats:
    """data/real_stats/<ds>/stats.pt: tensors and plain values only (loads with weights_only=True)."""

    dataset: str
    domain_features: str  # "coordinates" or "classifier"
    domain_mu: Tensor
    domain_sigma: Tensor
    inception: InceptionInfo
    inception_mu: Optional[Tensor] = None
    inception_sigma: Optional[Tensor] = None
    classifier: Optional[dict] = None  # arch, shape, channels, hidden, features, classes, test_accuracy, seconds, state

    def to_state(self) -> dict:
        return {**self.__dict__, "inception": self.inception.to_json()}

    @classmethod
    def from_state(cls, d: dict) -> "RealStats":
        return cls(**(d | {"inception": InceptionInfo.from_json(d["inception"])}))

    def reference(self, test: Tensor, device: torch.device, inception_net=None) -> Reference:
        """The evaluation's view: extractor and statistics of the held-out split `test` (model space)."""
        c = self.classifier or {}
        return Reference(test, domain_extractor(self.classifier, device), self.domain_features,
                         self.domain_mu.numpy(), self.domain_sigma.numpy(), self.inception, inception_net,
                         None if self.inception_mu is None else self.inception_mu.numpy(),
                         None if self.inception_sigma is None else self.inception_sigma.numpy(),
                         c.get("test_accuracy"), c.get("arch"))


def domain_extractor(classifier: Optional[dict], device: torch.device):
    """x in model space -> (N, d) features for the domain Frechet distance."""
    if classifier is None:  # 2-D mixtures: the raw coordinates
        return lambda x: x.detach().double().cpu().flatten(1).numpy()
    c = classifier
    clf = feat.build_classifier(c["arch"], tuple(c["shape"]), hidden=c["hidden"], features=c["features"],
                                classes=c["classes"], channels=c["channels"])
    clf.load_state_dict(c["state"])
    clf.to(device).eval()
    return lambda x: feat.classifier_features(clf, x.to(device))


def train_domain_classifier(prepared: Prepared, c: ClassifierParams, seed: int, device: torch.device) -> dict:
    """The domain classifier trained on the training split (`c` as it applies to this data set), its
    held-out accuracy and training time: what `RealStats.classifier` keeps."""
    meta = prepared.meta
    train, test = to_model_space(prepared.train_x, meta), to_model_space(prepared.test_x, meta)
    torch.manual_seed(seed)
    config = dict(arch=c.arch, shape=list(meta.shape), channels=c.channels, hidden=c.hidden, features=c.features,
                  classes=meta.num_classes)  # what `domain_extractor` rebuilds the net from
    clf = feat.build_classifier(c.arch, meta.shape, hidden=c.hidden, features=c.features, classes=meta.num_classes,
                                channels=c.channels).to(device)
    t0 = time.perf_counter()
    feat.train_classifier(train.to(device), prepared.train_y.to(device), clf, epochs=c.epochs,
                          batch_size=c.batch_size, lr=c.lr, seed=seed)
    seconds = round(time.perf_counter() - t0, 2)
    acc = feat.accuracy(clf, test.to(device), prepared.test_y.to(device))
    return config | {"epochs": c.epochs, "test_accuracy": acc, "seconds": seconds,
                   "state": {k: v.cpu() for k, v in clf.state_dict().items()}}


def _inception_stats(images01: Tensor, p: InceptionParams, device) -> tuple[InceptionInfo, dict]:
    """Inception mean/covariance of the real test images (and the net), or why they cannot be had."""
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
        return InceptionInfo(False, "; ".join(reasons), p.dims), {}
    net = feat.load_inception(lookup.path, p.dims, device)
    mu, sigma = metrics.gaussian_stats(feat.inception_features(net, images01, p.batch_size), "real images")
    info = InceptionInfo(True, "", p.dims, len(images01), lookup.source, feat.sha256_prefix(lookup.path))
    return info, {"inception_mu": torch.from_numpy(mu), "inception_sigma": torch.from_numpy(sigma), "net": net}


def baseline_samples(meta: DataMeta, n: int, seed: int) -> dict[str, Tensor]:
    """Generators that know the data's support but not its modes, to read a 2-D score against.

    Modes on a circle (ring8): uniform on that circle, which covers every mode and puts about
    2 * n_std * std * K / (2 pi r) of its samples near one (38% on the default ring8) without
    learning anything. Other mixtures (grid25): uniform on the modes' bounding box.
    """
    if meta.kind != "points":
        return {}
    g = torch.Generator().manual_seed(seed)
    c = torch.tensor(meta.centers, dtype=torch.float64)
    r = c.norm(dim=1)
    if torch.allclose(r, r[0].expand_as(r)):
        angle = 2 * math.pi * torch.rand(n, generator=g, dtype=torch.float64)
        return {"uniform on the circle": (r[0] * torch.stack([angle.cos(), angle.sin()], 1)).float()}
    lo, hi = c.min(0).values, c.max(0).values
    return {"uniform on the modes' bounding box": (lo + (hi - lo) * torch.rand(n, 2, generator=g,
                                                                              dtype=torch.float64)).float()}


def real_statistics(prepared: Prepared, p: EvalParams, seed: int, device: torch.device) -> tuple[RealStats, RealRecord]:
    """The held-out split's statistics, and the floor measured with the models' sample sizes."""
    meta = prepared.meta
    classifier, inception, extra = None, InceptionInfo(False, "2-D points: no images", p.inception.dims), {}
    if meta.kind == "images":
        classifier = train_domain_classifier(prepared, p.classifier.for_dataset(meta.name), seed, device)
    test = to_model_space(prepared.test_x, meta)
    train = to_model_space(prepared.train_x, meta)
    if meta.kind == "images":
        inception, extra = _inception_stats(to_unit_interval(test.clone()), p.inception, device)
    net = extra.pop("net", None)
    test_feats = domain_extractor(classifier, device)(test)
    mu, sigma = metrics.gaussian_stats(test_feats, f"held-out {meta.name} samples")
    stats = RealStats(meta.name, "classifier" if classifier else "coordinates", torch.from_numpy(mu),
                      torch.from_numpy(sigma), inception, classifier=classifier, **extra)

    # The floor: real training samples where the generated ones go, as many as a model gets.
    n = n_generated(p, meta)
    pick = subset(len(train), n, seed)
    ref = stats.reference(test, device, net)
    pool = train[subset(len(train), p.sliced_samples, seed)]  # the sliced W1's pool: as many as a model's
    floor, how = sample_scores(train[pick], pool, ref, meta, p, seed)
    baselines = {name: sample_scores(x[:n], x[: p.sliced_samples], ref, meta, p, seed)[0]
                 for name, x in baseline_samples(meta, max(n, p.sliced_samples), seed).items()}
    record = RealRecord(meta.name, meta.kind, len(train), len(test), len(pick), floor, how, baselines,
                        classifier_seconds=classifier["seconds"] if classifier else None,
                        snapshot_floor=snapshot_floor(train, test, meta, p.snapshot_samples,
                                                      max(p.snapshot_noise_draws, 2), seed))
    return stats, record


def snapshot_floor(train: Tensor, test: Tensor, meta: DataMeta, n: int, draws: int, seed: int) -> SnapshotFloor:
    """W1 of `draws` subsets of n training samples, and of each baseline's n samples, against the
    snapshots' held-out subset: where a perfect generator's and a know-nothing generator's curves would lie."""
    real = snapshot_reference(test, meta, n, seed)
    w1 = [metrics.w1_exact(metric_space(train[subset(len(train), n, seed + 100 + k)], meta), real)
          for k in range(draws)]
    base = {name: round(metrics.w1_exact(metric_space(x, meta), real), 6)
            for name, x in baseline_samples(meta, n, seed + 1).items()}
    return SnapshotFloor(n, draws, round(float(np.mean(w1)), 6), round(float(np.std(w1, ddof=1)), 6), base)
