"""Sanity checks of explanation maps (Adebayo et al. 2018; Sixt et al. 2020), and the verdicts
the book writes from them.

* :func:`cascading_randomisation` -- the cascading model-parameter randomisation test
  (Adebayo et al. 2018, Figure 2): re-initialise the network block by block from the logits
  down and, after each step, make every method's map again for the same images and classes.
  A map that explains the *model* loses its similarity to the original map as more of the
  model is randomised; a map that stays the same explains the *image*.
* :func:`random_logit_test` -- explain a random other class (Sixt et al. 2020): a
  class-specific map must change. Zero-target LOTS moves the logits toward the zero vector
  whatever the class, so its map cannot change by construction.
* :func:`score_maps` -- the registered metrics (and the opt-in ROAD metrics of
  :mod:`lotslib.metric_registry`) on maps that are already made, in the benchmark's row
  layout, so :func:`lotslib.benchmark.table_5_2` lays them out.
* :func:`randomisation_verdict`, :func:`random_logit_verdict`, :func:`road_verdict` -- the
  sentences of chapter 8, written from the numbers.

Similarity is Spearman's rank correlation and SSIM, both Quantus's similarity functions
(``quantus.functions.similarity_func``: ``correlation_spearman``; ``ssim``, scikit-image's
``structural_similarity`` with the data range of the pair), computed on the 2-D maps.

Why not Quantus's ``MPRT`` and ``RandomLogit``. Quantus 0.6.0 has both, and they were checked
against what chapter 8 needs. ``MPRT`` randomises one module at a time (every module with a
``reset_parameters``: about 130 steps for EfficientNet-Lite0, each remaking every map, LOTS
included), cannot group them into blocks, and returns only the similarity scores, not the
maps of each step that Adebayo et al.'s figure shows. ``RandomLogit`` returns one similarity
per call and neither the maps nor the drawn classes, hands the similarity function flattened
maps (a 1-D SSIM along the rows, not the 2-D SSIM), and reseeds NumPy's global random state.
Both are written here instead, on lotslib's :func:`lotslib.explanation.explain`; the similarity
functions are Quantus's.

Pixels ``(N,3,H,W)`` in [0,1] in; maps ``(N,H,W)`` in [0,1].
"""
from __future__ import annotations

import copy
import warnings
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import pandas as pd
import torch
from torch import nn

from .errors import ParameterError
from .explanation import explain_with_info
from .method_registry import ALL_METHODS, get_method, method_name
from .tensors import check_pixels, is_int, model_device
from .verdicts import and_list, too_few

__all__ = [
    "CHAPTER_KEYS",
    "method_params",
    "explain_all",
    "randomisation_units",
    "location_text",
    "location_grid",
    "road_keys",
    "cascade_schedule",
    "randomise_top",
    "map_similarity",
    "CascadeResult",
    "cascading_randomisation",
    "RandomLogitResult",
    "other_classes",
    "random_logit_test",
    "score_maps",
    "randomisation_summary",
    "randomisation_verdict",
    "random_logit_verdict",
    "road_verdict",
    "baseline_verdict",
    "location_verdict",
    "lots_summary",
]

#: the chapter parameters a method receives when its defaults have them (LOTS's steps, the blur)
CHAPTER_KEYS = ("iters", "tau", "alpha", "filter_size", "batch_size")


def method_params(methods: Sequence[str], params: dict, keys: Sequence[str] = CHAPTER_KEYS) -> dict:
    """Each method's :func:`lotslib.explanation.explain` parameters from a chapter's parameters.

    Parameters
    ----------
    methods : Sequence of str
        Registered method keys.
    params : dict
        The chapter's parameters (``iters``, ``tau``, ``alpha``, ``filter_size``, ``batch_size``).
    keys : Sequence of str
        The parameters to pass on where a method's defaults have them (default
        :data:`CHAPTER_KEYS`).

    Returns
    -------
    dict
        ``{method: {parameter: value}}``: LOTS gets the chapter's iterations, tau, alpha,
        filter and batch size; the edge baseline the filter; every method the batch size.

    Raises
    ------
    lotslib.errors.ParameterError
        An unknown method key.
    """
    return {m: {k: params[k] for k in keys if k in get_method(m).defaults and k in params} for m in methods}


def _quiet_explain(method, model, x, targets, params):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # degenerate maps are reported in the rows
        ex = explain_with_info(method, model, x, targets=targets, **params)
    return ex.maps, ex.degenerate


def explain_all(model, x: torch.Tensor, methods: Sequence[str], classes, params: dict | None = None) -> tuple:
    """Every method's maps of ``x`` for ``classes``.

    Parameters
    ----------
    model : lotslib.models.ModelWrapper
        The classifier (pixels in [0,1] in, logits out).
    x : torch.Tensor
        ``(N,3,H,W)`` float pixels in [0,1].
    methods : Sequence of str
        Registered method keys.
    classes : Sequence of int or torch.Tensor
        ``(N,)`` the explained classes.
    params : dict or None
        ``{method: parameters}`` (:func:`method_params`); default None: the defaults.

    Returns
    -------
    maps : dict
        ``{method: (N,H,W) float32 maps in [0,1]}`` on the CPU.
    degenerate : dict
        ``{method: (N,) bool}`` True where a map is all zeros (a constant map).
    """
    maps, degen = {}, {}
    for m in methods:
        maps[m], degen[m] = _quiet_explain(m, model, x, classes, (params or {}).get(m, {}))
    return maps, degen


# ------------------------------------------------------------------ cascading randomisation
def _has_params(module: nn.Module) -> bool:
    return any(True for _ in module.parameters())


def _expand(prefix: str, module: nn.Module):
    for name, child in module.named_children():
        if not _has_params(child):
            continue
        kids = [c for c in child.children() if _has_params(c)]
        if isinstance(child, (nn.ModuleList, nn.Sequential)) and len(kids) >= 2:
            yield from _expand(f"{prefix}{name}.", child)
        else:
            yield f"{prefix}{name}", child


