"""Reliability, the caches (:mod:`lotslib.cache`, the benchmark's and the CLI's):
results are never lost. Damaged cache files are detected, reported and recomputed; writes are
atomic; stale keys never serve old results; a run SIGKILLed in the middle resumes without
losing a finished image; two clean runs (in subprocesses with different hash seeds) give
byte-identical summaries.

Split from the former ``test_reliability.py``; the models are :mod:`helpers`' tiny CNNs on
32x32 input.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from helpers import FAST, VALUE_COLS, bench_images, noise_image, run_tiny, tinyrel, truncate_file
from PIL import Image

from lotslib import benchmark as B
from lotslib.data import folder
from lotslib.errors import CorruptCacheWarning

ROOT = Path(__file__).resolve().parents[1]
TESTS = Path(__file__).resolve().parent


pytestmark = pytest.mark.usefixtures("one_thread")


# ====================================================================== damaged cache files
@pytest.mark.parametrize("damage", ["truncate", "empty", "garbage"])
def test_damaged_cache_files_are_detected_recomputed_and_reported(damage, tmp_path):
    images = bench_images().head(4)
    clean = run_tiny(images, tmp_path / "clean")
    cache = tmp_path / "cache"
    first = run_tiny(images, cache)
    pd.testing.assert_frame_equal(first[VALUE_COLS], clean[VALUE_COLS])
    key = {m: cache / k for m, k in zip(first["method"], first["cache_key"])}
    rows = sorted(key["gradcam"].glob("rows-*.parquet"))[0]  # gradcam, images 0-1
    curves = sorted(key["lots"].glob("curves-*.npz"))[1]  # lots, images 2-3
    for p in (rows, curves):
        if damage == "truncate":
            truncate_file(p)
        elif damage == "empty":
            p.write_bytes(b"")
        else:
            p.write_bytes(os.urandom(p.stat().st_size))
    with pytest.warns(CorruptCacheWarning) as rec:
        again = run_tiny(images, cache)
    msgs = " | ".join(str(w.message) for w in rec if issubclass(w.category, CorruptCacheWarning))
    assert str(rows) in msgs and str(curves) in msgs and "recomputed" in msgs
    assert sorted(again.attrs["damaged"]) == sorted([str(rows), str(curves)])
    ids = images.ids
    assert sorted(again.attrs["computed"]) == sorted(
        [f"tinyrel/gradcam/{i}" for i in ids[:2]] + [f"tinyrel/lots/{i}" for i in ids[2:]]
    )
    pd.testing.assert_frame_equal(again[VALUE_COLS], clean[VALUE_COLS])
    # the damaged pair was moved aside, fresh files replaced it; curves read back again
    assert (rows.parent / (rows.name + ".corrupt")).is_file() and (curves.parent / (curves.name + ".corrupt")).is_file()
    assert (rows.parent / rows.name.replace("rows-", "curves-").replace(".parquet", ".npz.corrupt")).is_file()
    c = B.load_curves(again)
    assert c["insertion"].shape == (8, 5) and np.allclose(c["deletion"], B.load_curves(clean)["deletion"])
    with warnings.catch_warnings():
        warnings.simplefilter("error", CorruptCacheWarning)
        third = run_tiny(images, cache)
    assert third.attrs["computed"] == [] and third.attrs["damaged"] == []


def test_atomic_write_never_leaves_half_a_file(tmp_path):
    from lotslib.cache import atomic_write

    p = tmp_path / "rows.parquet"
    p.write_bytes(b"old complete content")

    def dies_half_way(f):
        f.write(b"new but incomp")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_write(p, dies_half_way)
    assert p.read_bytes() == b"old complete content"
    assert [q.name for q in tmp_path.iterdir()] == ["rows.parquet"]  # no temporary left behind
    atomic_write(p, lambda f: f.write(b"new"))
    assert p.read_bytes() == b"new"


def test_book_caches_recompute_damaged_files(tmp_path):
    """The chapters' caches (lotslib.lots_store, lotslib.cache): a truncated npz / parquet is
    reported and recomputed."""
    from lotslib import cache as C
    from lotslib.lots_store import cached_lots

    images = bench_images().head(2)
    net = tinyrel()
    x = images.batch(net)
    r1 = cached_lots(net, images, iters=3, cache_dir=tmp_path, x=x)
    files = sorted((tmp_path / "lots").glob("*.npz"))
    assert len(files) == 2
    truncate_file(files[0])
    with pytest.warns(CorruptCacheWarning, match=files[0].name):
        r2 = cached_lots(net, images, iters=3, cache_dir=tmp_path, x=x)
    assert r2.trace.params["cached"] == 1 and torch.allclose(r1.x_adv, r2.x_adv, atol=1e-5)
    assert r1.trace.stop_reason == r2.trace.stop_reason

    calls = []

    def compute():
        calls.append(1)
        return pd.DataFrame({"a": [1.0, 2.0]})

    C.cached_frame(tmp_path, "t", "k1", compute)
    truncate_file(tmp_path / "t-k1.parquet")
    with pytest.warns(CorruptCacheWarning, match="t-k1.parquet"):
        df = C.cached_frame(tmp_path, "t", "k1", compute)
    assert calls == [1, 1] and df["a"].tolist() == [1.0, 2.0]


def test_cli_recomputes_a_damaged_map(tmp_path, capsys):
    from lotslib.cli import main

    imgs = tmp_path / "imgs"
    imgs.mkdir()
    noise_image(imgs / "pic.png", size=(64, 64), seed=1)
    out = tmp_path / "out"
    assert main(["explain", str(imgs), "--method", "gradcam", "--out", str(out)]) == 0
    good = np.load(out / "pic_gradcam.npy")
    truncate_file(out / "pic_gradcam.npy", 0.3)
    capsys.readouterr()
    assert main(["explain", str(imgs), "--method", "gradcam", "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "damaged result" in err and "pic_gradcam.npy" in err
    assert np.array_equal(np.load(out / "pic_gradcam.npy"), good)


# ====================================================================== stale keys
def test_cache_keys_cover_params_weights_and_images(tmp_path):
    imgs = tmp_path / "imgs"
    imgs.mkdir()
    for i in range(3):
        # BMP is uncompressed and stored bottom-up: its last bytes are the image's top rows
        noise_image(imgs / f"im{i}.bmp", size=(160, 160), seed=i)
    cache = tmp_path / "cache"
    base = run_tiny(folder(imgs), cache)
    assert len(base.attrs["computed"]) == 6
    assert run_tiny(folder(imgs), cache).attrs["computed"] == []

    def recomputed(**kw):
        return sorted(run_tiny(folder(imgs), cache, **kw).attrs["computed"])

    # a LOTS parameter: only LOTS rows; a metric parameter: every row
    assert recomputed(params={**FAST, "lots": {"iters": 3, "filter_size": 5}}) == [
        f"tinyrel/lots/im{i}" for i in range(3)]
    assert len(recomputed(params={**FAST, "metrics": {"steps": 4, "batch_size": 8, "blur_sigma": 4.0}})) == 6
    # weights: another seed, and a single parameter nudged by 1e-6
    assert len(recomputed(model=tinyrel(seed=1))) == 6
    nudged = tinyrel()
    with torch.no_grad():
        nudged.fc.bias[3] += 1e-6
    assert len(recomputed(model=nudged)) == 6
    # image content: the same file name and size, only the last bytes (the top rows) changed
    p = imgs / "im1.bmp"
    size, head = p.stat().st_size, p.read_bytes()[:65536]
    arr = np.asarray(Image.open(p)).copy()
    arr[:4] = 255 - arr[:4]
    Image.fromarray(arr).save(p)
    assert p.stat().st_size == size and p.read_bytes()[:65536] == head
    assert recomputed() == ["tinyrel/gradcam/im1", "tinyrel/lots/im1"]
    # ... and from now on the new rows and curves are served, never the old part's
    after = run_tiny(folder(imgs), cache)
    assert after.attrs["computed"] == []
    fresh = run_tiny(folder(imgs), tmp_path / "fresh")
    pd.testing.assert_frame_equal(after[VALUE_COLS], fresh[VALUE_COLS])
    for k in ("insertion", "deletion"):
        assert np.array_equal(B.load_curves(after)[k], B.load_curves(fresh)[k])
    # labels: a labels.csv that gives im2 a class changes its rows, not the others
    (imgs / "labels.csv").write_text("file,wnid,class_index,name\nim0.bmp,,,\nim1.bmp,,,\nim2.bmp,,7,\n")
    assert recomputed() == ["tinyrel/gradcam/im2", "tinyrel/lots/im2"]
    # the image list behind the LOTS class/mean targets is part of their key
    one = run_tiny(folder(imgs), cache, methods=["lots_mean"])
    assert len(one.attrs["computed"]) == 3
    ref = folder(imgs)
    more = tmp_path / "more"
    more.mkdir()
    for q in imgs.glob("*.bmp"):
        (more / q.name).write_bytes(q.read_bytes())
    noise_image(more / "im3.bmp", size=(160, 160), seed=9)
    (more / "labels.csv").write_text((imgs / "labels.csv").read_text() + "im3.bmp,,7,\n")
    two = run_tiny(ref, cache, methods=["lots_mean"], reference=folder(more))
    assert len(two.attrs["computed"]) == 3
    assert set(two["cache_key"]).isdisjoint(one["cache_key"])
    im2 = two.set_index("image_id").loc["im2"]
    assert im2["na_reason"] == "" and im2["target_class"] == 7  # now a real class mean (it was N/A)
    assert one.set_index("image_id").loc["im2", "na_reason"].startswith("no other reference image of class 7")


# ====================================================================== SIGKILL, identical reruns
SCRIPT = textwrap.dedent(
    """
    import json, os, signal, sys
    sys.path.insert(0, {tests!r})
    import torch
    torch.set_num_threads(1)
    from helpers import FAST, bench_images, tinyrel
    from lotslib import benchmark as B

    cache, mode, out = sys.argv[1], sys.argv[2], sys.argv[3]
    net, log = tinyrel(), []
    methods = ["gradcam", "smoothgradcampp", "random", "lots", "lots_class", "lots_mean"]
    params = dict(FAST, smoothgradcampp={{"n_samples": 3}})

    def callback(model, method, ids):
        log.extend(f"{{model}}/{{method}}/{{i}}" for i in ids)
        with open(os.path.join(out, "finished.json"), "w") as f:
            json.dump(log, f)
            f.flush()
            os.fsync(f.fileno())
        if mode == "kill" and len(log) == 4:  # two batches saved: die in the middle of the third
            net.calls = -3

    if mode == "kill":
        plain = net.forward

        def forward(x):
            if net.calls == -1:
                os.kill(os.getpid(), signal.SIGKILL)
            return plain(x)

        net.forward = forward
    df = B.run([net], methods, bench_images(), params=params, cache_dir=cache, batch_size=2, progress=False,
               callback=callback)
    df.drop(columns=["ms_per_map"]).to_csv(os.path.join(out, "rows.csv"), index=False)
    B.summarize(df, tuple(B.METRICS)).to_csv(os.path.join(out, "summary.csv"), index=False)
    B.table_5_1(df).to_csv(os.path.join(out, "table_5_1.csv"))
    B.table_5_2(df).to_csv(os.path.join(out, "table_5_2.csv"))
    B.lots_vs_best_cam(df).to_csv(os.path.join(out, "wilcoxon.csv"), index=False)
    """
)
METHODS_SUB = ["gradcam", "smoothgradcampp", "random", "lots", "lots_class", "lots_mean"]
PARAMS_SUB = dict(FAST, smoothgradcampp={"n_samples": 3})
CSVS = ["rows.csv", "summary.csv", "table_5_1.csv", "table_5_2.csv", "wilcoxon.csv"]


@pytest.fixture(scope="module")
def subprocess_runs(tmp_path_factory):
    """Three processes at once: two clean runs (different hash seeds, fresh caches) and one
    that SIGKILLs itself in the middle of its third batch."""
    root = tmp_path_factory.mktemp("subprocess_runs")
    script = root / "bench.py"
    script.write_text(SCRIPT.format(tests=str(TESTS)))
    procs = {}
    for name, mode, seed in (("clean1", "clean", "1"), ("clean2", "clean", "2"), ("killed", "kill", "3")):
        out = root / name
        out.mkdir()
        env = {**os.environ, "PYTHONHASHSEED": seed, "OMP_NUM_THREADS": "1"}
        procs[name] = subprocess.Popen(
            [sys.executable, str(script), str(root / f"{name}-cache"), mode, str(out)],
            env=env, cwd=str(ROOT), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
    results = {}
    for name, p in procs.items():
        try:
            so, se = p.communicate(timeout=300)
        except subprocess.TimeoutExpired:
            p.kill()
            so, se = p.communicate()
        results[name] = (p.returncode, so, se)
    return root, results


def test_two_clean_runs_give_byte_identical_summaries(subprocess_runs):
    root, results = subprocess_runs
    for name in ("clean1", "clean2"):
        assert results[name][0] == 0, results[name][2][-3000:]
    for csv in CSVS:
        a, b = (root / "clean1" / csv).read_bytes(), (root / "clean2" / csv).read_bytes()
        assert a == b, f"{csv} differs between two clean runs"
    rows = pd.read_csv(root / "clean1" / "rows.csv", keep_default_na=False, na_values={"avg_drop": ["", "NaN"]})
    na = rows["na_reason"] != ""  # LOTS class/mean rows of classes without another image of theirs
    assert len(rows) == 6 * 6 and not rows[~na].select_dtypes("number").isna().any().any()
    assert rows.loc[na, "method"].isin(["lots_class", "lots_mean"]).all() and rows.loc[na, "avg_drop"].isna().all()
    summary = pd.read_csv(root / "clean1" / "summary.csv")
    n_ok = (~na).groupby(rows["method"]).sum()
    assert len(summary) == 6 * 5 and (summary["n"].to_numpy() == summary["method"].map(n_ok).to_numpy()).all()
    # the random methods really are random (seeded per image), not accidentally constant
    rnd = rows[rows["method"] == "random"]
    assert rnd["coherency"].nunique() > 1


def test_sigkill_mid_run_resumes_without_losing_a_finished_image(subprocess_runs):
    root, results = subprocess_runs
    rc, so, se = results["killed"]
    assert rc == -signal.SIGKILL, f"rc={rc}\n{se[-3000:]}"
    assert not (root / "killed" / "rows.csv").exists()  # it really died before the end
    finished = json.loads((root / "killed" / "finished.json").read_text())
    ids = bench_images().ids
    assert finished == [f"tinyrel/gradcam/{i}" for i in ids[:4]]
    cache = root / "killed-cache"
    # no half-written part survives, and every finished image is on disk
    leftovers = [p.name for p in cache.rglob("*") if p.is_file() and p.suffix not in (".parquet", ".npz", ".json")]
    assert all(n.startswith(".") and n.endswith(".tmp") for n in leftovers), leftovers
    net = tinyrel()
    resumed = B.run([net], METHODS_SUB, bench_images(), params=PARAMS_SUB, cache_dir=cache, batch_size=2,
                    progress=False)
    everything = [f"tinyrel/{m}/{i}" for m in METHODS_SUB for i in ids]
    assert resumed.attrs["computed"] == [e for e in everything if e not in finished]
    assert resumed.attrs["damaged"] == []
    # the final table equals an uninterrupted run's (read back from clean1's cache: nothing recomputed)
    clean = B.run([tinyrel()], METHODS_SUB, bench_images(), params=PARAMS_SUB, cache_dir=root / "clean1-cache",
                  batch_size=2, progress=False)
    assert clean.attrs["computed"] == []
    pd.testing.assert_frame_equal(resumed[VALUE_COLS], clean[VALUE_COLS])
    for fn in (B.table_5_1, B.table_5_2):
        assert fn(resumed).to_csv() == fn(clean).to_csv()
    summary = B.summarize(resumed, tuple(B.METRICS)).to_csv(index=False).encode()
    assert summary == (root / "clean1" / "summary.csv").read_bytes()
