"""LOTS overhead: lotslib's time per iteration / a bare forward+backward-to-input loop.

Both run the same model, batch and device, with parameters frozen and gradients taken
with respect to the input only. Goal: ratio <= 1.10. Prints the ratio last.

    python experiments/lots_overhead.py --model efficientnet_lite0 --batch 4 --iters 30
"""
from __future__ import annotations

import argparse
import time

import torch

from lotslib.attack import lots
from lotslib.models import load_model


def bare_loop(model, x, iters, alpha=1 / 255):
    x = x.clone()
    for _ in range(iters):
        xi = x.requires_grad_(True)
        out = model(xi)
        loss = 0.5 * (out**2).sum()
        (g,) = torch.autograd.grad(loss, xi)
        gmax = g.abs().flatten(1).amax(1).view(-1, 1, 1, 1)
        x = (xi.detach() - g * alpha / gmax).clamp_(0, 1)
    return x


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model", default="efficientnet_lite0")
    ap.add_argument("--weights", default="default", help="'none' for random weights (timing only)")
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--iters", type=int, default=30)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    a = ap.parse_args(argv)
    model = load_model(a.model, weights=None if a.weights == "none" else a.weights, device=a.device)
    s = model.input_size
    x = torch.rand(a.batch, 3, s, s, generator=torch.Generator().manual_seed(0)).to(a.device)

    def sync():
        if a.device.startswith("cuda"):
            torch.cuda.synchronize()

    bare_loop(model, x, 3)  # warm-up
    lots(model, x, iters=3, tau=0.0)
    t_bare, t_lots = [], []
    for _ in range(a.repeats):  # interleave to share any drift in machine load
        sync()
        t0 = time.perf_counter()
        bare_loop(model, x, a.iters)
        sync()
        t_bare.append(time.perf_counter() - t0)
        sync()
        t0 = time.perf_counter()
        lots(model, x, iters=a.iters, tau=0.0)
        sync()
        t_lots.append(time.perf_counter() - t0)
    bare, ours = min(t_bare) / a.iters, min(t_lots) / a.iters
    print(f"model={a.model} batch={a.batch} device={a.device} threads={torch.get_num_threads()} iters={a.iters}")
    print(f"bare forward+backward-to-input: {bare * 1e3:.1f} ms/iter  ({bare / a.batch * 1e3:.1f} ms/img/iter)")
    print(f"lotslib.lots:                   {ours * 1e3:.1f} ms/iter  ({ours / a.batch * 1e3:.1f} ms/img/iter)")
    print(f"LOTS overhead ratio (goal <= 1.10): {ours / bare:.3f}")


if __name__ == "__main__":
    main()
