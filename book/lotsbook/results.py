"""Result helpers that several chapters share, computed from lotslib's results.

The predictions of a model before and after LOTS (:func:`predictions`, :func:`top1`), how
concentrated a map is (:func:`concentration`), the CAM methods' maps of one image
(:func:`cam_maps`), LOTS runs side by side (:func:`lots_run_table`) and the runs recorded
in ``results/`` (:func:`recorded`, :func:`recorded_meta`). What serves one chapter alone is
in that chapter's page module (:mod:`lotsbook.pages`). Images are ``(N,3,H,W)`` in [0,1].
"""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import torch

__all__ = [
    "Predictions",
    "predictions",
    "top1",
    "concentration",
    "cam_maps",
    "lots_run_table",
    "recorded",
    "recorded_meta",
]


@dataclass
class Predictions:
    """What :func:`predictions` returns.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per image (index ``image``): label, top-1 before and after (with confidence),
        the probability of the original top-1 class after LOTS (%), iterations, final
        distance, whether τ was reached, and the stop reason.
    changed : float
        % of the images whose top-1 class changed.
    confidence_before, confidence_after : float
        Mean confidence (%) in the original top-1 class before and after.
    titles_before, titles_after : list of str
        Short "class confidence%" titles for figures.
    """

    table: pd.DataFrame
    changed: float
    confidence_before: float
    confidence_after: float
    titles_before: list
    titles_after: list


def predictions(model, x: torch.Tensor, result, images) -> Predictions:
    """The predictions of ``model`` on the images and on LOTS's adversarial images.

    Parameters
    ----------
    model : lotslib.models.ModelWrapper
        The classifier.
    x : torch.Tensor
        The images, ``(N,3,H,W)`` float in [0,1].
    result : lotslib.attack.LotsResult
        LOTS's result on ``x``; its adversarial images are ``result.x_adv``.
    images : lotslib.data.ImageSource
        The source ``x`` came from.

    Returns
    -------
    Predictions
        The predictions on ``x`` and on ``result.x_adv``.
    """
    from .plots import short_class

    dev = x.device
    tr = result.trace
    with torch.no_grad():
        p0 = model(x).softmax(1)
        p1 = model(result.x_adv.to(dev)).softmax(1)
    rows, before, after = [], [], []
    for i, s in enumerate(images):
        c0, c1 = int(p0[i].argmax()), int(p1[i].argmax())
        rows.append({
            "image": s.id,
            "label": short_class(s.name) if s.label is not None else "–",
            "top-1 before": f"{short_class(model.categories[c0])} ({100 * float(p0[i, c0]):.1f}%)",
            "top-1 after": f"{short_class(model.categories[c1])} ({100 * float(p1[i, c1]):.1f}%)",
            "p(original top-1) after %": 100 * float(p1[i, c0]),
            "iterations": int(tr.iterations[i]),
            "final distance": float(tr.final_distance[i]),
            "reached τ": "yes" if bool(tr.converged[i]) else "no",
            "stop": tr.stop_reason[i],
        })
        before.append(f"{short_class(model.categories[c0], 14)} {100 * float(p0[i].max()):.0f}%")
        after.append(f"{short_class(model.categories[c1], 14)} {100 * float(p1[i].max()):.0f}%")
    table = pd.DataFrame(rows).set_index("image")
    top0 = table["top-1 before"].str.split(" \\(").str[0]
    top1 = table["top-1 after"].str.split(" \\(").str[0]
    return Predictions(
        table=table,
        changed=float((top0 != top1).mean()) * 100,
        confidence_before=100 * float(p0.max(1).values.mean()),
        confidence_after=float(table["p(original top-1) after %"].mean()),
        titles_before=before,
        titles_after=after,
    )


