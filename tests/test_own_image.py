"""The "Try your own image" page: lotsbook.single_image, lotsbook.pages.own and the `own`
chapter of the book, executed once at tiny scale on a scikit-image photo saved as a PNG."""
from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image
from torch import nn

from lotslib import wrap
from lotsbook import build as book, single_image
from lotsbook.pages import own
from lotsbook.profiles import resolve_profile
from lotslib.errors import ImageDecodeError, ImageNotFoundError, ParameterError, UnknownModelError
from lotslib.method_registry import METHODS
from lotslib.metric_registry import METRICS


def _tiny_model():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(),
                        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 3))
    return wrap(net, mean=(0.5,) * 3, std=(0.5,) * 3, input_size=32, cam_layer="2", categories=["a", "b", "c"])


def _save(arr: np.ndarray, path):
    Image.fromarray(arr).save(path)
    return path


# ------------------------------------------------------------------ explain_image
def test_explain_image_scores_every_method_with_every_metric(one_thread):
    model = _tiny_model()
    x = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    rep = own.explain_image(model, x, lots={"iters": 3}, metrics={"steps": 8, "batch_size": 4})
    with torch.no_grad():
        p = model(x).softmax(1)[0]
    assert rep.target == int(p.argmax()) and rep.probability == pytest.approx(float(p.max()), abs=1e-6)
    names = [m.name for m in METHODS.values()]
    assert list(rep.maps) == names and list(rep.metrics.index) == names
    panels = rep.legend().split(", ")
    assert panels[0] == "(b) Random-CAM" and panels[-1] == f"({chr(ord('a') + len(names))}) {names[-1]}"
    for m in rep.maps.values():
        assert m.shape == (32, 32) and float(m.min()) >= 0 and float(m.max()) <= 1
    assert list(rep.metrics.columns) == [m.label for m in METRICS.values()] + ["ms per map"]
    assert np.isfinite(rep.metrics.to_numpy(dtype=float)).all()
    assert set(rep.metrics["Avg Increase ↑"]) <= {0.0, 100.0}
    # Average Drop of Grad-CAM by hand: y on the image, o on x * map (fill black)
    with torch.no_grad():
        o = float(model(x * rep.maps["Grad-CAM"][None, None]).softmax(1)[0, rep.target])
    y = float(p[rep.target])
    assert rep.metrics.loc["Grad-CAM", "Avg Drop ↓"] == pytest.approx(max(0.0, y - o) / y * 100, abs=1e-3)
    assert set(rep.curves) == {"insertion", "deletion"}
    assert all(len(c) == 9 for c in rep.curves["insertion"].values())
    assert rep.lots is not None and rep.lots.x_adv.shape == (1, 3, 32, 32)
    assert int(rep.lots.trace.iterations[0]) <= 3


def test_explain_image_rejects_bad_input_before_compute():
    model = _tiny_model()
    with pytest.raises(Exception, match="one"):
        own.explain_image(model, torch.rand(2, 3, 32, 32))
    with pytest.raises(Exception, match="takes parameter"):
        own.explain_image(model, torch.rand(1, 3, 32, 32), lots={"iterations": 3})


def test_metric_verdicts_known_answers():
    table = pd.DataFrame(
        {"Avg Increase ↑": [100.0, 100.0, 100.0], "Insertion ↑": [50.0, 70.0, 60.0], "Deletion ↓": [10.0, 10.0, 20.0]},
        index=pd.Index(["A", "B", "LOTS"], name="method"))
    rep = own.ImageReport(x=torch.zeros(1, 3, 4, 4), target=0, probability=1.0, maps={}, metrics=table)
    v = own.metric_verdicts(rep)
    assert v == [
        "Avg Increase ↑ (higher is better): all 3 methods tie at 100.0%.",
        "Insertion ↑ (higher is better): best B (70.0%); LOTS 60.0%, rank 2 of 3.",
        "Deletion ↓ (lower is better): best A, B (10.0%); LOTS 20.0%, rank 3 of 3.",
    ]


