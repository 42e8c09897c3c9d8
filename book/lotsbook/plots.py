"""The book's generic display helpers, shared by its chapters: captioned figures and tables.

The figures and tables of one chapter are in its page module (:mod:`lotsbook.pages`); this
module holds what several chapters draw with. Every ``*_figure`` function returns a
matplotlib :class:`~matplotlib.figure.Figure`;
:func:`show` puts it on the page with a caption (as a real ``<figure>`` with
``<figcaption>`` in the built book), :func:`table` turns a DataFrame into a styled
table with a caption. Images are ``(3,H,W)`` tensors in [0,1]; maps are ``(H,W)`` in [0,1].
"""
from __future__ import annotations

import io
import os
import re
import string
from typing import Mapping, Sequence

import numpy as np
import torch
from lotslib.method_registry import TABLE_METHODS
from lotslib.verdicts import MIN_PAIRS

__all__ = [
    "as_image",
    "map_panel",
    "panel_grid",
    "add_colorbars",
    "alt_text",
    "show",
    "table",
    "styled_table",
    "note",
    "figure_4_1",
    "methods_figure",
    "curves_figure",
    "short_class",
    "direction",
    "reference_wide",
    "summary_table",
    "rank_table",
    "DPI",
    "COLUMN_IN",
    "PAD_IN",
    "TITLE_PT",
    "MAP_LABEL",
    "BAR_BAND_IN",
]

PANEL = 2.3  # inches per panel
#: resolution of the book's PNGs (dots per inch of the figure)
DPI = 200
#: the white margin around a saved figure, in inches
PAD_IN = 0.05
#: the content column at a 1280 px window (944 CSS px, 96 a figure's inch), less the margins: no figure is designed
#: wider than this, so none is shown shrunk below its design size
COLUMN_IN = 944 / 96 - 2 * PAD_IN
#: the smallest font of a panel title, in points (12 CSS px at the design size)
TITLE_PT = 9
#: what a colour bar under a figure's maps says
MAP_LABEL = "map value (0 = least, 1 = most relevant)"
#: height in inches of the band under the panels that holds the colour bars
BAR_BAND_IN = 0.62


def as_image(t) -> np.ndarray:
    """Convert an image tensor to a ``(H,W,3)`` array for matplotlib.

    Parameters
    ----------
    t : torch.Tensor or numpy.ndarray
        A ``(3,H,W)`` or ``(1,3,H,W)`` image in [0,1], or an ``(H,W)`` map (passed through).

    Returns
    -------
    numpy.ndarray
        ``(H,W,3)`` pixels clamped to [0,1]; an ``(H,W)`` map is returned as an array unchanged.
    """
    if isinstance(t, torch.Tensor):
        t = t.detach().cpu().float()
        if t.dim() == 4:
            t = t[0]
        if t.dim() == 3:
            t = t.permute(1, 2, 0)
        return t.clamp(0, 1).numpy()
    return np.asarray(t)


def short_class(name: str | None, n: int = 22) -> str:
    """A class name short enough for a panel title.

    Parameters
    ----------
    name : str or None
        The class name, e.g. ``"tench, Tinca tinca"``.
    n : int, optional
        Maximum length (default 22).

    Returns
    -------
    str
        The first synonym (``"tench"``), cut to ``n`` characters with an ellipsis; ``"?"``
        for None.
    """
    if not name:
        return "?"
    s = str(name).split(",")[0]
    return s if len(s) <= n else s[: n - 1] + "…"


