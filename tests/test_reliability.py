"""Reliability (issue 6): bad input through every public entry point, results never lost,
identical reruns, safe loading.

Decoding-level bad inputs (truncated/CMYK/16-bit/... files, folders, labels.csv, model names,
missing weights) and the LOTS / lots_map parameter checks live in ``test_data.py``,
``test_models.py`` and ``test_reliability_inputs.py``; this file sends the same kinds of bad
input through :func:`lotslib.cams.explain`, the metrics and :func:`lotslib.benchmark.run`, and
tests the benchmark's cache: SIGKILL in the middle of a run, damaged cache files, stale keys,
byte-identical summaries of two clean runs (in subprocesses with different hash seeds).
Models are tiny CNNs on 32x32 input, so the whole file runs in about a minute on 2 cores.
"""
from __future__ import annotations

import ast
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
import torch.nn.functional as F
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image
from torch import nn

from lotslib import benchmark as B
from lotslib.cams import METHODS, DegenerateMapWarning, explain, explain_with_info
from lotslib.data import folder
from lotslib.errors import (
    CorruptCacheWarning,
    DatasetError,
    ImageDecodeError,
    InputRangeError,
    ParameterError,
    UnknownModelError,
    WeightsNotFoundError,
)
from lotslib.metrics import coherency_details, confidence_change, insertion_deletion
from lotslib.visualize import ZeroPerturbationWarning, lots_map

ROOT = Path(__file__).resolve().parents[1]
TESTS = Path(__file__).resolve().parent
FAST = {"lots": {"iters": 2, "filter_size": 5}, "metrics": {"steps": 4, "batch_size": 8}}
#: every row column that must not depend on timing, threads or the cache's history
VALUE_COLS = ["model", "method", "image_id", "image_fp", "label", "top1", "top1_score", "y", "o", "avg_drop", "increase",
              "coherency", "insertion", "deletion", "degenerate", "coherency_degenerate", "flagged", "flag",
              "target_class", "target_fallback", "lots_iters", "lots_stop", "steps", "cache_key"]


pytestmark = pytest.mark.usefixtures("one_thread")


class TinyNet(nn.Module):
    """A 10-class CNN on 32x32 input with the interface the benchmark uses; ``calls`` counts
    forward passes (the spy that proves "rejected before any compute")."""

    name = "tinyrel"
    input_size = 32
    weights_id = "tinyrel:seeded"

    def __init__(self, seed: int = 0):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
        self.conv2 = nn.Conv2d(8, 16, 3, stride=2, padding=1)
        self.fc = nn.Linear(16, 10)
        with torch.no_grad():
            for p in self.parameters():
                p.copy_(torch.randn(p.shape, generator=g) * 0.5)
        self.cam_layer = self.conv2
        self.calls = 0
        self.eval()
        for p in self.parameters():
            p.requires_grad_(False)

    def forward(self, x):
        self.calls += 1
        return self.fc(F.relu(self.conv2(F.relu(self.conv1(x)))).mean((2, 3)))

    def features(self, x, layer="logits"):
        return self(x)

    def preprocess(self, img):
        from lotslib.models import resize_center_crop

        return resize_center_crop(img, 37, 32)


class FlatNet(TinyNet):
    """Logits that do not depend on the pixels: every gradient is exactly zero."""

    name = "flatnet"

    def forward(self, x):
        self.calls += 1
        return self.fc(self.conv2(F.relu(self.conv1(x))).mean((2, 3)) * 0.0)


def bench_images():
    from lotslib.data import embedded

    return embedded("imagenet").head(6)


def _run(images, cache_dir, model=None, **kw):
    args = dict(models=[model or TinyNet()], methods=["gradcam", "lots"], images=images, params=FAST,
                cache_dir=cache_dir, batch_size=2, progress=False)
    args.update(kw)
    return B.run(**args)


def _exact(excinfo, cls, *needles):
    """The error is exactly ``cls`` (not a sibling subclass) and its message holds every needle."""
    assert type(excinfo.value) is cls, f"{type(excinfo.value).__name__} is not {cls.__name__}: {excinfo.value}"
    msg = str(excinfo.value)
    for n in needles:
        assert n in msg, f"{n!r} not in message: {msg}"
    return msg


