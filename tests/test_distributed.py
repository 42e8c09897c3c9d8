"""Scale-out: ``torchrun --nproc-per-node 2 -m lotslib.benchmark`` gives the single-process table."""
import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd

PARAMS = json.dumps({"lots": {"iters": 3}, "metrics": {"steps": 4, "batch_size": 8}})
#: columns that depend on the timing or on where the row was computed, not on the result
TIMING_COLUMNS = {"ms_per_map", "device", "threads"}


def _cli(cache, out, n_images=3, extra=()):
    return [
        "-m", "lotslib.benchmark", "--models", "efficientnet_lite0", "--methods", "random", "gradcam", "lots",
        "--images", "embedded:imagenet", "--n-images", str(n_images), "--cache-dir", str(cache),
        "--params-json", PARAMS, "--batch-size", "1", "--threads", "1", "--out", str(out), "--no-progress", "--quiet",
        *extra,
    ]


def _env():
    env = dict(os.environ, OMP_NUM_THREADS="1", TQDM_DISABLE="1")
    env.pop("RANK", None), env.pop("WORLD_SIZE", None), env.pop("LOCAL_RANK", None)
    return env


def _run(cmd, timeout=150):
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=_env())
    assert proc.returncode == 0, f"{' '.join(cmd)}\nstdout:\n{proc.stdout[-3000:]}\nstderr:\n{proc.stderr[-3000:]}"
    return proc


def _frame(path):
    df = pd.read_csv(path, keep_default_na=False)
    return df.sort_values(["model", "method", "image_id"]).reset_index(drop=True)


def test_torchrun_two_processes_merge_to_the_single_process_table(tmp_path):
    _run([sys.executable, *_cli(tmp_path / "single-cache", tmp_path / "single.csv")])
    multi = _run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
         *_cli(tmp_path / "multi-cache", tmp_path / "multi.csv")]
    )
    assert "2 processes" in multi.stdout
    single, merged = _frame(tmp_path / "single.csv"), _frame(tmp_path / "multi.csv")
    assert len(single) == len(merged) == 9  # 3 methods x 3 images
    assert list(single.columns) == list(merged.columns)
    # every image computed exactly once, by its shard: the cache holds one part per image and method
    parts = sorted(p.name for p in (tmp_path / "multi-cache").glob("*/rows-*.parquet"))
    assert len(parts) == 9, parts
    for col in single.columns:
        if col in TIMING_COLUMNS:
            continue
        a, b = single[col].to_numpy(), merged[col].to_numpy()
        if np.issubdtype(a.dtype, np.floating):
            np.testing.assert_allclose(a, b, rtol=0, atol=1e-6, err_msg=col)
        else:
            assert (a == b).all(), col
    # the shards' rows really were computed in two processes with one thread each
    assert (merged["threads"] == 1).all() and (merged["device"] == "cpu").all()


def test_single_process_cli_reuses_the_cache_and_reports_bad_input(tmp_path):
    from lotslib.benchmark import main

    out = tmp_path / "rows.csv"
    argv = _cli(tmp_path / "cache", out, n_images=2)[2:]  # without "-m lotslib.benchmark"
    assert main(argv) == 0
    first = _frame(out)
    mtime = {p: p.stat().st_mtime_ns for p in (tmp_path / "cache").glob("*/rows-*.parquet")}
    assert main(argv) == 0  # everything from the cache: no part rewritten
    assert {p: p.stat().st_mtime_ns for p in (tmp_path / "cache").glob("*/rows-*.parquet")} == mtime
    pd.testing.assert_frame_equal(first.drop(columns=["ms_per_map"]), _frame(out).drop(columns=["ms_per_map"]))
    bad = argv[:]
    bad[bad.index("embedded:imagenet")] = "nowhere:at-all"
    assert main(bad) == 1
