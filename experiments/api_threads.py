"""The library's thread default under load: the README's API example, timed with the thread
count lotslib picks and with torch's own default (one thread per core), one after the other.

    python experiments/api_threads.py --iters 50 --load-procs 1 --out results/api_threads.json

Each run is a fresh Python process that loads Lite0, runs LOTS on scikit-image's cat for
``--iters`` iterations and Grad-CAM, as the README's example does; only the LOTS and
Grad-CAM calls are timed. ``--load-procs N`` starts N busy processes (a one-thread matrix
product loop each) for the duration, the "concurrent job"; with 0 the machine's own load is
the only one (its 1-minute load average is recorded before and after). Prints the ratio
torch-default / lotslib-default of the two wall times.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "book"))

EXAMPLE = """
import json, sys, time
{threads}
from lotslib import explain, load_model, lots, lots_map
from lotslib.data import photo
import torch
model = load_model("efficientnet_lite0")
x = model.preprocess(photo("chelsea").image)[None]
t0 = time.perf_counter()
result = lots(model, x, target="zero", iters={iters}, tau=0.1, alpha=1/255)
heat = lots_map(x, result.x_adv, filter_size=49)
cam = explain("gradcam", model, x)
print(json.dumps({{"seconds": time.perf_counter() - t0, "threads": torch.get_num_threads()}}))
"""
BUSY = "import torch\ntorch.set_num_threads(1)\na = torch.rand(512, 512)\nwhile True:\n    a @ a\n"


def run(iters: int, torch_default: bool) -> dict:
    # torch's default, one thread per core: through $LOTS_THREADS, which lotslib obeys (a
    # torch.set_num_threads(cores) before lotslib decides looks like torch's untouched default)
    env = {k: v for k, v in os.environ.items() if k not in ("LOTS_THREADS", "OMP_NUM_THREADS")}
    if torch_default:
        env["LOTS_THREADS"] = str(os.cpu_count() or 1)
    out = subprocess.run([sys.executable, "-c", EXAMPLE.format(threads="", iters=iters)], cwd=ROOT, env=env,
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--iters", type=int, default=50)
    ap.add_argument("--load-procs", type=int, default=1)
    ap.add_argument("--out", default=str(ROOT / "results" / "api_threads.json"))
    a = ap.parse_args(argv)
    busy = [subprocess.Popen([sys.executable, "-c", BUSY]) for _ in range(a.load_procs)]
    try:
        time.sleep(2 if busy else 0)
        load_before = os.getloadavg()[0]
        lib = run(a.iters, torch_default=False)
        tor = run(a.iters, torch_default=True)
        load_after = os.getloadavg()[0]
    finally:
        for p in busy:
            p.kill()
    from lotsbook.paths import shown

    rec = {"command": shown("python experiments/api_threads.py " + " ".join(sys.argv[1:] if argv is None else argv)),
           "iters": a.iters, "load_procs": a.load_procs, "cores": os.cpu_count(),
           "lotslib_default": lib, "torch_default": tor, "ratio_torch_over_lotslib": tor["seconds"] / lib["seconds"],
           "load_avg_1m_before": load_before, "load_avg_1m_after": load_after,
           "date": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())}
    Path(a.out).write_text(json.dumps(rec, indent=1) + "\n")
    print(f"lotslib default ({lib['threads']} thread(s)): {lib['seconds']:.1f} s; torch default "
          f"({tor['threads']} threads): {tor['seconds']:.1f} s; ratio {rec['ratio_torch_over_lotslib']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
