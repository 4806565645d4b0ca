"""What each stage writes and the next one reads, as typed records.

A record is a dataclass: its producer builds it, `to_json` writes it, and its
consumer gets it back with `from_json` and reads attributes. A field's name
is spelled once, here; a file that does not match its record (a missing or
unknown field) fails on reading with one line naming the field and the file,
not with a KeyError three stages later.

Floats that are not finite are written as null (standard JSON) and read back
as NaN where the field is a `float`; an `Optional` field's null stays None
("does not apply").
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from pathlib import Path
from typing import Any, Optional, TypeVar, Union

R = TypeVar("R", bound="Record")


class RecordError(ValueError):
    """A JSON file that does not match the record it should hold."""


def _plain(v: Any) -> Any:
    """A JSON-ready copy: records and dicts recursively, NaN/inf -> None, tuples -> lists."""
    if isinstance(v, Record):
        return {f.name: _plain(getattr(v, f.name)) for f in dataclasses.fields(v)}
    if isinstance(v, dict):
        return {str(k): _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def _build(tp: Any, v: Any, where: str) -> Any:
    """`v` (parsed JSON) as type `tp`: nested records, lists, dicts and optionals rebuilt."""
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if v is None:  # Optional[...]: None means "does not apply"; a plain float's null is NaN
            return None
        return _build(args[0], v, where) if len(args) == 1 else v
    if isinstance(tp, type) and issubclass(tp, Record):
        if not isinstance(v, dict):
            raise RecordError(f"{where}: expected an object for {tp.__name__}, got {type(v).__name__}")
        return tp._from_dict(v, where)
    if origin in (list, tuple):
        (arg, *_) = typing.get_args(tp) or (Any,)
        items = [_build(arg, x, f"{where}[{i}]") for i, x in enumerate(v)]
        return tuple(items) if origin is tuple else items
    if origin is dict:
        _, arg = typing.get_args(tp) or (Any, Any)
        return {k: _build(arg, x, f"{where}.{k}") for k, x in v.items()}
    if tp is float:
        return math.nan if v is None else float(v)
    return v


@dataclasses.dataclass
class Record:
    """Base of every record: JSON in and out, strict about field names."""

    def to_json(self) -> dict:
        return _plain(self)

    @classmethod
    def from_json(cls: type[R], d: dict, source: str = "") -> R:
        return cls._from_dict(d, source or cls.__name__)

    @classmethod
    def _from_dict(cls: type[R], d: dict, where: str) -> R:
        hints = typing.get_type_hints(cls)
        fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
        unknown = sorted(set(d) - set(fields))
        if unknown:
            raise RecordError(f"{where}: unknown field(s) {unknown} for {cls.__name__}")
        missing = [n for n, f in fields.items() if n not in d and f.default is dataclasses.MISSING
                   and f.default_factory is dataclasses.MISSING]
        if missing:
            raise RecordError(f"{where}: {cls.__name__} lacks field(s) {missing}")
        return cls(**{k: _build(hints[k], v, f"{where}.{k}") for k, v in d.items()})

    def write(self, path: Path) -> None:
        from pipeline.io import write_json

        write_json(Path(path), self.to_json())

    @classmethod
    def read(cls: type[R], path: Path) -> R:
        from pipeline.io import read_json

        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"{path} is missing (run `dvc repro` for the stage that writes it)")
        return cls.from_json(read_json(path), str(path))


# --- training ------------------------------------------------------------------------


@dataclasses.dataclass
class TrainRecord(Record):
    """train -> evaluate, report: how one model's training went (a description, not a DVC metric)."""

    model: str
    dataset: str
    seed: int
    status: str  # "ok" or "diverged"
    steps: int  # generator steps kept: all of them, or up to the last log row with finite losses and weights
    inner_steps: int  # discriminator / critic / adversary steps of those
    seconds: float  # training time, summed over a run resumed after a kill
    device: str
    message: str = ""  # why it diverged, where: "diverged at generator step N: <loss> became nan"
    # the compute (pipeline/training/budget.py): matmul FLOPs of the steps kept, the data set's budget, the steps it
    # allows, one inner and one outer update's FLOPs, and the shared compute points with their snapshot steps
    flops: int = 0
    budget_gflop: float = 0.0
    planned_steps: int = 0
    flops_inner: int = 0
    flops_outer: int = 0
    points_gflop: list[float] = dataclasses.field(default_factory=list)
    snapshot_steps: list[int] = dataclasses.field(default_factory=list)
    # what was in force (None: a record from before these were kept)
    threads: Optional[int] = None  # torch.get_num_threads()
    deterministic: Optional[bool] = None  # torch.are_deterministic_algorithms_enabled()
    torch: Optional[str] = None  # torch.__version__
    cpu: Optional[str] = None  # model and torch's kernel set (pipeline/training/loop.py cpu_name): another CPU, other bytes

    @property
    def ok(self) -> bool:
        return self.status == "ok"