def map_panel(x, m, title: str = "", **kw) -> dict:
    """A panel of :func:`lotsbook.plots.panel_grid` that shows a map as a jet heat-map laid over its image.

    Parameters
    ----------
    x : torch.Tensor
        The image, ``(1,3,H,W)`` or ``(3,H,W)`` in [0,1].
    m : torch.Tensor
        Its map, ``(H,W)`` or ``(1,H,W)`` in [0,1].
    title : str, optional
        The panel's title (default ``""``).
    **kw
        Further panel keys (e.g. ``nearest``).

    Returns
    -------
    dict
        ``{"image": (3,H,W) overlay in [0,1], "title": title, "scale": "jet"}``: the ``scale``
        key makes :func:`lotsbook.plots.panel_grid` draw the jet colour bar.
    """
    from lotslib.visualize import overlay

    m = torch.as_tensor(m)
    m = m.reshape(1, *m.shape[-2:])
    x = x if x.dim() == 4 else x[None]
    return {"image": overlay(x, m)[0], "title": title, "scale": "jet", **kw}


def _scale(p: Mapping) -> str | None:
    """The colour scale a panel's pixels encode: its ``scale`` key when given, else the colormap
    of a ``(H,W)`` map (``cmap``, default gray), else None (a photo)."""
    if "scale" in p:
        return p["scale"]
    return (p.get("cmap") or "gray") if as_image(p["image"]).ndim == 2 else None


def add_colorbars(fig, scales: Sequence[str], band_in: float = BAR_BAND_IN, labels: Sequence[str] | None = None):
    """Slim horizontal colour bars, side by side, in the band of height ``band_in`` inches at the
    bottom of ``fig`` (which the caller keeps free of panels).

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        The figure.
    scales : Sequence of str
        One matplotlib colormap name per bar (e.g. ``"jet"``, ``"gray"``), for maps in [0,1].
    band_in : float, optional
        Height of the free band at the bottom, in inches (default :data:`lotsbook.plots.BAR_BAND_IN`).
    labels : Sequence of str or None, optional
        One label per bar (default None: :data:`lotsbook.plots.MAP_LABEL` under each).

    Returns
    -------
    list of matplotlib.colorbar.Colorbar
        The bars (their axes are labelled ``"<colorbar>"``, as matplotlib labels those it makes).
    """
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    w_in, h_in = fig.get_size_inches()
    k = len(scales)
    width = min(3.6 / w_in, 0.9 / max(k, 1) - 0.04)
    bars = []
    for i, cmap in enumerate(scales):
        centre = (i + 0.5) / k
        cax = fig.add_axes((centre - width / 2, (band_in - 0.22) / h_in, width, 0.11 / h_in), label="<colorbar>")
        bar = fig.colorbar(ScalarMappable(Normalize(0.0, 1.0), cmap=cmap), cax=cax, orientation="horizontal",
                           ticks=[0.0, 0.5, 1.0])
        bar.ax.tick_params(labelsize=TITLE_PT - 1, length=2, pad=1)
        bar.set_label(labels[i] if labels else MAP_LABEL, fontsize=TITLE_PT)
        bars.append(bar)
    return bars


def _bar_labels(panels: Sequence[Mapping], scales: Sequence[str], letters: bool) -> list[str]:
    """One colour-bar label per scale; where a figure has several scales, each names its panels."""
    if len(scales) < 2:
        return [MAP_LABEL] * len(scales)
    out = []
    for s in scales:
        ks = [k for k, p in enumerate(panels) if _scale(p) == s]
        which = ", ".join(f"({string.ascii_lowercase[k]})" for k in ks) if letters else f"{s} panels"
        out.append(f"{which}: {MAP_LABEL}")
    return out


