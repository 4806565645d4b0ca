"""bench: WGAN critic steps per second, this pipeline's loop against the reference loop and
against this machine's matmul roofline.

    python -m stages bench --data-root /path/to/mnist   (or: make bench DATA_ROOT=/path/to/mnist)

Not a DVC stage: a measurement a user runs by hand. Prints what it measured
(every repeat, the medians, their ratio, the step's FLOPs and its fraction of
the roofline, where the step's time goes) and ends with the markdown table the
docs/performance.md describes; `--json` saves the same numbers.
"""

from __future__ import annotations

import gzip
import json
import math
import os
import shutil
import statistics
import tempfile
from pathlib import Path
from typing import Annotated, Optional

import torch
import typer

from pipeline.perf import bench
from pipeline.data import datasets as data_lib
from pipeline.config import ParamsError
from pipeline.training.device import resolve_device
from pipeline.data.idx import idx_files
from pipeline.training.loop import cpu_name

from .common import Dataset, fail, info
from .paths import DOWNLOADS

# --rows: the nets of each row, and how the table names them
ROWS = {
    "mlp": (bench.REFERENCE_NETS, "MLP: critic {d}-512-256-1, generator 100-128-256-512-1024-{d} (BatchNorm)"),
    "dcgan": (bench.DCGAN_NETS, "DCGAN 28x28, width 64: critic conv 64-128 + 6272-256-1, generator 100-6272 + deconv 64-1"),
}


def _torchvision_dataset(name: str, root: Path, tmp: Path):
    """torchvision's own MNIST class over the user's IDX files (it wants <tmp>/<Class>/raw/, uncompressed)."""
    from torchvision import datasets, transforms

    cls = datasets.MNIST if name == "mnist" else datasets.FashionMNIST
    raw = tmp / cls.__name__ / "raw"
    raw.mkdir(parents=True)
    for stem, src in idx_files(root, name).items():  # the one folder prepare read
        if src.suffix == ".gz":
            with gzip.open(src) as f, open(raw / stem, "wb") as out:
                shutil.copyfileobj(f, out)
        else:
            shutil.copy(src, raw / stem)
    # PyTorch-GAN wgan.py's transform, per image, on every epoch.
    tf = transforms.Compose([transforms.Resize(28), transforms.ToTensor(), transforms.Normalize([0.5], [0.5])])
    return cls(str(tmp), train=True, download=False, transform=tf)


def _rows(net: str, rows: str, shape: tuple[int, ...]) -> list[tuple[str, object, str]]:
    """(name, NetParams, description) of each row to run; dcgan only on 28x28 images."""
    if net == "params":
        from .common import params_or_exit

        p = params_or_exit().net
        return [("params", p, f"params.yaml net ({p.arch})")]
    if net != "reference":
        raise fail(f"--net {net!r}: choose 'reference' or 'params'")
    names = [r.strip() for r in rows.split(",") if r.strip()]
    if bad := [r for r in names if r not in ROWS]:
        raise fail(f"--rows {','.join(bad)}: choose from {', '.join(ROWS)}")
    if "dcgan" in names and tuple(shape[-2:]) != (28, 28):
        info(f"dcgan row skipped: its nets need 28x28 images, this data set's are {'x'.join(map(str, shape))}")
        names.remove("dcgan")
    d = math.prod(shape)
    return [(r, ROWS[r][0], ROWS[r][1].format(d=d)) for r in names]


def _print_row(row: bench.Row) -> None:
    for r in row.loops:
        runs = ", ".join(f"{v:.1f}" for v in r.critic_steps_per_s)
        print(f"{row.name:6s} {r.loop:58s} median {r.median:7.1f} critic steps/s  (runs: {runs})")
    runs = ", ".join(f"{v:.1f}" for v in row.roofline_gflops)
    print(f"{row.name:6s} {'roofline (its matmuls alone, at their shapes)':58s} median {row.roofline:7.1f} GFLOP/s "
          f"        (runs: {runs})")
    if row.speedup is not None:
        print(f"{row.name:6s} speedup (median pipeline / median reference): {row.speedup:.2f}x")
    print(f"{row.name:6s} {row.count.flops / 1e9:.3f} GFLOP of matmuls per critic step (its generator step's share "
          f"included) -> pipeline {row.gflops:.1f} GFLOP/s = {row.fraction:.0%} of the roofline "
          f"{row.roofline:.1f} GFLOP/s")
    slow = sorted(row.last_roofline.per_op, key=lambda o: o[2])[:3]
    print(f"{row.name:6s} slowest shapes alone: " + "; ".join(f"{s} {g:.1f} GFLOP/s" for s, _, g in slow))
    if row.split:
        total = sum(row.split.values())
        split = ", ".join(f"{k} {v / total:.0%}" for k, v in row.split.items())
        print(f"{row.name:6s} where a pipeline step's time goes (torch.profiler, {total * 1e3:.1f} ms per critic "
              f"step): {split}; its matmuls took {row.split['matmul/conv'] * 1e3:.1f} ms, "
              f"{row.last_roofline.seconds * 1e3:.1f} ms alone")