def randomisation_units(model) -> list:
    """The blocks that :func:`cascading_randomisation` re-initialises, bottom (input) first.

    The network (``model.net`` for a :class:`lotslib.models.ModelWrapper`, else ``model``)
    is walked in registration order; a container (``ModuleList``/``Sequential``) of two or
    more blocks with parameters is opened one level per container, every other child with
    parameters is one unit. For EfficientNet-Lite0 that is the stem convolution and its batch
    norm, the 16 MBConv blocks, the head convolution, its batch norm and the classifier (21
    units); for a torchvision ResNet, the stem, each bottleneck and the classifier.
    Registration order is taken as the forward order, as it is for the backbones lotslib
    loads.

    Parameters
    ----------
    model : torch.nn.Module
        The classifier.

    Returns
    -------
    list of tuple
        ``(name, module)`` pairs, the input's side first; the top-down order of the test is
        its reverse.

    Raises
    ------
    lotslib.errors.ParameterError
        The model has no parameters.
    """
    net = model.net if isinstance(getattr(model, "net", None), nn.Module) else model
    units = list(_expand("", net))
    if not units:
        raise ParameterError(f"{type(model).__name__} has no parameters to randomise.")
    return units


def cascade_schedule(n_units: int, steps: int) -> list[int]:
    """How many units (from the top) are randomised after each step of the test.

    Parameters
    ----------
    n_units : int
        Units of the model (:func:`randomisation_units`), >= 1.
    steps : int
        Randomisation steps, >= 1: the first re-initialises the top unit (the logits),
        the last every unit, the others evenly spaced in between.

    Returns
    -------
    list of int
        Increasing counts in ``1..n_units`` (fewer than ``steps`` when ``steps > n_units``).

    Raises
    ------
    lotslib.errors.ParameterError
        ``steps`` or ``n_units`` is not a positive integer.
    """
    if not is_int(steps) or steps < 1:
        raise ParameterError(f"steps={steps!r}: must be an integer >= 1 (randomisation steps after the original).")
    if not is_int(n_units) or n_units < 1:
        raise ParameterError(f"n_units={n_units!r}: must be an integer >= 1.")
    if steps == 1:
        return [int(n_units)]
    return sorted({int(round(v)) for v in np.linspace(1, n_units, steps)})


def randomise_top(model, k: int, seed: int = 0):
    """A copy of ``model`` whose top ``k`` units are re-initialised (the original is untouched).

    Each module of a randomised unit with a ``reset_parameters`` method gets PyTorch's
    default initialisation again (convolutions and linear layers: Kaiming-uniform weights;
    batch norms: weight 1, bias 0, running mean 0 and variance 1), with the torch generator
    seeded to ``seed + j`` for the ``j``-th unit from the top, so the copy with ``k`` units
    randomised equals the first ``k`` units of the copy with more.

    Parameters
    ----------
    model : torch.nn.Module
        The classifier (a :class:`lotslib.models.ModelWrapper` keeps its CAM layer).
    k : int
        Units to re-initialise, from the top, in ``0..len(randomisation_units(model))``.
    seed : int
        Base seed (default 0).

    Returns
    -------
    torch.nn.Module
        The randomised copy, in evaluation mode, with the same ``requires_grad`` flags.

    Raises
    ------
    lotslib.errors.ParameterError
        ``k`` out of range.
    """
    out = copy.deepcopy(model)
    _randomise(out, 0, k, seed)
    return out


def _randomise(model, start: int, stop: int, seed: int) -> None:
    """Re-initialise the units ``start..stop-1`` from the top of ``model`` in place."""
    units = randomisation_units(model)[::-1]
    if not is_int(stop) or not 0 <= stop <= len(units):
        raise ParameterError(f"k={stop!r}: must be an integer in 0..{len(units)} (the model's units).")
    with torch.no_grad(), torch.random.fork_rng(devices=[]):
        for j in range(start, stop):
            torch.manual_seed(int(seed) + j)
            for mod in units[j][1].modules():
                if hasattr(mod, "reset_parameters"):
                    mod.reset_parameters()
    model.eval()


def map_similarity(a: torch.Tensor, b: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Spearman's rank correlation and SSIM between two batches of maps, image by image.

    Quantus's ``correlation_spearman`` (on the flattened maps) and ``ssim`` (scikit-image's
    2-D SSIM, 7 x 7 windows -- smaller on maps under 7 pixels -- and the data range of the
    pair). Defined where Quantus's are not: two identical maps have similarity 1 (Spearman of
    a constant map is otherwise undefined); a constant map against a varying one has
    Spearman 0.

    Parameters
    ----------
    a, b : torch.Tensor
        ``(N,H,W)`` maps.

    Returns
    -------
    spearman : numpy.ndarray
        ``(N,)`` in [-1, 1].
    ssim : numpy.ndarray
        ``(N,)`` in [-1, 1].

    Raises
    ------
    lotslib.errors.ParameterError
        ``a`` and ``b`` differ in shape.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # importing Quantus warns about tqdm's notebook widgets
        from quantus.functions.similarity_func import correlation_spearman, ssim

    a = torch.as_tensor(a).detach().cpu().double().numpy()
    b = torch.as_tensor(b).detach().cpu().double().numpy()
    if a.shape != b.shape or a.ndim != 3:
        raise ParameterError(f"maps of shapes {a.shape} and {b.shape}: pass two (N,H,W) batches of the same shape.")
    rho, q = np.zeros(len(a)), np.zeros(len(a))
    win = min(7, min(a.shape[1:]) - (1 - min(a.shape[1:]) % 2))  # 7 x 7, or the largest odd window that fits
    for i, (ai, bi) in enumerate(zip(a, b)):
        if np.array_equal(ai, bi):
            rho[i] = q[i] = 1.0
            continue
        flat = np.ptp(ai) == 0 or np.ptp(bi) == 0
        rho[i] = 0.0 if flat else float(correlation_spearman(ai.ravel(), bi.ravel()))
        q[i] = float(ssim(ai, bi, win_size=win))
    return rho, q


