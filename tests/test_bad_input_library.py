"""Bad input to the library, each case with its error class and message: the pixel limit as
documented, checkpoint errors that list keys, timm weights offline, CAM targets checked
against the model, a bare nn.Module, wrap's warnings; and the one call from a photo to a map."""
from __future__ import annotations

import re
import struct
import time
import zlib

import numpy as np
import pytest
import torch
import torchvision
from PIL import Image
from torch import nn

import lotslib
from lotslib.data import MAX_PIXELS, load_image
from lotslib.errors import ImageDecodeError, ParameterError, UnknownModelError, WeightsNotFoundError
from lotslib.models import load_checkpoint, load_model, wrap

pytestmark = pytest.mark.usefixtures("one_thread")


def png_header(path, w: int, h: int) -> None:
    """A PNG whose header claims ``w x h`` pixels (a few bytes: nothing behind it decodes)."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(b"\0" * 10)) + chunk(b"IEND", b""))


# ------------------------------------------------------------------ the pixel limit
@pytest.mark.parametrize("w, h", [(25_000, 20_000), (30_000, 30_000), (20_001, 20_000)])
def test_the_pixel_limit_is_the_documented_one_and_the_message_agrees(tmp_path, w, h):
    """500 MP was decoded before (Pillow only refused above 800 MP) and 900 MP said "exceeds 800"
    but "downscale below 400": now every image above 400 MP is refused from its header with one limit."""
    assert MAX_PIXELS == 400_000_000
    p = tmp_path / "bomb.png"
    png_header(p, w, h)
    t0 = time.perf_counter()
    with pytest.raises(ImageDecodeError) as e:
        load_image(p)
    msg = str(e.value)
    assert time.perf_counter() - t0 < 2  # refused before decoding
    assert f"{w * h:,} pixels" in msg and "400,000,000" in msg and "400 megapixels" in msg and "Fix" in msg
    assert "800" not in msg and "decompression bomb DOS" not in msg
    assert Image.MAX_IMAGE_PIXELS != MAX_PIXELS // 2  # Pillow's limit restored


def test_an_image_of_exactly_the_limit_is_not_refused_as_a_bomb(tmp_path):
    p = tmp_path / "edge.png"
    png_header(p, 20_000, 20_000)  # 400,000,000: allowed, so it fails later, as a broken file
    with pytest.raises(ImageDecodeError) as e:
        load_image(p)
    assert "too large" not in str(e.value)


# ------------------------------------------------------------------ checkpoints
def _resnet18_state():
    torch.manual_seed(0)
    return torchvision.models.resnet18(weights=None).state_dict()


@pytest.mark.parametrize("form", ["plain", "module.", "state_dict", "module. in state_dict"])
def test_checkpoint_forms_are_accepted(tmp_path, form):
    state = _resnet18_state()
    if "module." in form:
        state = {f"module.{k}": v for k, v in state.items()}
    if "state_dict" in form:
        state = {"state_dict": state, "epoch": 3}
    torch.save(state, tmp_path / "ck.pth")
    net = torchvision.models.resnet18(weights=None)
    load_checkpoint(net, tmp_path / "ck.pth")
    assert torch.equal(net.fc.weight, _resnet18_state()["fc.weight"])


def test_a_checkpoint_of_another_model_lists_missing_and_unexpected_keys(tmp_path):
    state = _resnet18_state()
    state["extra.weight"] = torch.zeros(1)
    del state["fc.bias"]
    state["fc.weight"] = torch.zeros(10, 512)
    torch.save(state, tmp_path / "other.pth")
    with pytest.raises(WeightsNotFoundError) as e:
        load_checkpoint(torchvision.models.resnet18(weights=None), tmp_path / "other.pth")
    msg = str(e.value)
    assert "missing keys (1): fc.bias" in msg and "unexpected keys (1): extra.weight" in msg
    assert "fc.weight (10, 512) (the model has (1000, 512))" in msg and "Fix" in msg


@pytest.mark.parametrize("case, says", [
    ("text", "not a file torch.save wrote"),
    ("whole model", "pickled Python objects"),
    ("truncated", "truncated or damaged"),
    ("a tensor", "holds Tensor, not a state dict"),
])
def test_a_garbage_checkpoint_gets_a_clean_message(tmp_path, case, says):
    p = tmp_path / "w.pth"
    if case == "text":
        p.write_text("not a checkpoint")
    elif case == "whole model":
        torch.save(nn.Linear(2, 2), p)
    elif case == "truncated":
        torch.save(_resnet18_state(), p)
        p.write_bytes(p.read_bytes()[:5000])
    else:
        torch.save(torch.zeros(3), p)
    with pytest.raises(WeightsNotFoundError) as e:
        load_checkpoint(torchvision.models.resnet18(weights=None), p)
    msg = str(e.value)
    assert says in msg and str(p) in msg and "Fix" in msg
    assert "weights_only=False" not in msg and "\x1b" not in msg and "\n" not in msg


# ------------------------------------------------------------------ model names
def test_unknown_model_names_the_prefixes():
    with pytest.raises(UnknownModelError) as e:
        load_model("vgg")
    assert "torchvision:<name>" in str(e.value) and "timm:<name>" in str(e.value)


@pytest.mark.parametrize("how", ["HF_HUB_OFFLINE", "host unreachable"])
def test_timm_weights_offline_fail_fast_and_name_the_file(monkeypatch, how):
    pytest.importorskip("timm")
    import socket

    from huggingface_hub import constants

    if how == "HF_HUB_OFFLINE":
        monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    else:
        monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)

        def refuse(*a, **k):
            raise OSError("unreachable")

        monkeypatch.setattr(socket, "create_connection", refuse)
    t0 = time.perf_counter()
    with pytest.raises(WeightsNotFoundError) as e:
        load_model("timm:resnet18")
    assert time.perf_counter() - t0 < 10
    msg = str(e.value)
    assert "models--timm--resnet18" in msg and "model.safetensors" in msg and "weights=None" in msg


# ------------------------------------------------------------------ explain's checks
def _five_classes():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                        nn.Linear(4, 5))
    return net, wrap(net, mean=(0.5,) * 3, std=(0.5,) * 3, input_size=32, cam_layer="0")


@pytest.mark.parametrize("targets, says", [(7, "targets=7 is not a class"), (-1, "targets=-1 is not a class"),
                                           ([0, 5], "targets=5"), (1.5, "must be integers")])
def test_cam_targets_are_checked_against_the_model(targets, says):
    _, model = _five_classes()
    with pytest.raises(ParameterError) as e:
        lotslib.explain("gradcam", model, torch.rand(2, 3, 32, 32), targets=targets)
    assert says in str(e.value) and "Fix" in str(e.value)
    if "integers" not in says:
        assert "5 classes" in str(e.value) and "0 ... 4" in str(e.value)
    assert lotslib.explain("gradcam", model, torch.rand(2, 3, 32, 32), targets=4).shape == (2, 32, 32)


def test_a_bare_module_is_told_to_use_wrap():
    net, _ = _five_classes()
    with pytest.raises(ParameterError, match=r"bare torch.nn.Module.*lotslib.wrap\("):
        lotslib.explain("gradcam", net, torch.rand(1, 3, 32, 32))
    with pytest.raises(ParameterError, match="lotslib.wrap"):
        lotslib.explain_image(np.zeros((32, 32, 3), np.uint8), "gradcam", model=net)


def test_wrap_warns_about_0_255_statistics_and_a_category_count_and_can_copy():
    net, _ = _five_classes()
    with pytest.warns(UserWarning, match="0-255 pixels"):
        wrap(net, mean=(123.7, 116.3, 103.5), std=(58.4, 57.1, 57.4), input_size=32, cam_layer="0")
    with pytest.warns(UserWarning, match="3 categories for a model with 5 outputs"):
        m = wrap(net, mean=(0.5,) * 3, std=(0.5,) * 3, input_size=32, cam_layer="0", categories=["a", "b", "c"])
    assert m.categories == ["a", "b", "c", "class 3", "class 4"] and m.num_classes == 5
    fresh, _ = _five_classes()
    for prm in fresh.parameters():
        prm.requires_grad_(True)
    fresh.train()
    c = wrap(fresh, mean=(0.5,) * 3, std=(0.5,) * 3, input_size=32, cam_layer="0", copy=True)
    assert fresh.training and all(p.requires_grad for p in fresh.parameters())  # untouched
    assert not any(p.requires_grad for p in c.parameters())
    wrap(fresh, mean=(0.5,) * 3, std=(0.5,) * 3, input_size=32, cam_layer="0")
    assert not fresh.training and not any(p.requires_grad for p in fresh.parameters())  # in place, as documented


def test_lots_result_and_trace_print_a_summary():
    _, model = _five_classes()
    r = lotslib.lots(model, torch.rand(2, 3, 32, 32), iters=2)
    text = repr(r)
    assert text.startswith("LotsResult(x_adv=(2, 3, 32, 32)") and "LotsTrace(2 sample(s)" in text
    assert "tensor(" not in text and len(text) < 400


# ------------------------------------------------------------------ one call from a photo to a map
def test_explain_image_from_a_path_a_pil_image_and_an_array(tmp_path):
    rng = np.random.default_rng(0)
    arr = rng.integers(0, 255, (60, 90, 3), dtype=np.uint8)
    Image.fromarray(arr).save(tmp_path / "p.png")
    _, model = _five_classes()
    outs = [lotslib.explain_image(img, "gradcam", model=model) for img in
            (tmp_path / "p.png", str(tmp_path / "p.png"), Image.fromarray(arr), arr)]
    for r in outs:
        assert r.map.shape == (32, 32) and r.overlay.shape == (32, 32, 3) and r.full.shape == (60, 90, 3)
        assert r.size == r.original_size == (90, 60) and not r.downscaled
        assert torch.equal(r.map, outs[0].map)
    assert "ImageExplanation(method='gradcam'" in repr(outs[0])
    assert torch.equal(model.preprocess(tmp_path / "p.png"), model.preprocess(load_image(tmp_path / "p.png")))


@pytest.mark.parametrize("image, error, says", [
    ("missing.png", "ImageNotFoundError", "does not exist"),
    (np.zeros((8, 8, 3), np.uint8), "ImageDecodeError", "only 8x8 pixels"),
])
def test_explain_image_checks_like_the_cli_before_the_model_loads(tmp_path, monkeypatch, image, error, says):
    import lotslib.models

    monkeypatch.setattr(lotslib.models, "load_model", lambda *a, **k: pytest.fail("the model was loaded"))
    if isinstance(image, str):
        image = tmp_path / image
    with pytest.raises(getattr(lotslib, error), match=says):
        lotslib.explain_image(image, "gradcam")
    with pytest.raises(ParameterError, match="iters"):
        lotslib.explain_image(tmp_path / "missing.png", "lots", iters=0)


def test_a_large_photo_is_downscaled_and_says_so():
    _, model = _five_classes()
    photo = np.random.default_rng(1).integers(0, 255, (20, 5000, 3), dtype=np.uint8)
    r = lotslib.explain_image(photo, "gradcam", model=model)
    assert r.original_size == (5000, 20) and r.size[0] == 4096 and r.downscaled
    assert "downscaled from 5000x20" in repr(r)


# ------------------------------------------------------------------ threads
def test_the_library_picks_threads_like_the_cli_unless_the_user_chose(monkeypatch):
    from lotslib import perf

    monkeypatch.setattr(perf, "_state", {**perf._state, "threads_decided": False})
    old = torch.get_num_threads()
    try:
        monkeypatch.setenv("LOTS_THREADS", "1")
        torch.set_num_threads(perf._torch_start_threads())
        assert perf.use_default_threads() == 1 and torch.get_num_threads() == 1
        assert perf.use_default_threads() is None  # once per process
        perf._state["threads_decided"] = False
        torch.set_num_threads(max(1, perf._torch_start_threads() - 1) if perf._torch_start_threads() > 1 else 1)
        if torch.get_num_threads() != perf._torch_start_threads():
            assert perf.use_default_threads() is None  # the user's own count is kept
        monkeypatch.delenv("LOTS_THREADS")
        monkeypatch.setattr("os.cpu_count", lambda: 2)
        assert perf.default_threads() == 1
        monkeypatch.setattr("os.cpu_count", lambda: 32)
        assert perf.default_threads() == 8
    finally:
        torch.set_num_threads(old)


@pytest.mark.parametrize("value", ["two", "0", "-1", "1.5"])
def test_a_bad_lots_threads_is_refused_by_name(monkeypatch, value):
    """$LOTS_THREADS that is not a whole number >= 1 is an error naming the variable and the fix,
    in the library and in the command line (exit 2, no traceback); it used to be ignored."""
    from lotslib import cli, perf
    from lotslib.errors import ParameterError

    monkeypatch.setenv("LOTS_THREADS", value)
    with pytest.raises(ParameterError, match=rf"LOTS_THREADS='{re.escape(value)}': must be a whole number >= 1"):
        perf.default_threads()
    assert cli.main(["models"]) == 2
    monkeypatch.setenv("LOTS_THREADS", " 2 ")
    assert perf.default_threads() == 2