def top1(model, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The top-1 class of ``model`` on each image and its softmax probability.

    Parameters
    ----------
    model : lotslib.models.ModelWrapper
        Pixels in [0,1] -> logits.
    x : torch.Tensor
        ``(N,3,H,W)`` images in [0,1].

    Returns
    -------
    classes : torch.Tensor
        ``(N,)`` int64 class indices in [0, 1000).
    probs : torch.Tensor
        ``(N,)`` float32 softmax probabilities in [0,1].
    """
    with torch.no_grad():
        p = model(x).softmax(1)
    return p.argmax(1), p.max(1).values


def concentration(m: torch.Tensor, share: float = 0.5) -> float:
    """The smallest fraction of the pixels that holds ``share`` of the map's total mass.

    Parameters
    ----------
    m : torch.Tensor
        A map ``(H,W)`` with values in [0,1].
    share : float
        Share of the total mass, in (0,1].

    Returns
    -------
    float
        Fraction of the pixels, in (0,1].
    """
    v = m.flatten().sort(descending=True).values
    c = v.cumsum(0) / v.sum().clamp_min(1e-12)
    return float((c < share).float().mean() + 1 / len(v))


def cam_maps(model, x: torch.Tensor, classes, batch_size: int | None = None, skip=()) -> dict:
    """The maps of the CAM methods (:data:`lotslib.method_registry.CAM_METHODS`) of one image.

    Parameters
    ----------
    model, x, classes
        The classifier (pixels in [0,1] -> logits), one image ``(1,3,H,W)`` in [0,1] and
        its explained class ``(1,)``.
    batch_size : int or None
        Images per chunk of each method.
    skip : sequence of str
        Method keys to leave out (``("random",)``).

    Returns
    -------
    dict
        ``{method name: (H,W) map in [0,1]}`` in the registry's order.
    """
    from lotslib.explanation import explain
    from lotslib.method_registry import CAM_METHODS

    return {CAM_METHODS[k].name: explain(k, model, x, targets=classes, batch_size=batch_size)[0]
            for k in CAM_METHODS if k not in skip}


def lots_run_table(x: torch.Tensor, runs: dict, ids=None) -> pd.DataFrame:
    """What each LOTS run did to the same images: its steps, its distance to the target and
    the size of its perturbation (the exercises of chapters 1 and 7 compare step widths and
    iteration caps with it).

    Parameters
    ----------
    x : torch.Tensor
        ``(N,3,H,W)`` original pixels in [0,1].
    runs : dict
        ``{label: lotslib.attack.LotsResult}``: LOTS runs on ``x`` (each ``x_adv`` ``(N,3,H,W)``).
    ids : sequence of str or None, optional
        The images' names (default None: ``0 .. N-1``).

    Returns
    -------
    pandas.DataFrame
        Index (``run``, ``image``); columns "iterations" (steps taken), "distance before",
        "distance after" (to the target, in feature units), "reached τ" (bool), and "largest
        pixel change" and "mean pixel change" of ``|x_adv - x|`` over pixels and channels, in
        units of 1/255 (after k steps of width α the largest change is at most k·α·255).

    Raises
    ------
    lotslib.errors.ParameterError
        A run's ``x_adv`` does not have the shape of ``x``, or ``ids`` does not name each image.
    """
    from lotslib.errors import ParameterError

    x = x.detach().float().cpu()
    names = [str(i) for i in (range(len(x)) if ids is None else ids)]
    if len(names) != len(x):
        raise ParameterError(f"ids has {len(names)} names for {len(x)} images. Fix: one name per image of x.")
    rows = []
    for label, res in runs.items():
        if tuple(res.x_adv.shape) != tuple(x.shape):
            raise ParameterError(f"run {label!r}: x_adv has shape {tuple(res.x_adv.shape)}, x {tuple(x.shape)}. "
                                 f"Fix: pass the LOTS results of these images.")
        change = (res.x_adv.detach().float().cpu() - x).abs().flatten(1) * 255
        tr = res.trace
        for i, name in enumerate(names):
            rows.append({"run": str(label), "image": name, "iterations": int(tr.iterations[i]),
                         "distance before": float(tr.distances[i, 0]), "distance after": float(tr.distances[i, -1]),
                         "reached τ": bool(tr.converged[i]), "largest pixel change": float(change[i].max()),
                         "mean pixel change": float(change[i].mean())})
    return pd.DataFrame(rows).set_index(["run", "image"])


def recorded(name: str):
    """A run recorded by a script of ``experiments/`` into the repository's ``results/`` folder.

    Parameters
    ----------
    name : str
        The file's name: ``"early_stop_study.csv"``, ``"book_time.json"``.

    Returns
    -------
    pandas.DataFrame or None
        A ``.csv`` as it is; a ``.json`` as :func:`lotsbook.provenance.book_time`'s rows
        (index ``item``, column ``value``); None when the file is absent.
    """
    from .paths import RESULTS
    from .provenance import book_time

    path = RESULTS / name
    if not path.is_file():
        return None
    return pd.read_csv(path) if path.suffix == ".csv" else pd.DataFrame(book_time(path)).set_index("item")


def recorded_meta(name: str) -> dict:
    """The JSON sidecar of a recorded run in ``results/`` (its command, parameters, hashes);
    ``{"command": "(not recorded)"}`` when absent.

    Parameters
    ----------
    name : str
        The sidecar's file name, e.g. ``"lots_equivalence.json"``.

    Returns
    -------
    dict
    """
    import json

    from .paths import RESULTS, shown

    path = RESULTS / name
    if not path.is_file():
        return {"command": "(not recorded)"}
    # no absolute path of the machine that recorded it reaches a page (lotsbook.paths.shown)
    return json.loads(shown(path.read_text()))