@dataclass
class CascadeResult:
    """What :func:`cascading_randomisation` returns.

    Attributes
    ----------
    rows : pandas.DataFrame
        One row per (step, method, image): ``step`` (0 = the original model), ``units``
        (units randomised), ``label`` (the deepest unit randomised), ``method``,
        ``method_name``, ``image`` (position in the batch), ``spearman`` and ``ssim`` (against
        the step-0 map), ``edge_spearman`` (against the Sobel edge map of the image, when
        ``"edge"`` is among the methods; else NaN), ``degenerate`` (the method reported a
        degenerate map) and ``constant`` (the step-0 or this step's map has zero variance:
        its rank correlation is undefined).
    maps : dict
        ``{step: {method: (N,H,W) float32 maps}}``.
    labels : list of str
        Each step's label (``"original"``, then the deepest unit randomised).
    units : list of str
        Every unit's name, top (logits) first.
    classes : torch.Tensor
        ``(N,)`` the explained classes (the original model's top-1 unless given).
    """

    rows: pd.DataFrame
    maps: dict
    labels: list
    units: list
    classes: torch.Tensor = field(default=None)


def _classes(model, x, classes) -> torch.Tensor:
    if classes is None:
        with torch.no_grad():
            return model(x).argmax(1).cpu()
    c = torch.as_tensor(classes).flatten().long().cpu()
    if c.numel() != len(x):
        raise ParameterError(f"classes has {c.numel()} entries for {len(x)} images. Fix: one class per image.")
    return c


def _check_methods(methods) -> list[str]:
    methods = list(methods)
    if not methods:
        raise ParameterError("methods is empty. Fix: pass registered method keys, e.g. ['gradcam', 'lots'].")
    for m in methods:
        get_method(m)
    return methods


def cascading_randomisation(model, x: torch.Tensor, methods: Sequence[str], classes=None, steps: int = 3,
                            seed: int = 0, params: dict | None = None, original: dict | None = None
                            ) -> CascadeResult:
    """The cascading model-parameter randomisation test (Adebayo et al. 2018, Figure 2).

    Step 0 is the trained model; step ``s`` re-initialises the top ``cascade_schedule(n,
    steps)[s-1]`` units (:func:`randomisation_units`, :func:`randomise_top`), from the logits
    down, cumulatively. At every step every method's map is made again for the same images
    and the same classes (the trained model's top-1 unless given) and compared with its
    step-0 map (:func:`map_similarity`). A method passes when its maps lose that similarity.

    Parameters
    ----------
    model : lotslib.models.ModelWrapper
        The trained classifier (never modified: the steps run on a copy).
    x : torch.Tensor
        ``(N,3,H,W)`` float pixels in [0,1].
    methods : Sequence of str
        Registered method keys (LOTS included: it runs again on every randomised copy).
    classes : Sequence of int, torch.Tensor or None
        ``(N,)`` explained classes; default None: the trained model's top-1.
    steps : int
        Randomisation steps after the original, >= 1 (default 3).
    seed : int
        Seed of the re-initialisation (default 0).
    params : dict or None
        ``{method: explain parameters}`` (:func:`method_params`); default None: defaults.
    original : dict or None
        ``{method: (N,H,W) maps}`` already made on the trained model for ``classes`` (e.g. the
        LOTS maps a chapter has cached); the others are made here. Default None.

    Returns
    -------
    CascadeResult
        Rows, maps per step, step labels, unit names and classes.

    Raises
    ------
    lotslib.errors.ParameterError
        An unknown method, bad ``steps``, or ``classes`` of the wrong length.
    lotslib.errors.InputRangeError
        ``x`` is not ``(N,3,H,W)`` pixels in [0,1].
    """
    methods = _check_methods(methods)
    check_pixels(x)
    x = x.to(model_device(model), torch.float32)
    cls = _classes(model, x, classes)
    names = [n for n, _ in randomisation_units(model)][::-1]
    schedule = cascade_schedule(len(names), steps)
    params = params or {}
    base = {m: torch.as_tensor(v).float().cpu() for m, v in (original or {}).items() if m in methods}
    todo = [m for m in methods if m not in base]
    made, degen = explain_all(model, x, todo, cls, params)
    base.update(made)
    degen.update({m: base[m].flatten(1).amax(1) <= 0 for m in methods if m not in degen})
    maps, labels = {0: {m: base[m] for m in methods}}, ["original"]
    work = copy.deepcopy(model)
    done = 0
    for s, k in enumerate(schedule, 1):
        _randomise(work, done, k, seed)
        done = k
        maps[s], d = explain_all(work, x, methods, cls, params)
        degen.update({(s, m): v for m, v in d.items()})
        top, low = _short(names[0]), _short(names[k - 1])
        labels.append("all" if k == len(names) else f"{top}…{low}" if k > 1 else top)
    edge = maps[0].get("edge")
    rows = []
    for s, step_maps in maps.items():
        k = 0 if s == 0 else schedule[s - 1]
        for m in methods:
            rho, q = map_similarity(maps[0][m], step_maps[m])
            flat = _constant(maps[0][m]) | _constant(step_maps[m])
            er = map_similarity(edge, step_maps[m])[0] if edge is not None else np.full(len(x), np.nan)
            dg = degen[m] if s == 0 else degen[(s, m)]
            for i in range(len(x)):
                rows.append({"step": s, "units": k, "label": labels[s], "method": m, "method_name": ALL_METHODS[m].name,
                             "image": i, "spearman": rho[i], "ssim": q[i], "edge_spearman": er[i],
                             "degenerate": bool(dg[i]), "constant": bool(flat[i])})
    return CascadeResult(pd.DataFrame(rows), maps, labels, names, cls)


def _constant(maps) -> np.ndarray:
    """``(N,)`` whether each ``(N,H,W)`` map is constant (zero variance: its rank correlation is undefined)."""
    m = torch.as_tensor(maps).detach().flatten(1)
    return (m.amax(1) == m.amin(1)).cpu().numpy()


def _short(name: str) -> str:
    """A unit's name for a label: ``_blocks.8`` -> ``blocks.8``."""
    return ".".join(part.lstrip("_") or part for part in name.split("."))