# --- evaluation ----------------------------------------------------------------------


@dataclasses.dataclass
class SampleScores(Record):
    """Distances of one sample set to the held-out split: a model's samples, or the real
    training split's (the floor). Lower is better for every distance; higher for precision and recall."""

    w1: float  # exact Wasserstein-1, POT emd2, Euclidean cost
    w1_sliced: float
    fid_domain: float  # Frechet distance on the domain features (coordinates / a classifier)
    fid_inception: Optional[float] = None  # images; None when unavailable (InceptionInfo says why)
    modes_covered: Optional[int] = None  # 2-D mixtures
    high_quality_pct: Optional[float] = None  # 2-D mixtures: share within n_std of a mode
    mode_kl: Optional[float] = None  # 2-D mixtures: KL(generated mode histogram || uniform), nats (PacGAN)
    # Kynkaanniemi et al. 2019, on the domain features (None: a record from before they were measured)
    precision: Optional[float] = None  # share of the samples inside the held-out split's k-NN manifold
    recall: Optional[float] = None  # share of the held-out samples inside the samples' k-NN manifold

    def metrics(self) -> dict[str, float]:
        return {k: v for k, v in _plain(self).items() if v is not None}


@dataclasses.dataclass
class InceptionInfo(Record):
    available: bool
    reason: str = ""  # why not, and where to put the weights
    dims: int = 2048
    n_real: int = 0
    weights_source: str = ""  # params / env / cache / download
    weights_sha256: str = ""


@dataclasses.dataclass
class ModeInfo(Record):
    modes_total: int
    min_count: int  # samples a mode needs to count as covered
    counts: list[int]  # high-quality samples per mode
    n_std: float
    min_fraction: float


@dataclasses.dataclass
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
    classifier_test_accuracy: Optional[float] = None  # images: the domain classifier's, on the held-out split
    classifier_arch: Optional[str] = None  # images: "mlp" or "cnn" (pipeline/evaluation/features.py)
    pr_k: Optional[int] = None  # precision and recall: k of the k-NN manifolds, on the domain features
    inception: Optional[InceptionInfo] = None
    modes: Optional[ModeInfo] = None
    ground_cost: str = "euclidean"


@dataclasses.dataclass
class AisEstimate(Record):
    """Annealed importance sampling of log p(x): a stochastic lower bound in expectation."""

    loglik: float  # mean over `points`, nats per sample
    stderr: float  # over points
    points: int
    chains: int
    steps: int
    leapfrog: int
    acceptance: float  # HMC acceptance, averaged
    ess_fraction: float  # effective sample size of the final weights / chains
    elbo: Optional[float] = None  # the ELBO on the same `points` (the gap to AIS is then paired per point)
    # BDMC on `bdmc_points` simulated from the model, same settings: mean forward (lower) and reverse
    # (upper) AIS; log p(x) of such points lies between them in expectation
    bdmc_points: int = 0
    bdmc_lower: Optional[float] = None
    bdmc_upper: Optional[float] = None

    @property
    def bdmc_gap(self) -> Optional[float]:
        return None if self.bdmc_lower is None or self.bdmc_upper is None else self.bdmc_upper - self.bdmc_lower


@dataclasses.dataclass
class Likelihood(Record):
    """Test-split ELBO and importance-sampled log p(x) of a latent model, nats per sample."""

    elbo: float
    elbo_se: float
    loglik: float
    loglik_se: float
    ess_fraction: float  # effective sample size / K of the proposal
    points: int
    samples: int  # K
    std_scale: float
    units: str
    ais: Optional[AisEstimate] = None  # when eval.ais.enabled


@dataclasses.dataclass
class EstimateVsW1(Record):
    """The training log's estimate against the exact W1 at the generator snapshots."""

    estimate: str  # the log column (registry: ModelSpec.estimate)
    pearson: Optional[float]
    spearman: Optional[float]
    snapshots: int  # usable (finite) snapshot pairs
    n_samples: int
    # the same over the snapshots of the last 90% of training (step >= late_from): the critic (or
    # discriminator) starts untrained, and its estimate rises while W1 falls until it catches up
    spearman_late: Optional[float] = None
    snapshots_late: int = 0
    late_from: int = 0


