"""The shared LOTS store (lotslib.lots_store): one run per (model, image, target, parameters)."""
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import FAST, bench_images, run_tiny, tinyrel

from lotslib import lots_store as S
from lotslib.attack import lots

TESTS = Path(__file__).resolve().parent


def test_second_request_reads_the_stored_run_and_the_ledger_counts_passes(tmp_path):
    images = bench_images().head(3)
    net = tinyrel()
    x = images.batch(net)
    r1 = S.stored_lots(net, x, store_dir=tmp_path, iters=4)
    direct = lots(net, x, iters=4)
    assert torch.allclose(r1.x_adv, direct.x_adv, atol=1e-6)
    r2 = S.stored_lots(net, x[1:], store_dir=tmp_path, iters=4, via="study")
    assert r2.trace.params["cached"] == 2 and torch.equal(r2.x_adv, r1.x_adv[1:])
    # an explicit default parameter is the same run; another parameter is not
    assert S.stored_lots(net, x[:1], store_dir=tmp_path, iters=4, distance="euclidean").trace.params["cached"] == 1
    r3 = S.stored_lots(net, x[:1], store_dir=tmp_path, iters=3)
    assert r3.trace.params["cached"] == 0
    steps = direct.trace.iterations.tolist()
    counts = S.pass_counts(tmp_path)
    assert counts["computed"] == sum(steps) + int(r3.trace.iterations[0]) and counts["runs_computed"] == 4
    assert counts["read"] == steps[1] + steps[2] + steps[0] and counts["runs_read"] == 3
    assert counts["read_from_benchmark"] == 0


def test_the_store_records_how_each_run_was_computed(tmp_path):
    """Each entry keeps its images per batch and torch threads (a walk's rounding depends on
    both); computed_how counts them, -1 for an entry from before the record."""
    images = bench_images().head(3)
    net = tinyrel()
    x = images.batch(net)
    old = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        S.stored_lots(net, x[:2], store_dir=tmp_path, iters=4, batch_size=1)  # 2 runs + snapshots, alone
        torch.set_num_threads(2)
        S.stored_lots(net, x[2:], store_dir=tmp_path, iters=3, batch_size=None)  # 1 run, a batch of 1, 2 threads
    finally:
        torch.set_num_threads(old)
    how = S.computed_how(tmp_path).set_index(["chunk", "threads"])["entries"]
    n_first = len(list(tmp_path.glob("*.npz"))) - 1 - len(S.snapshot_budgets({"iters": 3}))
    assert how[(1, 1)] == n_first and how[(1, 2)] == 1 + len(S.snapshot_budgets({"iters": 3}))
    legacy = next(tmp_path.glob("*.npz"))
    with np.load(legacy) as z:
        rec = {k: z[k] for k in z.files if k not in ("chunk", "threads")}
    np.savez(legacy, **rec)  # as written before the record existed
    assert S.computed_how(tmp_path).set_index(["chunk", "threads"])["entries"][(-1, -1)] == 1
    assert len(S.computed_how(tmp_path / "empty")) == 0


def test_the_chapters_read_the_benchmarks_lots_runs(tmp_path):
    """A benchmark run inside ``sharing`` stores its LOTS runs; cached_lots with the same
    parameters reads them (producer "benchmark") and gets the benchmark's perturbation."""
    images = bench_images().head(2)
    net = tinyrel()
    with S.sharing(tmp_path / "lots"):
        run_tiny(images, tmp_path / "bench", model=net, methods=["lots"])
    iters = FAST["lots"]["iters"]
    res = S.cached_lots(net, images, iters=iters, cache_dir=tmp_path)
    assert res.trace.params["cached"] == 2
    led = S.ledger(tmp_path / "lots")
    reads = led[led["computed"] == False]  # noqa: E712
    assert set(reads["producer"]) == {"benchmark"} and len(reads) == 2
    assert S.pass_counts(tmp_path / "lots")["read_from_benchmark"] == int(res.trace.iterations.sum())
    assert torch.allclose(res.x_adv, lots(net, images.batch(net), iters=iters).x_adv, atol=1e-5)


def test_the_benchmarks_warm_up_is_not_stored(tmp_path):
    images = bench_images().head(1)
    with S.sharing(tmp_path / "lots"):
        run_tiny(images, tmp_path / "bench", methods=["lots"], params={"lots": {"iters": 3}})
    led = S.ledger(tmp_path / "lots")
    # the Coherency pass explains x * map too: two computed runs of the 3-step cap, no 2-step warm-up
    assert len(led) == 2 and (led["passes"] <= 3).all() and led["computed"].all()


WRITER = textwrap.dedent("""
    import sys, time, torch
    sys.path.insert(0, {tests!r})
    from helpers import bench_images, tinyrel
    from lotslib.lots_store import cached_lots
    torch.set_num_threads(1)
    lo, hi, store, go = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
    images = bench_images().head(hi)
    images = images.select(images.ids[lo:hi])
    while not __import__("os").path.exists(go):
        time.sleep(0.01)
    res = cached_lots(tinyrel(), images, iters=30, cache_dir=store, batch_size=1)
    print(res.trace.params["cached"])
""")


@pytest.mark.usefixtures("one_thread")
def test_two_concurrent_writers_share_one_store_without_damage(tmp_path, recwarn):
    """Two processes attack overlapping images into one store at the same time: every file
    reads back, the ledger parses, and the results equal a single process's."""
    script = tmp_path / "writer.py"
    script.write_text(WRITER.format(tests=str(TESTS)))
    go = tmp_path / "go"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    procs = [subprocess.Popen([sys.executable, str(script), lo, hi, str(tmp_path / "shared"), str(go)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for lo, hi in (("0", "4"), ("2", "6"))]
    go.touch()
    outs = [p.communicate(timeout=240) for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    files = sorted((tmp_path / "shared" / "lots").glob("*.npz"))
    # each image's run and its snapshots at the shorter budgets (10 and 20 of 30)
    assert len(files) == 6 * (1 + len(S.snapshot_budgets({"iters": 30})))
    assert not list((tmp_path / "shared" / "lots").glob("*.corrupt"))
    lines = (tmp_path / "shared" / "lots" / "ledger.jsonl").read_text().splitlines()
    assert len(lines) == 8 and all(json.loads(s)["key"] for s in lines)  # 4 + 4 requests, none torn
    images = bench_images().head(6)
    net = tinyrel()
    single = S.cached_lots(net, images, iters=30, cache_dir=tmp_path / "single", batch_size=1)
    again = S.cached_lots(net, images, iters=30, cache_dir=tmp_path / "shared", batch_size=1)
    assert again.trace.params["cached"] == 6
    np.testing.assert_allclose(again.x_adv.numpy(), single.x_adv.numpy(), atol=1e-6)
    assert not [w for w in recwarn if "corrupt" in str(w.message).lower()]


def test_a_model_changed_in_place_is_another_model(tmp_path):
    """Re-initialising a layer in place (as the sanity checks do) keeps the model's name and
    ``weights_id`` but changes its store key: the store never serves the old weights' run."""
    images = bench_images().head(1)
    net = tinyrel()
    x = images.batch(net)
    before = S.stored_lots(net, x, store_dir=tmp_path, iters=3)
    with torch.no_grad():
        net.fc.weight.mul_(-1.0)
    after = S.stored_lots(net, x, store_dir=tmp_path, iters=3)
    assert after.trace.params["cached"] == 0
    assert torch.allclose(after.x_adv, lots(net, x, iters=3).x_adv, atol=1e-6)
    assert not torch.allclose(after.x_adv, before.x_adv)
