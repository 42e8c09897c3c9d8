"""Insertion/Deletion overhead: lotslib's time per image / the bare forward passes it needs.

``lotslib.metrics.insertion_deletion`` sends ``2 * (steps + 1)`` perturbed images per image
through the model, ``batch_size`` at a time. The reference is a bare ``model(x)`` loop under
``torch.no_grad()`` over a pre-built batch with exactly the same chunk sizes (so a partial last
batch costs the same on both sides): ratio = time of ``insertion_deletion`` / time of those
bare forward passes. Everything else ``insertion_deletion`` does -- blurring the substrate,
ranking the pixels, building each perturbed image, the softmax and the copies back -- is the
overhead. Goal: ratio <= 1.15. Runs are interleaved and the minimum of each is taken (the
machine may be shared; on a busy CPU ``--clock process --threads 1`` times CPU time instead of
wall time). Prints the ratio last.

    python experiments/metrics_overhead.py --model efficientnet_lite0 --images 1 --steps 224 --batch 32
"""
from __future__ import annotations

import argparse
import time

import torch

from lotslib.metrics import insertion_deletion
from lotslib.models import load_model


def chunk_sizes(n_images: int, steps: int, batch: int) -> list[int]:
    """Sizes of the forward batches ``insertion_deletion`` sends (deletion and insertion each)."""
    total = n_images * (steps + 1)
    return [min(batch, total - s) for s in range(0, total, batch)]


def bare_forward(model, xb: torch.Tensor, sizes: list[int]) -> None:
    with torch.no_grad():
        for size in sizes:
            for _ in range(2):  # deletion and insertion
                model(xb[:size])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="efficientnet_lite0")
    ap.add_argument("--weights", default="default", help="'none' for random weights (timing only)")
    ap.add_argument("--images", type=int, default=1, help="images per insertion_deletion call")
    ap.add_argument("--steps", type=int, default=224, help="224 = the thesis's protocol for 224x224 input")
    ap.add_argument("--batch", type=int, default=32, help="perturbed images per forward pass")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--clock", choices=["wall", "process"], default="wall",
                    help="process: this process's CPU time "
                         "(CPU device only; robust on a shared machine, best with --threads 1)")
    a = ap.parse_args(argv)
    if a.clock == "process" and str(a.device) != "cpu":
        ap.error("--clock process measures CPU time; use it with --device cpu")
    now = time.process_time if a.clock == "process" else time.perf_counter
    if a.threads:
        torch.set_num_threads(a.threads)
    model = load_model(a.model, weights=None if a.weights == "none" else a.weights, device=a.device)
    s = model.input_size
    g = torch.Generator().manual_seed(0)
    x = torch.rand(a.images, 3, s, s, generator=g).to(a.device)
    maps = torch.rand(a.images, s, s, generator=g)
    with torch.no_grad():
        classes = model(x).argmax(1).cpu()
    xb = torch.rand(a.batch, 3, s, s, generator=g).to(a.device)
    sizes = chunk_sizes(a.images, a.steps, a.batch)

    def sync():
        if str(a.device).startswith("cuda"):
            torch.cuda.synchronize()

    # warm-up (first-call costs, allocator) on both sides
    bare_forward(model, xb, sizes[:2])
    insertion_deletion(model, x[:1], maps[:1], classes[:1], steps=min(a.steps, 2 * a.batch - 1), batch_size=a.batch)
    t_bare, t_ours = [], []
    for _ in range(a.repeats):  # interleaved: both sides see the same drift in machine load
        sync()
        t0 = now()
        bare_forward(model, xb, sizes)
        sync()
        t_bare.append(now() - t0)
        sync()
        t0 = now()
        insertion_deletion(model, x, maps, classes, steps=a.steps, batch_size=a.batch)
        sync()
        t_ours.append(now() - t0)
    bare, ours = min(t_bare), min(t_ours)
    n_fwd = 2 * a.images * (a.steps + 1)
    print(f"model={a.model} images={a.images} steps={a.steps} batch={a.batch} device={a.device} "
          f"threads={torch.get_num_threads()} clock={a.clock} forward images={n_fwd} in {2 * len(sizes)} passes")
    print(f"bare forward passes:   {bare / a.images:.3f} s/image  ({bare / n_fwd * 1e3:.2f} ms/forward image)  "
          f"runs {[round(t, 2) for t in t_bare]}")
    print(f"insertion_deletion:    {ours / a.images:.3f} s/image  ({ours / n_fwd * 1e3:.2f} ms/forward image)  "
          f"runs {[round(t, 2) for t in t_ours]}")
    print(f"Insertion/Deletion overhead ratio (goal <= 1.15): {ours / bare:.3f}")


if __name__ == "__main__":
    main()