def _table(rows: list[bench.Row], described: dict[str, str], repeats: int) -> str:
    lines = ["| nets | GFLOP per critic step | pipeline critic steps/s | reference critic steps/s | ratio | "
             "pipeline GFLOP/s | roofline GFLOP/s | of roofline |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        ref = f"{r.reference.median:.1f}" if r.reference else "not run"
        ratio = f"{r.speedup:.2f}x" if r.speedup is not None else "-"
        lines.append(f"| {described[r.name]} | {r.count.flops / 1e9:.3f} | {r.pipeline.median:.1f} | {ref} | {ratio} | "
                     f"{r.gflops:.1f} | {r.roofline:.1f} | **{r.fraction:.0%}** |")
    lines.append(f"(medians of {repeats} alternating runs)")
    return "\n".join(lines)


def main(
    dataset: Annotated[Dataset, typer.Option(help="Data set; the reference loop needs mnist or fashion_mnist.")] = Dataset.mnist,
    data_root: Annotated[Optional[Path], typer.Option(help="Folder with the raw IDX files.")] = None,
    net: Annotated[str, typer.Option(help="'reference' (the rows of --rows) or 'params' (one row: net: in params.yaml).")] = "reference",
    rows: Annotated[str, typer.Option(help="With --net reference: comma-separated rows, from mlp, dcgan (28x28 only).")] = "mlp,dcgan",
    batch_size: Annotated[int, typer.Option(min=1)] = 64,
    n_critic: Annotated[int, typer.Option(min=1)] = 5,
    critic_steps: Annotated[int, typer.Option(min=10, help="Critic steps per timed run (mlp and params rows).")] = 300,
    dcgan_critic_steps: Annotated[int, typer.Option(min=10, help="Critic steps per timed run of the dcgan row "
                                                    "(about 12x the FLOPs of an mlp step).")] = 50,
    repeats: Annotated[int, typer.Option(min=1, help="Alternating runs of each loop and of the roofline; medians are reported.")] = 3,
    profile_steps: Annotated[int, typer.Option(min=0, help="Generator steps of the pipeline under torch.profiler per row (0: none).")] = 10,
    threads: Annotated[int, typer.Option(min=0, help="torch intra-op threads for loops and roofline alike. 1: as the "
                                         "pipeline trains (train.threads), and steady on a shared CPU; 0: torch's default.")] = 1,
    device: Annotated[str, typer.Option(help="auto | cpu | cuda")] = "cpu",
    json_out: Annotated[Optional[Path], typer.Option("--json", help="Also write the results here.")] = None,
) -> None:
    """Critic steps per second for WGAN, median over alternating repeats, and the fraction of the roofline."""
    try:
        dev = resolve_device(device)
    except ParamsError as e:
        raise fail(str(e)) from None
    if threads:
        torch.set_num_threads(threads)
    name = dataset.value
    from .common import params_or_exit

    # params.yaml's data: (the mixtures' sizes, digits' split), with the raw files of --data-root
    dp = params_or_exit().data.model_copy(update={"root": str(data_root) if data_root else None,
                                                  "download": data_root is None})
    try:
        prepared = data_lib.prepare(name, dp, 0, DOWNLOADS)
    except data_lib.DataError as e:
        raise fail(str(e)) from None
    todo = _rows(net, rows, prepared.meta.shape)
    x = data_lib.to_model_space(prepared.train_x, prepared.meta).to(dev)
    n_threads = torch.get_num_threads()
    machine = (f"{cpu_name()}, {os.cpu_count()} CPUs, {n_threads} "
               f"thread{'s' if n_threads > 1 else ''}, torch {torch.__version__}")
    results: list[bench.Row] = []
    with tempfile.TemporaryDirectory() as tmp:
        loader = None
        if name in ("mnist", "fashion_mnist") and data_root is not None:
            ds = _torchvision_dataset(name, data_root, Path(tmp))
            loader = torch.utils.data.DataLoader(ds, batch_size=batch_size, shuffle=True, drop_last=True)
        else:
            info("reference loop skipped: it needs --dataset mnist|fashion_mnist and --data-root")
        print(f"bench: {name}, batch {batch_size}, n_critic {n_critic}, {critic_steps} critic steps (dcgan "
              f"{dcgan_critic_steps}) x {repeats} repeats on {dev}; {machine}", flush=True)
        for row, net_p, _ in todo:
            steps = dcgan_critic_steps if row == "dcgan" else critic_steps
            results.append(bench.run(prepared.meta, x, loader, net_p, name=row, batch_size=batch_size,
                                     n_critic=n_critic, critic_steps=steps, repeats=repeats,
                                     profile_steps=profile_steps, device=dev))
            _print_row(results[-1])
    m, k, n = bench.BIG_MATMUL
    big = [bench.matmul_gflops(m, k, n, dev) for _ in range(repeats)]
    print(f"one ({m} x {k}) x ({k} x {n}) matmul: median {statistics.median(big):.1f} GFLOP/s  "
          f"(runs: {', '.join(f'{v:.1f}' for v in big)})")
    print()
    print(_table(results, {r: d for r, _, d in todo}, repeats))
    out = {
        "dataset": name, "net": net, "batch_size": batch_size, "n_critic": n_critic,
        "critic_steps": critic_steps, "dcgan_critic_steps": dcgan_critic_steps, "repeats": repeats, "device": str(dev),
        "threads": torch.get_num_threads(), "torch": torch.__version__, "cpu": cpu_name(),
        "cpu_count": os.cpu_count(), "big_matmul_gflops": big,
        "rows": {r.name: {
            "results": {b.loop: {"median": b.median, "runs": b.critic_steps_per_s} for b in r.loops},
            "speedup": r.speedup, "gflop_per_critic_step": r.count.flops / 1e9, "gflops": r.gflops,
            "roofline_gflops": r.roofline_gflops, "fraction_of_roofline": r.fraction, "time_split": r.split,
            "roofline_per_op": [{"op": s, "calls": c, "gflops": g} for s, c, g in r.last_roofline.per_op],
        } for r in results},
    }
    if json_out:
        json_out.write_text(json.dumps(out, indent=2) + "\n")
