"""The thesis's full protocol timed on a GPU, against the thesis's Table 5.3.

For each of the thesis's four torchvision backbones (AlexNet, ResNet-50, DenseNet-121,
ConvNeXt-Tiny; random weights by default -- timing only, nothing is downloaded) it runs
:func:`lotslib.benchmark.run` on ``N`` images exactly as the book does (LOTS at the thesis's
parameters iters=500, tau=0.1, alpha=1/255, zero target; the six CAM methods; Average
Drop/Increase, Coherency and Insertion/Deletion with 224 steps), with ``timing="per_batch"``
(one batched call per method; its time split over the images), and prints

* our ms per map (batched) / the thesis's ms per map (Table 5.3), per method and backbone;
* our ms per map for single-image calls (the thesis timed one call per image) on ``K`` images;
* LOTS's iterations taken (random weights change how soon tau is reached), ms per LOTS
  iteration and the ms per map extrapolated to the full 500 iterations;
* the wall time of the whole protocol per backbone (maps + every metric);
* the overhead ratios of ``experiments/lots_overhead.py`` and ``experiments/metrics_overhead.py``
  on the GPU (our LOTS / a bare forward+backward loop; our Insertion/Deletion / bare forwards).

``--channels-last`` / ``--amp`` (bf16 autocast) are opt-in *measurements*: LOTS per iteration and
Insertion/Deletion are timed in float32 NCHW and with the option, and the speed-up and the
largest change of the results are reported. The library itself stays float32 NCHW (on CPU bf16
autocast measured 6-25x slower and torch.compile 0.56-1.12x; see ``lotslib/perf.py``).

Budget: the default (N=32, K=2) is sized for < 5 minutes on one H200; ``--quick`` (N=8, K=1)
for about a minute; a wall-clock guard (``--budget-s``, default 270 s,
counted after the imports) skips what is left
(and says so) rather than overrun. ``--cpu-smoke`` runs every code path on the CPU with tiny
settings (N=2, 3 LOTS iterations, 4 steps; for the test suite). A JSON record goes to ``--out``.

    python experiments/gpu_protocol.py --out results/gpu_protocol.json            # ~4-5 min on an H200
    python experiments/gpu_protocol.py --quick --channels-last --amp
    python experiments/gpu_protocol.py --cpu-smoke --models alexnet             # CPU, seconds

The last line printed is the geometric mean of (ours batched / thesis) over all cells.
"""
from __future__ import annotations

import argparse
import json
import math
import platform
import shutil
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from lotslib import benchmark as B  # noqa: E402
from lotslib.explanation import explain_with_info  # noqa: E402
from lotslib.method_registry import METHODS  # noqa: E402
from lotslib.data import ImageSource, _Item, embedded  # noqa: E402
from lotslib.errors import WeightsNotFoundError  # noqa: E402
from lotslib.attack import lots  # noqa: E402
from lotslib.metrics import insertion_deletion  # noqa: E402
from lotslib.models import FULL_MODELS, load_model  # noqa: E402

THESIS = dict(iters=500, tau=0.1, alpha=1 / 255)


# ------------------------------------------------------------------ helpers
class Clock:
    def __init__(self, device: torch.device, budget_s: float):
        self.device, self.budget, self.t0 = device, budget_s, time.perf_counter()

    def sync(self):
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def elapsed(self) -> float:
        return time.perf_counter() - self.t0

    def left(self) -> float:
        return self.budget - self.elapsed()

    def timed(self, fn, *a, **kw):
        self.sync()
        t0 = time.perf_counter()
        out = fn(*a, **kw)
        self.sync()
        return out, time.perf_counter() - t0