def randomisation_summary(rows: pd.DataFrame) -> pd.DataFrame:
    """Mean similarity to the original map per method and step (the curves of the test).

    Parameters
    ----------
    rows : pandas.DataFrame
        The rows of a test (:attr:`CascadeResult.rows`).

    Returns
    -------
    pandas.DataFrame
        Index (method name, step); columns ``label``, ``units``, ``spearman``, ``abs_spearman``,
        ``ssim``, ``edge_spearman`` (means over the images) and ``degenerate`` (count).
    """
    r = rows.assign(abs_spearman=rows["spearman"].abs())
    g = r.groupby(["method_name", "step"], sort=False)
    out = g.agg(label=("label", "first"), units=("units", "first"), spearman=("spearman", "mean"),
                abs_spearman=("abs_spearman", "mean"), ssim=("ssim", "mean"),
                edge_spearman=("edge_spearman", "mean"), degenerate=("degenerate", "sum"))
    return out


def _photos(rows: pd.DataFrame) -> str:
    """``"3 photos"`` / ``"1 photo"``: the distinct images of a test's rows."""
    n = rows["image"].nunique()
    return f"{n} photo{'s' if n != 1 else ''}"


def randomisation_verdict(rows: pd.DataFrame, threshold: float = 0.5) -> dict:
    """Which methods pass the cascading randomisation test, in numbers and sentences.

    A method passes when, with every unit randomised (the last step), the mean absolute
    Spearman correlation of its maps with the original ones is at most ``threshold``: the map
    then depends on the learned weights. The absolute value counts an inverted map as similar
    (its structure survived). A method whose map is constant on any image, before or after the
    randomisation (rows' ``constant``, else ``degenerate``), fails: a constant map has no
    ranks, its Spearman correlation is undefined (0 by :func:`map_similarity`'s convention),
    and it would otherwise pass by degeneracy.

    Parameters
    ----------
    rows : pandas.DataFrame
        :attr:`CascadeResult.rows`.
    threshold : float
        The pass mark on the mean ``|rho|`` (default 0.5).

    Returns
    -------
    dict
        ``table``: one row per method (index: method name) with the mean ``|rho|``, rho and
        SSIM after the first and the last step, the rank correlation with the Sobel edge map
        after the last step, the number of images with a constant map, and ``passes``;
        ``passed``/``failed``: the method names;
        ``text``: the sentences for the page (Markdown).
    """
    last, first = rows["step"].max(), 1
    flat_col = "constant" if "constant" in rows else "degenerate" if "degenerate" in rows else None
    rows = rows.assign(abs_spearman=rows["spearman"].abs(),
                       flat=rows[flat_col].astype(bool) if flat_col else False)
    mean = rows.groupby(["method", "step"], sort=False)[["abs_spearman", "spearman", "ssim", "edge_spearman"]].mean()
    flat = rows.groupby(["method", "image"], sort=False)["flat"].any().groupby(level="method", sort=False).sum()
    out, passed, failed = [], [], []
    n_img = int(rows["image"].nunique())
    for m in dict.fromkeys(rows["method"]):
        a, z = mean.loc[(m, first)], mean.loc[(m, last)]
        k = int(flat[m])
        undefined = not np.isfinite(z["abs_spearman"])
        ok = bool(z["abs_spearman"] <= threshold) and k == 0
        reason = (f"constant map on {k} of {n_img} photo{'s' if n_img != 1 else ''}: no ranks, ρ undefined" if k
                  else "ρ undefined" if undefined
                  else f"|ρ| {z['abs_spearman']:.2f} > {threshold:g}" if not ok else "")
        name = ALL_METHODS[m].name
        (passed if ok else failed).append(f"{name} ({z['abs_spearman']:.2f}"
                                          + (f"; a constant map on {k} of {n_img})" if k else ")"))
        out.append({"method": name, "|ρ| first step": a["abs_spearman"], "|ρ| all randomised": z["abs_spearman"],
                    "ρ all randomised": z["spearman"], "SSIM first step": a["ssim"], "SSIM all randomised": z["ssim"],
                    "ρ with edges, all randomised": z["edge_spearman"], "constant maps": k, "passes": ok,
                    "why it fails": reason})
    label = rows.loc[rows["step"] == last, "label"].iloc[0]
    table, photos = pd.DataFrame(out).set_index("method"), _photos(rows)
    few = too_few(n_img)
    text = (f"With {'every unit' if label == 'all' else 'the units down to ' + label} re-initialised, "
            f"{len(passed)} of {len(table)} methods pass on these {photos} (mean |ρ| with the original maps "
            f"at most {threshold:g}, and no constant map: a constant map fails, its ρ is undefined): "
            f"{and_list(passed)}. "
            f"{len(failed)} fail{'s' if len(failed) == 1 else ''}: {and_list(failed)}."
            + (f" These are measurements on {photos}, {few}: no general verdict on a method is drawn from them."
               if few else ""))
    if "lots" in set(rows["method"]):
        a, z = mean.loc[("lots", first)], mean.loc[("lots", last)]
        e = z["edge_spearman"]
        first_label = rows.loc[rows["step"] == first, "label"].iloc[0]
        if last != first:
            text += (f" With only the top of the network ({first_label}) re-initialised, zero-target LOTS keeps a "
                     f"mean |ρ| of {a['abs_spearman']:.2f} with its original maps.")
        lots_ok = bool(table["passes"][ALL_METHODS["lots"].name])
        text += (f" With {'every unit' if label == 'all' else 'the units down to ' + label} re-initialised it keeps a "
                 f"rank correlation of {z['spearman']:.2f}"
                 + (f" with its original maps and of {e:.2f} with the Sobel edge map of the photo" if np.isfinite(e)
                    else " with its original maps")
                 + (", but a constant map has no ranks to correlate: no pass by degeneracy." if int(flat["lots"])
                    else f" ({few}: no conclusion on what the LOTS map depends on)." if few
                    else ": what survives the randomisation is the image, not the model." if not lots_ok
                    else ": the LOTS map depends on the learned weights."))
    if "edge" in set(rows["method"]):
        text += " The edge baseline never looks at the model, so randomising it cannot change the edge map (ρ = 1)."
    return {"table": table, "passed": passed, "failed": failed, "text": text}