@dataclasses.dataclass
class SnapshotW1(Record):
    """One generator snapshot: the exact W1 of its samples and the training log's estimate there."""

    step: int
    w1: float
    estimate: float
    gflop: float = math.nan  # the compute point it stands for (the same for every model on the data set)


@dataclasses.dataclass
class Convergence(Record):
    """pipeline/evaluation/convergence.py: the run's state at the budget, from the fitted change of its snapshots' W1
    over the second half of the budget against one tolerance for every model on the data set."""

    state: str  # "settled", "improving", "worse" or "diverged" (convergence.STATES says them in words)
    change: Optional[float]  # signed fitted W1 change over the window; None: too few finite snapshots
    tolerance: float
    window_from: float  # GFLOP where the window starts
    points: int  # snapshots in the window


@dataclasses.dataclass
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
    seconds: float
    scores: Optional[SampleScores] = None  # None when diverged
    how: Optional[Measurement] = None
    likelihood: Optional[Likelihood] = None  # latent models
    trajectory: list[SnapshotW1] = dataclasses.field(default_factory=list)
    convergence: Optional[Convergence] = None
    # the training's compute and time (TrainRecord), beside the numbers they bought
    flops: int = 0
    budget_gflop: float = 0.0
    train_seconds: float = 0.0
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


@dataclasses.dataclass
class SnapshotFloor(Record):
    """The exact W1 at the generator snapshots' sample size of what is not a model: real training samples
    (the floor; mean and sd over `draws` subsets) and each baseline, against the snapshots' held-out subset.
    The curves' reference lines, and the scale of the run-state tolerance (pipeline/evaluation/convergence.py)."""

    n_samples: int
    draws: int
    w1: float  # mean over the draws
    w1_sd: float  # sample sd over the draws: how much one snapshot's W1 moves by sampling alone
    baselines: dict[str, float] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
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
    baselines: dict[str, SampleScores] = dataclasses.field(default_factory=dict)
    classifier_seconds: Optional[float] = None  # images: the domain classifier's training time
    snapshot_floor: Optional[SnapshotFloor] = None


def finite_or_none(v: Optional[float]) -> Optional[float]:
    return v if v is not None and math.isfinite(v) else None


# --- theory records
# One per theory part, written by `python -m stages theory <part>` to metrics/theory/<part>.json
# and read back by the theory report. `metrics()`: every scalar result the report states (flat keys;
# the summary nests them under theory.<part>). NaN where undefined (null in the JSON).


@dataclasses.dataclass
class DemoRun(Record):
    """Part 1's learning demo: g_theta(z) = (theta, z) trained from theta = 1 with one generator loss."""

    loss: str  # wgan | minimax | nonsaturating
    thetas: list[float] = dataclasses.field(default_factory=list)  # after each generator step (index 0: the start)
    grad_norms: list[float] = dataclasses.field(default_factory=list)  # |dL_G/dtheta| at each generator step

    @property
    def theta_final(self) -> float:
        return self.thetas[-1]


@dataclasses.dataclass
class LinesResult(Record):
    """Part 1: parallel lines (WGAN Example 1); the analytic curves are functions of `thetas`."""

    thetas: list[float]
    w1_gp: list[float]  # gradient-penalty critic: ~ |theta|
    w1_clip: list[float]  # clipped critic: K(c) * |theta|
    js_gan: list[float]  # (log 4 - L_D) / 2 of a trained discriminator
    clip_scale: float  # least-squares K in w1_clip ~ K |theta|
    w1_rel_error_max: float  # max |w1_gp - |theta|| / |theta| over |theta| >= 0.2
    clip_rel_error_max: float  # the same for w1_clip against K |theta|
    js_min_nonzero: float  # smallest JS estimate at theta != 0
    demos: dict[str, DemoRun]
    seconds: float = 0.0

    def metrics(self) -> dict[str, Optional[float]]:
        mm, ns = self.demos["minimax"], self.demos.get("nonsaturating")
        at = lambda v, i: finite_or_none(v[i]) if v else None  # noqa: E731  (an empty list: None)
        return {
            "w1_rel_error_max": finite_or_none(self.w1_rel_error_max),
            "clip_rel_error_max": finite_or_none(self.clip_rel_error_max),
            "js_min_nonzero": finite_or_none(self.js_min_nonzero),
            "wgan_theta_final": finite_or_none(self.demos["wgan"].theta_final),
            "minimax_theta_final": finite_or_none(self.demos["minimax"].theta_final),
            # what the report's text states besides (the nonsaturating demo is optional: None without it)
            "clip_scale": finite_or_none(self.clip_scale),
            "minimax_grad_first": at(mm.grad_norms, 0),
            "minimax_grad_last": at(mm.grad_norms, -1),
            "nonsaturating_theta_final": at(ns.thetas, -1) if ns else None,
            "nonsaturating_grad_last": at(ns.grad_norms, -1) if ns else None,
        }


