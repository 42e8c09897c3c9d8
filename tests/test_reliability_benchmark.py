"""Reliability, :func:`lotslib.benchmark.run`: bad input is rejected before any
compute, a bad image file stops the run naming it while finished images are kept, awkward
image modes work, and constant images / zero-gradient models are flagged with no NaN in any
table.

Split from the former ``test_reliability.py``; the models are :mod:`helpers`' tiny CNNs on
32x32 input.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers import FAST, FlatNet, bench_images, check_error, noise_image, run_tiny, tinyrel
from PIL import Image

from lotslib import benchmark as B
from lotslib.data import folder
from lotslib.errors import DatasetError, ImageDecodeError, ParameterError, UnknownModelError, WeightsNotFoundError

pytestmark = pytest.mark.usefixtures("one_thread")


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
    net = tinyrel()
    kw = dict(kw)
    if isinstance(kw.get("images"), str):
        kw["images"] = two_images.head(0)
    args = dict(models=[net], methods=["gradcam", "lots"], images=two_images, cache_dir=tmp_path, progress=False)
    args.update(kw)
    with pytest.raises(cls) as e:
        B.run(**args)
    check_error(e, cls, *needles)
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
    check_error(e, WeightsNotFoundError, ckpt, "TORCH_HOME", "Fix", "download")
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").rglob("rows-*"))


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
    noise_image(imgs / "a_ok.jpg", seed=1)
    if bad == "text":
        (imgs / "b_bad.jpg").write_text("this is not a JPEG")
    elif bad == "truncated":
        noise_image(tmp_path / "full.jpg", size=(300, 300), seed=2)
        (imgs / "b_bad.jpg").write_bytes((tmp_path / "full.jpg").read_bytes()[:3000])
    else:
        Image.new("RGB", (1, 1), (9, 9, 9)).save(imgs / "b_bad.jpg")
    noise_image(imgs / "c_ok.png", seed=3)
    with pytest.raises(ImageDecodeError) as e:
        run_tiny(folder(imgs), tmp_path / "cache", methods=["gradcam"], batch_size=1)
    check_error(e, ImageDecodeError, *needles)
    (imgs / "b_bad.jpg").unlink()  # the fix the message gives
    df = run_tiny(folder(imgs), tmp_path / "cache", methods=["gradcam"], batch_size=1)
    assert df.attrs["computed"] == ["tinyrel/gradcam/c_ok"]  # a_ok was saved before the error
    assert list(df["image_id"]) == ["a_ok", "c_ok"]


def test_run_on_every_awkward_image_mode(tmp_path):
    """CMYK JPEG, 16-bit PNG, grayscale PNG, RGBA with transparency, palette, a thin strip:
    through the benchmark they give finite rows like any RGB photo."""
    imgs = tmp_path / "imgs"
    imgs.mkdir()
    noise_image(imgs / "cmyk.jpg", mode="CMYK", seed=1)
    Image.fromarray(np.random.default_rng(2).integers(0, 65535, (40, 48), dtype=np.uint16)).save(imgs / "gray16.png")
    noise_image(imgs / "gray8.png", mode="L", seed=3)
    rgba = np.random.default_rng(4).integers(0, 255, (40, 48, 4), dtype=np.uint8)
    rgba[:20, :, 3] = 0  # top half fully transparent -> white
    Image.fromarray(rgba, "RGBA").save(imgs / "rgba.png")
    noise_image(imgs / "palette.png", mode="P", seed=5)
    noise_image(imgs / "strip.png", size=(400, 16), seed=6)
    src = folder(imgs)
    assert Image.open(imgs / "cmyk.jpg").mode == "CMYK" and Image.open(imgs / "gray16.png").mode.startswith("I")
    top = src.select(["rgba"])[0].image[:, :20]
    assert torch.allclose(top, torch.ones_like(top))
    df = run_tiny(src, tmp_path / "cache", methods=["gradcam", "lots"], batch_size=3)
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
        noise_image(imgs / "n_noise1.png", seed=1)
        noise_image(imgs / "n_noise2.png", seed=2)
    methods = ["random", "gradcam", "smoothgradcampp", "lots", "lots_class", "lots_mean"]
    params = {**FAST, "smoothgradcampp": {"n_samples": 2}}
    df = run_tiny(folder(imgs), tmp_path / "cache", methods=methods, params=params)
    na = df[df["na_reason"] != ""]  # LOTS class/mean rows of a class without another image: N/A by design
    assert na["method"].isin(["lots_class", "lots_mean"]).all() and na["avg_drop"].isna().all()
    df = df[df["na_reason"] == ""]
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
    df = run_tiny(two_images, tmp_path, model=FlatNet(), methods=["gradcam", "lots"])
    assert df["degenerate"].all() and df["flagged"].all()
    assert (df.loc[df["method"] == "lots", "lots_stop"] == "zero_gradient").all()
    assert (df["avg_drop"] == 0).all() and (df["increase"] == 0).all()  # a flat model: y == o
    for name, t in _all_tables(df).items():
        assert not t.isna().any().any(), name
