"""Bad-input suite (reliability issue): every case gets the exact error class and a message
naming the culprit and the fix; property-based tests for decoding."""
import io

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from lotslib.data import MIN_SIDE, folder, load_image
from lotslib.errors import (
    DatasetError,
    ImageDecodeError,
    ImageNotFoundError,
    InputRangeError,
    ParameterError,
    UnknownModelError,
)
from lotslib.attack import lots
from lotslib.models import load_model
from lotslib.visualize import lots_map


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    h=st.integers(1, 48),
    w=st.integers(1, 48),
    mode=st.sampled_from(["L", "RGB", "RGBA", "I;16", "P", "CMYK", "LA", "1"]),
    fmt=st.sampled_from(["PNG", "JPEG", "BMP", "TIFF"]),
    seed=st.integers(0, 1000),
)
def test_property_decoding_gives_rgb_unit_range_or_clear_error(tmp_path, h, w, mode, fmt, seed):
    rng = np.random.default_rng(seed)
    if mode == "I;16":
        img = Image.fromarray(rng.integers(0, 65535, (h, w), dtype=np.uint16))
    else:
        img = Image.fromarray(rng.integers(0, 255, (h, w, 4), dtype=np.uint8), "RGBA").convert(mode)
    if fmt == "JPEG" and mode not in ("L", "RGB", "CMYK"):
        img = img.convert("RGB")
    buf = io.BytesIO()
    try:
        img.save(buf, fmt)
    except (OSError, ValueError, KeyError):
        return  # a combination Pillow cannot write: nothing to decode
    p = tmp_path / f"x_{h}_{w}_{seed}.{fmt.lower()}"
    p.write_bytes(buf.getvalue())
    if min(h, w) < MIN_SIDE:
        with pytest.raises(ImageDecodeError, match=f"{h}x{w}|{w}x{h}"):
            load_image(p)
        return
    x = load_image(p)
    assert x.shape == (3, h, w) and x.dtype == torch.float32
    assert torch.isfinite(x).all() and x.min() >= 0 and x.max() <= 1


def _jpeg(path, size=(64, 48)):
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (*size[::-1], 3), dtype=np.uint8)).save(path, quality=90)


CASES = {
    "truncated_jpeg": (ImageDecodeError, "truncated|corrupt"),
    "text_as_jpg": (ImageDecodeError, "not a readable image"),
    "one_pixel": (ImageDecodeError, "1x1"),
    "missing_file": (ImageNotFoundError, "does not exist"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_image_files(tmp_path, case):
    p = tmp_path / f"{case}.jpg"
    if case == "truncated_jpeg":
        _jpeg(tmp_path / "ok.jpg", (300, 300))
        p.write_bytes((tmp_path / "ok.jpg").read_bytes()[:2000])
    elif case == "text_as_jpg":
        p.write_text("hello")
    elif case == "one_pixel":
        Image.new("RGB", (1, 1)).save(p)
    err, match = CASES[case]
    with pytest.raises(err, match=match) as e:
        load_image(p)
    assert p.name in str(e.value) and "Fix" in str(e.value)


def test_bad_image_inside_a_folder_names_the_file(tmp_path):
    _jpeg(tmp_path / "a.jpg")
    (tmp_path / "b.jpg").write_text("oops")
    src = folder(tmp_path)
    assert src[0].image.shape == (3, 48, 64)
    with pytest.raises(ImageDecodeError, match="b.jpg"):
        src[1]


def test_missing_and_empty_folder(tmp_path):
    with pytest.raises(ImageNotFoundError, match="nowhere"):
        folder(tmp_path / "nowhere")
    with pytest.raises(DatasetError, match="no images"):
        folder(tmp_path)


def test_unknown_model_lists_known():
    with pytest.raises(UnknownModelError, match="efficientnet_lite0.*resnet50"):
        load_model("resnet18")


@pytest.mark.parametrize(
    "x,match",
    [
        (torch.full((1, 3, 8, 8), float("nan")), "NaN"),
        (torch.full((1, 3, 8, 8), 2.0), r"outside \[0,1\]"),
        (torch.zeros(1, 1, 8, 8), "RGB"),
        (torch.zeros(3, 8, 8), r"\(N,3,H,W\)"),
        (torch.zeros(1, 3, 8, 8, dtype=torch.uint8), "dtype"),
    ],
)
def test_bad_tensors_rejected_before_compute(x, match):
    with pytest.raises(InputRangeError, match=match):
        lots(torch.nn.Identity(), x, iters=1)
    with pytest.raises(InputRangeError, match=match):
        lots_map(x, x)


@pytest.mark.parametrize("kw", [dict(tau=-0.1), dict(iters=0), dict(alpha=-1.0)])
def test_invalid_lots_parameters_rejected_before_compute(kw):
    calls = []

    class Spy(torch.nn.Module):
        def forward(self, x):
            calls.append(1)
            return x.flatten(1)

        def features(self, x, layer="logits"):
            return self(x)

    with pytest.raises(ParameterError):
        lots(Spy(), torch.rand(1, 3, 4, 4), **kw)
    assert calls == []


def test_even_filter_size_rejected():
    with pytest.raises(ParameterError, match="odd"):
        lots_map(torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 8), filter_size=48)


def test_constant_image_lots_stops_cleanly_and_map_warns(lite0):
    from lotslib.visualize import ZeroPerturbationWarning

    x = torch.zeros(2, 3, 224, 224)  # black: the clamp at 0 may block every step
    x[1] = 1.0  # white: saturated
    r = lots(lite0, x, iters=3)
    assert torch.isfinite(r.x_adv).all() and torch.isfinite(r.trace.distances).all()
    moved = (r.x_adv - x).abs().flatten(1).amax(1) > 0
    if not moved.all():
        with pytest.warns(ZeroPerturbationWarning):
            m = lots_map(x, r.x_adv)
    else:
        m = lots_map(x, r.x_adv)
    assert torch.isfinite(m).all() and m.min() >= 0 and m.max() <= 1