# ------------------------------------------------------------------ random logit
@dataclass
class RandomLogitResult:
    """What :func:`random_logit_test` returns.

    Attributes
    ----------
    rows : pandas.DataFrame
        One row per (method, image): ``method``, ``method_name``, ``image``, ``class``,
        ``other_class``, ``spearman``, ``ssim`` (map for the class against the map for the
        other class) and ``max_abs_diff`` (the largest pixel difference of the two maps).
    maps : dict
        ``{method: (N,H,W) maps for the other classes}``.
    other : torch.Tensor
        ``(N,)`` the drawn classes.
    """

    rows: pd.DataFrame
    maps: dict
    other: torch.Tensor


def other_classes(classes, n_classes: int, seed: int = 0) -> torch.Tensor:
    """A random class other than each given one, uniform over the other ``n_classes - 1``.

    Parameters
    ----------
    classes : Sequence of int or torch.Tensor
        ``(N,)`` class indices in ``0..n_classes-1``.
    n_classes : int
        Number of classes, >= 2.
    seed : int
        Seed of the draw (a local generator; the global state is untouched). Default 0.

    Returns
    -------
    torch.Tensor
        ``(N,)`` int64, each different from its class.

    Raises
    ------
    lotslib.errors.ParameterError
        ``n_classes < 2`` or a class out of range.
    """
    c = torch.as_tensor(classes).flatten().long()
    if not is_int(n_classes) or n_classes < 2:
        raise ParameterError(f"n_classes={n_classes!r}: must be an integer >= 2 (another class must exist).")
    if c.numel() and (int(c.min()) < 0 or int(c.max()) >= n_classes):
        raise ParameterError(f"classes {c.tolist()} are not all in 0..{n_classes - 1}.")
    draw = torch.from_numpy(np.random.default_rng(int(seed)).integers(0, n_classes - 1, size=c.numel())).long()
    return draw + (draw >= c).long()


def random_logit_test(model, x: torch.Tensor, methods: Sequence[str], classes=None, seed: int = 0,
                      params: dict | None = None, original: dict | None = None) -> RandomLogitResult:
    """The random-logit test (Sixt et al. 2020): explain a random other class and compare.

    Parameters
    ----------
    model : lotslib.models.ModelWrapper
        The classifier.
    x : torch.Tensor
        ``(N,3,H,W)`` float pixels in [0,1].
    methods : Sequence of str
        Registered method keys.
    classes : Sequence of int, torch.Tensor or None
        ``(N,)`` the explained classes; default None: the top-1.
    seed : int
        Seed of the other classes (:func:`other_classes`). Default 0.
    params : dict or None
        ``{method: explain parameters}`` (:func:`method_params`).
    original : dict or None
        ``{method: (N,H,W) maps for classes}`` already made (e.g. step 0 of
        :func:`cascading_randomisation`), made here for the methods it lacks.

    Returns
    -------
    RandomLogitResult
        The rows, the maps for the other classes and the drawn classes.

    Raises
    ------
    lotslib.errors.ParameterError
        An unknown method or ``classes`` of the wrong length.
    """
    methods = _check_methods(methods)
    check_pixels(x)
    x = x.to(model_device(model), torch.float32)
    cls = _classes(model, x, classes)
    with torch.no_grad():
        n_classes = int(model(x[:1]).shape[1])
    other = other_classes(cls, n_classes, seed)
    base = {m: torch.as_tensor(v).float().cpu() for m, v in (original or {}).items() if m in methods}
    base.update(explain_all(model, x, [m for m in methods if m not in base], cls, params)[0])
    maps = explain_all(model, x, methods, other, params)[0]
    rows = []
    for m in methods:
        rho, q = map_similarity(base[m], maps[m])
        diff = (base[m] - maps[m]).abs().flatten(1).amax(1)
        for i in range(len(x)):
            rows.append({"method": m, "method_name": ALL_METHODS[m].name, "image": i, "class": int(cls[i]),
                         "other_class": int(other[i]), "spearman": rho[i], "ssim": q[i],
                         "max_abs_diff": float(diff[i])})
    return RandomLogitResult(pd.DataFrame(rows), maps, other)


def random_logit_verdict(rows: pd.DataFrame, changed_below: float = 0.9) -> dict:
    """Which maps change when a random other class is explained, in numbers and sentences.

    Parameters
    ----------
    rows : pandas.DataFrame
        :attr:`RandomLogitResult.rows`.
    changed_below : float
        A method *changes its map* when its mean SSIM is below this (default 0.9); it gives
        the *same map* when every pixel difference is 0.

    Returns
    -------
    dict
        ``table``: per method (index: method name) the mean Spearman and SSIM, the largest
        pixel difference and the verdict (``"same map"``, ``"changes"``, ``"barely changes"``);
        ``text``: the sentences for the page, with zero-target LOTS's numbers when it is among
        the methods.
    """
    g = rows.groupby("method", sort=False)
    out, groups = [], {"same map": [], "changes": [], "barely changes": []}
    for m, d in g:
        same = bool((d["max_abs_diff"] == 0).all())
        verdict = "same map" if same else ("changes" if d["ssim"].mean() < changed_below else "barely changes")
        groups[verdict].append(f"{ALL_METHODS[m].name} (SSIM {d['ssim'].mean():.2f})")
        out.append({"method": ALL_METHODS[m].name, "Spearman": d["spearman"].mean(), "SSIM": d["ssim"].mean(),
                    "largest pixel difference": d["max_abs_diff"].max(), "verdict": verdict})
    table = pd.DataFrame(out).set_index("method")
    def says(group: str, verb: str) -> str:  # "Grad-CAM (SSIM 0.4) changes" / "A and B change"
        return f"{and_list(groups[group])} {verb}{'s' if len(groups[group]) == 1 else ''}"

    text = " ".join([f"Explaining a random other class instead of the top-1 class on {_photos(rows)}:",
                     f"{says('changes', 'change')} the map (mean SSIM below {changed_below:g});",
                     f"{says('barely changes', 'barely change')};",
                     f"{says('same map', 'return')} exactly the same map."])
    if "lots" in set(rows["method"]):
        d = rows[rows["method"] == "lots"]
        if (d["max_abs_diff"] == 0).all():
            text += (f" Zero-target LOTS cannot pass this test, by construction: its objective ½‖F(x) − 0‖² "
                     f"contains no class, so on every photo the map for the random class is the map for the top-1 "
                     f"class (largest pixel difference {d['max_abs_diff'].max():g}, SSIM {d['ssim'].mean():.3f}, "
                     f"Spearman {d['spearman'].mean():.3f}).")
        else:
            text += (f" Zero-target LOTS's maps differ for the other class (largest pixel difference "
                     f"{d['max_abs_diff'].max():.3g}) although its objective contains no class: the difference is "
                     f"numerical, not an explanation of the class.")
    return {"table": table, "text": text}