# ====================================================================== explain
BAD_TENSORS = {
    "nan": (lambda: torch.rand(2, 3, 32, 32).index_put_((torch.tensor([1]),), torch.tensor(float("nan"))), ["NaN", "samples [1]", "Fix"]),
    "inf": (lambda: torch.full((1, 3, 32, 32), float("inf")), ["inf", "Fix"]),
    "normalized": (lambda: (torch.rand(1, 3, 32, 32) - 0.45) / 0.22, ["outside [0,1]", "Fix", "un-normalized"]),
    "uint8": (lambda: torch.zeros(1, 3, 32, 32, dtype=torch.uint8), ["dtype", "Fix"]),
    "no_batch": (lambda: torch.rand(3, 32, 32), ["(N,3,H,W)", "Fix"]),
    "gray": (lambda: torch.rand(1, 1, 32, 32), ["RGB", "Fix"]),
    "empty": (lambda: torch.rand(0, 3, 32, 32), ["empty", "Fix"]),
}


@pytest.mark.parametrize("method", ["gradcam", "lots", "smoothgradcampp"])
@pytest.mark.parametrize("case", sorted(BAD_TENSORS))
def test_explain_rejects_bad_tensors_before_compute(method, case):
    make, needles = BAD_TENSORS[case]
    net = TinyNet()
    with pytest.raises(InputRangeError) as e:
        explain(method, net, make())
    _exact(e, InputRangeError, *needles)
    assert net.calls == 0


BAD_PARAMS = [
    ("lots", {"tau": -0.1}, ["tau=-0.1", ">= 0"]),
    ("lots", {"iters": 0}, ["iters=0", ">= 1"]),
    ("lots", {"filter_size": 48}, ["filter_size=48", "odd"]),
    ("lots", {"alpha": float("nan")}, ["alpha=nan", "> 0"]),
    ("lots", {"layer": "conv5"}, ["layer='conv5'", "'logits'"]),
    ("lots", {"patience": 0}, ["patience=0", "positive"]),
    ("smoothgradcampp", {"n_samples": 0}, ["n_samples=0", ">= 1"]),
    ("smoothgradcampp", {"noise_level": float("inf")}, ["noise_level=inf", "finite"]),
    ("gradcam", {"tau": 0.1}, ["['tau']", "it takes"]),
    ("random", {"seed": 1.5}, ["seed=1.5", "int"]),
    ("layercam", {"batch_size": 0}, ["batch_size=0", "positive"]),
]


@pytest.mark.parametrize("method,params,needles", BAD_PARAMS, ids=[f"{m}-{next(iter(p))}" for m, p, _ in BAD_PARAMS])
def test_explain_rejects_bad_parameters_before_compute(method, params, needles):
    net = TinyNet()
    with pytest.raises(ParameterError) as e:
        explain(method, net, torch.rand(1, 3, 32, 32), **params)
    _exact(e, ParameterError, *needles)
    assert net.calls == 0
    # the same parameters through the metrics' second map (coherency) and the benchmark
    with pytest.raises(ParameterError):
        coherency_details(method, net, torch.rand(1, 3, 32, 32), torch.rand(1, 32, 32), [0], **params)
    assert net.calls == 0


@pytest.mark.parametrize("method", list(METHODS))
def test_constant_image_gives_zero_map_and_warning_for_every_method(method):
    net = TinyNet()
    x = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    x[1] = 0.37  # a constant (grey) image
    kw = {"iters": 2, "filter_size": 5} if method == "lots" else ({"n_samples": 2} if method == "smoothgradcampp" else {})
    with pytest.warns(DegenerateMapWarning, match=r"samples \[1\].*constant image"):
        ex = explain_with_info(method, net, x, **kw)
    assert torch.equal(ex.maps[1], torch.zeros(32, 32)) and ex.maps[0].max() == 1.0
    assert ex.degenerate.tolist() == [False, True] and ex.ran.tolist() == [True, False]
    if method == "lots":  # LOTS never ran on the constant image: its trace has the other image only
        assert len(ex.trace.stop_reason) == 1 and torch.isfinite(ex.trace.distances).all()


def test_zero_gradient_lots_stops_cleanly_with_zero_map():
    net = FlatNet()
    x = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    with pytest.warns(DegenerateMapWarning, match=r"samples \[0, 1\].*constant map"):
        ex = explain_with_info("lots", net, x, iters=50, filter_size=5)
    assert ex.trace.stop_reason == ["zero_gradient", "zero_gradient"]
    assert ex.trace.iterations.tolist() == [0, 0] and torch.equal(ex.x_adv, x)
    assert torch.equal(ex.maps, torch.zeros(2, 32, 32)) and ex.degenerate.all()


