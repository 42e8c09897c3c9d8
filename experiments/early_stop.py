"""Plateau early stop for LOTS vs the full protocol (500 iterations, tau 0.1, alpha 1/255).

A sample stops when its distance to the target improved by less than the relative
``min_delta`` over the last ``patience`` iterations. Measured on the embedded ImageNet photos
plus ``../shared/imagenet-sample`` (first ``--sample-images``) when present: ImageNet
*training* images, which the network was trained on, so its accuracy and confidence on them
are optimistic. Reports iterations saved, the Pearson correlation of each map with the full
run's map, and the five metrics both ways (paired Wilcoxon p-values). Goal: >= 2x fewer
iterations at map Pearson >= 0.95.
Prints the iteration ratio and mean Pearson last; writes the per-image CSV with ``--out``.

    python experiments/early_stop.py --out results/early_stop_study.csv
"""
from __future__ import annotations

import argparse
import os
from pathlib import Path

import torch

from lotslib.data import ImageSource, embedded, folder
from lotslib.models import load_model
from lotslib.studies import early_stop_study, early_stop_summary


def images(sample_dir: Path | None, n_sample: int) -> ImageSource:
    src = embedded("imagenet")
    items = list(src.items)
    if sample_dir is not None and (sample_dir / "labels.csv").is_file() and n_sample > 0:
        items += folder(sample_dir).head(n_sample).items
    return ImageSource(items, "embedded:imagenet + imagenet-sample")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="efficientnet_lite0")
    ap.add_argument("--patience", type=int, default=50)
    ap.add_argument("--min-delta", type=float, default=0.02)
    ap.add_argument("--iters", type=int, default=500)
    ap.add_argument("--steps", type=int, default=112, help="insertion/deletion steps (thesis: 224)")
    ap.add_argument("--n-images", type=int, default=None, help="use only the first N images")
    ap.add_argument("--sample-dir", type=Path,
                    default=Path(os.environ.get("LOTS_IMAGENET_SAMPLE", "../shared/imagenet-sample")))
    ap.add_argument("--sample-images", type=int, default=0, help="images taken from --sample-dir (0: none)")
    ap.add_argument("--cache-dir", default=".cache/early_stop")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--out", type=Path, default=None)
    a = ap.parse_args(argv)
    model = load_model(a.model)
    imgs = images(a.sample_dir, a.sample_images).head(a.n_images)
    df = early_stop_study(model, imgs, patience=a.patience, min_delta=a.min_delta, iters=a.iters, steps=a.steps,
                          cache_dir=a.cache_dir, threads=a.threads, progress=True)
    if a.out:
        a.out.parent.mkdir(parents=True, exist_ok=True)
        df.to_csv(a.out, index=False)
    s = early_stop_summary(df)
    print(f"model={a.model} images={len(imgs)} patience={a.patience} min_delta={a.min_delta} iters={a.iters} "
          f"steps={a.steps} threads={a.threads or torch.get_num_threads()}")
    print(s.round(3).to_string())
    print(f"iterations full/early: {s.loc['iterations', 'ratio or p']:.2f}x fewer; map Pearson mean "
          f"{df['pearson'].mean():.3f} (min {df['pearson'].min():.3f}, "
          f"share >= 0.95: {(df['pearson'] >= 0.95).mean():.0%})")


if __name__ == "__main__":
    main()