# ------------------------------------------------------------------ metrics on given maps
def _metric(key: str):
    from .metric_registry import METRICS, ROAD_METRICS

    opt = {m.key: m for m in ROAD_METRICS}
    if key in METRICS:
        return METRICS[key]
    if key in opt:
        return opt[key]
    raise ParameterError(f"Unknown metric {key!r}. Choose one of {list(METRICS) + list(opt)}.")


def score_maps(model, x: torch.Tensor, maps: dict, classes, metrics: Sequence[str], metric_params: dict | None = None,
               method_params: dict | None = None, image_ids: Sequence[str] | None = None) -> pd.DataFrame:
    """Metrics of maps already made, one row per (method, image), in the benchmark's layout.

    Parameters
    ----------
    model : lotslib.models.ModelWrapper
        The classifier (``model.name`` is the rows' ``model``).
    x : torch.Tensor
        ``(N,3,H,W)`` float pixels in [0,1].
    maps : dict
        ``{method: (N,H,W) maps in [0,1]}``.
    classes : Sequence of int or torch.Tensor
        ``(N,)`` the explained classes.
    metrics : Sequence of str
        Keys of :data:`lotslib.metric_registry.METRICS` or of the opt-in
        :data:`lotslib.metric_registry.ROAD_METRICS`. Coherency explains again and needs
        ``method_params``.
    metric_params : dict or None
        Overrides of the metrics' defaults (e.g. ``{"steps": 16}``).
    method_params : dict or None
        ``{method: explain parameters}`` (for Coherency).
    image_ids : Sequence of str or None
        The rows' ``image_id`` (default: ``"0"``, ``"1"``, ...).

    Returns
    -------
    pandas.DataFrame
        Columns ``model``, ``method``, ``method_name``, ``image_id``, each metric's column
        and ``flagged`` (a metric's degenerate case): :func:`lotslib.benchmark.table_5_2`
        with ``metrics=`` lays them out.

    Raises
    ------
    lotslib.errors.ParameterError
        An unknown metric or a bad metric parameter.
    """
    from .metric_registry import ScoreBatch, metric_defaults

    chosen = [_metric(k) for k in metrics]
    defaults: dict = {}
    for m in chosen:
        for k, v in m.defaults.items():
            defaults.setdefault(k, v)
    known = {**metric_defaults(), **defaults}
    unknown = sorted(set(metric_params or {}) - set(known))
    if unknown:
        raise ParameterError(f"metric_params has unknown key(s) {unknown}; it takes {sorted(known)}.")
    mp = {**known, **dict(metric_params or {})}
    for m in chosen:
        m.check(mp)
    x = x.to(model_device(model), torch.float32)
    cls = torch.as_tensor(classes).flatten().long().cpu()
    ids = list(image_ids) if image_ids is not None else [str(i) for i in range(len(x))]
    frames = []
    for method, mm in maps.items():
        batch = ScoreBatch(model, x, torch.as_tensor(mm).float().cpu(), cls, method,
                           dict((method_params or {}).get(method, {})), mp)
        cols, flagged = {}, np.zeros(len(x), dtype=bool)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for m in chosen:
                v = m.compute(batch)
                cols.update({c: np.asarray(a) for c, a in v.columns.items()})
                cols[m.col] = np.asarray(v.values, dtype=np.float64)
                if v.flags is not None:
                    flagged |= np.asarray(v.flags, dtype=bool)
        frames.append(pd.DataFrame({"model": getattr(model, "name", type(model).__name__), "method": method,
                                    "method_name": method_name(method), "image_id": ids, **cols,
                                    "flagged": flagged}))
    return pd.concat(frames, ignore_index=True)


def road_verdict(rows: pd.DataFrame) -> dict:
    """The ROAD ranking of the methods and where LOTS and the edge baseline stand, in sentences.

    Parameters
    ----------
    rows : pandas.DataFrame
        :func:`score_maps` rows with the columns ``road_morf``, ``road_lerf`` and ``road``.

    Returns
    -------
    dict
        ``table``: mean MoRF, LeRF and combined ROAD per method (index: method name, sorted
        by combined ROAD, best first) with the rank (NaN from fewer than
        :data:`lotslib.verdicts.MIN_PAIRS` photos); ``best``: the best method's name (None
        from too few photos); ``n``: the photos; ``text``: the sentences for the page, which
        rank nothing from too few photos and state n.
    """
    mean = rows.groupby("method", sort=False)[["road_morf", "road_lerf", "road"]].mean()
    mean = mean.sort_values("road", ascending=False)
    n = int(rows["image_id"].nunique()) if "image_id" in rows else int(rows.groupby("method").size().min())
    few = too_few(n)
    mean["rank"] = np.nan if few else np.arange(1, len(mean) + 1)
    table = mean.rename(index=method_name).rename(
        columns={"road_morf": "ROAD MoRF ↓", "road_lerf": "ROAD LeRF ↑", "road": "ROAD ↑"})
    photos = f"{n} photo{'s' if n != 1 else ''}"
    if few:
        values = "; ".join(f"{name} {v:.2f}" for name, v in table["ROAD ↑"].items())
        text = (f"Combined ROAD on {photos} ({few}): no method is ranked and no method is said to beat another. "
                f"The values, for reading only: {values}.")
        return {"table": table, "best": None, "n": n, "text": text}
    best = table.index[0]
    text = (f"By combined ROAD over {photos}, {best} ranks first ({table['ROAD ↑'].iloc[0]:.2f}: removing its most "
            f"relevant pixels changes the class probability by {table['ROAD MoRF ↓'].iloc[0]:+.2f} points, removing "
            f"its least relevant ones by {table['ROAD LeRF ↑'].iloc[0]:+.2f}).")
    for key, what in (("lots", "Zero-target LOTS"), ("lots_logit", "Class-logit LOTS"), ("edge", "The edge baseline")):
        if key in mean.index:
            r = mean.loc[key]
            text += f" {what} ranks {int(r['rank'])} of {len(mean)} ({r['road']:.2f})."
    if "edge" in mean.index and "lots" in mean.index:
        e, lo = mean.loc["edge", "road"], mean.loc["lots", "road"]
        text += (f" LOTS {'has a higher mean than' if lo > e else 'does not have a higher mean than'} the image-only "
                 f"edge map on ROAD ({lo:.2f} vs {e:.2f}; a mean, not a test).")
    return {"table": table, "best": best, "n": n, "text": text}