# ====================================================================== metrics
def test_insertion_deletion_steps_above_pixels_rejected_before_compute():
    net = TinyNet()
    x, m = torch.rand(1, 3, 8, 8), torch.rand(1, 8, 8)
    with pytest.raises(ParameterError) as e:
        insertion_deletion(net, x, m, [0], steps=65)
    _exact(e, ParameterError, "steps=65", "64 pixels", "Fix")
    assert net.calls == 0
    r = insertion_deletion(net, x, m, [0], steps=64, batch_size=65)  # exactly one pixel per step is fine
    assert r.insertion_curves.shape == (1, 65) and np.isfinite(r.insertion).all()


@pytest.mark.parametrize(
    "maps,needles",
    [
        (torch.full((1, 32, 32), float("nan")), ["NaN", "Fix"]),
        (torch.full((1, 32, 32), 1.5), ["outside [0,1]", "minmax"]),
        (torch.rand(1, 16, 16), ["(1, 32, 32)"]),
    ],
)
def test_metrics_reject_bad_maps_before_compute(maps, needles):
    net = TinyNet()
    for fn in (confidence_change, insertion_deletion):
        with pytest.raises(InputRangeError) as e:
            fn(net, torch.rand(1, 3, 32, 32), maps, [0])
        _exact(e, InputRangeError, *needles)
    with pytest.raises(InputRangeError):
        coherency_details("gradcam", net, torch.rand(1, 3, 32, 32), maps, [0])
    assert net.calls == 0


# ====================================================================== benchmark.run: bad input
@pytest.fixture(scope="module")
def two_images():
    return bench_images().head(2)


@pytest.mark.parametrize(
    "kw,cls,needles",
    [
        ({"params": {"lots": {"tau": -1.0}}}, ParameterError, ["tau=-1.0"]),
        ({"params": {"lots": {"iters": 0}}}, ParameterError, ["iters=0"]),
        ({"params": {"lots": {"filter_size": 4}}}, ParameterError, ["filter_size=4", "odd"]),
        ({"params": {"metrics": {"steps": 32 * 32 + 1}}}, ParameterError, ["steps=1025", "1024 pixels"]),
        ({"params": {"metrics": {"blur_sigma": -1.0}}}, ParameterError, ["blur_sigma=-1.0"]),
        ({"params": {"gradcm": {}}}, ParameterError, ["'gradcm'", "use method keys"]),
        ({"methods": ["gradcam", "lots_best"]}, ParameterError, ["lots_best", "Choose from"]),
        ({"batch_size": 0}, ParameterError, ["batch_size=0"]),
        ({"models": ["resnet18"]}, UnknownModelError, ["resnet18", "efficientnet_lite0", "resnet50", "convnext_tiny"]),
        ({"images": torch.rand(2, 3, 32, 32)}, ParameterError, ["ImageSource", "Tensor"]),
        ({"images": "EMPTY"}, DatasetError, ["empty", "Fix"]),
    ],
    ids=["tau", "iters", "filter_size", "steps>pixels", "blur_sigma", "params_key", "method", "batch_size",
         "unknown_model", "tensor_images", "empty_images"],
)
def test_run_rejects_bad_input_before_compute(kw, cls, needles, two_images, tmp_path):
    net = TinyNet()
    kw = dict(kw)
    if isinstance(kw.get("images"), str):
        kw["images"] = two_images.head(0)
    args = dict(models=[net], methods=["gradcam", "lots"], images=two_images, cache_dir=tmp_path, progress=False)
    args.update(kw)
    with pytest.raises(cls) as e:
        B.run(**args)
    _exact(e, cls, *needles)
    assert net.calls == 0
    assert not any(tmp_path.rglob("rows-*")) and not any(tmp_path.rglob("curves-*"))


def test_run_full_profile_without_weights_names_the_file(monkeypatch, two_images, tmp_path):
    import urllib.error

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))

    def offline(*a, **k):
        raise urllib.error.URLError("Temporary failure in name resolution")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", offline)
    with pytest.raises(WeightsNotFoundError) as e:
        B.run(["densenet121"], ["gradcam"], two_images, cache_dir=tmp_path / "cache", progress=False)
    ckpt = str(tmp_path / "torch" / "hub" / "checkpoints" / "densenet121-a639ec97.pth")
    _exact(e, WeightsNotFoundError, ckpt, "TORCH_HOME", "Fix", "download")
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").rglob("rows-*"))


