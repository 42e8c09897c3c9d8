"""The book's figures are readable: every figure that shows a map has a colour bar, legends
lie outside the data, no figure is designed wider than the content column (so none is
shrunk below its design size), panel titles are at least TITLE_PT, PNGs are at least 200 dpi
and every image's alt text is derived from its caption, never a file path.

Every figure function of lotsbook (a module-level ``*_figure`` / ``*_grid`` / ``figure_*``)
is drawn here from tiny synthetic inputs; a new one that this file does not know fails
:func:`test_every_figure_function_is_checked`, so it is checked before it reaches a page.
"""
from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
import struct
import zlib

import matplotlib
import numpy as np
import pandas as pd
import pytest
import torch

matplotlib.use("Agg")
matplotlib.rcParams["figure.max_open_warning"] = 0  # the module keeps every figure function's figure open

import lotsbook.pages  # noqa: E402
from lotsbook import plots  # noqa: E402
from lotsbook.pages import attack, benchmark, parameters, qualitative, sanity, unseen, visualization  # noqa: E402

H = 32
G = torch.Generator().manual_seed(0)
X = torch.rand(4, 3, H, H, generator=G)
M = torch.rand(4, H, H, generator=G)
X1, M1 = X[:1], M[0]


def _cascade():
    from lotslib.sanity import CascadeResult

    rows = pd.DataFrame([{"step": s, "units": s, "label": lab, "method": m, "method_name": name, "image": i,
                          "spearman": 1.0 - 0.4 * s + 0.1 * i, "ssim": 1.0 - 0.3 * s, "edge_spearman": np.nan,
                          "degenerate": False, "constant": False}
                         for s, lab in enumerate(["original", "fc", "all"])
                         for m, name in (("gradcam", "Grad-CAM"), ("lots", "LOTS")) for i in range(2)])
    maps = {s: {"gradcam": M[:2], "lots": M[2:]} for s in range(3)}
    return CascadeResult(rows=rows, maps=maps, labels=["original", "fc", "all"], units=["fc", "conv"])


def _focus():
    from types import SimpleNamespace

    from lotslib.focus import FocusResult

    rows = pd.DataFrame([{"method": m, "method_name": m, "mosaic": 0, "pair": 0, "class": 3,
                          "quadrants": "top left, bottom right", "focus": 60.0, "chance": 50.0}
                         for m in ("gradcam", "lots")])
    return FocusResult(rows=rows, mosaics=SimpleNamespace(x=X[:1]), maps={"gradcam": M[:1], "lots": M[1:2]},
                       top1=np.array([3]))


def _iteration_rows():
    return pd.DataFrame([{"image_id": f"i{i}", "cap": c, "pearson_vs_final": c / 40, "distance": 10.0 / c,
                          "deletion": 20.0 + i, "insertion": 40.0 + c / 10, "avg_drop": 30.0 - c / 10,
                          "increase": 0.2, "coherency": 80.0}
                         for i in range(3) for c in (10, 20, 40)])


def _others():
    return pd.DataFrame([{"method_name": n, "avg_drop": 30.0, "increase": 0.1, "insertion": 45.0, "deletion": 25.0}
                         for n in ("Grad-CAM", "HiRes-CAM")])


CURVES = {name: np.linspace(0.9, 0.1, 9) ** k for k, name in enumerate(
    ["Random-CAM", "Grad-CAM", "Grad-CAM++", "SmoothGrad-CAM++", "Layer-CAM", "HiRes-CAM", "LOTS"], start=1)}
TITLES = ["tench", "goldfish", "great white shark", "tiger shark"]
BOXES = torch.tensor([4, 4, 20, 20]).expand(2, 3, 4)


