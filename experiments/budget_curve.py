"""LOTS's budget curve in both step spaces on the book's photos, recorded in ``results/``.

The thesis's Algorithm 1 clamps the adversarial image after each step of width alpha = 1/255
but does not say in which space the step is taken. Two readings exist in public code:
pixels in [0,1], clamped (Vastlab's ``losses/lots.py`` and :mod:`lotslib.attack`'s default),
and the model's normalized input without a clamp (FAME's ``optimizer.py``), a step about
4.4x narrower in pixel terms. This script runs the protocol (alpha = 1/255, at most 500
iterations, tau = 0.1, zero target) in both spaces on the embedded photos of the book and
reads each run at every budget of :data:`lotslib.params.BUDGETS`
(:func:`lotslib.studies.iteration_study`: one run per image, its snapshots give the
shorter budgets). Chapter 7 compares the recorded curves with the live CAM rows of Table 5.2.

    python experiments/budget_curve.py --out results/budget_curve.csv

``--cache-dir`` may point at a book build's cache (``<book root>/.cache/book``): the
pixel-space runs are then read from its LOTS store instead of being run again. The rows (one
per image, budget and step space) go to ``--out``; a JSON sidecar (``.json``) holds the
command, the parameters, the wall time of each step space and the machine.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "book"))

from lotslib.data import embedded  # noqa: E402
from lotslib.models import load_model, weights_fingerprint  # noqa: E402
from lotslib.params import BUDGETS, STEP_SPACES  # noqa: E402
from lotslib.studies import iteration_study  # noqa: E402
from lotsbook import provenance  # noqa: E402
from lotsbook.paths import shown  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="efficientnet_lite0")
    ap.add_argument("--n-images", type=int, default=20, help="the first N embedded photos (the book's: 20)")
    ap.add_argument("--iters", type=int, default=500)
    ap.add_argument("--steps", type=int, default=16, help="insertion/deletion steps (the embedded book's: 16)")
    ap.add_argument("--spaces", nargs="+", choices=list(STEP_SPACES), default=list(STEP_SPACES))
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument("--cache-dir", default=str(ROOT / ".cache" / "budget_curve"))
    ap.add_argument("--out", default=str(ROOT / "results" / "budget_curve.csv"))
    a = ap.parse_args(argv)
    net = load_model(a.model)
    images = embedded("imagenet").head(a.n_images)
    frames, walls = [], {}
    for space in a.spaces:
        t0 = time.perf_counter()
        df = iteration_study(net, images, iters=a.iters, checkpoints=BUDGETS, steps=a.steps, cache_dir=a.cache_dir,
                             step_space=space, batch_size=a.batch_size)
        walls[space] = round(time.perf_counter() - t0, 1)
        frames.append(df.assign(step_space=space))
        print(f"{space}: {walls[space]} s", flush=True)
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    pd.concat(frames, ignore_index=True).to_csv(out, index=False)
    import torch

    meta = {"command": shown("python experiments/budget_curve.py " + " ".join(sys.argv[1:] if argv is None else argv)),
            "model": a.model, "weights": weights_fingerprint(net), "n_images": len(images),
            "images": "the embedded photos (foolbox's ImageNet samples), the first n", "image_ids": list(images.ids),
            "params": {"iters": a.iters, "alpha": 1 / 255, "tau": 0.1, "steps": a.steps, "budgets": list(BUDGETS)},
            "wall_s": walls, "threads": torch.get_num_threads(), "load_at_end": os.getloadavg()[0],
            "git": provenance.git_state()}
    out.with_suffix(".json").write_text(json.dumps(meta, indent=1))
    print(f"wrote {shown(str(out))} ({sum(len(f) for f in frames)} rows)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
