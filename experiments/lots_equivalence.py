"""Which cheaper LOTS schedule gives the thesis protocol's maps and metrics?

The protocol (Weber 2023, section 5.1): alpha = 1/255, at most 500 iterations, tau = 0.1.
Candidates: fewer iterations with a larger alpha, the book's old schedule (40 x 1/255), a
geometrically decaying alpha (``alpha_final``), the plateau early stop (patience 50, 2 %: the
``--schedule plateau`` of ``experiments/sample_study.py``), and combinations. Each runs through
``lotslib.benchmark.run`` (method ``lots``, zero target, all five metrics, Coherency's second
LOTS run included), cached in ``--cache-dir`` so an interrupted run resumes.

For every candidate and image: the map's Pearson correlation with the protocol's map, the
LOTS forward+backward passes of the map (its iterations), and the five metrics of both. A
candidate *meets the bar* when its maps' median Pearson is >= 0.95 and its 10th percentile
>= 0.90, and every metric is shown equivalent to the protocol's by two one-sided paired
t-tests at level 0.05 against a margin fixed in advance (+-2 points for each of the five
metrics; :data:`lotslib.studies.EQUIVALENCE_MARGINS` says why), i.e. its 90 % interval of
the mean difference lies inside the margin. The pick is the candidate with the fewest mean
passes that meets the bar (:func:`lotslib.studies.equivalence_table`).

    python experiments/lots_equivalence.py --n-images 20 --procs 2 --out results/lots_equivalence.csv

``--procs 2`` computes every benchmark as two one-thread processes sharing the cache
(``lotslib.benchmark.run(..., procs=2)``), one image per batch, so each LOTS walk is the one
the book computes (its float rounding does not depend on the process count).

Prints the frontier (passes vs Pearson vs metrics shown equivalent) and writes one row per
candidate to ``--out``, one row per candidate and image beside it (``<out>_images.csv``,
from which every decision can be derived again), and a JSON sidecar (``.json``) holding the
command, the image-list hash, the weights hash, the margins and the package versions.
``--max-iters K`` caps every schedule (the protocol included) at K iterations: a quick check
that the script runs, never a result.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lotslib import benchmark as B  # noqa: E402
from lotslib.data import embedded  # noqa: E402
from lotslib.metric_registry import METRICS  # noqa: E402
from lotslib.metrics import pearson  # noqa: E402
from lotslib.models import load_model, weights_fingerprint  # noqa: E402
from lotslib.studies import EQUIVALENCE_ALPHA, EQUIVALENCE_MARGINS, PEARSON_BAR, equivalence_table  # noqa: E402

A = 1 / 255
PROTOCOL = {"iters": 500, "alpha": A}
#: the plateau stop: the protocol stopped once the distance improves by < 2 % over 50 iterations
#: (``experiments/sample_study.py --schedule plateau``, the book profile's patience/min_delta)
PLATEAU = {**PROTOCOL, "patience": 50, "min_delta": 0.02}
#: name -> LOTS parameters (tau = 0.1 for all)
CANDIDATES = {
    "40 x 1/255": {"iters": 40, "alpha": A},  # the book's old schedule (the profiles' iters=40)
    "62 x 4/255": {"iters": 62, "alpha": 4 * A},
    "125 x 2/255": {"iters": 125, "alpha": 2 * A},
    "decay 62: 8/255 -> 1/255": {"iters": 62, "alpha": 8 * A, "alpha_final": A},
    "decay 62: 4/255 -> 0.5/255": {"iters": 62, "alpha": 4 * A, "alpha_final": 0.5 * A},
    "decay 100: 4/255 -> 0.5/255": {"iters": 100, "alpha": 4 * A, "alpha_final": 0.5 * A},
    "decay 125: 4/255 -> 0.25/255": {"iters": 125, "alpha": 4 * A, "alpha_final": 0.25 * A},
    "plateau (patience 50, 2%)": PLATEAU,  # the plateau stop
    "decay 125 + plateau (patience 20, 2%)": {"iters": 125, "alpha": 4 * A, "alpha_final": 0.25 * A, "patience": 20,
                                              "min_delta": 0.02},
}
MEDIAN_BAR, P10_BAR = PEARSON_BAR["median"], PEARSON_BAR["p10"]
SCHEDULE_KEYS = ("iters", "alpha", "alpha_final", "patience", "min_delta")


def _capped(params: dict, max_iters: int | None) -> dict:
    return params if max_iters is None else {**params, "iters": min(params["iters"], max_iters)}


def images_path(out) -> Path:
    """The per-image rows beside the summary: ``x.csv`` -> ``x_images.csv``."""
    out = Path(out)
    return out.with_name(out.stem + "_images.csv")


def _run(model, images, lots_params, steps, cache_dir, batch_size, procs=1, threads=1):
    return B.run([model], ["lots"], images, params={"lots": {**lots_params, "batch_size": batch_size},
                                                    "metrics": {"steps": steps, "batch_size": 8}},
                 cache_dir=cache_dir, batch_size=batch_size, timing="per_batch", progress=False, procs=procs,
                 threads=threads)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n-images", type=int, default=20, help="the first N embedded ImageNet photos (foolbox: 20)")
    ap.add_argument("--model", default="efficientnet_lite0")
    ap.add_argument("--steps", type=int, default=56, help="insertion/deletion steps (thesis: 224)")
    ap.add_argument("--threads", type=int, default=1, help="torch threads per process")
    ap.add_argument("--procs", type=int, default=1, help="processes per benchmark (lotslib.benchmark.run's procs)")
    ap.add_argument("--batch-size", type=int, default=1, help="images per batch (1: each walk alone, as the book)")
    ap.add_argument("--cache-dir", default=".cache/equivalence")
    ap.add_argument("--only", nargs="*", help="run only these candidates (names)")
    ap.add_argument("--out", default=str(ROOT / "results" / "lots_equivalence.csv"))
    ap.add_argument("--max-iters", type=int, help="cap every schedule at this many iterations (a smoke check only)")
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    model = load_model(a.model)
    images = embedded("imagenet").head(a.n_images)
    t0 = time.perf_counter()
    ref = _run(model, images, _capped(PROTOCOL, a.max_iters), a.steps, a.cache_dir, a.batch_size, a.procs, a.threads)
    ref_maps = B.load_maps(ref)
    print(f"protocol: {len(ref)} images, mean passes {ref['lots_iters'].mean():.1f}, "
          f"{time.perf_counter() - t0:.0f} s", flush=True)
    per_image, schedule = [], []
    names = [n for n in CANDIDATES if not a.only or n in a.only]
    for name in names:
        t1 = time.perf_counter()
        df = _run(model, images, _capped(CANDIDATES[name], a.max_iters), a.steps, a.cache_dir, a.batch_size, a.procs,
                  a.threads)
        if list(df["image_id"]) != list(ref["image_id"]):
            raise RuntimeError(f"{name}: the benchmark returned the images in another order than the protocol's")
        r = pearson(B.load_maps(df), ref_maps)[0]
        part = pd.DataFrame({"candidate": name, "image_id": ref["image_id"].to_numpy(),
                             "passes": df["lots_iters"].to_numpy(float),
                             "protocol_passes": ref["lots_iters"].to_numpy(float), "pearson": np.asarray(r, float)})
        for m in METRICS.values():
            part[f"{m.key}_protocol"] = ref[m.col].to_numpy(float) * m.scale
            part[f"{m.key}_candidate"] = df[m.col].to_numpy(float) * m.scale
        per_image.append(part)
        schedule.append({"candidate": name, **{k: _capped(CANDIDATES[name], a.max_iters).get(k) for k in SCHEDULE_KEYS},
                         "seconds": round(time.perf_counter() - t1, 1)})
        row = equivalence_table(part).iloc[0]
        print(f"{name}: passes {row['mean_passes']:.1f} ({row['passes_ratio']:.1f}x fewer), Pearson median "
              f"{row['pearson_median']:.3f} p10 {row['pearson_p10']:.3f}, metrics shown equivalent "
              f"{row['n_equivalent']}/{len(EQUIVALENCE_MARGINS)}, meets bar: {row['meets_bar']}", flush=True)
    rows = pd.concat(per_image, ignore_index=True)
    out = pd.DataFrame(schedule).merge(equivalence_table(rows), on="candidate")
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    out.to_csv(a.out, index=False)
    rows.to_csv(images_path(a.out), index=False)
    from lotsbook import provenance
    from lotsbook.paths import shown

    import shlex

    meta = {"command": "python experiments/" + Path(__file__).name + " " + shlex.join(argv or sys.argv[1:]),
            "protocol": PROTOCOL, "tau": 0.1, "images": images.description, "image_list_hash": images.fingerprint(),
            "model": a.model, "weights": weights_fingerprint(model), "steps": a.steps, "threads": a.threads,
            "procs": a.procs, "batch_size": a.batch_size,
            "protocol_mean_passes": float(ref["lots_iters"].mean()), "bar": {"median": MEDIAN_BAR, "p10": P10_BAR},
            "equivalence": {"test": "two one-sided paired t-tests (lotslib.stats.tost)", "alpha": EQUIVALENCE_ALPHA,
                            "margins": EQUIVALENCE_MARGINS},
            "per_image": images_path(a.out).name, "max_iters": a.max_iters,
            "packages": provenance.package_versions(), "seconds": round(time.perf_counter() - t0, 1)}
    # no absolute path of this machine in the record (lotsbook.paths.shown)
    Path(a.out).with_suffix(".json").write_text(shown(json.dumps(meta, indent=1, default=str)))
    with pd.option_context("display.width", 200, "display.max_columns", 12):
        print(out[["candidate", "mean_passes", "passes_ratio", "pearson_median", "pearson_p10", "n_equivalent",
                   "maps_close", "meets_bar", "on_frontier", "picked"]].to_string(index=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