#: every figure function of lotsbook -> a call with synthetic inputs; maps: whether it shows a map
FIGURES = {
    "lotsbook.plots.panel_grid": (lambda: plots.panel_grid([{"image": X[0], "title": "photo"},
                                                            plots.map_panel(X1, M1, "map")], 2), True),
    "lotsbook.plots.figure_4_1": (lambda: plots.figure_4_1(X1, X[1:2], ["tench"], ["goldfish"]), False),
    "lotsbook.plots.methods_figure": (lambda: plots.methods_figure(X1, {"Grad-CAM": M1, "LOTS": M[1:2]}), True),
    "lotsbook.plots.curves_figure": (lambda: plots.curves_figure(CURVES, "insertion"), False),
    "lotsbook.pages.attack.distance_figure": (
        lambda: attack.distance_figure(np.geomspace(100, 1, 12)[None].repeat(8, 0) * np.linspace(1, 2, 8)[:, None],
                                       2.0, [f"image {i}" for i in range(8)]),
        False),
    "lotsbook.pages.benchmark.drop_increase_figure": (
        lambda: benchmark.drop_increase_figure(X1, M1, "tench", 0.9, 0.5), True),
    "lotsbook.pages.benchmark.coherency_figure": (
        lambda: benchmark.coherency_figure(X1, M1, M[1], 0.7), True),
    "lotsbook.pages.benchmark.curve_strip_figure": (
        lambda: benchmark.curve_strip_figure(X, (0.0, 0.1, 0.25, 0.5), "deletion"), False),
    "lotsbook.pages.qualitative.paired_grid": (
        lambda: qualitative.paired_grid(X, M, M.flip(0), TITLES, TITLES, "HiRes-CAM", "LOTS, zero target"),
        True),
    "lotsbook.pages.qualitative.model_pair_grid": (
        lambda: qualitative.model_pair_grid(X, M, X, M.flip(0), TITLES, TITLES[::-1],
                                                           "LOTS on efficientnet_lite0", "LOTS on efficientnet_lite1"),
        True),
    "lotsbook.pages.sanity.location_figure": (
        lambda: sanity.location_figure(X1, M[:3].reshape(1, 3, H, H).expand(2, 3, H, H), BOXES, BOXES),
        True),
    "lotsbook.pages.sanity.randomisation_figure": (lambda: sanity.randomisation_figure(X, _cascade()),
                                                   True),
    "lotsbook.pages.sanity.similarity_figure": (lambda: sanity.similarity_figure(_cascade().rows), False),
    "lotsbook.pages.sanity.focus_figure": (lambda: sanity.focus_figure(_focus()), True),
    "lotsbook.pages.unseen.figure_5_7": (
        lambda: unseen.figure_5_7(X1, X[1:2], {f"method {k}": M[k % 4] for k in range(7)},
                                                 "motorcycle, left view", "right view (target)"), True),
    "lotsbook.pages.visualization.figure_4_2": (
        lambda: visualization.figure_4_2(X1, (X1 + 0.1 * X[1:2]).clamp(0, 1), 7), True),
    "lotsbook.pages.visualization.filter_size_figure": (
        lambda: visualization.filter_size_figure(X1, (X1 + 0.1 * X[1:2]).clamp(0, 1), (7, 3, 1)), True),
    "lotsbook.pages.visualization.threshold_figure": (
        lambda: visualization.threshold_figure(X1, M1[None]), True),
    "lotsbook.pages.parameters.iteration_study_figure": (
        lambda: parameters.iteration_study_figure(_iteration_rows(), chosen=20), False),
    "lotsbook.pages.parameters.budget_figure": (
        lambda: parameters.budget_figure(_iteration_rows(), _others(),
                                                        ("avg_drop", "avg_increase", "insertion", "deletion"), 20),
        False),
}


def _figure_functions() -> set[str]:
    """Every module-level figure function defined in lotsbook.plots and lotsbook.pages.*."""
    mods = [plots] + [importlib.import_module(f"lotsbook.pages.{m.name}")
                      for m in pkgutil.iter_modules(lotsbook.pages.__path__)]
    return {f"{mod.__name__}.{name}" for mod in mods for name, f in inspect.getmembers(mod, inspect.isfunction)
            if f.__module__ == mod.__name__ and not name.startswith("_")
            and re.search(r"(_figure|_grid)$|^figure_", name)}


def test_every_figure_function_is_checked():
    assert _figure_functions() == set(FIGURES)