def baseline_verdict(rows: pd.DataFrame, metrics: Sequence[str], method: str = "lots", baseline: str = "edge") -> dict:
    """How much of each metric an image-only map already earns: ``method`` against ``baseline``.

    Parameters
    ----------
    rows : pandas.DataFrame
        :func:`score_maps` rows of both methods.
    metrics : Sequence of str
        Metric keys (their columns are in ``rows``; registered or opt-in ROAD).
    method, baseline : str
        Method keys (default LOTS against the Sobel edge map).

    Returns
    -------
    dict
        ``table``: per metric (index: the metric's header) both means and whether ``method``
        is better in the metric's direction; ``better``: how many metrics ``method`` wins (None
        from fewer than :data:`lotslib.verdicts.MIN_PAIRS` photos, where nothing is compared);
        ``n``: the photos; ``text``: the sentence for the page.
    """
    out = []
    for k in metrics:
        met = _metric(k)
        a = rows.loc[rows["method"] == method, met.col].mean() * met.scale
        b = rows.loc[rows["method"] == baseline, met.col].mean() * met.scale
        out.append({"metric": met.label, ALL_METHODS[method].name: a, ALL_METHODS[baseline].name: b,
                    "better": bool(a > b if met.higher_is_better else a < b), "name": met.name})
    table = pd.DataFrame(out).set_index("metric")
    wins = table[table["better"]]
    losses = table[~table["better"]]
    n = rows.loc[rows["method"] == method, "image_id"].nunique()
    a_name, b_name = ALL_METHODS[method].name, ALL_METHODS[baseline].name
    few = too_few(n)
    if few:
        vals = "; ".join(f"{r['name']} {r[a_name]:.1f} vs {r[b_name]:.1f}" for _, r in table.iterrows())
        text = (f"On the {n} photo{'s' if n != 1 else ''} scored here ({few}), {a_name} and the image-only {b_name} "
                f"map are not compared: no metric is said to be won or lost. Their means ({a_name} vs {b_name}): "
                f"{vals}.")
        return {"table": table.drop(columns="name"), "better": None, "n": n, "text": text}
    text = (f"On the {n} photos scored here, {a_name} has the better mean than the image-only {b_name} map on "
            f"{len(wins)} of {len(table)} metrics" + (f" ({and_list(list(wins['name']))})" if len(wins) else ""))
    if len(losses):
        lost = [f"{r['name']} ({r[b_name]:.1f} vs {r[a_name]:.1f})" for _, r in losses.iterrows()]
        text += f"; the edge map, which never looks at the network, is as good or better on {and_list(lost)}"
    text += "."
    return {"table": table.drop(columns="name"), "better": len(wins), "n": n, "text": text}


def road_keys() -> list[str]:
    """Register the opt-in ROAD metrics (:data:`lotslib.metric_registry.ROAD_METRICS`) and return
    the metric keys of chapter 8's ROAD table: Average Drop/Increase, Insertion, Deletion, then
    ROAD's (for :func:`score_maps`).

    Returns
    -------
    list of str
    """
    from .metric_registry import ROAD_METRICS, register_metric

    for m in ROAD_METRICS:  # opt in: registered, ROAD gets its columns in Table 5.2's layout
        register_metric(m, replace=True)
    return ["avg_drop", "avg_increase", "insertion", "deletion"] + [m.key for m in ROAD_METRICS]


def location_grid(model, x0: torch.Tensor, grid: int = 7, **params) -> tuple:
    """LOTS on every cell of a ``grid`` x ``grid`` grid over the last convolutional block of one
    photo, with the boxes :func:`location_verdict` compares its maps against.

    Parameters
    ----------
    model : lotslib.models.ModelWrapper
        The classifier.
    x0 : torch.Tensor
        ``(1,3,H,W)`` one photo, pixels in [0,1].
    grid : int
        Cells per side (default 7).
    **params
        LOTS parameters of :func:`lotslib.lots_variants.location_maps` (``iters``,
        ``filter_size``, ``batch_size``...).

    Returns
    -------
    maps : torch.Tensor
        ``(grid, grid, H, W)`` maps in [0,1].
    rf_boxes, cell_boxes : torch.Tensor
        ``(grid, grid, 4)``: each cell's receptive field and the pixels a CAM stretches it over.
    """
    from . import lots_variants, receptive_field

    maps = lots_variants.location_maps(model, x0, grid=grid, **params)
    rf = lots_variants.location_boxes(model, x0, grid=grid)
    h, w = receptive_field.feature_map_size(model, x0.shape[-1])
    cells = receptive_field.cell_boxes(receptive_field.grid_cells(h, w, grid), (h, w), tuple(x0.shape[-2:]))
    return maps, rf, cells


