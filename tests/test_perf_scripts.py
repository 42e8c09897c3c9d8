"""The performance scripts in experiments/ run end to end (tiny settings, CPU)."""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "experiments"


def _run(args, timeout=240):
    env = dict(os.environ, OMP_NUM_THREADS="1", TQDM_DISABLE="1")
    proc = subprocess.run([sys.executable, *map(str, args)], cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                          env=env)
    assert proc.returncode == 0, f"{args}\nstdout:\n{proc.stdout[-3000:]}\nstderr:\n{proc.stderr[-3000:]}"
    return proc.stdout


def _last_number(out: str) -> float:
    last = out.strip().splitlines()[-1]
    return float(re.findall(r"[-+]?\d+(?:\.\d+)?(?:e[-+]?\d+)?", last)[-1])


def test_gpu_protocol_cpu_smoke(tmp_path):
    out = tmp_path / "gpu.json"
    stdout = _run([BENCH / "gpu_protocol.py", "--cpu-smoke", "--models", "alexnet", "--methods", "gradcam", "lots",
                   "--channels-last", "--amp", "--out", out])
    rec = json.loads(out.read_text())
    m = rec["models"]["alexnet"]
    for method in ("gradcam", "lots"):
        cell = m["protocol"]["methods"][method]
        assert cell["thesis_ms"] > 0 and cell["ms_per_map_batched"] > 0
        assert abs(cell["ratio_batched"] - cell["ms_per_map_batched"] / cell["thesis_ms"]) < 1e-9
        assert m["per_image_ms"][method] > 0
    assert m["protocol"]["methods"]["lots"]["lots_iters_mean"] <= 3
    assert m["overheads"]["lots_overhead_ratio"] > 0 and m["overheads"]["metrics_overhead_ratio"] > 0
    assert set(m["options"]) == {"fp32", "channels_last", "bf16_autocast", "channels_last+bf16"}
    # channels_last changes the memory layout, not the results (beyond float rounding)
    assert m["options"]["channels_last"]["max_abs_diff_x_adv"] < 1e-4
    assert "ours batched" in stdout
    assert rec["geomean_ratio_batched"] > 0 and abs(_last_number(stdout) - rec["geomean_ratio_batched"]) < 1e-3


def test_gpu_protocol_refuses_to_time_the_cpu_without_smoke_flag():
    proc = subprocess.run([sys.executable, str(BENCH / "gpu_protocol.py"), "--device", "cpu"], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 2 and "--cpu-smoke" in proc.stdout


def test_metrics_overhead_tiny():
    out = _run([BENCH / "metrics_overhead.py", "--weights", "none", "--images", "1", "--steps", "7", "--batch", "8",
                "--repeats", "1"])
    assert "Insertion/Deletion overhead ratio" in out.strip().splitlines()[-1]
    assert _last_number(out) > 0


def test_lots_overhead_tiny():
    out = _run([BENCH / "lots_overhead.py", "--weights", "none", "--batch", "1", "--iters", "2", "--repeats", "1"])
    assert "LOTS overhead ratio" in out.strip().splitlines()[-1] and _last_number(out) > 0


def test_book_time_dry_run(tmp_path):
    out = _run([BENCH / "book_time.py", "--dry-run", "--out", tmp_path / "t.json"])
    assert "-m lotsbook --profile embedded --root" in out
    assert not (tmp_path / "t.json").exists()


def test_tune_malloc_is_idempotent_and_can_be_turned_off():
    code = ("import lotslib.perf as p, sys; a = p.tune_malloc(); b = p.tune_malloc(); "
            "print(a, b, p.malloc_tuned()); sys.exit(0 if a == b == p.malloc_tuned() else 1)")
    on = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    off = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         env=dict(os.environ, LOTSLIB_TUNE_MALLOC="0"))
    assert on.returncode == 0 and off.returncode == 0, (on.stderr, off.stderr)
    assert off.stdout.split()[0] == "False"
    if sys.platform.startswith("linux") and "glibc" in " ".join(__import__("platform").libc_ver()):
        assert on.stdout.split()[0] == "True"


def test_channels_last_is_opt_in_and_changes_only_the_layout():
    import torch

    from lotslib.models import load_model, weights_fingerprint

    a = load_model("efficientnet_lite0")
    b = load_model("efficientnet_lite0", channels_last=True)
    w = b.net._conv_stem.weight
    assert w.is_contiguous(memory_format=torch.channels_last)
    assert not a.net._conv_stem.weight.is_contiguous(memory_format=torch.channels_last)
    assert weights_fingerprint(a) == weights_fingerprint(b)  # same weights, same cache entries
    x = torch.rand(2, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert torch.allclose(a(x), b(x), atol=1e-3)