@pytest.fixture(scope="module")
def drawn():
    import matplotlib.pyplot as plt

    out = {}
    for name, (make, _) in FIGURES.items():
        fig = make()
        fig.canvas.draw()
        out[name] = fig
    yield out
    plt.close("all")


def _close(*figs):
    import matplotlib.pyplot as plt

    for f in figs:
        plt.close(f)


def _bars(fig):
    return [ax for ax in fig.axes if ax.get_label() == "<colorbar>"]


def _data_axes(fig):
    return [ax for ax in fig.axes if ax.get_label() != "<colorbar>" and ax.get_visible()
            and (ax.axison or ax.images)]


def _shows_map(fig) -> bool:
    """A heat-map (jet pixels where the overlay blends them) or a raw (H,W) map is drawn."""
    return any(im.get_array().ndim == 2 for ax in _data_axes(fig) for im in ax.images)


@pytest.mark.parametrize("name", sorted(FIGURES))
def test_every_map_figure_has_a_colour_bar(drawn, name):
    fig, shows_map = drawn[name], FIGURES[name][1]
    bars = _bars(fig)
    if not shows_map:
        assert not bars, f"{name}: a colour bar on a figure without a map"
        return
    assert bars, f"{name} shows maps but has no colour bar"
    for ax in bars:
        bar = ax._colorbar
        assert (bar.norm.vmin, bar.norm.vmax) == (0.0, 1.0)
        assert "0 = least, 1 = most relevant" in ax.get_xlabel()
    # below every panel
    lowest = min(a.get_window_extent().y0 for a in _data_axes(fig))
    assert all(ax.get_window_extent().y1 <= lowest + 1 for ax in bars)


def test_colour_bars_match_the_maps(drawn):
    """An overlay's bar is jet; a grayscale map gets a gray bar; a photo-only panel adds none."""
    cmaps = {n: sorted(ax._colorbar.cmap.name for ax in _bars(f)) for n, f in drawn.items()}
    assert cmaps["lotsbook.plots.methods_figure"] == ["jet"]
    assert cmaps["lotsbook.pages.visualization.figure_4_2"] == ["gray", "jet"]
    assert cmaps["lotsbook.pages.benchmark.drop_increase_figure"] == ["inferno", "jet"]
    assert _shows_map(drawn["lotsbook.pages.visualization.figure_4_2"])
    photos = plots.panel_grid([{"image": X[0], "title": "a photo"}, {"image": X[1, 0], "scale": None}], 2)
    gray = plots.panel_grid([{"image": M1}], 1)
    assert not _bars(photos)
    assert [ax._colorbar.cmap.name for ax in _bars(gray)] == ["gray"]
    _close(photos, gray)


def _overlap(a, b) -> float:
    w = min(a.x1, b.x1) - max(a.x0, b.x0)
    h = min(a.y1, b.y1) - max(a.y0, b.y0)
    return max(w, 0) * max(h, 0)


@pytest.mark.parametrize("name", sorted(FIGURES))
def test_legends_lie_outside_the_data(drawn, name):
    fig = drawn[name]
    legends = [ax.get_legend() for ax in fig.axes if ax.get_legend()] + list(fig.legends)
    for leg in legends:
        box = leg.get_window_extent()
        for ax in _data_axes(fig):
            assert _overlap(box, ax.get_window_extent()) < 1.0, f"{name}: a legend covers the axes {ax.get_title()!r}"


def test_curves_figures_have_their_legend():
    """The check above is not vacuous: curves_figure (chapter 4, own image) has a legend."""
    fig = plots.curves_figure(CURVES, "deletion")
    assert fig.axes[0].get_legend() is not None
    _close(fig)


@pytest.mark.parametrize("name", sorted(FIGURES))
def test_no_figure_is_wider_than_the_column_and_titles_are_large_enough(drawn, name):
    fig = drawn[name]
    css_px = plots._png_size(plots._png(fig))[0] / plots.DPI * 96
    assert css_px <= 944, f"{name}: {css_px:.0f} CSS px wide at its design size"
    for ax in _data_axes(fig):
        if ax.images and ax.get_title():
            assert ax.title.get_fontsize() >= plots.TITLE_PT, name