def panel_grid(panels: Sequence[Mapping], ncols: int, size: float = PANEL, letters: bool = False,
               title_size: int = TITLE_PT, row_labels: Sequence[str] | None = None):
    """Lay out panels on a grid, with a colour bar under it for every colour scale a panel shows.

    Parameters
    ----------
    panels : Sequence of dict
        One mapping per panel: ``{"image": tensor|array, "title": str, "cmap": None|"gray"|...,
        "scale": None|"jet"|...}``. ``scale`` is the colormap of the values the panel encodes (a
        heat-map overlay: ``"jet"``, see :func:`lotsbook.plots.map_panel`; None: a photo); a ``(H,W)`` map
        without ``scale`` encodes its ``cmap`` (default gray).
    ncols : int
        Number of columns.
    size : float, optional
        Size of one panel in inches (default 2.3), reduced so that the grid is at most
        :data:`lotsbook.plots.COLUMN_IN` wide.
    letters : bool, optional
        If True, prefix the titles with (a), (b), ... as the thesis's subfigures (default False).
    title_size : int, optional
        Font size of the titles in points (default :data:`lotsbook.plots.TITLE_PT`; never less).
    row_labels : list of str or None, optional
        A label per row (default None: no row labels).

    Returns
    -------
    matplotlib.figure.Figure
        The figure with the panels and, in a band below them, one colour bar (values 0 to 1)
        per distinct scale, labelled with :data:`lotsbook.plots.MAP_LABEL`.
    """
    import matplotlib.pyplot as plt

    n = len(panels)
    nrows = max(1, -(-n // ncols))
    size = min(size, (COLUMN_IN - (0.25 if row_labels else 0.0)) / ncols)
    title_size = max(title_size, TITLE_PT)
    scales = list(dict.fromkeys(s for s in map(_scale, panels) if s))
    band = BAR_BAND_IN if scales else 0.0
    height = nrows * (size + 0.3) + band
    fig, axes = plt.subplots(nrows, ncols, figsize=(ncols * size, height), squeeze=False)
    for k, ax in enumerate(axes.flat):
        ax.set_axis_off()
        if k >= n:
            continue
        p = panels[k]
        im = as_image(p["image"])
        kw = {}
        if im.ndim == 2:
            kw = dict(cmap=p.get("cmap") or "gray", vmin=0.0, vmax=1.0)
        ax.imshow(im, interpolation="nearest" if p.get("nearest") else "antialiased", **kw)
        title = p.get("title", "")
        if letters:
            title = f"({string.ascii_lowercase[k]}) {title}"
        ax.set_title(title, fontsize=title_size)
    if row_labels:
        for r, lab in enumerate(row_labels[:nrows]):
            axes[r, 0].text(-0.06, 0.5, lab, transform=axes[r, 0].transAxes, rotation=90, va="center", ha="right",
                            fontsize=title_size)
    fig.tight_layout(pad=0.4, rect=(0.0, band / height, 1.0, 1.0))
    if scales:
        add_colorbars(fig, scales, band, _bar_labels(panels, scales, letters))
    return fig


def _png(fig, dpi: int = DPI) -> bytes:
    """``fig`` as an RGB PNG at ``dpi`` (recorded in its pHYs chunk): matplotlib writes RGBA, and on a white
    figure the alpha channel only costs bytes (about 15% of a page of photos)."""
    from PIL import Image

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight", pad_inches=PAD_IN, facecolor="white")
    out = io.BytesIO()
    Image.open(buf).convert("RGB").save(out, format="png", dpi=(dpi, dpi), optimize=True)
    return out.getvalue()


#: abbreviations whose full stop ends no sentence
_NOT_AN_END = ("et al.", "e.g.", "i.e.", "cf.", "vs.", "approx.")


def alt_text(caption: str, n: int = 240) -> str:
    """The alt text of a figure, derived from its caption.

    Parameters
    ----------
    caption : str
        The caption, in Markdown.
    n : int, optional
        The longest alt text (default 240 characters; longer is cut at a word, with an ellipsis).

    Returns
    -------
    str
        The caption's first sentence without Markdown (emphasis, code, links, roles), on one
        line; where that sentence only names the thesis figure ("Regenerates thesis Figure 5.3
        ..."), the next sentence too, which says what it shows.
    """
    t = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", caption)        # [text](url) -> text
    t = re.sub(r"\{[\w:-]+\}`([^`]*)`", r"\1", t)                # {role}`text` -> text
    t = re.sub(r"[*`]", "", t)
    t = " ".join(t.replace("$", "").split())
    protected = t
    for a in _NOT_AN_END:
        protected = protected.replace(a, a.replace(".", "\0"))
    sentences = [s.replace("\0", ".") for s in re.split(r"(?<=[.!?])\s+", protected) if s]
    out = sentences[0] if sentences else ""
    if out.startswith("Regenerates") and len(sentences) > 1:
        out += " " + sentences[1]
    if len(out) > n:
        out = out[: n - 1].rsplit(" ", 1)[0] + "…"
    return out


def show(fig, name: str, caption: str, dpi: int = DPI, alt: str | None = None) -> None:
    """Put ``fig`` on the page with ``caption`` (Markdown) and close it.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        The figure to show; it is closed afterwards.
    name : str
        The anchor (label) of the figure in the book.
    caption : str
        The caption, in Markdown.
    dpi : int, optional
        Resolution of the PNG (default :data:`lotsbook.plots.DPI`).
    alt : str or None, optional
        The image's alt text (default None: :func:`lotsbook.plots.alt_text` of the caption).

    Returns
    -------
    None

    Notes
    -----
    In the book build (``LOTSBOOK=1``, set by :mod:`lotsbook.build`) the PNG is glued with
    myst-nb and a ``{glue:figure}`` directive renders it as ``<figure>`` with a real
    ``<figcaption>``, the anchor ``name``, the alt text and the figure's design width (its
    inches at 96 CSS px each, so a high-resolution PNG is not shown larger than designed);
    in plain Jupyter the image and the caption are simply displayed.
    """
    import matplotlib.pyplot as plt
    from IPython.display import Image, Markdown, display

    png = _png(fig, dpi)
    plt.close(fig)
    if os.environ.get("LOTSBOOK") == "1":
        display(Markdown(_glue_figure(name, png, caption, dpi, alt)))
    else:
        display(Image(data=png, format="png"))
        display(Markdown(caption))


def _glue_figure(name: str, png: bytes, caption: str, dpi: int, alt: str | None) -> str:
    """Glue ``png`` under ``name`` and return the ``{glue:figure}`` directive that shows it."""
    from IPython.display import Image
    from myst_nb import glue

    glue(name, Image(data=png, format="png"), display=False)
    width = round(_png_size(png)[0] / dpi * 96)
    alt = " ".join((alt or alt_text(caption)).split())
    caption = " ".join(caption.split())  # one paragraph, no stray directive syntax
    options = f":name: {name}\n:figwidth: 100%\n:width: {width}px\n:alt: {alt}"
    return f"```{{glue:figure}} {name}\n{options}\n\n{caption}\n```"


def _png_size(png: bytes) -> tuple[int, int]:
    """``(width, height)`` in pixels of a PNG, from its header."""
    import struct

    return struct.unpack(">II", png[16:24])


def _auto_format(v) -> str:
    if isinstance(v, (bool, np.bool_)):
        return "yes" if v else "no"
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        return "–" if not np.isfinite(v) else f"{v:.2f}"
    return "–" if v is None else str(v)


def _show(styler):
    """Put a styled table on the page now (a table helper never relies on being the last
    expression of its cell); returns None, so a cell does not show it twice."""
    from IPython.display import display

    display(styler)


def note(text: str) -> None:
    """Display ``text`` (Markdown) as a paragraph.

    Parameters
    ----------
    text : str
        The Markdown text: what a cell shows when it has no table or figure to show (e.g. "no
        row is N/A"), so that no cell is silently empty.

    Returns
    -------
    None
    """
    from IPython.display import Markdown, display

    display(Markdown(text))


def table(df, caption: str, **kw) -> None:
    """Display :func:`styled_table` ``(df, caption, **kw)`` with its caption.

    Parameters
    ----------
    df : pandas.DataFrame
        The table to display.
    caption : str
        The caption shown above the table.
    **kw
        Further keyword arguments of :func:`styled_table` (``fmt``, ``best``, ``best_by``, ``index``).

    Returns
    -------
    None
        The table is displayed, not returned.
    """
    _show(styled_table(df, caption, **kw))


def styled_table(df, caption: str, fmt: str | Mapping | None = None, best: Mapping[str, str] | None = None,
          best_by: str | None = None, index: bool = True):
    """A styled table with a caption above it.

    Parameters
    ----------
    df : pandas.DataFrame
        The table.
    caption : str
        The caption shown above the table.
    fmt : str or dict or None, optional
        A format string or a column -> format mapping (default None: floats with 2 decimals,
        everything else as text).
    best : dict or None, optional
        Column -> ``"max"`` or ``"min"``: the best value of each column (within each ``best_by``
        group) is bold (default None: nothing is bold).
    best_by : str or None, optional
        A column to group by when marking the best values, e.g. per backbone (default None:
        the whole column).
    index : bool, optional
        Whether to show the index (default True).

    Returns
    -------
    pandas.io.formats.style.Styler
        The styled table.
    """
    import pandas as pd

    import html

    # the caption is bold already (CSS below); markdown emphasis would show as literal asterisks. It
    # is HTML: a recorded command's "<scratch>/cache" placeholder must show, not vanish as a tag
    sty = df.style.set_caption(html.escape(caption.replace("**", ""), quote=False)).format(_auto_format)
    if fmt is not None:
        sty = sty.format(fmt, na_rep="–")
    # numbers right-aligned, text left-aligned
    num_cols = [c for c in df.columns if pd.api.types.is_numeric_dtype(df[c])]
    text_cols = [c for c in df.columns if c not in num_cols]
    if num_cols:
        sty = sty.set_properties(subset=num_cols, **{"text-align": "right"})
    if text_cols:
        sty = sty.set_properties(subset=text_cols, **{"text-align": "left"})
    sty = sty.set_table_styles(
        [
            {"selector": "caption",
             "props": "caption-side: top; font-weight: bold; text-align: left; padding-bottom: 0.4em;"},
            {"selector": "th", "props": "text-align: left;"},
            {"selector": "td", "props": "padding: 0.15em 0.6em;"},
        ]
    )
    if best:
        def bold(col: pd.Series):
            how = best.get(col.name if not isinstance(col.name, tuple) else col.name[-1])
            if how is None:
                return [""] * len(col)
            vals = pd.to_numeric(col, errors="coerce")
            if best_by is not None and best_by in df.index.names:
                grp = df.index.get_level_values(best_by)
                target = vals.groupby(grp).transform("max" if how == "max" else "min")
            else:
                target = pd.Series(vals.max() if how == "max" else vals.min(), index=vals.index)
            return ["font-weight: bold" if (v == t and pd.notna(v)) else "" for v, t in zip(vals, target)]

        sty = sty.apply(bold, axis=0)
    if not index:
        sty = sty.hide(axis="index")
    return sty


# --------------------------------------------------------------- chapters 1 and own


def figure_4_1(x, x_adv, titles_orig: Sequence[str], titles_adv: Sequence[str], gain: float = 10.0):
    """Thesis Figure 4.1 for each image (one row each).

    Parameters
    ----------
    x : torch.Tensor
        The original images, ``(N,3,H,W)`` float in [0,1].
    x_adv : torch.Tensor
        The adversarial images, ``(N,3,H,W)`` float in [0,1].
    titles_orig : list of str
        A title per original image.
    titles_adv : list of str
        A title per adversarial image.
    gain : float, optional
        Factor of the perturbation panel (default 10.0).

    Returns
    -------
    matplotlib.figure.Figure
        Per row: original, perturbation x``gain`` (shifted to mid-grey, clamped), adversarial.
    """
    from lotslib.visualize import perturbation_view

    pert = perturbation_view(x, x_adv, gain)
    panels = []
    for i in range(len(x)):
        panels += [
            {"image": x[i], "title": f"original: {titles_orig[i]}"},
            {"image": pert[i], "title": f"perturbation ×{gain:g}"},
            {"image": x_adv[i], "title": f"adversarial: {titles_adv[i]}"},
        ]
    return panel_grid(panels, 3, size=2.6, letters=len(x) == 1)




# ------------------------------------------------------------ chapters 2-5, own
def methods_figure(x, maps: Mapping[str, torch.Tensor], titles: Mapping[str, str] | None = None,
                   first_title: str = "original", ncols: int = 4):
    """Thesis Figure 5.2 / A.1-A.3 / 5.7: one image and each method's map laid over it.

    Parameters
    ----------
    x : torch.Tensor
        The image, ``(1,3,H,W)`` float in [0,1].
    maps : dict
        Method -> map ``(H,W)`` in [0,1] (drawn with jet, as in the thesis).
    titles : dict or None, optional
        Method -> panel title (default None: the method names).
    first_title : str, optional
        Title of the image panel (default ``"original"``).
    ncols : int, optional
        Number of columns (default 4).

    Returns
    -------
    matplotlib.figure.Figure
        The image panel and one panel per method, the jet colour bar under them.
    """
    panels = [{"image": x[0], "title": first_title}]
    panels += [map_panel(x, m, (titles or {}).get(name, name)) for name, m in maps.items()]
    return panel_grid(panels, ncols, size=2.4, letters=True)


def curves_figure(curves: Mapping[str, np.ndarray], kind: str, x_img=None, maps=None,
                  aucs: Mapping[str, float] | None = None):
    """Thesis Figures A.6 (deletion) / A.7 (insertion): class probability vs fraction of pixels.

    Parameters
    ----------
    curves : dict
        Method -> curve (``numpy.ndarray``): class probability in [0,1] at evenly spaced
        fractions of pixels removed/inserted, from 0 to 1.
    kind : str
        ``"deletion"`` or ``"insertion"``.
    x_img : torch.Tensor or None, optional
        Not drawn; accepted for call compatibility (default None).
    maps : dict or None, optional
        Not drawn; accepted for call compatibility (default None).
    aucs : dict or None, optional
        Method -> AUC as a fraction in [0,1], shown x100 in the legend (default None: the
        trapezoid area of each curve).

    Returns
    -------
    matplotlib.figure.Figure
        One curve per method, AUC in the legend (to the right of the axes).
    """
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8.4, 3.4))
    for name, c in curves.items():
        c = np.asarray(c, dtype=float)
        frac = np.linspace(0, 1, len(c))
        auc = (aucs or {}).get(name, float(np.trapezoid(c, frac)))
        ax.plot(frac, c, lw=1.6, ls="--" if name.lower().startswith("random") else "-",
                label=f"{name} (AUC {100 * auc:.1f})")
    ax.set_xlabel(f"fraction of pixels {'removed' if kind == 'deletion' else 'inserted'}")
    ax.set_ylabel("probability of the top-1 class")
    ax.set_ylim(-0.02, 1.02)
    ax.grid(alpha=0.3)
    # beside the axes, never over the curves
    ax.legend(fontsize=8, frameon=False, loc="center left", bbox_to_anchor=(1.02, 0.5))
    ax.set_title(kind.capitalize())
    fig.tight_layout()
    return fig