def _noise(path, size=(48, 40), seed=0, mode="RGB"):
    arr = np.random.default_rng(seed).integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
    Image.fromarray(arr).convert(mode).save(path)


@pytest.mark.parametrize(
    "bad,needles",
    [
        ("text", ["b_bad.jpg", "not a readable image", "Fix"]),
        ("truncated", ["b_bad.jpg", "truncated", "Fix"]),
        ("one_pixel", ["b_bad.jpg", "1x1", "Fix"]),
    ],
)
def test_run_stops_at_a_bad_file_naming_it_and_keeps_finished_images(bad, needles, tmp_path):
    imgs = tmp_path / "imgs"
    imgs.mkdir()
    _noise(imgs / "a_ok.jpg", seed=1)
    if bad == "text":
        (imgs / "b_bad.jpg").write_text("this is not a JPEG")
    elif bad == "truncated":
        _noise(tmp_path / "full.jpg", size=(300, 300), seed=2)
        (imgs / "b_bad.jpg").write_bytes((tmp_path / "full.jpg").read_bytes()[:3000])
    else:
        Image.new("RGB", (1, 1), (9, 9, 9)).save(imgs / "b_bad.jpg")
    _noise(imgs / "c_ok.png", seed=3)
    with pytest.raises(ImageDecodeError) as e:
        _run(folder(imgs), tmp_path / "cache", methods=["gradcam"], batch_size=1)
    _exact(e, ImageDecodeError, *needles)
    (imgs / "b_bad.jpg").unlink()  # the fix the message gives
    df = _run(folder(imgs), tmp_path / "cache", methods=["gradcam"], batch_size=1)
    assert df.attrs["computed"] == ["tinyrel/gradcam/c_ok"]  # a_ok was saved before the error
    assert list(df["image_id"]) == ["a_ok", "c_ok"]


def test_run_on_every_awkward_image_mode(tmp_path):
    """CMYK JPEG, 16-bit PNG, grayscale PNG, RGBA with transparency, palette, a thin strip:
    through the benchmark they give finite rows like any RGB photo."""
    imgs = tmp_path / "imgs"
    imgs.mkdir()
    _noise(imgs / "cmyk.jpg", mode="CMYK", seed=1)
    Image.fromarray(np.random.default_rng(2).integers(0, 65535, (40, 48), dtype=np.uint16)).save(imgs / "gray16.png")
    _noise(imgs / "gray8.png", mode="L", seed=3)
    rgba = np.random.default_rng(4).integers(0, 255, (40, 48, 4), dtype=np.uint8)
    rgba[:20, :, 3] = 0  # top half fully transparent -> white
    Image.fromarray(rgba, "RGBA").save(imgs / "rgba.png")
    _noise(imgs / "palette.png", mode="P", seed=5)
    _noise(imgs / "strip.png", size=(400, 16), seed=6)
    src = folder(imgs)
    assert Image.open(imgs / "cmyk.jpg").mode == "CMYK" and Image.open(imgs / "gray16.png").mode.startswith("I")
    top = src.select(["rgba"])[0].image[:, :20]
    assert torch.allclose(top, torch.ones_like(top))
    df = _run(src, tmp_path / "cache", methods=["gradcam", "lots"], batch_size=3)
    assert len(df) == 12 and not df.select_dtypes("number").isna().any().any()
    assert not df.loc[df["method"] == "lots", "degenerate"].any()


# ====================================================================== constant images end to end
def _all_tables(df):
    return {
        "rows": df.select_dtypes("number"),
        "summary": B.summarize(df),
        "5.1": B.table_5_1(df),
        "5.2": B.table_5_2(df),
        "5.3": B.table_5_3(df),
        "wilcoxon": B.lots_vs_best_cam(df).select_dtypes("number"),
        "vs_thesis": B.compare_with_reference(df)[["mean", "ci_low", "ci_high", "n"]],
    }