@dataclasses.dataclass
class VanishingResult(Record):
    """Part 2: generator gradient norms while D / the critic train against a fixed generator."""

    steps: list[int]  # discriminator / critic updates so far
    grad_minimax: list[float]
    grad_nonsaturating: list[float]
    grad_wgan: list[float]
    js_estimate: list[float]  # (log 4 - L_D) / 2 at the same steps: D's progress to optimality
    x: list[float]  # grid for the function plot
    d_of_x: list[float]  # sigmoid of the final discriminator
    f_of_x: list[float]  # the final critic
    real: tuple[float, float]  # (mean, std)
    fake: tuple[float, float]
    seconds: float = 0.0

    @staticmethod
    def last_over_max(g: list[float]) -> float:
        return g[-1] / max(g) if max(g) > 0 else math.nan

    def metrics(self) -> dict[str, Optional[float]]:
        return {
            "minimax_grad_last": finite_or_none(self.grad_minimax[-1]),
            "minimax_last_over_max": finite_or_none(self.last_over_max(self.grad_minimax)),
            "nonsaturating_grad_first": finite_or_none(self.grad_nonsaturating[0]),
            "nonsaturating_grad_last": finite_or_none(self.grad_nonsaturating[-1]),
            "wgan_grad_last": finite_or_none(self.grad_wgan[-1]),
            "wgan_last_over_max": finite_or_none(self.last_over_max(self.grad_wgan)),
        }


@dataclasses.dataclass
class W1Checkpoint(Record):
    step: int  # generator steps done
    w1: float  # exact W1 of the generator's samples against held-out real ones
    estimate: float = math.nan  # the training estimate there (W or JS), a mean over the last log rows


@dataclasses.dataclass
class RunTrace(Record):
    """One training run of part 3: its log and the exact W1 at checkpoints."""

    model: str  # wgan | gan
    estimate_key: str  # w_estimate | js_estimate
    rows: list[dict[str, float]]  # the core loop's log rows (step counted over the whole run)
    checkpoints: list[W1Checkpoint]
    pearson: float  # estimate vs exact W1 over the checkpoints (NaN: undefined)
    spearman: float
    error: str = ""

    @property
    def w1_final(self) -> float:
        return self.checkpoints[-1].w1 if self.checkpoints else math.nan


@dataclasses.dataclass
class MeaningfulResult(Record):
    """Part 3: does the training loss track sample quality (WGAN Figures 3 and 4)?"""

    runs: dict[str, RunTrace]
    w1_floor: float  # exact W1 between two real samples of the evaluation size
    seconds: float = 0.0

    def metrics(self) -> dict[str, Optional[float]]:
        w, g = self.runs["wgan"], self.runs["gan"]
        return {
            "wgan_spearman": finite_or_none(w.spearman),
            "wgan_pearson": finite_or_none(w.pearson),
            "gan_spearman": finite_or_none(g.spearman),
            "gan_pearson": finite_or_none(g.pearson),
            "wgan_w1_final": finite_or_none(w.w1_final),
            "w1_floor": finite_or_none(self.w1_floor),
        }


@dataclasses.dataclass
class EnergyCheckpoint(Record):
    step: int
    all: float  # Spearman(f, log p_real) over the whole grid
    near: float  # ... within `near_stds` of a mode
    far: float  # ... elsewhere
    w1: float  # exact W1 of the generator's samples


@dataclasses.dataclass
class EnergyRun(Record):
    checkpoints: list[EnergyCheckpoint]
    error: str = ""

    @property
    def final(self) -> Optional[EnergyCheckpoint]:
        return self.checkpoints[-1] if self.checkpoints else None


