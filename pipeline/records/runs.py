"""The records of the training runs: training (TrainRecord), evaluation (EvalRecord and its parts) and
the real data's floor (RealRecord). The base, and what a record guarantees, in pipeline/records/base.py."""

from __future__ import annotations

import math
from typing import Optional

from pipeline.records.base import Float, Record


# --- training ------------------------------------------------------------------------


class TrainRecord(Record):
    """train -> evaluate, report: how one model's training went (a description, not a DVC metric)."""

    model: str
    dataset: str
    seed: int
    status: str  # "ok" or "diverged"
    steps: int  # generator steps kept: all of them, or up to the last log row with finite losses and weights
    inner_steps: int  # discriminator / critic / adversary steps of those
    seconds: Float  # training time, summed over a run resumed after a kill
    device: str
    message: str = ""  # why it diverged, where: "diverged at generator step N: <loss> became nan"
    # the compute (pipeline/training/budget.py): matmul FLOPs of the steps kept, the data set's budget, the steps it
    # allows, one inner and one outer update's FLOPs, and the shared compute points with their snapshot steps
    flops: int = 0
    budget_gflop: Float = 0.0
    planned_steps: int = 0
    flops_inner: int = 0
    flops_outer: int = 0
    points_gflop: list[Float] = []
    snapshot_steps: list[int] = []
    # what was in force (None: a record from before these were kept)
    threads: Optional[int] = None  # torch.get_num_threads()
    deterministic: Optional[bool] = None  # torch.are_deterministic_algorithms_enabled()
    torch: Optional[str] = None  # torch.__version__
    cpu: Optional[str] = None  # model and torch's kernel set (pipeline/training/loop.py cpu_name): another CPU, other bytes

    @property
    def ok(self) -> bool:
        return self.status == "ok"


# --- evaluation ----------------------------------------------------------------------


class SampleScores(Record):
    """Distances of one sample set to the held-out split: a model's samples, or the real
    training split's (the floor). Lower is better for every distance; higher for precision and recall."""

    w1: Float  # exact Wasserstein-1, POT emd2, Euclidean cost
    w1_sliced: Float
    fid_domain: Float  # Frechet distance on the domain features (coordinates / a classifier)
    fid_inception: Optional[Float] = None  # images; None when unavailable (InceptionInfo says why)
    modes_covered: Optional[int] = None  # 2-D mixtures
    high_quality_pct: Optional[Float] = None  # 2-D mixtures: share within n_std of a mode
    mode_kl: Optional[Float] = None  # 2-D mixtures: KL(generated mode histogram || uniform), nats (PacGAN)
    # Kynkaanniemi et al. 2019, on the domain features (None: a record from before they were measured)
    precision: Optional[Float] = None  # share of the samples inside the held-out split's k-NN manifold
    recall: Optional[Float] = None  # share of the held-out samples inside the samples' k-NN manifold

    def metrics(self) -> dict[str, float]:
        return {k: v for k, v in self.to_json().items() if v is not None}


class InceptionInfo(Record):
    available: bool
    reason: str = ""  # why not, and where to put the weights
    dims: int = 2048
    n_real: int = 0
    weights_source: str = ""  # params / env / cache / download
    weights_sha256: str = ""


class ModeInfo(Record):
    modes_total: int
    min_count: int  # samples a mode needs to count as covered
    counts: list[int]  # high-quality samples per mode
    n_std: Float
    min_fraction: Float


class Measurement(Record):
    """How SampleScores were made: sample sizes, spaces, features."""

    n_generated: int  # exact W1 and the Frechet distances
    n_real: int
    space: str  # where W1 is measured
    sliced_n_generated: int
    sliced_n_real: int
    projections: int
    domain_features: str  # "coordinates" or "classifier"
    domain_dims: int
    domain_n_real: int
    classifier_test_accuracy: Optional[Float] = None  # images: the domain classifier's, on the held-out split
    classifier_arch: Optional[str] = None  # images: "mlp" or "cnn" (pipeline/evaluation/features.py)
    pr_k: Optional[int] = None  # precision and recall: k of the k-NN manifolds, on the domain features
    inception: Optional[InceptionInfo] = None
    modes: Optional[ModeInfo] = None
    ground_cost: str = "euclidean"


class AisEstimate(Record):
    """Annealed importance sampling of log p(x): a stochastic lower bound in expectation."""

    loglik: Float  # mean over `points`, nats per sample
    stderr: Float  # over points
    points: int
    chains: int
    steps: int
    leapfrog: int
    acceptance: Float  # HMC acceptance, averaged
    ess_fraction: Float  # effective sample size of the final weights / chains
    elbo: Optional[Float] = None  # the ELBO on the same `points` (the gap to AIS is then paired per point)
    # BDMC on `bdmc_points` simulated from the model, same settings: mean forward (lower) and reverse
    # (upper) AIS; log p(x) of such points lies between them in expectation
    bdmc_points: int = 0
    bdmc_lower: Optional[Float] = None
    bdmc_upper: Optional[Float] = None

    @property
    def bdmc_gap(self) -> Optional[float]:
        return None if self.bdmc_lower is None or self.bdmc_upper is None else self.bdmc_upper - self.bdmc_lower


