"""Chapter 3, "Choice of the LOTS target" (``notebooks/03_targets.py``): the tests of the
zero target against the class and mean targets, the N/A rows and the maps of Figure 5.1.
"""
from __future__ import annotations

import pandas as pd
import torch

__all__ = ["na_rows", "first_with_targets", "target_tests", "target_maps"]


def na_rows(df: pd.DataFrame) -> pd.DataFrame:
    """The benchmark rows that are N/A (no feature target).

    Parameters
    ----------
    df : pandas.DataFrame
        The benchmark rows (:func:`lotslib.benchmark.run`).

    Returns
    -------
    pandas.DataFrame
        A table indexed by (``method``, ``image``) with the column ``reason``; empty when no
        row is N/A.
    """
    from lotslib.benchmark import is_na

    if "na_reason" not in df.columns:
        return pd.DataFrame(columns=["reason"])
    na = df[is_na(df)]
    out = pd.DataFrame({"method": na["method_name"].to_numpy(), "image": na["image_id"].to_numpy(),
                        "reason": na["na_reason"].to_numpy()})
    return out.set_index(["method", "image"])


def first_with_targets(df: pd.DataFrame, images):
    """The first image of ``images`` whose class and mean targets exist (no N/A row), else the
    first image: the example of Figure 5.1.

    Parameters
    ----------
    df : pandas.DataFrame
        Benchmark rows of ``lots_class`` / ``lots_mean``.
    images : lotslib.data.ImageSource
        The evaluated images.

    Returns
    -------
    lotslib.data.ImageSource
        One image.
    """
    from lotslib.benchmark import is_na

    na = set(df.loc[is_na(df), "image_id"])
    for i in images.ids:
        if i not in na:
            return images.select([i])
    return images.head(1)


def target_tests(df: pd.DataFrame) -> pd.DataFrame:
    """The zero target against the class and the mean target: a paired two-sided Wilcoxon
    signed-rank test over images for every metric (:func:`lotslib.stats.paired_wilcoxon`).

    Parameters
    ----------
    df : pandas.DataFrame
        Benchmark rows (:func:`lotslib.benchmark.run`) of ``lots``, ``lots_class`` and
        ``lots_mean`` on one model, one row per (method, image).

    Returns
    -------
    pandas.DataFrame
        Index (``comparison``, ``metric``: the table label); columns ``zero`` and ``other``
        (the metric's table value, in %), ``p-value (Wilcoxon)`` in [0,1] and ``n`` (pairs).
    """
    from lotslib.benchmark import LOTS_VARIANTS, METRICS, TABLE_TARGETS, table_rows
    from lotslib.stats import paired_wilcoxon

    rows = table_rows(TABLE_TARGETS)
    tests = []
    for variant in LOTS_VARIANTS:
        a = df[df["method"] == "lots"].set_index("image_id")
        b = df[df["method"] == variant].set_index("image_id")
        for metric in METRICS.values():
            col, scale = metric.col, metric.scale
            t = paired_wilcoxon(a[col], b.loc[a.index, col])
            tests.append({"comparison": f"zero vs {rows[variant].split()[0].lower()}", "metric": metric.label,
                          "zero": a[col].mean() * scale, "other": b[col].mean() * scale,
                          "p-value (Wilcoxon)": t["p_value"], "n": t["n"]})
    return pd.DataFrame(tests).set_index(["comparison", "metric"])


def target_maps(model, reference, example, x: torch.Tensor, classes, lots_maps) -> tuple[dict, dict]:
    """The LOTS map of one image with each target of Table 5.1 (zero, class, mean), the class
    and mean targets from the reference set (:func:`lotslib.targets.reference_targets`).

    Parameters
    ----------
    model : lotslib.models.ModelWrapper
        Pixels in [0,1] -> logits.
    reference : lotslib.data.ImageSource
        The labelled reference set (the image itself is never used, by content).
    example : lotslib.data.ImageSource
        The one image.
    x : torch.Tensor
        Its pixels ``(1,3,H,W)`` in [0,1].
    classes : torch.Tensor
        ``(1,)`` its top-1 class (the class of an unlabelled image's target).
    lots_maps : Callable
        ``lots_maps(model, images, target, target_key, x=x) -> (N,H,W)`` maps in [0,1] of
        cached LOTS runs (:meth:`lotsbook.chapter.ChapterContext.lots_maps`).

    Returns
    -------
    maps : dict
        ``{row label of Table 5.1: (H,W) map in [0,1]}``; a target without a reference image
        is absent.
    notes : dict
        ``{row label: panel title}`` (with the reference image used).
    """
    from lotslib.benchmark import table_rows
    from lotslib.targets import reference_targets
    from lotslib.method_registry import TABLE_TARGETS, get_method

    maps, notes = {}, {}
    for variant, label in table_rows(TABLE_TARGETS).items():
        kind = get_method(variant).feature_target
        if kind == "zero":
            tgt, key, used = "zero", "zero", ""
        else:
            t = reference_targets(model, kind, reference, example.items, example.labels, classes, "logits")
            if not t.ok[0]:
                continue
            tgt, used = t.features[0], t.reference_ids[0]
            key = f"{variant}:{reference.fingerprint()}:{used}"
        maps[label] = lots_maps(model, example, tgt, key, x=x)[0]
        notes[label] = f"LOTS, {label.split()[0].lower()} target" + (f" ({used})" if used else "")
    return maps, notes