# ------------------------------------------------------- benchmark tables
def direction(label: str) -> str | None:
    """``"max"`` or ``"min"``: how the best value of the metric whose table header (or key) is
    ``label`` is found, from the metric object (:mod:`lotslib.metric_registry`); None for a
    column that is not a registered metric."""
    from lotslib.metric_registry import metric_by_label

    m = metric_by_label(label)
    return None if m is None else ("max" if m.higher_is_better else "min")


def reference_wide(table: str = TABLE_METHODS):
    """The thesis's own values of Table 5.1/5.2 (``lotslib/resources/thesis_tables.csv``) in the layout of
    :func:`lotslib.benchmark.table_5_1` / ``table_5_2``: index (model, row label), one column per
    metric label. Cells the source does not give are NaN."""
    import pandas as pd

    from lotslib.benchmark import reference_tables, table_rows
    from lotslib.metric_registry import METRICS

    ref = reference_tables()
    ref = ref[(ref["table"] == table) & ref["metric"].isin(METRICS)].copy()
    rows = table_rows(table)
    ref["row"] = ref["method"].map(lambda m: rows.get(m, m))
    ref["label"] = ref["metric"].map(lambda m: METRICS[m].label)
    order = [(mo, r) for mo in dict.fromkeys(ref["model"]) for r in rows.values()
             if ((ref["model"] == mo) & (ref["row"] == r)).any()]
    wide = ref.pivot_table(index=["model", "row"], columns="label", values="value", aggfunc="first")
    wide = wide.reindex(pd.MultiIndex.from_tuples(order, names=["model", "method"]))
    return wide.reindex(columns=[m.label for m in METRICS.values()])