@pytest.mark.parametrize("only_constant", [False, True])
def test_constant_images_are_flagged_and_no_table_has_nan(only_constant, tmp_path):
    imgs = tmp_path / "imgs"
    imgs.mkdir()
    Image.new("RGB", (40, 40), (200, 30, 90)).save(imgs / "c_red.png")
    Image.new("RGB", (40, 40), (0, 0, 0)).save(imgs / "c_black.png")
    if not only_constant:
        _noise(imgs / "n_noise1.png", seed=1)
        _noise(imgs / "n_noise2.png", seed=2)
    methods = ["random", "gradcam", "smoothgradcampp", "lots", "lots_class", "lots_mean"]
    params = {**FAST, "smoothgradcampp": {"n_samples": 2}}
    df = _run(folder(imgs), tmp_path / "cache", methods=methods, params=params)
    const = df[df["image_id"].str.startswith("c_")]
    assert const["degenerate"].all() and const["flagged"].all() and const["flag"].str.contains("degenerate_map").all()
    assert (const.loc[const["method"].str.startswith("lots"), "lots_stop"] == "constant_image").all()
    # a zero map: x * map is black for every method, so every method scores the same on it
    assert (const.groupby("image_id")["o"].nunique() == 1).all()
    assert (const["coherency"] == 100.0).all() and const["coherency_degenerate"].all()
    for name, t in _all_tables(df).items():
        assert len(t) > 0, name
        assert not t.isna().any().any(), f"NaN in {name}:\n{t}"
    cells = B.format_table(B.table_5_2(df))
    assert not cells.apply(lambda c: c.str.contains("nan")).any().any()
    if not only_constant:
        noise = df[df["image_id"].str.startswith("n_") & df["method"].isin(["gradcam", "random", "lots"])]
        assert not noise["degenerate"].any()
        t = B.table_5_2(df, exclude_flagged=True)
        assert (t.xs("n", axis=1, level="stat") == 2).all().all() and not t.isna().any().any()


def test_zero_gradient_model_through_the_benchmark(two_images, tmp_path):
    df = _run(two_images, tmp_path, model=FlatNet(), methods=["gradcam", "lots"])
    assert df["degenerate"].all() and df["flagged"].all()
    assert (df.loc[df["method"] == "lots", "lots_stop"] == "zero_gradient").all()
    assert (df["avg_drop"] == 0).all() and (df["increase"] == 0).all()  # a flat model: y == o
    for name, t in _all_tables(df).items():
        assert not t.isna().any().any(), name


# ====================================================================== property-based
@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(1, 3),
    h=st.integers(1, 40),
    w=st.integers(1, 40),
    fs=st.sampled_from([1, 3, 5, 9, 49, 101]),
    kind=st.sampled_from(["dense", "one_pixel", "one_channel", "saturate", "none"]),
    scale=st.floats(0.0, 1.0, allow_subnormal=True),
    seed=st.integers(0, 2**16),
)
def test_property_lots_map_any_shape_any_perturbation(n, h, w, fs, kind, scale, seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 3, h, w, generator=g)
    if kind == "dense":
        xa = x + scale * (2 * torch.rand(n, 3, h, w, generator=g) - 1)
    elif kind == "one_pixel":
        xa = x.clone()
        xa[:, :, int(seed % h), int(seed % w)] += scale
    elif kind == "one_channel":
        xa = x.clone()
        xa[:, seed % 3] -= scale
    elif kind == "saturate":
        xa = torch.where(x > 0.5, torch.ones_like(x), torch.zeros_like(x))
    else:
        xa = x.clone()
    xa = xa.clamp(0.0, 1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ZeroPerturbationWarning)
        m = lots_map(x, xa, filter_size=fs)
    assert m.shape == (n, h, w) and m.dtype == torch.float32
    assert torch.isfinite(m).all() and m.min() >= 0 and m.max() <= 1
    moved = (xa - x).abs().flatten(1).amax(1) > 0
    for i in range(n):  # a zero perturbation gives a zero map; a visible one a map reaching 1
        if not moved[i]:
            assert m[i].max() == 0


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    h=st.integers(1, 24),
    w=st.integers(1, 24),
    method=st.sampled_from(list(METHODS)),
    seed=st.integers(0, 1000),
)
def test_property_explain_any_shape(h, w, method, seed):
    x = torch.rand(2, 3, h, w, generator=torch.Generator().manual_seed(seed))
    kw = {"iters": 2, "filter_size": 5} if method == "lots" else ({"n_samples": 2} if method == "smoothgradcampp" else {})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DegenerateMapWarning)
        m = explain(method, TinyNet(), x, **kw)
    assert m.shape == (2, h, w) and torch.isfinite(m).all() and m.min() >= 0 and m.max() <= 1