def test_chapter_6_titles_are_readable_at_the_content_width(drawn):
    """At a 944 px content column, a title of Figure 5.7 is at least 9 px high (its cap height)."""
    fig = drawn["lotsbook.pages.unseen.figure_5_7"]
    width_in = plots._png_size(plots._png(fig))[0] / plots.DPI
    px_per_in = min(96.0, 944 / width_in)
    title = next(ax.title for ax in fig.axes if ax.get_title())
    cap_height_px = 0.7 * title.get_fontsize() / 72 * px_per_in
    assert cap_height_px >= 9


def _png_dpi(png: bytes) -> float:
    """The resolution in the PNG's pHYs chunk (pixels per metre -> per inch)."""
    i = 8
    while i < len(png):
        n, kind = struct.unpack(">I4s", png[i : i + 8])
        if kind == b"pHYs":
            ppm_x, _, unit = struct.unpack(">IIB", png[i + 8 : i + 17])
            assert unit == 1
            return ppm_x * 0.0254
        i += 12 + n
    raise AssertionError("no pHYs chunk")


def test_pngs_are_at_least_200_dpi():
    fig = plots.methods_figure(X1, {"LOTS": M1})
    inches = fig.get_tightbbox(fig.canvas.get_renderer()).width
    png = plots._png(fig)
    assert plots.DPI >= 200 and _png_dpi(png) == pytest.approx(plots.DPI, rel=0.01)
    assert plots._png_size(png)[0] == pytest.approx(inches * plots.DPI, rel=0.05)
    assert zlib.crc32(png[12:29]) == struct.unpack(">I", png[29:33])[0]  # a well-formed header
    _close(fig)


CAPTION = ("**Regenerates thesis Figure 5.3** (there: 15 images on ResNet-50). LOTS at most 5 iterations. 6 images "
           "drawn at random, titles are the *top-1* classes.")


def test_alt_text_is_the_captions_first_sentence_without_markdown():
    assert plots.alt_text("**LOTS convergence (Algorithm 1 of the thesis).** Left: distance per iteration.") == (
        "LOTS convergence (Algorithm 1 of the thesis).")
    # a sentence that only names the thesis figure is followed by the one that says what it shows
    assert plots.alt_text(CAPTION) == ("Regenerates thesis Figure 5.3 (there: 15 images on ResNet-50). LOTS at most 5 "
                                       "iterations.")
    assert plots.alt_text("**Focus (Arias-Duart et al. 2022) on a mosaic, m.** As in the paper.") == (
        "Focus (Arias-Duart et al. 2022) on a mosaic, m.")
    assert plots.alt_text("See [the glossary](glossary.md) and `lots_map`. Rest.") == "See the glossary and lots_map."
    long = plots.alt_text("word " * 100)
    assert len(long) <= 240 and long.endswith("…")


def test_the_glued_figure_passes_alt_text_and_design_width(monkeypatch):
    import myst_nb

    glued = {}
    monkeypatch.setattr(myst_nb, "glue", lambda name, obj, display=True: glued.setdefault(name, obj))
    fig = plots.methods_figure(X1, {"LOTS": M1})
    png = plots._png(fig)
    text = plots._glue_figure("fig-5-3", png, CAPTION, plots.DPI, None)
    assert "fig-5-3" in glued and text.startswith("```{glue:figure} fig-5-3\n")
    alt = re.search(r"^:alt: (.*)$", text, flags=re.M).group(1)
    assert alt == plots.alt_text(CAPTION) and "*" not in alt
    assert not re.search(r"\.(png|jpe?g|svg)$|/", alt), "alt text is a path"
    width = int(re.search(r"^:width: (\d+)px$", text, flags=re.M).group(1))
    assert width == round(plots._png_size(png)[0] / plots.DPI * 96) <= 944
    assert text.rstrip("`\n").endswith(" ".join(CAPTION.split()))
    explicit = plots._glue_figure("fig-x", png, CAPTION, plots.DPI, "Two heat-maps\nside by side")
    assert ":alt: Two heat-maps side by side\n" in explicit
    _close(fig)
