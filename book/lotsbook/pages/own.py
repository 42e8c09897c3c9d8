"""The "Try your own image" page (``notebooks/own.py``): one image, every method, every metric.

:func:`explain_image` explains one image with every method of Table 5.2 (the six CAM methods
and LOTS, :data:`lotslib.method_registry.METHODS`, registered ones included) and scores each
map with every registered metric (:data:`lotslib.metric_registry.METRICS`), exactly as the
benchmark scores a batch, but without its cache and per-dataset bookkeeping;
:func:`metric_verdicts` states the outcome per metric and :func:`page_run_table` is the page's run
table. The checks of ``--image`` and ``--model`` and the image itself are
:mod:`lotsbook.single_image`. Pixels are ``(1,3,H,W)`` in [0,1]; maps ``(H,W)`` in [0,1].
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch

from lotslib.errors import ParameterError

__all__ = ["ImageReport", "explain_image", "metric_verdicts", "page_run_table", "show_image", "show_maps", "show_lots",
           "show_metrics", "show_curves"]


@dataclass
class ImageReport:
    """What :func:`explain_image` returns.

    Attributes
    ----------
    x : torch.Tensor
        The image, ``(1,3,H,W)`` in [0,1].
    target : int
        The explained class: the model's top-1 class on ``x``.
    probability : float
        Its softmax probability, in [0,1].
    maps : dict
        Method name -> ``(H,W)`` map in [0,1], in the registry's order (LOTS last).
    metrics : pandas.DataFrame
        Index ``method`` (names); one column per metric (its table label, e.g.
        ``"Insertion ↑"``, in %) and ``"ms per map"``.
    curves : dict
        ``"insertion"`` / ``"deletion"`` -> {method name: curve ``(S+1,)`` of class
        probabilities in [0,1]}.
    lots : lotslib.explanation.Explanation or None
        LOTS's explanation (``x_adv``, ``trace``; the zero target's when ``"lots"`` ran); None
        when no LOTS method was among the methods.
    degenerate : list of str
        The methods whose map is all zeros (a constant map).
    """

    x: torch.Tensor
    target: int
    probability: float
    maps: dict
    metrics: pd.DataFrame
    curves: dict = field(default_factory=dict)
    lots: object = None
    degenerate: list = field(default_factory=list)

    def legend(self, first: str = "b") -> str:
        """The panel letters of :func:`lotsbook.plots.methods_figure` for :attr:`maps`.

        Parameters
        ----------
        first : str, optional
            The letter of the first method's panel (default ``"b"``: panel (a) is the image).

        Returns
        -------
        str
            E.g. ``"(b) Random-CAM, (c) Grad-CAM, ..., (h) LOTS"``.
        """
        return ", ".join(f"({chr(ord(first) + i)}) {name}" for i, name in enumerate(self.maps))


def explain_image(model, x: torch.Tensor, methods=None, lots: dict | None = None, metrics: dict | None = None,
                  seed: int = 0) -> ImageReport:
    """Explain one image with every method and score every map with every registered metric.

    Parameters
    ----------
    model : lotslib.models.ModelWrapper
        The classifier: pixels in [0,1] in, logits out.
    x : torch.Tensor
        One image, ``(1,3,H,W)`` float pixels in [0,1] (``model.preprocess(img)[None]``).
    methods : Sequence of str or None, optional
        Method keys (default None: Table 5.2's methods, :data:`lotslib.method_registry.METHODS`).
    lots : dict or None, optional
        Parameters of the LOTS methods (``iters``, ``tau``, ``alpha``, ``filter_size``, ...;
        default None: their defaults); each LOTS variant gets the ones it takes.
    metrics : dict or None, optional
        Metric parameters (``steps``, ``fill``, ``score``, ``batch_size``, ...; default None:
        :func:`lotslib.metric_registry.metric_defaults`).
    seed : int, optional
        Seed of the stochastic methods (default 0).

    Returns
    -------
    ImageReport
        The maps, the metric table, the insertion/deletion curves and LOTS's result.

    Raises
    ------
    lotslib.errors.InputRangeError
        ``x`` is not one ``(1,3,H,W)`` image in [0,1].
    lotslib.errors.ParameterError
        An unknown method, or a bad method or metric parameter, before any compute.

    Notes
    -----
    Each map is scored as :mod:`lotslib.benchmark` scores a batch (a
    :class:`lotslib.metric_registry.ScoreBatch` per method, every metric's ``compute``), so
    the numbers are the benchmark's for this image; Average Increase of one image is 0 or 100.
    """
    import warnings

    from lotslib.explanation import DegenerateMapWarning, explain_with_info
    from lotslib.params import as_params_dict
    from lotslib.method_registry import METHODS, check_params, get_method
    from lotslib.metric_registry import METRICS, ScoreBatch, check_metric_params
    from lotslib.tensors import check_pixels, model_device

    check_pixels(x)
    if x.shape[0] != 1:
        raise ParameterError(f"x holds {x.shape[0]} images; explain_image takes one (1,3,H,W). Fix: x[:1], or "
                             f"lotslib.benchmark.run for many images.")
    keys = list(METHODS) if methods is None else [methods] if isinstance(methods, str) else list(methods)
    lots = as_params_dict(lots)  # a dict or a lotslib.params.LotsParams
    lots_methods = [get_method(k) for k in keys if get_method(k).is_lots]
    unknown = sorted(set(lots) - {name for m in lots_methods for name in m.defaults})
    if lots_methods and unknown:
        raise ParameterError(f"lots: no LOTS method here takes parameter(s) {unknown}. Fix: use the names of "
                             f"lotslib.method_registry.default_params('lots') ({sorted(lots_methods[0].defaults)}).")
    per_method = {}
    for k in keys:  # every parameter checked before any compute
        m = get_method(k)
        p = {name: v for name, v in lots.items() if name in m.defaults} if m.is_lots else {}
        if "seed" in m.defaults:
            p["seed"] = seed
        per_method[k] = check_params(m, p)
    mp = check_metric_params(metrics)
    x = x.to(model_device(model), torch.float32)
    with torch.no_grad():
        prob = model(x).float().softmax(1)[0]
    target = int(prob.argmax())
    classes = torch.tensor([target])
    maps, rows, degenerate, lots_ex = {}, [], [], None
    curves: dict = {"insertion": {}, "deletion": {}}
    for k in keys:
        name = get_method(k).name
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DegenerateMapWarning)  # reported in ``degenerate``
            ex = explain_with_info(k, model, x, targets=classes, **per_method[k])
            batch = ScoreBatch(model, x, ex.maps.to(x.device), classes, k, ex.params, mp)
            scored = {m.key: m.compute(batch) for m in METRICS.values()}
        if bool(ex.degenerate[0]):
            degenerate.append(name)
        if ex.trace is not None and (lots_ex is None or k == "lots"):  # the zero-target LOTS first
            lots_ex = ex
        maps[name] = ex.maps[0]
        row = {"method": name}
        for m in METRICS.values():
            row[m.label] = float(np.asarray(scored[m.key].values, dtype=float)[0]) * m.scale
            if scored[m.key].curves is not None and m.key in curves:
                curves[m.key][name] = np.asarray(scored[m.key].curves)[0]
        row["ms per map"] = 1000.0 * ex.seconds
        rows.append(row)
    return ImageReport(x=x.cpu(), target=target, probability=float(prob[target]), maps=maps,
                       metrics=pd.DataFrame(rows).set_index("method"), curves=curves, lots=lots_ex,
                       degenerate=degenerate)


def metric_verdicts(report: ImageReport, method: str = "LOTS") -> list[str]:
    """One sentence per metric, from the numbers: the best method and ``method``'s rank.

    Parameters
    ----------
    report : ImageReport
        The result of :func:`explain_image`.
    method : str, optional
        The method whose rank is stated (a name of ``report.metrics``' index; default
        ``"LOTS"``); if it is absent only the best methods are named.

    Returns
    -------
    list of str
        E.g. ``"Insertion ↑ (higher is better): best Grad-CAM (61.2%); LOTS 58.0%, rank 3 of 7."``;
        tied best methods are all named, and a metric on which every method ties says so.
    """
    from lotslib.metric_registry import METRICS

    out = []
    table = report.metrics
    for m in METRICS.values():
        if m.label not in table.columns:
            continue
        col = table[m.label].astype(float)
        best_value = col.max() if m.higher_is_better else col.min()
        best = [name for name, v in col.items() if np.isclose(v, best_value)]
        if len(best) == len(col):
            out.append(f"{m.label} ({m.better} is better): all {len(col)} methods tie at {best_value:.1f}%.")
            continue
        text = f"{m.label} ({m.better} is better): best {', '.join(best)} ({best_value:.1f}%)"
        if method in col.index and method not in best:
            v = col[method]
            better = int((col > v).sum() if m.higher_is_better else (col < v).sum())
            text += f"; {method} {v:.1f}%, rank {better + 1} of {len(col)}"
        out.append(text + ".")
    return out


def page_run_table(ctx, images):
    """The page's run table: :meth:`lotsbook.chapter.ChapterContext.run_table`, whose rows are the
    parameters this page uses (``"own"`` in :data:`lotsbook.profiles.CHAPTER_PARAMS`: one image, one model).

    Parameters
    ----------
    ctx : lotsbook.chapter.ChapterContext
        The page's context (its parameters: :func:`lotsbook.single_image.page_params`).
    images : lotslib.data.ImageSource
        The page's one image.

    Returns
    -------
    pandas.io.formats.style.Styler
        Profile, image, model and every LOTS and metric parameter beside the thesis's value.
    """
    notes = {"model": "the page's model: --model KEY (default: the profile's model)",
             "iters": "the profile's LOTS iterations (chapter 1 shows the distance falling; chapter 7's budget curve "
                      "shows what the budget changes)"}
    return ctx.run_table(images, notes=notes).set_caption(
        "Run parameters of this page: this run beside the thesis protocol (Weber 2023, section 5.1)")


# ------------------------------------------------------------------ the page's tables and figures, with their captions
def show_image(ctx, source) -> None:
    """Show the page's run table and a note on the image: its file, its size and the crop the model sees.

    Parameters
    ----------
    ctx : lotsbook.chapter.ChapterContext
        The page's context (``params``, ``net``).
    source : lotslib.data.ImageSource
        The one image (:func:`lotsbook.single_image.open_image`).
    """
    from IPython.display import display

    from ..plots import note

    net = ctx.net
    display(page_run_table(ctx, source))
    note(
        f"**Image:** `{source[0].name}` ({source.description}), {source[0].image.shape[2]} × "
        f"{source[0].image.shape[1]} pixels, shown to {net.name} as a {net.input_size} × {net.input_size} centre crop."
        + ("" if ctx.params.get("image") else
           " This is the default photo; run `python -m lotsbook --chapters own --image YOUR_PHOTO` to see yours.")
    )


def show_maps(ctx, source, rep: ImageReport) -> None:
    """Show every method's map of the image (as thesis Figure 5.2) with its caption.

    Parameters
    ----------
    ctx : lotsbook.chapter.ChapterContext
        The page's context (``net``, ``iters``, ``filter_size``).
    source : lotslib.data.ImageSource
        The one image.
    rep : ImageReport
        :func:`explain_image` of the image.
    """
    from ..plots import methods_figure, short_class, show

    net, top1 = ctx.net, short_class(ctx.net.categories[rep.target])
    show(
        methods_figure(rep.x, rep.maps, first_title=f"{top1} {100 * rep.probability:.1f}%"),
        "fig-own-maps",
        f"**All methods on {source[0].name}, as in thesis Figure 5.2.** {net.name}: (a) the image with its top-1 class "
        f"*{top1}* ({100 * rep.probability:.1f}%); then each method's heat-map: {rep.legend()}. The CAM methods "
        f"explain the top-1 class; LOTS uses the zero target, at most {ctx.iters} iterations, {ctx.filter_size} × "
        f"{ctx.filter_size} blur."
        + (f" All-zero maps (a constant map): {', '.join(rep.degenerate)}." if rep.degenerate else ""),
    )


def show_lots(ctx, source, rep: ImageReport) -> None:
    """Show the predictions before and after LOTS (:func:`lotsbook.results.predictions`) and the
    perturbation (as thesis Figure 4.1), with their captions.

    Parameters
    ----------
    ctx, source, rep
        As :func:`show_maps`.
    """
    from ..plots import figure_4_1, show, table
    from ..results import predictions

    net = ctx.net
    pred = predictions(net, rep.x, rep.lots, source)
    table(
        pred.table,
        f"Predictions of {net.name} on {source[0].name} before and after LOTS (zero target, at most {ctx.iters} "
        f"iterations): the confidence in the original top-1 class went from {pred.confidence_before:.1f}% to "
        f"{pred.confidence_after:.1f}%.",
        fmt={"p(original top-1) after %": "{:.2f}", "final distance": "{:.2f}"},
    )
    show(
        figure_4_1(rep.x, rep.lots.x_adv, pred.titles_before, pred.titles_after),
        "fig-own-lots",
        f"**The LOTS perturbation of {source[0].name}, as in thesis Figure 4.1.** Left: the image with its top-1 "
        f"class; middle: adversarial − original, ×10, shifted by 128; right: the adversarial image with its top-1 "
        f"class ({net.name}, zero target, {int(rep.lots.trace.iterations[0])} iterations, stop: "
        f"{rep.lots.trace.stop_reason[0]}).",
    )


def show_metrics(ctx, source, rep: ImageReport) -> None:
    """Show every method's metrics on the image (best in bold) and :func:`metric_verdicts`; the
    arguments are :func:`show_maps`'s."""
    from ..plots import direction, note, short_class, table

    net, top1 = ctx.net, short_class(ctx.net.categories[rep.target])
    table(
        rep.metrics,
        f"The metrics of every method on {source[0].name} ({net.name}, top-1 class {top1}; {ctx.steps} "
        f"insertion/deletion steps, fill={ctx.fill}, score={ctx.score}); the best value of each metric is bold. Time "
        f"per map includes the first call's set-up.",
        fmt="{:.1f}",
        best={c: direction(c) for c in rep.metrics.columns if direction(c)},
    )
    note("\n".join(f"* {s}" for s in metric_verdicts(rep)))


def show_curves(ctx, source, rep: ImageReport) -> None:
    """Show the insertion and deletion curves of every method (as thesis Figures A.7 and A.6).

    Parameters
    ----------
    ctx, source, rep
        As :func:`show_maps`.
    """
    from ..plots import curves_figure, short_class, show

    net, top1 = ctx.net, short_class(ctx.net.categories[rep.target])
    for kind in ("insertion", "deletion"):
        show(
            curves_figure(rep.curves[kind], kind),
            f"fig-own-{kind}",
            f"**{kind.capitalize()} curves of {source[0].name}, as in thesis Figure "
            f"A.{7 if kind == 'insertion' else 6}.** Probability of the top-1 class *{top1}* ({net.name}) "
            f"as pixels are {'restored from a blurred copy' if kind == 'insertion' else 'replaced by a blurred copy'} "
            f"in the order of each method's map, {ctx.steps} steps.",
        )
