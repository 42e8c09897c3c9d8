"""Which cheaper LOTS schedule gives the thesis protocol's maps and metrics?

The protocol (Weber 2023, section 5.1): alpha = 1/255, at most 500 iterations, tau = 0.1.
Candidates: fewer iterations with a larger alpha, a geometrically decaying alpha
(``alpha_final``), the plateau early stop, and combinations. Each runs through
``lotslib.benchmark.run`` (method ``lots``, zero target, all five metrics, Coherency's second
LOTS run included), cached in ``--cache-dir`` so an interrupted run resumes.

For every candidate and image: the map's Pearson correlation with the protocol's map, the
LOTS forward+backward passes of the map (its iterations), and the paired differences of the
five metrics. A candidate *meets the bar* when its maps' median Pearson is >= 0.95, its 10th
percentile >= 0.90, and the paired 95 % bootstrap interval of every metric's difference
contains 0. The pick is the candidate with the fewest mean passes that meets the bar.

    python experiments/lots_equivalence.py --n-images 20 --threads 2 --out results/lots_equivalence.csv

Prints the frontier (passes vs Pearson vs metric deltas) and writes one row per candidate
to ``--out`` with a JSON sidecar (``.json``) holding the command, the image-list hash, the
weights hash and the package versions.
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
from lotslib.stats import bootstrap_ci  # noqa: E402

A = 1 / 255
PROTOCOL = {"iters": 500, "alpha": A}
#: name -> LOTS parameters (tau = 0.1 for all)
CANDIDATES = {
    "62 x 4/255": {"iters": 62, "alpha": 4 * A},
    "125 x 2/255": {"iters": 125, "alpha": 2 * A},
    "decay 62: 8/255 -> 1/255": {"iters": 62, "alpha": 8 * A, "alpha_final": A},
    "decay 62: 4/255 -> 0.5/255": {"iters": 62, "alpha": 4 * A, "alpha_final": 0.5 * A},
    "decay 100: 4/255 -> 0.5/255": {"iters": 100, "alpha": 4 * A, "alpha_final": 0.5 * A},
    "decay 125: 4/255 -> 0.25/255": {"iters": 125, "alpha": 4 * A, "alpha_final": 0.25 * A},
    "plateau (patience 50, 2%)": {"iters": 500, "alpha": A, "patience": 50, "min_delta": 0.02},
    "decay 125 + plateau (patience 20, 2%)": {"iters": 125, "alpha": 4 * A, "alpha_final": 0.25 * A, "patience": 20,
                                              "min_delta": 0.02},
}
MEDIAN_BAR, P10_BAR = 0.95, 0.90


def _run(model, images, lots_params, steps, cache_dir, batch_size):
    return B.run([model], ["lots"], images, params={"lots": lots_params, "metrics": {"steps": steps, "batch_size": 8}},
                 cache_dir=cache_dir, batch_size=batch_size, timing="per_batch", progress=False)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n-images", type=int, default=20, help="the first N embedded ImageNet photos (foolbox: 20)")
    ap.add_argument("--model", default="efficientnet_lite0")
    ap.add_argument("--steps", type=int, default=56, help="insertion/deletion steps (thesis: 224)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument("--cache-dir", default=".cache/equivalence")
    ap.add_argument("--only", nargs="*", help="run only these candidates (names)")
    ap.add_argument("--out", default=str(ROOT / "results" / "lots_equivalence.csv"))
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    model = load_model(a.model)
    images = embedded("imagenet").head(a.n_images)
    t0 = time.perf_counter()
    ref = _run(model, images, PROTOCOL, a.steps, a.cache_dir, a.batch_size)
    ref_maps = B.load_maps(ref)
    print(f"protocol: {len(ref)} images, mean passes {ref['lots_iters'].mean():.1f}, "
          f"{time.perf_counter() - t0:.0f} s", flush=True)
    rows = []
    names = [n for n in CANDIDATES if not a.only or n in a.only]
    for name in names:
        t1 = time.perf_counter()
        df = _run(model, images, CANDIDATES[name], a.steps, a.cache_dir, a.batch_size)
        r = pearson(B.load_maps(df), ref_maps)[0]
        row = {"candidate": name, **{k: CANDIDATES[name].get(k) for k in ("iters", "alpha", "alpha_final", "patience",
                                                                          "min_delta")},
               "n": len(df), "mean_passes": float(df["lots_iters"].mean()),
               "passes_ratio": float(ref["lots_iters"].mean() / df["lots_iters"].mean()),
               "pearson_median": float(np.median(r)), "pearson_p10": float(np.quantile(r, 0.10)),
               "pearson_min": float(r.min())}
        ok = row["pearson_median"] >= MEDIAN_BAR and row["pearson_p10"] >= P10_BAR
        for m in METRICS.values():
            d = (df[m.col].to_numpy(float) - ref[m.col].to_numpy(float)) * m.scale
            lo, hi = bootstrap_ci(d)
            row.update({f"{m.key}_protocol": float(ref[m.col].mean() * m.scale), f"{m.key}_delta": float(np.mean(d)),
                        f"{m.key}_delta_low": lo, f"{m.key}_delta_high": hi})
            ok = ok and lo <= 0 <= hi
        row["meets_bar"] = bool(ok)
        row["seconds"] = round(time.perf_counter() - t1, 1)
        rows.append(row)
        print(f"{name}: passes {row['mean_passes']:.1f} ({row['passes_ratio']:.1f}x fewer), Pearson median "
              f"{row['pearson_median']:.3f} p10 {row['pearson_p10']:.3f}, meets bar: {ok}", flush=True)
    out = pd.DataFrame(rows)
    fit = out[out["meets_bar"]]
    out["picked"] = False
    if len(fit):
        out.loc[fit["mean_passes"].idxmin(), "picked"] = True
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    out.to_csv(a.out, index=False)
    from lotsbook import provenance
    from lotsbook.paths import shown

    import shlex

    meta = {"command": "python experiments/" + Path(__file__).name + " " + shlex.join(argv or sys.argv[1:]),
            "protocol": PROTOCOL, "tau": 0.1, "images": images.description, "image_list_hash": images.fingerprint(),
            "model": a.model, "weights": weights_fingerprint(model), "steps": a.steps, "threads": a.threads,
            "protocol_mean_passes": float(ref["lots_iters"].mean()), "bar": {"median": MEDIAN_BAR, "p10": P10_BAR},
            "packages": provenance.package_versions(), "seconds": round(time.perf_counter() - t0, 1)}
    # no absolute path of this machine in the record (lotsbook.paths.shown)
    Path(a.out).with_suffix(".json").write_text(shown(json.dumps(meta, indent=1, default=str)))
    with pd.option_context("display.width", 200, "display.max_columns", 12):
        print(out[["candidate", "mean_passes", "passes_ratio", "pearson_median", "pearson_p10", "meets_bar",
                   "picked"]].to_string(index=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
