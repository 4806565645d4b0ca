"""Evaluation metrics as small pure functions, each with its formula and paper.

Arrays in, numbers out: numpy float64 (pytorch-fid and POT work in numpy).
Nothing here knows about models, files or params; `pipeline.evaluation.evaluate` feeds
them samples and features.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import numpy as np


class SampleSizeError(ValueError):
    """Too few samples for the feature dimension; the message says what to change."""


# --- Frechet distance (FID) ------------------------------------------------------


def gaussian_stats(features: np.ndarray, what: str = "samples") -> tuple[np.ndarray, np.ndarray]:
    """Mean and unbiased covariance of `features` (N, d): the Gaussian that FID fits.

    Refuses N <= d: a covariance of N samples has rank at most N - 1 < d, so
    the matrix square root in the Frechet distance is of a singular matrix and
    the number depends on pytorch-fid's regulariser rather than on the data.
    """
    features = np.asarray(features, dtype=np.float64)
    if features.ndim != 2:
        raise ValueError(f"features must be (N, d), got shape {features.shape}")
    n, d = features.shape
    if n <= d:
        raise SampleSizeError(
            f"{n} {what} for {d}-dimensional features: a Frechet distance needs more samples than "
            f"feature dimensions (the covariance would be singular)"
        )
    return features.mean(0), np.cov(features, rowvar=False)


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """d^2 = ||mu1 - mu2||^2 + Tr(S1 + S2 - 2 (S1 S2)^(1/2))

    The Frechet (W2) distance between N(mu1, S1) and N(mu2, S2) (Dowson &
    Landau 1982); on Inception pool features it is the FID of Heusel et al.
    2017 (eq. 6). Computed by pytorch-fid's own `calculate_frechet_distance`.
    """
    from pytorch_fid.fid_score import calculate_frechet_distance  # imports torchvision: only when needed

    return float(calculate_frechet_distance(np.atleast_1d(mu1), np.atleast_2d(sigma1),
                                            np.atleast_1d(mu2), np.atleast_2d(sigma2)))


def fid_from_features(fake: np.ndarray, real: np.ndarray) -> float:
    """Frechet distance between the Gaussians fitted to two feature sets."""
    return frechet_distance(*gaussian_stats(fake, "generated samples"), *gaussian_stats(real, "real samples"))


# --- Wasserstein-1 ---------------------------------------------------------------


def w1_exact(x: np.ndarray, y: np.ndarray, max_iter: int = 50_000_000) -> float:
    """W1(P_x, P_y) = min_{pi in Pi(a, b)} sum_ij pi_ij ||x_i - y_j||_2, a, b uniform.

    The exact empirical Wasserstein-1 distance (Villani 2009, Def. 6.1; the
    distance WGAN's critic estimates, Arjovsky et al. 2017, eq. 1), solved by
    POT's network simplex `ot.emd2`. The ground cost is the Euclidean distance,
    not POT's default squared Euclidean (which would give W2^2). Samples of
    different sizes are fine (uniform weights on each side). Raises if the
    solver stops before optimality, so the number is never an approximation.
    """
    import ot

    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    cost = ot.dist(x.reshape(len(x), -1), y.reshape(len(y), -1), metric="euclidean")
    value, log = ot.emd2(ot.unif(len(x)), ot.unif(len(y)), cost, numItermax=max_iter, log=True)
    if log.get("warning"):
        raise RuntimeError(f"exact W1 not reached: {log['warning']}")
    return float(value)


def w1_sliced(x: np.ndarray, y: np.ndarray, projections: int, seed: int = 0) -> float:
    """SW1(P_x, P_y) = E_{theta ~ U(S^{d-1})} W1(theta^T x, theta^T y), by Monte Carlo over `projections` directions.

    Sliced Wasserstein (Rabin et al. 2011; Bonneel et al. 2015): each 1D W1 is
    exact from sorted samples, so it scales to large n where `w1_exact`'s
    O(n^3) simplex does not. SW1 <= W1; it is a different number, never a
    stand-in for W1. POT's `ot.sliced_wasserstein_distance` with p=1.
    """
    import ot

    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    return float(ot.sliced_wasserstein_distance(x.reshape(len(x), -1), y.reshape(len(y), -1),
                                                n_projections=projections, p=1, seed=seed))


# --- precision and recall (Kynkaanniemi et al. 2019) -----------------------------


@dataclass(frozen=True)
class PrecisionRecall:
    precision: float  # share of the generated samples inside the real manifold, in [0, 1]
    recall: float  # share of the real samples inside the generated manifold, in [0, 1]
    k: int


def _distances(a: np.ndarray, b: np.ndarray, chunk: int):
    """(rows of a, their Euclidean distances to every row of b), `chunk` rows of a at a time.

    scipy's cdist takes the difference of each pair, so a point's distance to itself is exactly 0
    (the expansion |a|^2 + |b|^2 - 2ab would leave rounding noise there)."""
    from scipy.spatial.distance import cdist

    for i in range(0, len(a), chunk):
        yield slice(i, i + chunk), cdist(a[i:i + chunk], b, "euclidean")


def knn_radii(x: np.ndarray, k: int, chunk: int = 1024) -> np.ndarray:
    """(N,) distance from each row of x to its k-th nearest neighbour among the other rows."""
    out = np.empty(len(x))
    for rows, d in _distances(x, x, chunk):
        out[rows] = np.partition(d, k, axis=1)[:, k]  # index 0 is the point itself (distance 0)
    return out


def inside_manifold(query: np.ndarray, support: np.ndarray, radii: np.ndarray, chunk: int = 1024) -> np.ndarray:
    """(Q,) bool: f(q, support) = 1 when ||q - s|| <= radius(s) for at least one s in support."""
    out = np.empty(len(query), bool)
    for rows, d in _distances(query, support, chunk):
        out[rows] = (d <= radii[None, :]).any(1)
    return out


def _feature_rows(x: np.ndarray, what: str, k: int) -> np.ndarray:
    x = np.asarray(x, np.float64)
    x = x.reshape(len(x), -1)
    if len(x) <= k:
        raise SampleSizeError(f"{len(x)} {what} for k = {k}: a k-th nearest neighbour needs at least k + 1 samples "
                              "(lower eval.pr_k)")
    return x


def precision_recall(real: np.ndarray, fake: np.ndarray, k: int = 3, chunk: int = 1024,
                     real_radii: Optional[np.ndarray] = None) -> PrecisionRecall:
    """precision = (1/|G|) sum_{g in G} f(g, R),  recall = (1/|R|) sum_{r in R} f(r, G),
    f(x, S) = 1 if ||x - s||_2 <= ||s - NN_k(s)||_2 for at least one s in S, else 0

    Improved precision and recall (Kynkaanniemi, Karras, Laine, Lehtinen & Aila 2019, "Improved
    Precision and Recall Metric for Assessing Generative Models", NeurIPS, section 2): each set's
    manifold is the union of balls around its points, each reaching that point's k-th nearest
    neighbour in its own set (NN_k, the point itself not counted); precision is the share of the
    generated samples G inside the real manifold, recall the share of the real samples R inside the
    generated one. Identical sets give 1 and 1; a generator that reproduces half of the modes
    faithfully gives precision about 1 and recall about 1/2. The paper uses k = 3 on VGG-16
    features of 50,000 images a side; both numbers depend on k, on the two sample sizes and on the
    feature space, so read them against real data measured alike. An outlier's large k-NN ball can
    take in points far from the rest of its set, which inflates the other set's score (Naeem et al.
    2020, "Reliable Fidelity and Diversity Metrics for Generative Models").
    Rows are feature vectors (anything after the first axis is flattened); exact distances, in
    `chunk`-row blocks, so memory is chunk x max(|R|, |G|) floats. `real_radii`: `knn_radii(real, k)`
    when the caller already has them (one real set scored against many generated ones).
    """
    real, fake = _feature_rows(real, "real samples", k), _feature_rows(fake, "generated samples", k)
    if real.shape[1] != fake.shape[1]:
        raise ValueError(f"real and generated features differ in dimension: {real.shape[1]} vs {fake.shape[1]}")
    if real_radii is None:
        real_radii = knn_radii(real, k, chunk)
    elif real_radii.shape != (len(real),):
        raise ValueError(f"real_radii has shape {real_radii.shape}, expected ({len(real)},)")
    precision = inside_manifold(fake, real, real_radii, chunk).mean()
    recall = inside_manifold(real, fake, knn_radii(fake, k, chunk), chunk).mean()
    return PrecisionRecall(float(precision), float(recall), k)


# --- mode coverage on 2D mixtures (VEEGAN, PacGAN) -------------------------------


@dataclass(frozen=True)
class ModeCoverage:
    modes_covered: int  # modes with at least `min_count` high-quality samples
    modes_total: int
    high_quality_share: float  # in [0, 1]
    min_count: int  # the threshold that was applied
    counts: list[int]  # high-quality samples registered to each mode


def mode_coverage(x: np.ndarray, centers: np.ndarray, std: float, n_std: float = 3.0,
                  min_fraction: float = 0.2) -> ModeCoverage:
    """Modes covered and the share of high-quality samples of a 2D mixture.

    A sample is high quality when it lies within `n_std` standard deviations
    of its nearest mode centre (Srivastava et al. 2017, VEEGAN, section 5.1);
    it is registered to that mode. A mode counts as covered when it holds at
    least `min_fraction` of the N / K samples a perfect generator would put
    there: PacGAN (Lin et al. 2018, section 5.1) calls a mode lost below 20 of
    the expected 100 (2,500 samples over 25 modes), i.e. min_fraction = 0.2.
    """
    x, centers = np.asarray(x, np.float64), np.asarray(centers, np.float64)
    dist = np.linalg.norm(x[:, None, :] - centers[None, :, :], axis=-1)  # (N, K)
    nearest = dist.argmin(1)
    good = dist[np.arange(len(x)), nearest] <= n_std * std
    counts = np.bincount(nearest[good], minlength=len(centers))
    min_count = max(1, math.ceil(min_fraction * len(x) / len(centers)))
    return ModeCoverage(
        modes_covered=int((counts >= min_count).sum()),
        modes_total=len(centers),
        high_quality_share=float(good.mean()) if len(x) else 0.0,
        min_count=min_count,
        counts=counts.tolist(),
    )


def mode_kl(counts: list[int]) -> float:
    """KL(p_gen || uniform) in nats between the generated mode histogram and the true one (all modes
    equally likely): PacGAN's "reverse KL" (Lin et al. 2018, section 5.1, Table 2), sum_k p_k log(K p_k)
    over the high-quality samples' modes, 0 log 0 = 0. 0 for a perfect balance; log K when every
    high-quality sample sits on one mode; undefined (NaN) with no high-quality sample at all.
    """
    c = np.asarray(counts, np.float64)
    if c.sum() == 0:
        return math.nan
    p = c[c > 0] / c.sum()
    return float((p * np.log(len(c) * p)).sum())


# --- importance-sampled log-likelihood -------------------------------------------


@dataclass(frozen=True)
class LogLikelihood:
    mean: float  # average log p(x) over the test points (nats)
    stderr: float  # standard error of that average over the test points
    ess_fraction: float  # mean effective sample size / K: a check on the proposal
    per_point: np.ndarray  # (B,)


def importance_log_likelihood(log_w: np.ndarray) -> LogLikelihood:
    """log p(x) ~= log (1/K) sum_k w_k,  w_k = p(x, z_k) / r(z_k | x),  z_k ~ r(.|x)

    The importance-sampling estimate (Burda et al. 2016, IWAE bound, eq. 8;
    Wu et al. 2017 use it to compare decoder-based models). `log_w` is (K, B):
    K log weights for each of B points. In expectation it is a lower bound on
    log p(x) that tightens as K grows. The effective sample size
    (sum w)^2 / sum w^2 (Kong 1992) says how many draws carried the estimate.
    """
    from scipy.special import logsumexp

    log_w = np.asarray(log_w, np.float64)
    k = log_w.shape[0]
    per_point = logsumexp(log_w, axis=0) - math.log(k)
    ess = np.exp(2 * logsumexp(log_w, axis=0) - logsumexp(2 * log_w, axis=0))
    b = len(per_point)
    stderr = float(per_point.std(ddof=1) / math.sqrt(b)) if b > 1 else float("nan")
    return LogLikelihood(float(per_point.mean()), stderr, float(ess.mean() / k), per_point)


# --- does a training estimate track the real distance? ----------------------------


@dataclass(frozen=True)
class Correlation:
    pearson: Optional[float]
    spearman: Optional[float]
    n: int


def correlation(a: np.ndarray, b: np.ndarray) -> Correlation:
    """Pearson's r and Spearman's rho between paired values; None where undefined
    (fewer than 3 pairs, or a constant series).

    Used for the WGAN paper's claim (Arjovsky et al. 2017, section 4.2,
    Figure 3) that the critic's estimate correlates with sample quality.
    """
    from scipy import stats

    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    keep = np.isfinite(a) & np.isfinite(b)
    a, b = a[keep], b[keep]
    if len(a) < 3 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return Correlation(None, None, int(len(a)))
    return Correlation(float(stats.pearsonr(a, b)[0]), float(stats.spearmanr(a, b)[0]), int(len(a)))