def summary_table(wide, caption: str, thesis=None, digits: int = 2, group: str = "model", unranked=()):
    """Styled Table 5.1/5.2: for every metric our mean with its 95% bootstrap interval below
    it, the best mean of each ``group`` in bold (by the metric's arrow), and -- where ``thesis``
    (from :func:`reference_wide`) has a value for the same row -- the thesis's value in a column
    beside ours.

    No "best" is drawn from too few images: a row with fewer than
    :data:`lotslib.verdicts.MIN_PAIRS` images is never bold and shows no interval (its
    bootstrap interval would be a point or nearly so; the cell says the n is too small), and a
    group needs at least two rows with enough images for any bold at all (a lone row is not
    the best of anything). Rows whose method label is in ``unranked`` (methods beyond the
    thesis's, shown in their own rows) are never bold and do not take part in the choice.
    The caption says all of this with the n."""
    import pandas as pd

    labels = list(dict.fromkeys(wide.columns.get_level_values(0)))
    tv_all = thesis.reindex(wide.index) if thesis is not None else None
    with_thesis = [lab for lab in labels if tv_all is not None and lab in tv_all.columns and tv_all[lab].notna().any()]
    method_level = wide.index.get_level_values(-1)
    ranked = ~np.asarray(method_level.isin(list(unranked)))
    cols, bold, few = {}, {}, np.zeros(len(wide), dtype=bool)
    lone = False
    for lab in labels:
        m, lo, hi = wide[(lab, "mean")], wide[(lab, "ci_low")], wide[(lab, "ci_high")]
        n = wide[(lab, "n")].fillna(0)
        key = (lab, "ours") if with_thesis else lab
        cols[key] = [("–" if pd.isna(a) else
                      f"{a:.{digits}f}<br><span class='ci'>n = {int(k)}: too few for an interval</span>"
                      if k < MIN_PAIRS else
                      f"{a:.{digits}f}<br><span class='ci'>[{b:.{digits}f}, {c:.{digits}f}]</span>")
                     for a, b, c, k in zip(m, lo, hi, n)]
        few |= (n < MIN_PAIRS).to_numpy()
        how = direction(lab)
        if how:
            g = wide.index.get_level_values(group) if group in wide.index.names else np.zeros(len(wide))
            enough = (n >= MIN_PAIRS) & ranked & m.notna()  # no "best" from too few images, nor among extras
            judged = enough.groupby(g).transform("sum") >= 2  # a lone row is not the best of anything
            lone |= bool((enough & ~judged).any())
            bold[key] = (enough & judged & (m == m.where(enough).groupby(g).transform(how))).to_numpy()
        if lab in with_thesis:
            cols[(lab, "thesis")] = [f"{v:.{digits}f}" if pd.notna(v) else "–" for v in tv_all[lab]]
    disp = pd.DataFrame(cols, index=wide.index)
    if with_thesis:
        disp.columns = pd.MultiIndex.from_tuples(disp.columns)
    n_col = ("n", "") if with_thesis else "n"
    disp[n_col] = wide[(labels[0], "n")].fillna(0).astype(int).to_numpy()
    mask = np.zeros(disp.shape, dtype=bool)
    for key, b in bold.items():
        mask[:, list(disp.columns).index(key)] = b
    if few.any():
        ns = sorted({int(v) for v in wide.xs("n", axis=1, level=1).min(axis=1).fillna(0)[few]})
        caption += (f" {int(few.sum())} of {len(wide)} rows rest on fewer than {MIN_PAIRS} images "
                    f"(n = {', '.join(map(str, ns))}): too few to name a best or to draw an interval, so none of "
                    f"them is bold and their cells show no interval.")
    if lone:
        caption += (f" Where only one row has {MIN_PAIRS} images or more, nothing is bold: one row is not the best "
                    f"of anything.")
    if not ranked.all():
        extra = list(dict.fromkeys(method_level[~ranked]))
        caption += (f" {', '.join(extra)}: beyond the thesis's methods, shown in their own rows and never bold "
                    f"(outside the ranking).")
    sty = styled_table(disp, caption, fmt="{}").set_properties(**{"text-align": "right", "white-space": "nowrap"})
    _show(sty.apply(lambda _: np.where(mask, "font-weight: bold", ""), axis=None))


