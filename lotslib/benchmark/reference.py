"""The thesis's own numbers (Weber 2023, Tables 5.1-5.3), read from ``lotslib/resources/thesis_tables.csv``,
and our summaries beside them."""
from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from ..errors import DatasetError
from ..method_registry import TABLE_METHODS, TABLE_TARGETS, TABLE_TIMING
from ..metric_registry import METRICS
from ..paths import THESIS_TABLES
from .tables import summarize, table_rows

__all__ = ["reference_tables", "compare_with_reference", "REFERENCE_CSV"]

REFERENCE_CSV = THESIS_TABLES


def reference_tables(path: str | os.PathLike | None = None) -> pd.DataFrame:
    """The thesis's own numbers (Weber 2023, Tables 5.1-5.3) from ``lotslib/resources/thesis_tables.csv``.

    Parameters
    ----------
    path : str or os.PathLike or None, optional
        The CSV file (default None: the shipped one).

    Returns
    -------
    pandas.DataFrame
        Long format: ``table`` ("5.1", "5.2", "5.3"), ``model`` (lotslib model keys),
        ``method`` (method keys; Table 5.1's rows are ``lots`` / ``lots_class`` /
        ``lots_mean``), ``metric`` (keys of :data:`lotslib.metric_registry.METRICS` or
        ``ms_per_map``), ``value``, ``unit``, ``source``, ``note``.

    Raises
    ------
    lotslib.errors.DatasetError
        If the file is not found.

    Notes
    -----
    Gaps of the source's text extraction are absent rather than guessed: Table 5.1's
    class-target row has only its Coherency, and Table 5.2's ConvNeXt-Tiny LOTS row is
    missing.
    """
    p = Path(path) if path is not None else REFERENCE_CSV
    if not p.is_file():
        raise DatasetError(f"reference table {p} not found. "
                           "Fix: pass path=, or reinstall lotslib (the file ships inside it, lotslib/resources).")
    df = pd.read_csv(p, dtype={"table": str, "note": str}, keep_default_na=False, na_values={"value": [""]})
    return df


def compare_with_reference(df: pd.DataFrame, table: str = TABLE_METHODS, **kw) -> pd.DataFrame:
    """Our summary (:func:`lotslib.benchmark.summarize`) beside the thesis's value.

    Parameters
    ----------
    df : pandas.DataFrame
        The benchmark rows of :func:`lotslib.benchmark.run`.
    table : str, optional
        ``"5.1"``, ``"5.2"`` (default) or ``"5.3"``.
    **kw
        Options of :func:`lotslib.benchmark.summarize`.

    Returns
    -------
    pandas.DataFrame
        Columns of :func:`lotslib.benchmark.summarize` plus ``thesis`` and ``source`` for the
        same (model, method, metric) (empty where the thesis has no such cell, e.g. for the
        EfficientNet-Lite models).
    """
    metrics = ("ms_per_map",) if table == TABLE_TIMING else tuple(METRICS)
    rows = table_rows(TABLE_TARGETS if table == TABLE_TARGETS else TABLE_METHODS)
    ours = summarize(df[df["method"].isin(rows)], metrics, **kw)
    ref = reference_tables()
    ref = ref[ref["table"] == table][["model", "method", "metric", "value", "source"]].rename(
        columns={"value": "thesis"})
    return ours.merge(ref, on=["model", "method", "metric"], how="left")