# ====================================================================== damaged cache files
def _truncate(p: Path, keep: float = 0.5) -> None:
    data = p.read_bytes()
    p.write_bytes(data[: int(len(data) * keep)])


@pytest.mark.parametrize("damage", ["truncate", "empty", "garbage"])
def test_damaged_cache_files_are_detected_recomputed_and_reported(damage, tmp_path):
    images = bench_images().head(4)
    clean = _run(images, tmp_path / "clean")
    cache = tmp_path / "cache"
    first = _run(images, cache)
    pd.testing.assert_frame_equal(first[VALUE_COLS], clean[VALUE_COLS])
    key = {m: cache / k for m, k in zip(first["method"], first["cache_key"])}
    rows = sorted(key["gradcam"].glob("rows-*.parquet"))[0]  # gradcam, images 0-1
    curves = sorted(key["lots"].glob("curves-*.npz"))[1]  # lots, images 2-3
    for p in (rows, curves):
        if damage == "truncate":
            _truncate(p)
        elif damage == "empty":
            p.write_bytes(b"")
        else:
            p.write_bytes(os.urandom(p.stat().st_size))
    with pytest.warns(CorruptCacheWarning) as rec:
        again = _run(images, cache)
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
        third = _run(images, cache)
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
    """The chapters' caches (lotslib.cache): a truncated npz / parquet is reported and recomputed."""
    from lotslib import cache as C

    images = bench_images().head(2)
    net = TinyNet()
    x = images.batch(net)
    r1 = C.cached_lots(net, images, iters=3, cache_dir=tmp_path, x=x)
    files = sorted((tmp_path / "lots").glob("*.npz"))
    assert len(files) == 2
    _truncate(files[0])
    with pytest.warns(CorruptCacheWarning, match=files[0].name):
        r2 = C.cached_lots(net, images, iters=3, cache_dir=tmp_path, x=x)
    assert r2.trace.params["cached"] == 1 and torch.allclose(r1.x_adv, r2.x_adv, atol=1e-5)
    assert r1.trace.stop_reason == r2.trace.stop_reason

    calls = []

    def compute():
        calls.append(1)
        return pd.DataFrame({"a": [1.0, 2.0]})

    C.cached_frame(tmp_path, "t", "k1", compute)
    _truncate(tmp_path / "t-k1.parquet")
    with pytest.warns(CorruptCacheWarning, match="t-k1.parquet"):
        df = C.cached_frame(tmp_path, "t", "k1", compute)
    assert calls == [1, 1] and df["a"].tolist() == [1.0, 2.0]


def test_cli_recomputes_a_damaged_map(tmp_path, capsys):
    from lotslib.cli import main

    imgs = tmp_path / "imgs"
    imgs.mkdir()
    _noise(imgs / "pic.png", size=(64, 64), seed=1)
    out = tmp_path / "out"
    assert main(["explain", str(imgs), "--method", "gradcam", "--out", str(out)]) == 0
    good = np.load(out / "pic_gradcam.npy")
    _truncate(out / "pic_gradcam.npy", 0.3)
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
        _noise(imgs / f"im{i}.bmp", size=(160, 160), seed=i)
    cache = tmp_path / "cache"
    base = _run(folder(imgs), cache)
    assert len(base.attrs["computed"]) == 6
    assert _run(folder(imgs), cache).attrs["computed"] == []

    def recomputed(**kw):
        return sorted(_run(folder(imgs), cache, **kw).attrs["computed"])

    # a LOTS parameter: only LOTS rows; a metric parameter: every row
    assert recomputed(params={**FAST, "lots": {"iters": 3, "filter_size": 5}}) == [f"tinyrel/lots/im{i}" for i in range(3)]
    assert len(recomputed(params={**FAST, "metrics": {"steps": 4, "batch_size": 8, "blur_sigma": 4.0}})) == 6
    # weights: another seed, and a single parameter nudged by 1e-6
    assert len(recomputed(model=TinyNet(seed=1))) == 6
    nudged = TinyNet()
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
    after = _run(folder(imgs), cache)
    assert after.attrs["computed"] == []
    fresh = _run(folder(imgs), tmp_path / "fresh")
    pd.testing.assert_frame_equal(after[VALUE_COLS], fresh[VALUE_COLS])
    for k in ("insertion", "deletion"):
        assert np.array_equal(B.load_curves(after)[k], B.load_curves(fresh)[k])
    # labels: a labels.csv that gives im2 a class changes its rows, not the others
    (imgs / "labels.csv").write_text("file,wnid,class_index,name\nim0.bmp,,,\nim1.bmp,,,\nim2.bmp,,7,\n")
    assert recomputed() == ["tinyrel/gradcam/im2", "tinyrel/lots/im2"]
    # the image list behind the LOTS class/mean targets is part of their key
    one = _run(folder(imgs), cache, methods=["lots_mean"])
    assert len(one.attrs["computed"]) == 3
    ref = folder(imgs)
    more = tmp_path / "more"
    more.mkdir()
    for q in imgs.glob("*.bmp"):
        (more / q.name).write_bytes(q.read_bytes())
    _noise(more / "im3.bmp", size=(160, 160), seed=9)
    (more / "labels.csv").write_text((imgs / "labels.csv").read_text() + "im3.bmp,,7,\n")
    two = _run(ref, cache, methods=["lots_mean"], reference=folder(more))
    assert len(two.attrs["computed"]) == 3
    assert set(two["cache_key"]).isdisjoint(one["cache_key"])
    im2 = two.set_index("image_id").loc["im2"]
    assert not im2["target_fallback"] and im2["target_class"] == 7  # now a real class mean


