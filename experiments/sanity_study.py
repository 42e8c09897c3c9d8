"""Chapter 8's sanity checks at full size, recorded once (the embedded build runs them small).

The embedded book's chapter 8 runs its checks on a few photos to keep the build near 20
minutes (ROAD alone costs about a minute per photo for the nine methods). This script runs the
same lotslib functions, with the chapter's settings (EfficientNet-Lite0, the book's photos, LOTS
at the figures' 40 iterations, 16 insertion/deletion steps, black fill, the top-1 score), at
the sizes a reader can draw conclusions from:

* the cascading randomisation (Adebayo et al. 2018) with **every** randomisation step, and the
  random-logit test, on ``--photos`` photos (default 10);
* Average Drop/Increase, Insertion, Deletion and ROAD (Rong et al. 2022) of the trained
  model's maps on ``--road-photos`` photos (default: all 19 of the book);
* Focus (Arias-Duart et al. 2022) on ``--mosaics`` mosaics (default 20) of two photos of a
  target class and two of other classes, positions shuffled, from all 20 photos;
* the location grid (LOTS on each of the 7 x 7 cells of the last block) with ``--location-iters``
  iterations per cell (default 100), on the first photo.

``--part road`` and ``--part checks`` split the work over two processes (ROAD is about two
thirds of it); each writes its own files, so the two can run side by side::

    python experiments/sanity_study.py --part road &
    python experiments/sanity_study.py --part checks

Writes ``results/sanity_study_<check>.csv`` (the rows of each check, from which chapter 8
derives every verdict again) and ``results/sanity_study_<part>.json`` (the command, sizes,
image-list hash, weights hash, packages and wall time; ``--part all`` writes both).
"""
from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "book"))

from lotslib import benchmark, sanity  # noqa: E402
from lotslib.focus import focus_study  # noqa: E402
from lotslib.models import load_model, weights_fingerprint  # noqa: E402
from lotslib.perf import set_threads  # noqa: E402

#: the checks and the files their rows go to (``results/sanity_study_<name>.csv``)
PARTS = {"road": ("road",), "checks": ("randomisation", "random_logit", "focus", "location")}


def out_path(out_dir: Path, check: str) -> Path:
    """Where a check's rows are written: ``<out_dir>/sanity_study_<check>.csv``."""
    return Path(out_dir) / f"sanity_study_{check}.csv"


def main(argv=None) -> int:
    from lotsbook import provenance
    from lotsbook.chapter import open_images
    from lotsbook.paths import shown
    from lotsbook.profiles import resolve_profile

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--part", choices=["all", *PARTS], default="all")
    ap.add_argument("--photos", type=int, default=10, help="photos of the randomisation and random-logit tests")
    ap.add_argument("--road-photos", type=int, default=19, help="photos scored with ROAD (the book has 19)")
    ap.add_argument("--mosaics", type=int, default=20, help="Focus mosaics per class with two photos")
    ap.add_argument("--location-iters", type=int, default=100, help="LOTS iterations per cell of the location grid")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out-dir", default=str(ROOT / "results"))
    a = ap.parse_args(argv)
    set_threads(a.threads)
    t0 = time.perf_counter()
    prof = resolve_profile("embedded")
    net = load_model(prof.model)
    methods = list(benchmark.METHODS)
    mp = sanity.method_params(methods, {**prof.as_dict(), "iters": prof.figure_iters})
    metric_params = {"steps": prof.steps, "batch_size": 8, "fill": prof.fill, "score": prof.score}
    out_dir = Path(a.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    checks = PARTS.get(a.part) or tuple(c for p in PARTS.values() for c in p)
    n = max(a.photos, a.road_photos if "road" in checks else 0)
    images = open_images(prof.image_source, n_images=n)
    x = images.batch(net)
    with torch.no_grad():
        classes = net(x).argmax(1)
    meta = {"command": "python experiments/" + Path(__file__).name + " " + shlex.join(argv or sys.argv[1:]),
            "model": net.name, "weights": weights_fingerprint(net), "images": images.description,
            "image_list_hash": images.fingerprint(), "lots_iters": prof.figure_iters, "filter_size": prof.filter_size,
            "metric_params": metric_params, "threads": a.threads, "checks": list(checks)}
    if "road" in checks:
        k = min(a.road_photos, len(images))
        base, _ = sanity.explain_all(net, x[:k], methods, classes[:k], mp)
        scored = sanity.score_maps(net, x[:k], base, classes[:k], sanity.road_keys(), metric_params=metric_params,
                                   image_ids=images.ids[:k])
        scored.to_csv(out_path(out_dir, "road"), index=False)
        meta["road_photos"] = k
        print(f"ROAD: {k} photos, {time.perf_counter() - t0:.0f} s", flush=True)
    if "randomisation" in checks:
        k = min(a.photos, len(images))
        xs, cs = x[:k], classes[:k]
        base, _ = sanity.explain_all(net, xs, methods + ["edge"], cs, mp)
        steps = len(sanity.randomisation_units(net))  # every unit: all randomisation steps
        cascade = sanity.cascading_randomisation(net, xs, methods + ["edge"], cs, steps=steps, seed=prof.seed,
                                                 params=mp, original=base)
        cascade.rows.assign(image_id=[images.ids[i] for i in cascade.rows["image"]]).to_csv(
            out_path(out_dir, "randomisation"), index=False)
        logit = sanity.random_logit_test(net, xs, methods, cs, seed=prof.seed, params=mp, original=base)
        logit.rows.assign(image_id=[images.ids[i] for i in logit.rows["image"]]).to_csv(
            out_path(out_dir, "random_logit"), index=False)
        meta.update(photos=k, randomisation_steps=steps)
        print(f"randomisation and random logit: {k} photos, {steps} steps, {time.perf_counter() - t0:.0f} s",
              flush=True)
    if "focus" in checks:
        pool = open_images(prof.image_source, first_per_class=False).head(64)
        xp = pool.batch(net)
        fres = focus_study(net, xp, torch.as_tensor(pool.labels), methods, params=mp, arrangements=a.mosaics,
                           design="target", seed=prof.seed, max_classes=4)
        fres.rows.to_csv(out_path(out_dir, "focus"), index=False)
        meta["mosaics"] = int(fres.rows["mosaic"].nunique())
        print(f"Focus: {meta['mosaics']} mosaics, {time.perf_counter() - t0:.0f} s", flush=True)
    if "location" in checks:
        x0 = x[:1]
        grid, rf, cells = sanity.location_grid(net, x0, grid=7, iters=a.location_iters,
                                               filter_size=prof.filter_size, batch_size=1)
        sanity.location_verdict(grid, rf, cells)["table"].reset_index().to_csv(out_path(out_dir, "location"),
                                                                               index=False)
        meta.update(location_iters=a.location_iters, location_photo=images.ids[0])
        print(f"location grid: {a.location_iters} iterations per cell, {time.perf_counter() - t0:.0f} s", flush=True)
    meta.update(packages=provenance.package_versions(), seconds=round(time.perf_counter() - t0, 1))
    # one sidecar per part run (chapter 8 reads sanity_study_road.json and _checks.json); no absolute
    # path of this machine in the record (lotsbook.paths.shown)
    for part, its in PARTS.items():
        if set(its) & set(checks):
            (out_dir / f"sanity_study_{part}.json").write_text(shown(json.dumps(meta, indent=1, default=str)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