# ------------------------------------------------------------------ input checks
def test_check_image_names_the_problem_and_the_fix(tmp_path):
    with pytest.raises(ImageNotFoundError, match=r"no such file.*Fix"):
        single_image.check_image(tmp_path / "nope.jpg")
    with pytest.raises(ImageDecodeError, match=r"is a folder.*Fix"):
        single_image.check_image(tmp_path)
    (tmp_path / "notes.png").write_text("not an image")
    with pytest.raises(ImageDecodeError, match=r"not a readable image.*Fix"):
        single_image.check_image(tmp_path / "notes.png")
    flat = _save(np.full((40, 50, 3), 128, np.uint8), tmp_path / "flat.png")
    with pytest.raises(ImageDecodeError, match=r"flat colour.*Fix"):
        single_image.check_image(flat)
    ok = _save((np.arange(40 * 50 * 3) % 251).astype(np.uint8).reshape(40, 50, 3), tmp_path / "ok.png")
    assert single_image.check_image(ok) == ok.resolve()


def test_check_model_name():
    assert single_image.check_model_name("efficientnet-lite2") == "efficientnet-lite2"
    assert single_image.check_model_name("torchvision:resnet18") == "torchvision:resnet18"
    with pytest.raises(UnknownModelError, match=r"vgg.*Fix.*efficientnet_lite0"):
        single_image.check_model_name("vgg")


def test_page_params_track_the_file_content(tmp_path):
    base = resolve_profile("embedded", tiny=True).as_dict()
    p0 = single_image.page_params(base)
    assert p0["image"] is None and p0["model"] == base["model"]
    rng = np.random.default_rng(0)
    f = _save(rng.integers(0, 255, (40, 40, 3), dtype=np.uint8), tmp_path / "a.png")
    p1 = single_image.page_params(base, f, "efficientnet_lite1")
    assert p1["image"] == str(f.resolve()) and p1["model"] == "efficientnet_lite1"
    _save(rng.integers(0, 255, (40, 40, 3), dtype=np.uint8), f)
    assert single_image.page_params(base, f)["image_digest"] != p1["image_digest"]  # edited file: new key


def test_book_refuses_bad_image_before_papermill(tmp_path, monkeypatch, capsys):
    import papermill

    def boom(*a, **k):
        raise AssertionError("papermill ran")

    monkeypatch.setattr(papermill, "execute_notebook", boom)
    root = tmp_path / "root"
    for bad, msg in ((tmp_path / "missing.jpg", "no such file"), (tmp_path, "is a folder")):
        rc = book.main(["--chapters", "own", "--image", str(bad), "--root", str(root), "--no-build"])
        assert rc == 1 and msg in capsys.readouterr().err
    rc = book.main(["--chapters", "own", "--model", "vgg", "--root", str(root), "--no-build"])
    assert rc == 1 and "--model 'vgg'" in capsys.readouterr().err
    with pytest.raises(ParameterError, match="--chapters own"):
        book.build(chapters=["1"], root=root, build_html=False, own_image=tmp_path / "x.png")
    assert not (root / "book" / "own.ipynb").exists()


# ------------------------------------------------------------------ the page, executed once
def test_own_page_on_a_scikit_image_photo(tmp_path):
    import skimage.data

    from lotslib.models import load_model
    from lotsbook.plots import short_class

    png = _save(skimage.data.coffee(), tmp_path / "coffee.png")
    root = tmp_path / "root"
    book.build(tiny=True, chapters=["own"], root=root, build_html=False, cache_dir=str(root / ".cache"),
               own_image=png, log=lambda *a: None)
    nb = json.loads((root / "book" / "own.ipynb").read_text())
    assert nb["metadata"]["lotsbook"]["status"] == "ok"
    injected = "".join(next(c for c in nb["cells"] if "injected-parameters" in c["metadata"].get("tags", []))["source"])
    assert str(png.resolve()) in injected and re.search(r"[\"']iters[\"']: 5\b", injected)
    outputs = [o for c in nb["cells"] if c["cell_type"] == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    text = "\n".join("".join(o.get("data", {}).get(k, "")) for o in outputs for k in ("text/markdown", "text/html"))
    assert "coffee.png" in text and "default photo" not in text
    for fig in ("fig-own-maps", "fig-own-lots", "fig-own-insertion", "fig-own-deletion"):
        assert f"{{glue:figure}} {fig}" in text
    for name in (m.name for m in METHODS.values()):
        assert name in text
    for m in METRICS.values():
        assert m.label in text
    # the top-1 class the page names is the model's own answer on the file
    model = load_model("efficientnet_lite0")
    with torch.no_grad():
        c = int(model(single_image.open_image(png).batch(model)).argmax())
    assert f"top-1 class *{short_class(model.categories[c])}*" in text
