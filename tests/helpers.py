"""Tiny seeded test models, and the reliability suite's shared helpers, for the test files
(``from helpers import ...``).

pytest's default ``prepend`` import mode puts ``tests/`` (no ``__init__.py``) on ``sys.path``,
so test modules, and the subprocess scripts that add ``tests/`` to ``sys.path`` themselves,
import this module by its bare name. Every model keeps the architecture, seeds and class name
(``type(model).__qualname__`` is part of the benchmark's cache key) it had in its test file.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

# ------------------------------------------------------------------ benchmark / reliability CNN


class TinyNet(nn.Module):
    """A 10-class CNN on 32x32 input with the ModelWrapper interface the benchmark uses.

    ``calls`` counts forward passes (the spy that proves "rejected before any compute").
    ``name`` is ``"tinynet"`` unless given; ``weights_id`` is only set when given (the
    reliability tests' :func:`tinyrel` model, which :mod:`lotslib.cache` needs).
    """

    name = "tinynet"
    input_size = 32

    def __init__(self, seed: int = 0, *, name: str | None = None, weights_id: str | None = None):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
        self.conv2 = nn.Conv2d(8, 16, 3, stride=2, padding=1)
        self.fc = nn.Linear(16, 10)
        with torch.no_grad():
            for p in self.parameters():
                p.copy_(torch.randn(p.shape, generator=g) * 0.5)
        self.cam_layer = self.conv2
        if name is not None:
            self.name = name
        if weights_id is not None:
            self.weights_id = weights_id
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


def tinyrel(seed: int = 0) -> TinyNet:
    """The reliability tests' :class:`TinyNet`: named ``tinyrel``, with a ``weights_id``."""
    return TinyNet(seed, name="tinyrel", weights_id="tinyrel:seeded")


class FlatNet(TinyNet):
    """Logits that do not depend on the pixels: every gradient is exactly zero."""

    name = "flatnet"

    def __init__(self, seed: int = 0):
        super().__init__(seed, weights_id="tinyrel:seeded")

    def forward(self, x):
        self.calls += 1
        return self.fc(self.conv2(F.relu(self.conv1(x))).mean((2, 3)) * 0.0)


# ------------------------------------------------------------------ CAMs


class TinyCNN(nn.Module):
    """Conv stack whose CAM layer (a BatchNorm) is followed by an in-place ReLU, as in DenseNet."""

    def __init__(self, n_classes: int = 5):
        super().__init__()
        g = torch.Generator().manual_seed(0)
        self.stem = nn.Conv2d(3, 8, 3, padding=1)
        self.conv = nn.Conv2d(8, 16, 3, stride=2, padding=1)
        self.bn = nn.BatchNorm2d(16)
        self.fc = nn.Linear(16, n_classes)
        with torch.no_grad():
            for p in self.parameters():
                p.copy_(torch.randn(p.shape, generator=g) * 0.5)
            self.bn.running_mean.zero_()
            self.bn.running_var.fill_(1.0)
        self.cam_layer = self.bn
        self.eval()
        for p in self.parameters():
            p.requires_grad_(False)

    def forward(self, x):
        a = self.bn(self.conv(F.relu(self.stem(x))))
        a = F.relu(a, inplace=True)
        return self.fc(a.mean((2, 3)))

    def features(self, x, layer="logits"):
        return self(x)


# ------------------------------------------------------------------ LOTS


class TinyLinear(nn.Module):
    """features(x) = W flatten(x) + b, a model with a hand-computable LOTS step."""

    def __init__(self, hw=4, d=5, seed=0):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.lin = nn.Linear(3 * hw * hw, d)
        with torch.no_grad():
            self.lin.weight.copy_(torch.randn(d, 3 * hw * hw, generator=g) * 0.5)
            self.lin.bias.copy_(torch.randn(d, generator=g))
        for p in self.parameters():
            p.requires_grad_(False)
        self.name = "tiny"

    def forward(self, x):
        return self.lin(x.flatten(1))

    def features(self, x, layer="logits"):
        return self(x)


# ------------------------------------------------------------------ metrics

K = 10.0  # logit slope of the synthetic RegionModel


class NoiseFields(nn.Module):
    """A CAM layer whose activations are fixed random fields: Random-CAM maps on it are random
    maps that know nothing about the image."""

    def __init__(self, channels=8, size=32, seed=0):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.fields = nn.Parameter(torch.rand(1, channels, size, size, generator=g), requires_grad=False)

    def forward(self, x):
        return self.fields.expand(x.shape[0], -1, -1, -1) + 0.0 * x[:, :1]


class RegionModel(nn.Module):
    """Two classes. logit_0 = K * (mean grey value inside REGION - 0.5), logit_1 = 0, so
    P(class 0) = sigmoid(logit_0) depends on the pixels in REGION only."""

    def __init__(self, size=32, region=(slice(10, 22), slice(8, 20))):
        super().__init__()
        self.region = region
        self.cam_layer = NoiseFields(size=size)

    def forward(self, x):
        f = self.cam_layer(x)
        r = x[:, :, self.region[0], self.region[1]].mean((1, 2, 3))
        l0 = K * (r - 0.5) + 0.0 * f.sum((1, 2, 3))
        return torch.stack([l0, torch.zeros_like(l0)], 1)


# ------------------------------------------------------------------ reliability suite (test_reliability_*.py)

#: the fastest LOTS / metric settings that still exercise every code path
FAST = {"lots": {"iters": 2, "filter_size": 5}, "metrics": {"steps": 4, "batch_size": 8}}
#: every row column that must not depend on timing, threads or the cache's history
VALUE_COLS = ["model", "method", "image_id", "image_fp", "label", "top1", "top1_score", "y", "o", "avg_drop",
              "increase", "coherency", "insertion", "deletion", "degenerate", "coherency_degenerate", "flagged", "flag",
              "target_class", "target_reference", "na_reason", "lots_iters", "lots_stop", "steps", "cache_key"]


def bench_images():
    from lotslib.data import embedded

    return embedded("imagenet").head(6)


def run_tiny(images, cache_dir, model=None, **kw):
    """:func:`lotslib.benchmark.run` on :func:`tinyrel` (or ``model``) with Grad-CAM and LOTS at ``FAST``."""
    from lotslib import benchmark as B

    args = dict(models=[model or tinyrel()], methods=["gradcam", "lots"], images=images, params=FAST,
                cache_dir=cache_dir, batch_size=2, progress=False)
    args.update(kw)
    return B.run(**args)


def check_error(excinfo, cls, *needles):
    """The error is exactly ``cls`` (not a sibling subclass) and its message holds every needle."""
    assert type(excinfo.value) is cls, f"{type(excinfo.value).__name__} is not {cls.__name__}: {excinfo.value}"
    msg = str(excinfo.value)
    for n in needles:
        assert n in msg, f"{n!r} not in message: {msg}"
    return msg


def noise_image(path, size=(48, 40), seed=0, mode="RGB"):
    """Save a seeded uniform-noise image of ``size`` (w, h) in PIL ``mode`` at ``path``."""
    from PIL import Image

    arr = np.random.default_rng(seed).integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
    Image.fromarray(arr).convert(mode).save(path)


def truncate_file(p: Path, keep: float = 0.5) -> None:
    """Keep only the first ``keep`` fraction of a file's bytes (a damaged cache file)."""
    data = p.read_bytes()
    p.write_bytes(data[: int(len(data) * keep)])


# ------------------------------------------------------------------ the PDF edition (lotsbook.pdf)


def require_chromium() -> None:
    """Skip the calling test when Debian's chromium is missing, or fail it under ``CI=true``."""
    import os

    import pytest

    from lotsbook.pdf import CHROMIUM

    if not CHROMIUM.exists():
        msg = (f"{CHROMIUM} is missing, so nothing can be checked in a browser. "
               f"Fix: `make browser` (apt-get install chromium).")
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(msg)
        pytest.skip(msg)


def pdf_problems(report, html_dir: Path, toc: Path, captions=()) -> list[str]:
    """What is wrong with a PDF edition (:func:`lotsbook.pdf.write_pdf`'s ``report``) of the book
    built in ``html_dir``: every page of ``toc`` (less :data:`lotsbook.pdf.LEFT_OUT`) has its
    title on the page the report names, these pages come in the table of contents' order, each
    on a later page, and the contents list each title with that page number; every page's
    footer reads ``i / n``; every string of ``captions`` is in the text; no link points to the
    local server it was printed from. Empty when all is well."""
    import re
    import unicodedata

    from lotsbook import pdf
    from pypdf import PdfReader

    texts = pdf.pdf_text(report.path)
    n = len(texts)
    out = [] if n == report.pages else [f"the report says {report.pages} pages, the PDF has {n}"]
    out += [f"page {i}: no footer '{i} / {n}' (ends with {t[-30:]!r})" for i, t in enumerate(texts, 1)
            if not t.endswith(f"{i} / {n}")]
    pages = pdf.toc_pages(toc, pdf.LEFT_OUT)
    first = [report.first_pages.get(p.stem) for p in pages]
    if None in first:
        return out + [f"no first page for {[p.stem for p, f in zip(pages, first) if f is None]}"]
    contents = " ".join(texts[: first[0] - 1])
    last = 1
    for p, page in zip(pages, first):
        title = pdf.page_article((html_dir / f"{p.path}.html").read_text(encoding="utf-8"))[0]
        title = re.sub(r"\s+", " ", unicodedata.normalize("NFKC", title))
        if page <= last:
            out.append(f"{p.stem} starts on page {page}, not after the page before (page {last})")
        last = page
        if title not in texts[page - 1]:
            out.append(f"{p.stem}: its title {title!r} is not on page {page}")
        if not re.search(re.escape(title) + r"[ .]*" + rf"{page}\b", contents):
            out.append(f"contents: no line '{title} ... {page}'")
    body = " ".join(texts)
    out += [f"caption {c!r} is not in the PDF" for c in captions if c not in body]
    for i, pg in enumerate(PdfReader(str(report.path)).pages, 1):
        for a in pg.get("/Annots") or ():
            uri = (a.get_object().get("/A") or {}).get("/URI", "")
            if "127.0.0.1" in str(uri) or "localhost" in str(uri):
                out.append(f"page {i}: a link to the local server: {uri}")
    return out