def location_verdict(maps: torch.Tensor, rf_boxes: torch.Tensor, cell_boxes: torch.Tensor) -> dict:
    """Where the LOTS map of each cell of the last convolutional block lies: inside the cell's
    theoretical receptive field, inside the pixels the CAMs stretch the cell over, or elsewhere.

    Parameters
    ----------
    maps : torch.Tensor
        ``(gh, gw, H, W)`` maps in [0,1] (:func:`lotslib.lots_variants.location_maps`).
    rf_boxes, cell_boxes : torch.Tensor
        ``(gh, gw, 4)`` boxes ``(top, left, bottom, right)``: the receptive fields
        (:func:`lotslib.lots_variants.location_boxes`) and the cells' upsampled areas
        (:func:`lotslib.receptive_field.cell_boxes`).

    Returns
    -------
    dict
        ``table``: per cell (index: row, column) the mass shares inside each box and the
        boxes' area shares (chance); ``text``: the sentences for the page.
    """
    from .receptive_field import mass_inside

    gh, gw, h, w = maps.shape
    area = float(h * w)
    rows = []
    rf_in, cell_in = mass_inside(maps, rf_boxes), mass_inside(maps, cell_boxes)
    for i in range(gh):
        for j in range(gw):
            rb, cb = rf_boxes[i, j].tolist(), cell_boxes[i, j].tolist()
            rows.append({"row": i, "column": j, "mass in receptive field %": 100 * float(rf_in[i, j]),
                         "receptive field area %": 100 * (rb[2] - rb[0]) * (rb[3] - rb[1]) / area,
                         "mass in cell area %": 100 * float(cell_in[i, j]),
                         "cell area %": 100 * (cb[2] - cb[0]) * (cb[3] - cb[1]) / area})
    t = pd.DataFrame(rows).set_index(["row", "column"])
    return {"table": t, "text": location_text(t)}


def location_text(table: pd.DataFrame) -> str:
    """The sentences of :func:`location_verdict` from its ``table`` (one row per cell).

    Parameters
    ----------
    table : pandas.DataFrame
        The columns ``mass in receptive field %``, ``receptive field area %``, ``mass in cell
        area %`` and ``cell area %``, one row per cell.

    Returns
    -------
    str
    """
    t = table
    above = int((t["mass in cell area %"] > t["cell area %"]).sum())
    return (f"Over the {len(t)} cells, the receptive field covers {t['receptive field area %'].mean():.0f}% of the "
            f"photo on average and holds {t['mass in receptive field %'].mean():.0f}% of the cell's LOTS map; the "
            f"pixels the CAMs stretch a cell over cover {t['cell area %'].mean():.1f}% of the photo and hold "
            f"{t['mass in cell area %'].mean():.1f}% of its map (more than their area on {above} of {len(t)} cells).")


def lots_summary(cascade_rows: pd.DataFrame, logit_rows: pd.DataFrame, focus_table: pd.DataFrame | None = None,
                 score_rows: pd.DataFrame | None = None, threshold: float = 0.5) -> str:
    """What the sanity checks say about zero-target LOTS (and class-logit LOTS), as Markdown bullets.

    Parameters
    ----------
    cascade_rows : pandas.DataFrame
        :attr:`CascadeResult.rows` (with ``"lots"``).
    logit_rows : pandas.DataFrame
        :attr:`RandomLogitResult.rows`.
    focus_table : pandas.DataFrame or None
        The ``table`` of :func:`lotslib.focus.focus_verdict` (default None: no Focus bullet).
    score_rows : pandas.DataFrame or None
        :func:`score_maps` rows with ROAD (default None: no ROAD bullet).
    threshold : float
        The randomisation test's pass mark (:func:`randomisation_verdict`; default 0.5).

    Returns
    -------
    str
        One bullet per check, each with its numbers.
    """
    def lines(table, say) -> list[str]:  # one line per LOTS variant that has a row in ``table``
        return [say(ALL_METHODS[k].name, table.loc[ALL_METHODS[k].name]) for k in ("lots", "lots_logit")
                if k in ALL_METHODS and ALL_METHODS[k].name in table.index]

    n_cascade = int(cascade_rows["image"].nunique())
    few = too_few(n_cascade)
    out = lines(randomisation_verdict(cascade_rows, threshold)["table"], lambda name, r: (
        f"- **Model randomisation, {name}:** {'passes' if r['passes'] else 'fails'} on {_photos(cascade_rows)} (mean "
        f"|ρ| {r['|ρ| all randomised']:.2f} with the trained model's maps once every unit is re-initialised; pass "
        f"mark {threshold:g}" + (f"; a constant map on {r['constant maps']} image(s), no ranks to correlate"
                                 if r["constant maps"] else "") + ")"
        + (f"; {few}: a measurement, not a verdict on the method." if few and not r["constant maps"] else ".")))
    out += lines(random_logit_verdict(logit_rows)["table"], lambda name, r: (
        f"- **Random logit, {name}:** {r['verdict']} (SSIM {r['SSIM']:.2f} between the maps for the top-1 and for a "
        f"random class)."))

    def focus_line(name, r):
        top = r["Focus on the mosaic's top-1 class %"]
        extra = f"; {top:.1f}% on the mosaic's top-1 class" if r["class-blind"] and np.isfinite(top) else ""
        return (f"- **Focus, {name}:** {r['Focus %']:.1f}% (chance {r['chance %']:.0f}%"
                f"{', by construction' if r['class-blind'] and r['chance %'] <= 25 else ''}{extra}).")

    if focus_table is not None:
        out += lines(focus_table, focus_line)
    if score_rows is not None and {"road", "method"} <= set(score_rows.columns):
        road = road_verdict(score_rows)
        rv = road["table"]
        out += lines(rv, lambda name, r: (
            f"- **ROAD, {name}:** rank {int(r['rank'])} of {len(rv)} by combined ROAD ({r['ROAD ↑']:.2f}) over "
            f"{road['n']} photos." if np.isfinite(r["rank"]) else
            f"- **ROAD, {name}:** combined ROAD {r['ROAD ↑']:.2f} on {road['n']} photo{'s' if road['n'] != 1 else ''}, "
            f"not ranked ({too_few(road['n'])})."))
    return "\n".join(out)


# ------------------------------------------------------------------ figures