# ====================================================================== SIGKILL, identical reruns
SCRIPT = textwrap.dedent(
    """
    import json, os, signal, sys
    sys.path.insert(0, {tests!r})
    import torch
    torch.set_num_threads(1)
    from test_reliability import FAST, TinyNet, bench_images
    from lotslib import benchmark as B

    cache, mode, out = sys.argv[1], sys.argv[2], sys.argv[3]
    net, log = TinyNet(), []
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
    rows = pd.read_csv(root / "clean1" / "rows.csv")
    assert len(rows) == 6 * 6 and not rows.select_dtypes("number").isna().any().any()
    summary = pd.read_csv(root / "clean1" / "summary.csv")
    assert len(summary) == 6 * 5 and (summary["n"] == 6).all()
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
    net = TinyNet()
    resumed = B.run([net], METHODS_SUB, bench_images(), params=PARAMS_SUB, cache_dir=cache, batch_size=2, progress=False)
    everything = [f"tinyrel/{m}/{i}" for m in METHODS_SUB for i in ids]
    assert resumed.attrs["computed"] == [e for e in everything if e not in finished]
    assert resumed.attrs["damaged"] == []
    # the final table equals an uninterrupted run's (read back from clean1's cache: nothing recomputed)
    clean = B.run([TinyNet()], METHODS_SUB, bench_images(), params=PARAMS_SUB, cache_dir=root / "clean1-cache",
                  batch_size=2, progress=False)
    assert clean.attrs["computed"] == []
    pd.testing.assert_frame_equal(resumed[VALUE_COLS], clean[VALUE_COLS])
    for fn in (B.table_5_1, B.table_5_2):
        assert fn(resumed).to_csv() == fn(clean).to_csv()
    assert B.summarize(resumed, tuple(B.METRICS)).to_csv(index=False).encode() == (root / "clean1" / "summary.csv").read_bytes()


# ====================================================================== safe loading
def _sources():
    files = sorted((ROOT / "lotslib").glob("*.py")) + sorted((ROOT / "notebooks").glob("*.py"))
    files += sorted((ROOT / "scripts").glob("*.py")) + sorted((ROOT / "benchmarks").glob("*.py"))
    return [f for f in files if f.is_file()]


def _kw(call, name):
    for k in call.keywords:
        if k.arg == name:
            return k.value
    return None


def test_every_load_is_pickle_free():
    """Every torch.load / hub download passes weights_only=True; no pickle module, no
    np.load(allow_pickle=True), no pandas pickles, no torch.save caches."""
    bad, n_weight_loads = [], 0
    for f in _sources():
        tree = ast.parse(f.read_text(), filename=str(f))
        for node in ast.walk(tree):
            where = f"{f.relative_to(ROOT)}:{getattr(node, 'lineno', '?')}"
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [a.name for a in node.names] + ([node.module] if isinstance(node, ast.ImportFrom) and node.module else [])
                bad += [f"{where} imports {n}" for n in names
                        if n.split(".")[0] in ("pickle", "cPickle", "_pickle", "dill", "cloudpickle", "joblib", "shelve", "marshal")]
            if not isinstance(node, ast.Call):
                continue
            fn = node.func
            name = fn.attr if isinstance(fn, ast.Attribute) else (fn.id if isinstance(fn, ast.Name) else "")
            owner = fn.value.id if isinstance(fn, ast.Attribute) and isinstance(fn.value, ast.Name) else ""
            if (owner == "torch" and name == "load") or name in ("load_state_dict_from_url", "load_url"):
                n_weight_loads += 1
                v = _kw(node, "weights_only")
                if not (isinstance(v, ast.Constant) and v.value is True):
                    bad.append(f"{where} {owner + '.' if owner else ''}{name} without weights_only=True")
            if owner in ("np", "numpy") and name == "load":
                v = _kw(node, "allow_pickle")
                if v is not None and not (isinstance(v, ast.Constant) and v.value is False):
                    bad.append(f"{where} np.load with allow_pickle not False")
            if name in ("read_pickle", "to_pickle"):
                bad.append(f"{where} pandas {name}")
            if owner == "torch" and name == "save":
                bad.append(f"{where} torch.save (a pickle; caches are parquet/npz/JSON)")
    assert n_weight_loads >= 3  # the checker does see models.py's two torch.load and the hub download
    assert bad == [], "\n".join(bad)


# ====================================================================== the book entry point
NB_OK = '''# %% tags=["parameters"]
profile = "embedded"
iters = 40

# %%
from pathlib import Path
Path("chapter_ok_ran.txt").write_text(f"{profile} {iters}")
print("chapter one done")
'''
NB_FAIL = '''# %% tags=["parameters"]
profile = "embedded"

# %%
print("first cell of the failing chapter ran")

# %%
x = 1
raise ValueError("deliberate failure in the second code cell")

# %%
print("never reached")
'''
NB_NEVER = '''# %%
from pathlib import Path
Path("chapter_three_ran.txt").write_text("yes")
'''


def test_book_stops_at_a_failing_chapter_naming_it_and_keeps_the_rest(tmp_path, monkeypatch, capsys):
    from lotslib import book

    nbs = tmp_path / "notebooks"
    nbs.mkdir()
    (nbs / "t1_ok.py").write_text(NB_OK)
    (nbs / "t2_fail.py").write_text(NB_FAIL)
    (nbs / "t3_never.py").write_text(NB_NEVER)
    root = tmp_path.resolve()
    monkeypatch.setattr(book, "ROOT", root)
    monkeypatch.setattr(book, "NOTEBOOKS", nbs)
    monkeypatch.setattr(book, "CHAPTERS", (book.Chapter("1", "t1_ok", "ok"), book.Chapter("2", "t2_fail", "fails"),
                                           book.Chapter("3", "t3_never", "after")))
    monkeypatch.setattr(book, "ensure_mathjax", lambda root: None)
    monkeypatch.delenv("LOTSBOOK", raising=False)  # execute_chapter sets it; restored after the test
    out = root / book.BOOK_DIR
    assert book.main(["--root", str(root), "--no-build", "--tiny", "--chapters", "1"]) == 0
    ok_nb = out / "t1_ok.ipynb"
    ok_bytes = ok_nb.read_bytes()
    assert json.loads(ok_bytes)["metadata"]["lotsbook"]["status"] == "ok"
    assert (root / "chapter_ok_ran.txt").read_text() == "embedded 5"  # --tiny's iters reached the chapter
    capsys.readouterr()

    rc = book.main(["--root", str(root), "--no-build", "--tiny"])
    err = capsys.readouterr().err
    assert rc == 1
    assert "Chapter 2" in err and "t2_fail" in err and "code cell 3" in err
    assert "ValueError" in err and "deliberate failure" in err and "t2_fail.ipynb" in err
    # the partial notebook is kept, with the output of the cell before the failure
    partial = json.loads((out / "t2_fail.ipynb").read_text())
    assert partial["metadata"]["lotsbook"]["status"] == "failed"
    outputs = json.dumps([c.get("outputs", []) for c in partial["cells"]])
    assert "first cell of the failing chapter ran" in outputs and "deliberate failure" in outputs
    assert "never reached" not in outputs
    # the earlier chapter is intact, the later one never ran
    assert ok_nb.read_bytes() == ok_bytes
    assert not (out / "t3_never.ipynb").exists() and not (root / "chapter_three_ran.txt").exists()