def images(n: int) -> ImageSource:
    """``n`` embedded photos (20 ImageNet samples + 7 named photos), then mirrored copies."""
    base = embedded("all").items
    items = list(base[:n])
    k = 0
    while len(items) < n:
        it = base[k % len(base)]
        flip = (-1,) if (k // len(base)) % 2 == 0 else (-2,)
        items.append(_Item(f"{it.id}~flip{flip[0]}~{k}", it.label, it.name, None,
                           lambda it=it, f=flip: it.loader().flip(f), f"{it.digest}~flip{flip[0]}~{k}"))
        k += 1
    return ImageSource(items, f"embedded:all x{n}")


def get_model(name: str, weights: str, device: torch.device):
    torch.manual_seed(0)  # random init is reproducible
    if weights == "none":
        return load_model(name, weights=None, device=device), "random"
    try:
        return load_model(name, weights="default", device=device), "default"
    except WeightsNotFoundError as exc:
        print(f"  {name}: pretrained weights unavailable ({str(exc)[:80]}...); timing with random weights")
        torch.manual_seed(0)
        return load_model(name, weights=None, device=device), "random"


class Autocast(torch.nn.Module):
    """A model wrapper whose forward passes run under bf16 autocast and return float32
    (LOTS's bookkeeping and the metrics stay float32; gradients reach the float32 input)."""

    def __init__(self, model, device: torch.device):
        super().__init__()
        self.inner, self.device_type = model, device.type
        self.name, self.input_size = getattr(model, "name", "model"), getattr(model, "input_size", None)

    def forward(self, x):
        with torch.autocast(device_type=self.device_type, dtype=torch.bfloat16):
            return self.inner(x).float()

    def features(self, x, layer="logits"):
        with torch.autocast(device_type=self.device_type, dtype=torch.bfloat16):
            return self.inner.features(x, layer).float()


def bare_lots_loop(model, x, iters, alpha=1 / 255):
    from lots_overhead import bare_loop

    return bare_loop(model, x, iters, alpha)


def bare_forwards(model, xb, sizes):
    from metrics_overhead import bare_forward

    bare_forward(model, xb, sizes)


# ------------------------------------------------------------------ phases
def protocol(model, src, params, n, device, clock, skipped) -> dict:
    """``benchmark.run`` on all images, batched, one method at a time (the budget is checked
    between methods); per-method ms/map (the map only), wall time (map + all metrics), LOTS info."""
    out = {"wall_s": 0.0, "methods": {}, "flagged": 0}
    for m in params["methods"]:
        if clock.left() < 20:
            skipped.append(f"{getattr(model, 'name', 'model')}: {m} (budget)")
            continue
        run_params = {k: v for k, v in params["run"].items() if k in (m, "metrics")}
        df, wall = clock.timed(B.run, model, [m], src, params=run_params, cache_dir=None, batch_size=n,
                               device=device, timing="per_batch", progress=False)
        shutil.rmtree(df.attrs["cache_dir"], ignore_errors=True)  # a fresh temporary cache per call
        rec = {"ms_per_map_batched": float(df["ms_per_map"].mean()), "protocol_wall_s": wall}
        if m == "lots":
            rec["lots_iters_mean"] = float(df["lots_iters"].mean())
            rec["lots_stop"] = {str(k): int(v) for k, v in df["lots_stop"].value_counts().items()}
        out["methods"][m] = rec
        out["wall_s"] += wall
        out["flagged"] += int(df["flagged"].sum())
    return out


def per_image(model, x, methods, mparams, clock, k) -> dict:
    """Single-image calls (what the thesis timed): ms per map over ``k`` images."""
    out = {}
    with torch.no_grad():
        top1 = model(x[:k]).argmax(1).cpu()
    for m in methods:
        p = dict(mparams.get(m, {}))
        if "seed" in p or m in ("random", "smoothgradcampp"):
            p["seed"] = [0]
        ts = []
        for j in range(k):
            if clock.left() < 0:
                break
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                _, dt = clock.timed(explain_with_info, m, model, x[j : j + 1], targets=top1[j : j + 1], **p)
            ts.append(dt * 1e3)
        if ts:
            out[m] = float(np.mean(ts))
    return out


def overheads(model, x, steps, metric_batch, lots_iters, clock) -> dict:
    """The two overhead ratios on this device (min of 3 interleaved repeats)."""
    from metrics_overhead import chunk_sizes

    bare_lots_loop(model, x, 2)
    lots(model, x, iters=2, tau=0.0)
    tb, tl = [], []
    for _ in range(3):
        tb.append(clock.timed(bare_lots_loop, model, x, lots_iters)[1])
        tl.append(clock.timed(lots, model, x, iters=lots_iters, tau=0.0)[1])
    g = torch.Generator().manual_seed(1)
    s = x.shape[-1]
    maps = torch.rand(1, s, s, generator=g)
    xb = torch.rand(metric_batch, 3, s, s, generator=g).to(x.device)
    sizes = chunk_sizes(1, steps, metric_batch)
    insertion_deletion(model, x[:1], maps, [0], steps=steps, batch_size=metric_batch)
    bare_forwards(model, xb, sizes[:1])
    fb, fi = [], []
    for _ in range(3):
        fb.append(clock.timed(bare_forwards, model, xb, sizes)[1])
        fi.append(clock.timed(insertion_deletion, model, x[:1], maps, [0], steps=steps, batch_size=metric_batch)[1])
    return {
        "lots_ms_per_iter": min(tl) / lots_iters * 1e3,
        "lots_overhead_ratio": min(tl) / min(tb),
        "insdel_s_per_image": min(fi),
        "metrics_overhead_ratio": min(fi) / min(fb),
    }


def options(name, model, x, steps, metric_batch, lots_iters, device, cl: bool, amp: bool, clock) -> dict:
    """LOTS per iteration and Insertion/Deletion: float32 NCHW vs channels_last and/or bf16 autocast."""
    variants = [("fp32", False, False)]
    if cl:
        variants.append(("channels_last", True, False))
    if amp:
        variants.append(("bf16_autocast", False, True))
    if cl and amp:
        variants.append(("channels_last+bf16", True, True))
    g = torch.Generator().manual_seed(2)
    s = x.shape[-1]
    maps = torch.rand(1, s, s, generator=g)
    res, ref = {}, None
    for label, use_cl, use_amp in variants:
        model.to(memory_format=torch.channels_last if use_cl else torch.contiguous_format)
        xin = x.contiguous(memory_format=torch.channels_last) if use_cl else x
        mdl = Autocast(model, device) if use_amp else model
        lots(mdl, xin, iters=2, tau=0.0)
        r_l, t_l = min((clock.timed(lots, mdl, xin, iters=lots_iters, tau=0.0) for _ in range(2)), key=lambda v: v[1])
        insertion_deletion(mdl, xin[:1], maps, [0], steps=min(steps, 2 * metric_batch - 1), batch_size=metric_batch)
        r_i, t_i = min((clock.timed(insertion_deletion, mdl, xin[:1], maps, [0], steps=steps, batch_size=metric_batch)
                        for _ in range(2)), key=lambda v: v[1])
        rec = {"lots_ms_per_iter": t_l / lots_iters * 1e3, "insdel_s": t_i}
        if ref is None:
            ref = (r_l.x_adv.float().cpu(), r_i.deletion_curves, t_l, t_i)
        else:
            rec["lots_speedup"] = ref[2] / t_l
            rec["insdel_speedup"] = ref[3] / t_i
            rec["max_abs_diff_x_adv"] = float((r_l.x_adv.float().cpu() - ref[0]).abs().max())
            rec["max_abs_diff_deletion_curve"] = float(np.abs(r_i.deletion_curves - ref[1]).max())
        res[label] = rec
    model.to(memory_format=torch.contiguous_format)
    return res


# ------------------------------------------------------------------ main
def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true",
                    help="N=8 images, K=1 single-image call (about a minute on an H200)")
    ap.add_argument("--cpu-smoke", action="store_true", help="tiny settings on the CPU: every code path, in seconds")
    ap.add_argument("--models", nargs="+", default=list(FULL_MODELS))
    ap.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    ap.add_argument("--n-images", type=int, help="images per backbone (default 32; --quick 8; --cpu-smoke 2)")
    ap.add_argument("--per-image", type=int, help="images timed one call at a time (default 2; --quick/--cpu-smoke 1)")
    ap.add_argument("--metric-batch", type=int,
                    help="perturbed images per forward in Insertion/Deletion (default 256 on GPU)")
    ap.add_argument("--weights", choices=["none", "default"], default="none",
                    help="none: random init (timing only, default); default: pretrained if on disk")
    ap.add_argument("--channels-last", action="store_true", help="also measure channels_last memory format")
    ap.add_argument("--amp", action="store_true", help="also measure bf16 autocast")
    ap.add_argument("--budget-s", type=float, default=270.0, help="wall-clock guard: skip what would run past it")
    ap.add_argument("--device", default=None, help="default: cuda if available")
    ap.add_argument("--out", help="write a JSON record here")
    a = ap.parse_args(argv)

    dev_name = a.device or ("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(dev_name)
    if device.type == "cpu" and not a.cpu_smoke:
        print("No GPU here. This script times the protocol on a GPU; run it with --cpu-smoke to check it on the CPU.")
        return 2
    if a.cpu_smoke:
        n, k, iters, steps, mb, lots_iters, n_samples = 2, 1, 3, 4, 8, 2, 2
    elif a.quick:
        n, k, iters, steps, mb, lots_iters, n_samples = 8, 1, THESIS["iters"], 224, 256, 10, 25
    else:
        n, k, iters, steps, mb, lots_iters, n_samples = 32, 2, THESIS["iters"], 224, 256, 10, 25
    n = a.n_images or n
    k = min(n, a.per_image if a.per_image is not None else k)
    mb = a.metric_batch or mb
    run_params = {
        "lots": {"iters": iters, "tau": THESIS["tau"], "alpha": THESIS["alpha"]},
        "smoothgradcampp": {"n_samples": n_samples},
        "metrics": {"steps": steps, "batch_size": mb},
    }
    params = {"methods": a.methods, "run": {m: v for m, v in run_params.items() if m in a.methods or m == "metrics"}}
    clock = Clock(device, a.budget_s)
    src = images(n)
    ref = B.reference_tables()
    ref = ref[(ref["table"] == "5.3") & (ref["metric"] == "ms_per_map")].set_index(["model", "method"])["value"]
    gpu = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "cpu"
    print(f"device={device} ({gpu}) torch={torch.__version__} threads={torch.get_num_threads()} "
          f"cudnn.allow_tf32={torch.backends.cudnn.allow_tf32} "
          f"matmul.allow_tf32={torch.backends.cuda.matmul.allow_tf32}")
    print(f"N={n} images, K={k} single-image calls, LOTS iters={iters} tau={THESIS['tau']} alpha=1/255, steps={steps}, "
          f"metric batch={mb}, weights={a.weights}, budget {a.budget_s:.0f} s")
    record = {"device": str(device), "gpu": gpu, "torch": torch.__version__, "n_images": n, "per_image_k": k,
              "lots_iters": iters, "steps": steps, "metric_batch": mb, "weights": a.weights, "models": {},
              "skipped": []}
    ratios = []
    for name in a.models:
        if clock.left() < 40:
            record["skipped"].append(f"{name}: whole backbone (budget)")
            continue
        model, wkind = get_model(name, a.weights, device)
        rec = {"weights": wkind}
        print(f"\n== {name} ({wkind} weights) ==")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            rec["protocol"] = protocol(model, src, params, n, device, clock, record["skipped"])
        x = src.batch(model).to(device)
        if clock.left() > 10:
            rec["per_image_ms"] = per_image(model, x, a.methods, params["run"], clock, k)
        else:
            record["skipped"].append(f"{name}: single-image calls (budget)")
            rec["per_image_ms"] = {}
        if clock.left() > 10:
            rec["overheads"] = overheads(model, x[: min(n, 8)], steps, mb, lots_iters, clock)
        else:
            record["skipped"].append(f"{name}: overhead ratios (budget)")
        if (a.channels_last or a.amp) and clock.left() > 15:
            rec["options"] = options(name, model, x[: min(n, 8)], steps, mb, lots_iters, device, a.channels_last,
                                     a.amp, clock)
        elif a.channels_last or a.amp:
            record["skipped"].append(f"{name}: channels_last/amp measurement (budget)")
        pr = rec["protocol"]
        print(f"{'method':<18}{'thesis ms':>11}{'ours batched':>14}{'ratio':>8}{'ours 1-image':>14}{'ratio':>8}")
        for m in a.methods:
            th = float(ref.get((name, m), float("nan")))
            ob = pr["methods"].get(m, {}).get("ms_per_map_batched", float("nan"))
            oi = rec["per_image_ms"].get(m, float("nan"))
            pr["methods"].setdefault(m, {}).update(thesis_ms=th, ratio_batched=ob / th, ratio_per_image=oi / th,
                                                   ms_per_map_1image=oi)
            if math.isfinite(ob / th):
                ratios.append(ob / th)
            print(f"{METHODS[m].name:<18}{th:>11.2f}{ob:>14.2f}{ob / th:>8.3f}{oi:>14.2f}{oi / th:>8.3f}")
        if "lots" in pr["methods"] and "overheads" in rec:
            li = pr["methods"]["lots"].get("lots_iters_mean", float("nan"))
            per_it = rec["overheads"]["lots_ms_per_iter"] / min(n, 8)
            pr["methods"]["lots"]["ms_per_map_at_500_iters_est"] = per_it * 500
            print(f"LOTS: {li:.1f} iterations on average (stops: {pr['methods']['lots'].get('lots_stop')}); "
                  f"{per_it:.2f} ms per image-iteration at batch {min(n, 8)} -> "
                  f"{per_it * 500:.0f} ms per map at 500 iterations "
                  f"(thesis {float(ref.get((name, 'lots'), float('nan'))):.0f} ms)")
        if "overheads" in rec:
            o = rec["overheads"]
            print(f"overheads on {device.type}: LOTS/bare loop {o['lots_overhead_ratio']:.3f}, "
                  f"Insertion+Deletion/bare forwards {o['metrics_overhead_ratio']:.3f}")
        for label, r in rec.get("options", {}).items():
            extra = "" if label == "fp32" else (
                f"  speed-up LOTS x{r['lots_speedup']:.2f}, Ins/Del x{r['insdel_speedup']:.2f}; max |diff| x_adv "
                f"{r['max_abs_diff_x_adv']:.2e}, deletion curve {r['max_abs_diff_deletion_curve']:.2e}")
            print(f"  {label:<20} LOTS {r['lots_ms_per_iter']:.2f} ms/iter, Ins/Del {r['insdel_s']:.3f} s/image{extra}")
        print(f"protocol wall time {pr['wall_s']:.1f} s for {n} images x {len(a.methods)} methods "
              "(maps + all metrics); "
              f"elapsed {clock.elapsed():.0f} s")
        record["models"][name] = rec
        del model, x
        if device.type == "cuda":
            torch.cuda.empty_cache()
    record["elapsed_s"] = clock.elapsed()
    record["geomean_ratio_batched"] = float(np.exp(np.mean(np.log(ratios)))) if ratios else float("nan")
    if record["skipped"]:
        print("\nskipped (budget): " + "; ".join(record["skipped"]))
    if a.out:
        Path(a.out).parent.mkdir(parents=True, exist_ok=True)
        Path(a.out).write_text(json.dumps(record, indent=1, default=str))
        print(f"wrote {a.out}")
    print(f"total {clock.elapsed():.0f} s; geometric mean of ours (batched) / thesis ms per map over "
          f"{len(ratios)} cells: {record['geomean_ratio_batched']:.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
