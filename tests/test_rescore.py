"""Stored maps reproduce the table, and score again under the other
conventions (items 2 and 3)."""
from __future__ import annotations

import numpy as np
import torch
from helpers import FAST, bench_images, tinyrel

from lotslib import benchmark as B
from lotslib.metrics import confidence_change, insertion_deletion

METRIC_COLS = ["avg_drop", "increase", "coherency", "insertion", "deletion", "y", "o"]


def test_metrics_recomputed_from_stored_maps_equal_the_stored_metrics(tmp_path):
    images = bench_images().head(3)
    net = tinyrel()
    params = {**FAST, "smoothgradcampp": {"n_samples": 2}}
    df = B.run([net], ["random", "gradcam", "smoothgradcampp", "lots"], images, params=params, cache_dir=tmp_path,
               batch_size=3, progress=False)  # one batch: rescore sees the same batch as the benchmark did
    maps = B.load_maps(df)
    assert maps.dtype == np.float32
    again = B.rescore(df, images, list(B.METRICS), {}, models={net.name: net})
    assert np.allclose(again[METRIC_COLS].to_numpy(float), df[METRIC_COLS].to_numpy(float), atol=1e-5, rtol=0)


def test_rescore_under_the_other_fill_and_score(tmp_path):
    images = bench_images().head(2)
    net = tinyrel()
    net.register_buffer("mean", torch.tensor([0.5, 0.4, 0.3]).view(1, 3, 1, 1))  # a normalization mean for fill="mean"
    df = B.run([net], ["gradcam"], images, params=FAST, cache_dir=tmp_path, progress=False)
    mean = B.rescore(df, images, ["avg_drop", "avg_increase"], {"fill": "mean"}, models={net.name: net})
    x = images.batch(net)
    maps = torch.from_numpy(B.load_maps(df))
    by_hand = confidence_change(net, x, maps, df["top1"].to_numpy(), fill="mean")
    assert np.allclose(mean["avg_drop"], by_hand.drop, atol=1e-9) and np.allclose(mean["o"], by_hand.o, atol=1e-12)
    assert not np.allclose(mean["o"], df["o"])  # the fill really changes what the model sees
    top = B.rescore(df, images, ["insertion", "deletion"], {"score": "max"}, models={net.name: net})
    ref = insertion_deletion(net, x, maps, df["top1"].to_numpy(), steps=FAST["metrics"]["steps"], score="max")
    assert np.allclose(top["deletion"], ref.deletion, atol=1e-9) and (top["deletion"] >= df["deletion"] - 1e-9).all()
    same = B.rescore(df, images, ["deletion"], {}, models={net.name: net})
    assert np.allclose(same["deletion"], df["deletion"], atol=1e-5)


def test_the_other_score_is_recorded_in_the_same_pass_and_read_not_recomputed(tmp_path):
    images = bench_images().head(2)
    net = tinyrel()
    df = B.run([net], ["gradcam"], images, params=FAST, cache_dir=tmp_path, progress=False)
    x, maps = images.batch(net), torch.from_numpy(B.load_maps(df))
    for score in ("max", "original"):
        ref = insertion_deletion(net, x, maps, df["top1"].to_numpy(), steps=FAST["metrics"]["steps"], score=score)
        assert np.allclose(df[f"insertion[score={score}]"], ref.insertion, atol=1e-9)
        assert np.allclose(df[f"deletion[score={score}]"], ref.deletion, atol=1e-9)
    assert (df["deletion[score=max]"] >= df["deletion"] - 1e-9).all()  # max >= the tracked class at every step
    calls = []
    net.register_forward_hook(lambda *a: calls.append(1))
    top = B.rescore(df, images, ["insertion", "deletion"], {"score": "max"}, models={net.name: net})
    assert calls == []  # read from the rows: no forward pass
    assert np.allclose(top["deletion"], df["deletion[score=max]"]) and np.allclose(top["insertion"],
                                                                                    df["insertion[score=max]"])
    B.rescore(df, images, ["deletion"], {"steps": 2}, models={net.name: net})
    assert calls  # other steps are not recorded: computed