@dataclasses.dataclass
class EnergyResult(Record):
    """Part 4: trained critics against log p_real on a grid (the maps themselves are only drawn)."""

    grid: int  # points per axis
    near_fraction: float  # share of grid points counted as near a mode
    main: str  # the run of the headline number
    runs: dict[str, EnergyRun]
    seconds: float = 0.0

    def metrics(self) -> dict[str, Optional[float]]:
        fin = self.runs[self.main].final
        out = {"spearman": fin.all if fin else None, "spearman_near": fin.near if fin else None,
               "spearman_far": fin.far if fin else None,
               "spearman_peak": max((c.all for c in self.runs[self.main].checkpoints if math.isfinite(c.all)),
                                    default=None)}
        for name, r in ((n, r) for n, r in self.runs.items() if n != self.main):
            out[f"{name}_spearman"] = r.final.all if r.final else None
        return {k: finite_or_none(v) for k, v in out.items()}


@dataclasses.dataclass
class AblationRow(Record):
    """One WGAN setting of part 5, trained from the same seed as every other row."""

    run: dict  # the row's full WGAN settings (theory.wgan with the row's keys on top)
    status: str  # ok | diverged
    message: str = ""
    w1: float = math.nan  # exact W1 of the final generator
    w_final: float = math.nan  # the critic's W estimate over the last `last_fraction` of steps
    w_std: float = math.nan  # its spread there
    w_rel_std: float = math.nan  # spread / |mean| (the estimate's scale is the critic's K)
    corr_w_w1: float = math.nan  # Pearson(W estimate, exact W1) at the checkpoints
    lipschitz: float = math.nan  # largest input-gradient norm on real-fake interpolates
    energy_spearman: float = math.nan  # Spearman(f, log p_real) on a grid
    checkpoints: list[W1Checkpoint] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class AblationResult(Record):
    """Part 5: the WGAN critic's optimiser and Lipschitz constraint, one row each."""

    steps: int
    last_fraction: float
    rows: dict[str, AblationRow]
    seconds: float = 0.0

    def metrics(self) -> dict[str, Optional[float]]:
        return {f"{name}_{key}": finite_or_none(getattr(r, key)) for key in ("w1", "w_rel_std")
                for name, r in self.rows.items()}


@dataclasses.dataclass
class LogLik(Record):
    """log p(x) of a toy decoder, averaged over the four images."""

    mean: float  # importance-sampling estimate, prior as proposal
    mc_stderr: float  # Monte Carlo standard error of `mean` (delta method on each image's mean weight)
    per_point: list[float]
    ess_fraction: float  # effective sample size / K of the prior proposal
    quadrature: float  # the same integral on a 2-D grid


@dataclasses.dataclass
class AvbToyResult(Record):
    """Part 6: AVB vs VAE on four 2x2 images (AVB section 6.1); the posterior draws are only drawn."""

    avb: LogLik
    vae: LogLik
    elbo: dict[str, float]  # final training ELBO (mean of the last 10% of steps)
    optimum: float  # -log 4
    seconds: float = 0.0

    def metrics(self) -> dict[str, Optional[float]]:
        return {
            "avb_loglik": finite_or_none(self.avb.mean),
            "vae_loglik": finite_or_none(self.vae.mean),
            "avb_loglik_stderr": finite_or_none(self.avb.mc_stderr),
            "vae_loglik_stderr": finite_or_none(self.vae.mc_stderr),
            "optimum": self.optimum,
            "avb_quadrature": finite_or_none(self.avb.quadrature),
            "vae_quadrature": finite_or_none(self.vae.quadrature),
            "avb_elbo": finite_or_none(self.elbo.get("avb", math.nan)),
            "vae_elbo": finite_or_none(self.elbo.get("vae", math.nan)),
        }


THEORY_RECORDS: dict[str, type[Record]] = {
    "lines": LinesResult,
    "vanishing": VanishingResult,
    "meaningful": MeaningfulResult,
    "energy": EnergyResult,
    "ablation": AblationResult,
    "avb_toy": AvbToyResult,
}


@dataclasses.dataclass
class TheorySeeds(Record):
    """theory <part> -> summary, theory report: the part's headline numbers (its record's `metrics()`)
    for every seed in params `seeds`, in that order; the part's own record is the first seed's."""

    part: str
    seeds: list[int]
    metrics: dict[str, list[Optional[float]]]  # metric -> one value per seed (None: undefined there)

