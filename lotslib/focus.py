"""Focus (Arias-Duart et al. 2022): localisation without masks or boxes.

As in the paper, a mosaic holds two photos of a target class and two photos of other classes
in shuffled positions (:func:`target_mosaics`); a method explains the target class on the
mosaic, and its Focus is the share of the map's (positive) mass that falls in the two
quadrants of that class. A map that follows the class scores 100 %; a map that ignores it
scores the quadrants' area share on average (50 %). No segmentation mask or bounding box is
needed: the mosaic's layout is the ground truth. A mosaic needs a class with two photos: with
one photo per class there is none, and the study says so (n = 0). :func:`build_mosaics` keeps
the simpler layout of four photos of different classes, every class explained (chance 25 %).

The score is Quantus's ``Focus`` (``quantus.Focus``, with the maps as its ``a_batch`` and the
quadrants of the class as its ``custom_batch``; no normalisation, maps are already in [0,1]).
What is lotslib's: the mosaics (:func:`make_mosaic`, :func:`build_mosaics`), the explanation
of each class present in a mosaic (:func:`focus_study`), and the convention for an all-zero
map, on which Quantus's share is 0/0: it gets the chance share (quadrants / 4) and a flag.

Class-blind maps. Zero-target LOTS has no class: its map is one map per mosaic, whatever the
explained class (on :func:`build_mosaics`'s four classes its shares sum to 100 % and their
mean is 25 % *by construction*), as for any map that ignores the class (the Sobel edge
baseline). For such maps the informative number is the share on the quadrant of the
class the network itself sees in the mosaic (its top-1 class on the mosaic), reported as
``focus on the mosaic's top-1 class`` (:func:`focus_verdict`).

Pixels ``(N,3,H,W)`` in [0,1] in; maps ``(N,H,W)`` in [0,1].
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from .errors import ParameterError
from .method_registry import ALL_METHODS, get_method
from .tensors import check_pixels, model_device

__all__ = ["QUADRANTS", "ARRANGEMENTS", "make_mosaic", "Mosaics", "build_mosaics", "target_classes",
           "target_mosaics", "focus_scores", "FocusResult", "focus_study", "focus_verdict"]

#: the quadrants of a mosaic, in Quantus's order
QUADRANTS = ("top left", "top right", "bottom left", "bottom right")

#: the photo order of each arrangement of a group of four: the second puts every photo in the
#: diagonally opposite quadrant; with all four every photo visits every quadrant once
ARRANGEMENTS = ((0, 1, 2, 3), (3, 2, 1, 0), (1, 0, 3, 2), (2, 3, 0, 1))


def make_mosaic(x4: torch.Tensor) -> torch.Tensor:
    """Tile four photos into one 2 x 2 mosaic of the same size.

    Parameters
    ----------
    x4 : torch.Tensor
        ``(4,3,H,W)`` float pixels in [0,1]: top left, top right, bottom left, bottom right.

    Returns
    -------
    torch.Tensor
        ``(3, 2*(H//2), 2*(W//2))`` pixels in [0,1]; each photo resized to ``(H//2, W//2)``
        (bilinear, antialiased).

    Raises
    ------
    lotslib.errors.ParameterError
        Not four photos, or a photo smaller than 2 x 2.
    lotslib.errors.InputRangeError
        Pixels outside [0,1].
    """
    check_pixels(x4, "x4")
    if x4.shape[0] != 4:
        raise ParameterError(f"make_mosaic takes 4 photos (4,3,H,W); got {x4.shape[0]}.")
    h, w = x4.shape[-2] // 2, x4.shape[-1] // 2
    if h < 1 or w < 1:
        raise ParameterError(f"photos of {tuple(x4.shape[-2:])} pixels are too small for a mosaic (at least 2 x 2).")
    small = F.interpolate(x4.float(), size=(h, w), mode="bilinear", antialias=True, align_corners=False).clamp(0, 1)
    top, bottom = torch.cat([small[0], small[1]], dim=2), torch.cat([small[2], small[3]], dim=2)
    return torch.cat([top, bottom], dim=1)


@dataclass
class Mosaics:
    """What :func:`build_mosaics` returns.

    Attributes
    ----------
    x : torch.Tensor
        ``(M,3,H,W)`` mosaics in [0,1].
    photos : numpy.ndarray
        ``(M,4)`` the photo (position in the source batch) in each quadrant (:data:`QUADRANTS`).
    classes : numpy.ndarray
        ``(M,4)`` each quadrant's class.
    """

    x: torch.Tensor
    photos: np.ndarray
    classes: np.ndarray
    targets: np.ndarray | None = None  #: ``(M,)`` the target class of each mosaic (:func:`target_mosaics`)


def build_mosaics(x: torch.Tensor, classes, arrangements: int = 2) -> Mosaics:
    """Mosaics of the photos, four at a time, in ``arrangements`` orders (:data:`ARRANGEMENTS`).

    Parameters
    ----------
    x : torch.Tensor
        ``(N,3,H,W)`` float pixels in [0,1], ``N >= 4``; the first ``4 * (N // 4)`` are used.
    classes : Sequence of int or torch.Tensor
        ``(N,)`` each photo's class (what a quadrant is the ground truth of).
    arrangements : int
        Mosaics per group of four, 1..4 (default 2: every photo in two diagonally opposite
        quadrants).

    Returns
    -------
    Mosaics
        ``arrangements * (N // 4)`` mosaics.

    Raises
    ------
    lotslib.errors.ParameterError
        Fewer than 4 photos, ``classes`` of the wrong length, or ``arrangements`` not in 1..4.
    """
    cls = np.asarray(torch.as_tensor(classes).flatten().long().cpu())
    if len(x) < 4:
        raise ParameterError(f"Focus needs at least 4 photos for a 2 x 2 mosaic; got {len(x)}.")
    if len(cls) != len(x):
        raise ParameterError(f"classes has {len(cls)} entries for {len(x)} photos. Fix: one class per photo.")
    if arrangements not in (1, 2, 3, 4):
        raise ParameterError(f"arrangements={arrangements!r}: choose 1, 2, 3 or 4 mosaics per group of four photos.")
    photos = np.array([[4 * g + p for p in ARRANGEMENTS[a]] for g in range(len(x) // 4) for a in range(arrangements)])
    mos = torch.stack([make_mosaic(x[torch.as_tensor(row)].cpu()) for row in photos])
    return Mosaics(mos, photos, cls[photos])


def target_classes(classes, max_classes: int | None = None) -> list[int]:
    """The classes with at least two photos (the target classes a mosaic of :func:`target_mosaics`
    can have), in the order of their first photo; at most ``max_classes`` (default None: all)."""
    cls = np.asarray(torch.as_tensor(classes).flatten().long().cpu())
    values, counts = np.unique(cls, return_counts=True)
    two = set(values[counts >= 2].tolist())
    out = [int(c) for c in dict.fromkeys(cls.tolist()) if c in two]
    return out if max_classes is None else out[:max_classes]


def target_mosaics(x: torch.Tensor, classes, per_class: int = 1, seed: int = 0,
                   max_classes: int | None = None) -> Mosaics:
    """Mosaics as Arias-Duart et al. (2022) build them: two photos of a target class and two of
    other classes, in shuffled positions.

    For each class with at least two photos (:func:`target_classes`), ``per_class`` mosaics:
    two photos of the class and two of other classes (of two different classes where there
    are), drawn and placed in the four quadrants by a generator seeded with (``seed``, class,
    mosaic), so the target class's two quadrants differ between mosaics.

    Parameters
    ----------
    x : torch.Tensor
        ``(N,3,H,W)`` float pixels in [0,1].
    classes : Sequence of int or torch.Tensor
        ``(N,)`` each photo's class (its label, or the network's top-1 on the photo alone).
    per_class : int
        Mosaics per target class (default 1).
    seed : int
        The draws' seed (default 0).
    max_classes : int or None
        At most this many target classes (default None: every class with two photos).

    Returns
    -------
    Mosaics
        ``M`` mosaics with ``targets`` ``(M,)``; ``M = 0`` when no class has two photos or
        there are fewer than two photos of other classes.

    Raises
    ------
    lotslib.errors.ParameterError
        ``classes`` of the wrong length, or ``per_class`` < 1.
    """
    cls = np.asarray(torch.as_tensor(classes).flatten().long().cpu())
    if len(cls) != len(x):
        raise ParameterError(f"classes has {len(cls)} entries for {len(x)} photos. Fix: one class per photo.")
    if int(per_class) < 1:
        raise ParameterError(f"per_class={per_class!r}: at least one mosaic per target class.")
    photos, targets = [], []
    for c in target_classes(cls, max_classes):
        own, others = np.flatnonzero(cls == c), np.flatnonzero(cls != c)
        if len(others) < 2:
            continue
        for r in range(int(per_class)):
            rng = np.random.default_rng([int(seed), int(c), r])
            pair = rng.choice(own, 2, replace=False)
            first = int(rng.choice(others))
            rest = [i for i in others if cls[i] != cls[first]] or [i for i in others if i != first]
            second = int(rng.choice(rest))
            photos.append(rng.permutation([int(pair[0]), int(pair[1]), first, second]))
            targets.append(int(c))
    photos = np.asarray(photos, dtype=int).reshape(-1, 4)
    h, w = 2 * (x.shape[-2] // 2), 2 * (x.shape[-1] // 2)
    mos = (torch.stack([make_mosaic(x[torch.as_tensor(row)].cpu()) for row in photos]) if len(photos)
           else torch.zeros(0, 3, h, w))
    return Mosaics(mos, photos, cls[photos], np.asarray(targets, dtype=int))


def focus_scores(maps: torch.Tensor, quadrants) -> tuple[np.ndarray, np.ndarray]:
    """Focus of each map: the share of its mass in the given quadrants, in % (Quantus's ``Focus``).

    Parameters
    ----------
    maps : torch.Tensor
        ``(K,H,W)`` maps >= 0 (negative values do not count, as in Quantus).
    quadrants : array_like
        ``(K,4)`` 0/1: the quadrants (:data:`QUADRANTS`) of the explained class.

    Returns
    -------
    focus : numpy.ndarray
        ``(K,)`` in [0, 100]; an all-zero map gets the chance share ``100 * sum(quadrants) / 4``.
    degenerate : numpy.ndarray
        ``(K,)`` True for the all-zero maps.

    Raises
    ------
    lotslib.errors.ParameterError
        ``quadrants`` is not ``(K,4)`` 0/1 for the ``K`` maps.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # importing Quantus warns about tqdm's notebook widgets
        import quantus

    a = torch.as_tensor(maps).detach().float().cpu().numpy()
    q = np.asarray(quadrants)
    if q.shape != (len(a), 4) or not np.isin(q, (0, 1)).all():
        raise ParameterError(f"quadrants of shape {q.shape}: pass (K,4) 0/1 flags for the {len(a)} maps.")
    degenerate = np.clip(a, 0, None).reshape(len(a), -1).sum(1) <= 0
    out = 100.0 * q.sum(1) / 4.0
    ok = np.flatnonzero(~degenerate)
    if len(ok):
        metric = quantus.Focus(normalise=False, abs=False, disable_warnings=True, display_progressbar=False)
        # Quantus asks for a model but never runs it when the maps are given (a_batch)
        s = metric(model=torch.nn.Identity(), x_batch=np.repeat(a[ok, None], 3, axis=1),
                   y_batch=np.zeros(len(ok), dtype=int), a_batch=a[ok, None],
                   custom_batch=[tuple(int(v) for v in r) for r in q[ok]], channel_first=True, batch_size=len(ok))
        out[ok] = 100.0 * np.asarray(s, dtype=np.float64)
    return out.astype(np.float64), degenerate


@dataclass
class FocusResult:
    """What :func:`focus_study` returns.

    Attributes
    ----------
    rows : pandas.DataFrame
        One row per (method, mosaic, class of the mosaic): ``method``, ``method_name``,
        ``mosaic``, ``pair`` (position in :attr:`maps`), ``class``, ``quadrants`` (where the
        class is), ``focus`` (%), ``chance`` (% of the area those quadrants cover),
        ``degenerate``, ``mosaic_top1`` (the class is the network's top-1 on the mosaic) and
        ``same_map`` (the method gave one map for every class of the mosaic).
    mosaics : Mosaics
        The mosaics.
    maps : dict
        ``{method: (K,H,W) maps}``, one per (mosaic, class) pair, in the rows' ``pair`` order.
    top1 : numpy.ndarray
        ``(M,)`` the network's top-1 class on each mosaic.
    """

    rows: pd.DataFrame
    mosaics: Mosaics
    maps: dict
    top1: np.ndarray


def _class_blind(method: str) -> bool:
    """True where the registry says the map cannot depend on the class (zero-target LOTS, image-only)."""
    m = get_method(method)
    return m.feature_target == "zero" or m.image_only


def focus_study(model, x: torch.Tensor, classes, methods: Sequence[str], params: dict | None = None,
                arrangements: int = 2, design: str = "target", seed: int = 0,
                max_classes: int | None = None) -> FocusResult:
    """Focus of every method on mosaics of the photos.

    ``design="target"`` (default) builds the mosaics as Arias-Duart et al. (2022) do
    (:func:`target_mosaics`: two photos of a target class, two of other classes, shuffled;
    ``arrangements`` mosaics per class with two photos) and explains each mosaic's target
    class: chance is 50 %. ``design="classes"`` tiles the photos four at a time
    (:func:`build_mosaics`) and explains every class of each mosaic (chance 25 %). A method
    that cannot depend on the class (zero-target LOTS, the image-only baselines) runs once per
    mosaic and its map serves every class.

    Parameters
    ----------
    model : lotslib.models.ModelWrapper
        The classifier.
    x : torch.Tensor
        ``(N,3,H,W)`` float pixels in [0,1], ``N >= 4``.
    classes : Sequence of int or torch.Tensor
        ``(N,)`` each photo's class (e.g. the network's top-1 on the photo alone).
    methods : Sequence of str
        Registered method keys.
    params : dict or None
        ``{method: explain parameters}`` (:func:`lotslib.sanity.method_params`).
    arrangements : int
        Mosaics per target class (``"target"``) or per group of four photos (``"classes"``,
        :func:`build_mosaics`); default 2.
    design : str
        ``"target"`` or ``"classes"`` (above).
    seed : int
        The draws of :func:`target_mosaics` (default 0).
    max_classes : int or None
        At most this many target classes (default None: all).

    Returns
    -------
    FocusResult
        The rows, mosaics, maps and the mosaics' top-1 classes; no rows when no class has two
        photos (``"target"``).

    Raises
    ------
    lotslib.errors.ParameterError
        Fewer than 4 photos (``"classes"``), an unknown method or design, or a bad ``arrangements``.
    """
    from .sanity import explain_all

    for m in methods:
        get_method(m)
    if design == "target":
        mos = target_mosaics(x, classes, arrangements, seed, max_classes)
    elif design == "classes":
        mos = build_mosaics(x, classes, arrangements)
    else:
        raise ParameterError(f"design={design!r}: choose 'target' (Arias-Duart et al.) or 'classes'.")
    columns = ["method", "method_name", "mosaic", "pair", "class", "quadrants", "focus", "chance", "degenerate",
               "mosaic_top1", "same_map"]
    if not len(mos.x):
        return FocusResult(pd.DataFrame(columns=columns), mos, {m: torch.zeros(0) for m in methods}, np.zeros(0, int))
    dev = model_device(model)
    xm = mos.x.to(dev)
    with torch.no_grad():
        top1 = model(xm).argmax(1).cpu().numpy()
    pairs = [(k, int(c), (mos.classes[k] == c).astype(int)) for k in range(len(xm))
             for c in ([mos.targets[k]] if design == "target" else dict.fromkeys(mos.classes[k].tolist()))]
    which = torch.as_tensor([k for k, _, _ in pairs])
    targets = torch.as_tensor([c for _, c, _ in pairs])
    quads = np.stack([q for _, _, q in pairs])
    maps, rows = {}, []
    for m in methods:
        p = {m: (params or {}).get(m, {})}
        if _class_blind(m):
            maps[m] = explain_all(model, xm, [m], torch.as_tensor(top1), p)[0][m][which]
        else:
            maps[m] = explain_all(model, xm[which.to(dev)], [m], targets, p)[0][m]
        focus, degenerate = focus_scores(maps[m], quads)
        for j, (k, c, q) in enumerate(pairs):
            same = [i for i, (kk, _, _) in enumerate(pairs) if kk == k]
            rows.append({"method": m, "method_name": ALL_METHODS[m].name, "mosaic": k, "pair": j, "class": c,
                         "quadrants": ", ".join(QUADRANTS[i] for i in np.flatnonzero(q)), "focus": focus[j],
                         "chance": 100.0 * q.sum() / 4.0, "degenerate": bool(degenerate[j]),
                         "mosaic_top1": bool(c == top1[k]),
                         "same_map": bool(_class_blind(m) if design == "target"
                                          else all(torch.equal(maps[m][i], maps[m][j]) for i in same))})
    return FocusResult(pd.DataFrame(rows), mos, maps, top1)


def focus_verdict(rows: pd.DataFrame) -> dict:
    """The Focus of each method and what it means, in numbers and sentences.

    Parameters
    ----------
    rows : pandas.DataFrame
        :attr:`FocusResult.rows`.

    Returns
    -------
    dict
        ``table``: per method (index: method name) the mean Focus over every (mosaic,
        class) pair, the chance level, the Focus on the mosaics' top-1 class (NaN when the
        network's top-1 on no mosaic is one of its photos' classes) and whether the method
        gives one map for every class (``class-blind``); ``best``: the class-specific method
        with the highest mean Focus (None from fewer than :data:`lotslib.verdicts.MIN_PAIRS`
        mosaics); ``n``: the mosaics; ``text``: the sentences for the page, with their n.
    """
    from .verdicts import and_list, too_few

    if not len(rows):
        table = pd.DataFrame(columns=["Focus %", "chance %", "Focus on the mosaic's top-1 class %", "class-blind",
                                      "pairs"], index=pd.Index([], name="method"))
        return {"table": table, "best": None, "n": 0,
                "text": "No class has two photos here, so no mosaic with two photos of a target class can be built "
                        "(Arias-Duart et al. 2022): n = 0 mosaics, no Focus."}
    out = []
    for m, d in rows.groupby("method", sort=False):
        t = d[d["mosaic_top1"]]
        out.append({"method": ALL_METHODS[m].name, "Focus %": d["focus"].mean(), "chance %": d["chance"].mean(),
                    "Focus on the mosaic's top-1 class %": t["focus"].mean() if len(t) else np.nan,
                    "class-blind": bool(d["same_map"].all()), "pairs": len(d)})
    table = pd.DataFrame(out).set_index("method")
    specific = table[~table["class-blind"]]
    blind = table[table["class-blind"]]
    n_pairs, n_mos = int(table["pairs"].iloc[0]), rows["mosaic"].nunique()
    n_cls = rows["class"].nunique()
    chance = float(table["chance %"].iloc[0])
    few = too_few(n_mos)
    text = (f"On {n_mos} mosaic{'s' if n_mos != 1 else ''} ({n_pairs} mosaic-class pair{'s' if n_pairs != 1 else ''}, "
            f"{n_cls} class{'es' if n_cls != 1 else ''}; chance {chance:.0f}%), ")
    best = None
    if few:
        text += (f"{few}: no method is ranked, the values are for reading only"
                 + (f" ({'; '.join(f'{k} {v:.1f}%' for k, v in specific['Focus %'].items())})" if len(specific)
                    else "") + ". ")
    elif len(specific):
        best = specific["Focus %"].idxmax()
        text += (f"the class-specific method with the highest mean Focus is {best} "
                 f"({specific.loc[best, 'Focus %']:.1f}%); the lowest is {specific['Focus %'].idxmin()} "
                 f"({specific['Focus %'].min():.1f}%). ")
    if len(blind):
        values = ", ".join(f"{v:.1f}%" for v in blind["Focus %"])
        text += (f"{and_list(blind.index)} give{'s' if len(blind) == 1 else ''} one map per mosaic whatever the class "
                 f"({values}): for them Focus says where the map puts its mass, not which class it explains"
                 + (", and their mean over a mosaic's classes is the chance level by construction." if chance <= 25
                    else "."))
    if "lots" in set(rows["method"]):
        v = table.loc[ALL_METHODS["lots"].name, "Focus on the mosaic's top-1 class %"]
        k = int(rows.loc[(rows["method"] == "lots") & rows["mosaic_top1"], "mosaic"].nunique())
        if np.isfinite(v):
            text += (f" On the {k} mosaic{'s' if k != 1 else ''} whose top-1 class is the explained class, "
                     f"{v:.1f}% of zero-target LOTS's mass lies on that class's photos, against {chance:.0f}% by "
                     f"chance" + (f" ({too_few(k)}: no conclusion)." if too_few(k) else "."))
        else:
            text += (" The network's top-1 class on the mosaics is not the explained class, so zero-target LOTS's "
                     "mass cannot be tied to a class here.")
    if not few and "lots_logit" in set(rows["method"]) and ALL_METHODS["lots_logit"].name in specific.index:
        text += (f" Class-logit LOTS, which descends the explained class's logit, reaches "
                 f"{specific.loc[ALL_METHODS['lots_logit'].name, 'Focus %']:.1f}%.")
    return {"table": table, "best": best, "n": int(n_mos), "text": text}