def rank_table(ours_wide, thesis_wide, caption: str, ranked=None):
    """Mean rank (1 = best) of every method per metric, averaged over the backbones: ours
    beside the thesis's. Comparable even when the backbones differ. None of ours is ranked
    from fewer than :data:`lotslib.verdicts.MIN_PAIRS` images (shown as –, and said in the caption).
    ``ranked`` (row labels; default None: every row) are the methods ranked among themselves;
    the other rows are left out of the ranking and the table, and the caption names them."""
    import pandas as pd

    if ranked is not None:
        ranked = list(ranked)
        left = [r for r in dict.fromkeys(ours_wide.index.get_level_values(1)) if r not in ranked]
        ours_wide = ours_wide[ours_wide.index.get_level_values(1).isin(ranked)]
        thesis_wide = thesis_wide[thesis_wide.index.get_level_values(1).isin(ranked)]
        if left:
            caption += f" Ranked among the thesis's methods only; {', '.join(left)} are outside the ranking."

    def ranks(w, value):
        out = {}
        for lab in dict.fromkeys(w.columns.get_level_values(0) if isinstance(w.columns, pd.MultiIndex) else w.columns):
            how = direction(lab)
            if not how:
                continue
            v = w[(lab, value)].where(w[(lab, "n")] >= MIN_PAIRS) if value else w[lab]
            r = v.groupby(level=0).rank(ascending=(how == "min"))
            out[lab] = r.groupby(level=1).mean()
        return pd.DataFrame(out)

    a = ranks(ours_wide, "mean")
    b = ranks(thesis_wide, None)
    order = list(dict.fromkeys(list(ours_wide.index.get_level_values(1)) + list(thesis_wide.index.get_level_values(1))))
    rows = [r for r in order if r in a.index or r in b.index]
    disp = pd.DataFrame(index=pd.Index(rows, name="method"))
    for lab in a.columns:
        disp[(lab, "ours")] = a[lab].reindex(rows)
        if lab in b.columns:
            disp[(lab, "thesis")] = b[lab].reindex(rows)
    disp.columns = pd.MultiIndex.from_tuples(disp.columns, names=["metric", ""])
    n = ours_wide.xs("n", axis=1, level=1).min(axis=1)
    if (n < MIN_PAIRS).any():
        caption += (f" Our ranks are left out (–) where a method rests on fewer than {MIN_PAIRS} images (n = "
                    f"{', '.join(map(str, sorted({int(v) for v in n[n < MIN_PAIRS].fillna(0)})))}): too few to rank.")
    _show(styled_table(disp, caption, fmt="{:.1f}"))
