"""bench: WGAN critic steps per second, this pipeline's loop against the reference loop.

    python -m stages bench --data-root ../shared/data/mnist

Not a DVC stage: a measurement a user runs by hand. Prints what it measured
(every repeat, the medians and their ratio); `--json` saves the same.
"""

from __future__ import annotations

import gzip
import json
import platform
import shutil
import tempfile
from pathlib import Path
from typing import Annotated, Optional

import torch
import typer

from pipeline import bench
from pipeline import data as data_lib
from pipeline.config import DataParams, ParamsError, resolve_device
from pipeline.idx import idx_files

from .common import Dataset, fail, info
from .paths import DOWNLOADS


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


def main(
    dataset: Annotated[Dataset, typer.Option(help="Data set; the reference loop needs mnist or fashion_mnist.")] = Dataset.mnist,
    data_root: Annotated[Optional[Path], typer.Option(help="Folder with the raw IDX files.")] = None,
    net: Annotated[str, typer.Option(help="'reference' (the issue's MLP nets) or 'params' (net: in params.yaml).")] = "reference",
    batch_size: Annotated[int, typer.Option(min=1)] = 64,
    n_critic: Annotated[int, typer.Option(min=1)] = 5,
    critic_steps: Annotated[int, typer.Option(min=10, help="Critic steps per timed run.")] = 300,
    repeats: Annotated[int, typer.Option(min=1, help="Alternating runs of each loop; medians are reported.")] = 3,
    device: Annotated[str, typer.Option(help="auto | cpu | cuda")] = "cpu",
    json_out: Annotated[Optional[Path], typer.Option("--json", help="Also write the results here.")] = None,
) -> None:
    """Critic steps per second for WGAN, median over alternating repeats."""
    try:
        dev = resolve_device(device)
    except ParamsError as e:
        raise fail(str(e)) from None
    if net == "reference":
        net_p = bench.REFERENCE_NETS
    elif net == "params":
        from .common import params_or_exit

        net_p = params_or_exit().net
    else:
        raise fail(f"--net {net!r}: choose 'reference' or 'params'")
    name = dataset.value
    dp = DataParams(root=str(data_root) if data_root else None, download=data_root is None)
    try:
        prepared = data_lib.prepare(name, dp, 0, DOWNLOADS)
    except data_lib.DataError as e:
        raise fail(str(e)) from None
    x = data_lib.to_model_space(prepared.train_x, prepared.meta).to(dev)
    with tempfile.TemporaryDirectory() as tmp:
        loader = None
        if name in ("mnist", "fashion_mnist") and data_root is not None:
            ds = _torchvision_dataset(name, data_root, Path(tmp))
            loader = torch.utils.data.DataLoader(ds, batch_size=batch_size, shuffle=True, drop_last=True)
        else:
            info("reference loop skipped: it needs --dataset mnist|fashion_mnist and --data-root")
        info(f"bench: {name}, net={net}, batch {batch_size}, n_critic {n_critic}, {critic_steps} critic steps "
             f"x {repeats} repeats on {dev} ({torch.get_num_threads()} threads)")
        results = bench.run(prepared.meta, x, loader, net_p, batch_size=batch_size, n_critic=n_critic,
                            critic_steps=critic_steps, repeats=repeats, device=dev)
    for r in results:
        runs = ", ".join(f"{v:.1f}" for v in r.critic_steps_per_s)
        print(f"{r.loop:60s} median {r.median:8.1f} critic steps/s   (runs: {runs})")
    out = {
        "dataset": name, "net": net, "batch_size": batch_size, "n_critic": n_critic,
        "critic_steps": critic_steps, "repeats": repeats, "device": str(dev),
        "threads": torch.get_num_threads(), "torch": torch.__version__, "cpu": platform.processor() or platform.machine(),
        "results": {r.loop: {"median": r.median, "runs": r.critic_steps_per_s} for r in results},
    }
    if len(results) == 2:
        ratio = results[0].median / results[1].median
        out["speedup"] = ratio
        print(f"speedup (median pipeline / median reference): {ratio:.2f}x")
    if json_out:
        json_out.write_text(json.dumps(out, indent=2) + "\n")