class Likelihood(Record):
    """Test-split ELBO and importance-sampled log p(x) of a latent model, nats per sample."""

    elbo: Float
    elbo_se: Float
    loglik: Float
    loglik_se: Float
    ess_fraction: Float  # effective sample size / K of the proposal
    points: int
    samples: int  # K
    std_scale: Float
    units: str
    ais: Optional[AisEstimate] = None  # when eval.ais.enabled


class EstimateVsW1(Record):
    """The training log's estimate against the exact W1 at the generator snapshots."""

    estimate: str  # the log column (registry: ModelSpec.estimate)
    pearson: Optional[Float]
    spearman: Optional[Float]
    snapshots: int  # usable (finite) snapshot pairs
    n_samples: int
    # the same over the snapshots of the last 90% of training (step >= late_from): the critic (or
    # discriminator) starts untrained, and its estimate rises while W1 falls until it catches up
    spearman_late: Optional[Float] = None
    snapshots_late: int = 0
    late_from: int = 0


class SnapshotW1(Record):
    """One generator snapshot: the exact W1 of its samples and the training log's estimate there."""

    step: int
    w1: Float
    estimate: Float
    gflop: Float = math.nan  # the compute point it stands for (the same for every model on the data set)


class Convergence(Record):
    """pipeline/evaluation/convergence.py: the run's state at the budget, from the fitted change of its snapshots' W1
    over the second half of the budget against one tolerance for every model on the data set."""

    state: str  # "settled", "improving", "worse" or "diverged" (convergence.STATES says them in words)
    change: Optional[Float]  # signed fitted W1 change over the window; None: too few finite snapshots
    tolerance: Float
    window_from: Float  # GFLOP where the window starts
    points: int  # snapshots in the window


class EvalRecord(Record):
    """evaluate -> summary, plot, report: every number about one trained run (one model, one seed)."""

    model: str
    dataset: str
    kind: str  # "points" or "images"
    seed: int  # the training seed; the evaluation's own draws (test points, noise) use params `seed` for every run
    status: str  # "ok" or "diverged" (in training, or non-finite samples)
    message: str
    train_steps: int
    estimate_vs_w1: EstimateVsW1
    device: str
    versions: dict[str, str]
    seconds: Float
    scores: Optional[SampleScores] = None  # None when diverged
    how: Optional[Measurement] = None
    likelihood: Optional[Likelihood] = None  # latent models
    trajectory: list[SnapshotW1] = []
    convergence: Optional[Convergence] = None
    # the training's compute and time (TrainRecord), beside the numbers they bought
    flops: int = 0
    budget_gflop: Float = 0.0
    train_seconds: Float = 0.0
    train_cpu: Optional[str] = None  # where train_seconds were spent (TrainRecord.cpu)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def converged(self) -> bool:
        """Settled at the budget (pipeline/evaluation/convergence.py)."""
        return self.ok and self.convergence is not None and self.convergence.state == "settled"

    @property
    def state(self) -> str:
        return "diverged" if not self.ok else self.convergence.state if self.convergence else "worse"

    def metrics(self) -> dict[str, float]:
        """The numbers `metrics/summary.json` shows for this model (none when it diverged)."""
        if not self.ok or self.scores is None:
            return {}
        out = self.scores.metrics()
        if self.likelihood is not None:
            out |= {"elbo": self.likelihood.elbo, "loglik": self.likelihood.loglik}
            if self.likelihood.ais is not None:
                out["loglik_ais"] = self.likelihood.ais.loglik
        if self.estimate_vs_w1.spearman is not None:
            out["estimate_w1_spearman"] = self.estimate_vs_w1.spearman
        return out


class SnapshotFloor(Record):
    """The exact W1 at the generator snapshots' sample size of what is not a model: real training samples
    (the floor; mean and sd over `draws` subsets) and each baseline, against the snapshots' held-out subset.
    The curves' reference lines, and the scale of the run-state tolerance (pipeline/evaluation/convergence.py)."""

    n_samples: int
    draws: int
    w1: Float  # mean over the draws
    w1_sd: Float  # sample sd over the draws: how much one snapshot's W1 moves by sampling alone
    baselines: dict[str, Float] = {}


class RealRecord(Record):
    """real_stats -> summary, report: the real-data floor and the domain classifier."""

    dataset: str
    kind: str
    n_train: int
    n_test: int
    n_train_used: int  # training samples standing in for generated ones in the floor
    floor: SampleScores
    how: Measurement
    # reference generators measured like a model, e.g. "uniform on the circle" for ring8: what a
    # score is worth when it is reached without learning the modes
    baselines: dict[str, SampleScores] = {}
    classifier_seconds: Optional[Float] = None  # images: the domain classifier's training time
    snapshot_floor: Optional[SnapshotFloor] = None
