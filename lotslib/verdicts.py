"""Verdicts a reader can trust: the rules every generated "better / worse / best" sentence follows.

* **Too few pairs:** no verdict, bold "best" or rank from fewer than :data:`MIN_PAIRS` paired
  images (:func:`too_few`).
* **Multiplicity:** the p-values of a table's comparisons are Holm-corrected together
  (:func:`holm`); a verdict reads the corrected p-value.
* **Every CAM, not a best CAM chosen afterwards:** LOTS is tested against each CAM method
  (:func:`compare_each`), not against the one whose mean happened to be best.
* **Verdict change between two conventions** (:func:`verdict_changed`): a significant
  difference under one and not the other, or significant differences of opposite sign.
* **One way of printing:** :func:`format_p` for p-values, :func:`yes_no` for booleans.
"""
from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd

from .errors import ParameterError
from .stats import paired_wilcoxon

__all__ = ["MIN_PAIRS", "ALPHA", "BETTER", "WORSE", "NO_DIFFERENCE", "TOO_FEW", "too_few", "holm", "verdict_word",
           "holm_verdicts", "compare_each", "verdict_changed", "family_note", "format_p", "yes_no", "and_list"]

MIN_PAIRS = 5  #: the fewest paired images a verdict, a bold "best" or a rank is drawn from
ALPHA = 0.05  #: the significance level of the (Holm-corrected) verdicts
BETTER, WORSE, NO_DIFFERENCE, TOO_FEW = "LOTS better", "LOTS worse", "no significant difference", "too few images"


def too_few(n) -> str | None:
    """``"too few images (n = 4)"`` when ``n`` < :data:`MIN_PAIRS`, else None (a verdict may be drawn).

    Parameters
    ----------
    n : int
        The number of paired images (NaN counts as 0).

    Returns
    -------
    str or None
    """
    n = 0 if n is None or (isinstance(n, float) and math.isnan(n)) else int(n)
    return f"{TOO_FEW} (n = {n})" if n < MIN_PAIRS else None


def holm(p_values) -> np.ndarray:
    """Holm-Bonferroni step-down adjusted p-values, in the input's order.

    Sorted ascending, the i-th smallest of m p-values (i from 0) becomes
    ``max_{j <= i} min(1, (m - j) p_(j))``; rejecting where the adjusted value is below alpha
    controls the family-wise error rate at alpha for any dependence between the tests.
    Written here because SciPy has no Holm correction (``scipy.stats.false_discovery_control``
    is Benjamini-Hochberg, a false-discovery-rate control) and statsmodels is not a dependency.
    NaN p-values stay NaN and do not count in m.

    Parameters
    ----------
    p_values : numpy.ndarray
        p-values in [0, 1] (anything ``numpy.asarray`` accepts; flattened).

    Returns
    -------
    numpy.ndarray
        The adjusted p-values, same length and order.

    Raises
    ------
    lotslib.errors.ParameterError
        A p-value outside [0, 1].
    """
    p = np.asarray(p_values, dtype=np.float64).ravel()
    ok = np.isfinite(p)
    if ((p[ok] < 0) | (p[ok] > 1)).any():
        raise ParameterError(f"p-values must lie in [0, 1]; got {p[ok].min():g}..{p[ok].max():g}.")
    out = np.full(p.shape, np.nan)
    idx = np.flatnonzero(ok)
    order = idx[np.argsort(p[idx], kind="stable")]
    m = order.size
    out[order] = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[order]))
    return out


def verdict_word(n, mean_diff: float, p: float, higher_is_better: bool, alpha: float = ALPHA) -> str:
    """The verdict of one comparison of LOTS against another method.

    Parameters
    ----------
    n : int
        Paired images.
    mean_diff : float
        Mean of LOTS minus the other method.
    p : float
        The (corrected) p-value.
    higher_is_better : bool
        The metric's direction.
    alpha : float, optional
        Significance level (default :data:`ALPHA`).

    Returns
    -------
    str
        :data:`TOO_FEW` (fewer than :data:`MIN_PAIRS` pairs), :data:`NO_DIFFERENCE` (p >= alpha
        or no difference), else :data:`BETTER` or :data:`WORSE` in the metric's direction.
    """
    if too_few(n):
        return TOO_FEW
    if not (p < alpha) or not mean_diff or mean_diff != mean_diff:
        return NO_DIFFERENCE
    return BETTER if (mean_diff > 0) == bool(higher_is_better) else WORSE


def holm_verdicts(tests: pd.DataFrame, alpha: float = ALPHA) -> pd.DataFrame:
    """Holm-correct a table's comparisons together and write each one's verdict.

    Parameters
    ----------
    tests : pandas.DataFrame
        One row per comparison with columns ``n``, ``mean_diff`` (LOTS minus the other),
        ``p_value`` (uncorrected) and ``higher_is_better``. Comparisons with too few pairs
        are left out of the family (their p-value is not used).
    alpha : float, optional
        Significance level (default :data:`ALPHA`).

    Returns
    -------
    pandas.DataFrame
        A copy with ``p_holm`` (NaN for too few pairs) and ``verdict`` (:func:`verdict_word`).
    """
    out = tests.copy()
    enough = out["n"].fillna(0).astype(int) >= MIN_PAIRS
    out["p_holm"] = holm(out["p_value"].where(enough))
    out["verdict"] = [verdict_word(n, d, p, h, alpha)
                      for n, d, p, h in zip(out["n"], out["mean_diff"], out["p_holm"], out["higher_is_better"])]
    return out


def compare_each(lots, others: Mapping, higher_is_better: bool, alpha: float = ALPHA) -> pd.DataFrame:
    """LOTS against every other method on one metric: paired Wilcoxon tests, Holm-corrected across them.

    Parameters
    ----------
    lots : numpy.ndarray
        LOTS's value per image.
    others : Mapping
        ``{method: values}``, each paired with ``lots`` (same images, same order).
    higher_is_better : bool
        The metric's direction (``higher_is_better`` of the metric objects of :mod:`lotslib.metric_registry`).
    alpha : float, optional
        Significance level (default :data:`ALPHA`).

    Returns
    -------
    pandas.DataFrame
        Index: the methods; columns ``n`` (finite pairs), ``mean_diff`` (LOTS minus the method,
        over the finite pairs), ``p_value`` (uncorrected :func:`lotslib.stats.paired_wilcoxon`),
        ``p_holm`` (Holm across these methods) and ``verdict`` (:data:`BETTER`, :data:`WORSE`,
        :data:`NO_DIFFERENCE` or :data:`TOO_FEW`).
    """
    rows = []
    for name, values in others.items():
        t = paired_wilcoxon(lots, values)
        rows.append({"method": name, "n": t["n"], "mean_diff": t["mean_diff"], "p_value": t["p_value"],
                     "higher_is_better": bool(higher_is_better)})
    out = holm_verdicts(pd.DataFrame(rows, columns=["method", "n", "mean_diff", "p_value", "higher_is_better"]), alpha)
    return out.drop(columns="higher_is_better").set_index("method")


def verdict_changed(first: str, second: str) -> bool:
    """Whether the verdict changes between two conventions (e.g. black vs mean fill).

    A change needs a significant difference under one convention and not under the other,
    or significant differences of opposite sign. Anything else is no change: two ties, the
    same significant side twice, or too few images under either (no verdict to change).

    Parameters
    ----------
    first, second : str
        The verdict words (:func:`verdict_word`) under the two conventions.

    Returns
    -------
    bool
    """
    if TOO_FEW in (first, second):
        return False
    return first != second


def family_note(n_values) -> str:
    """How a table's comparisons were corrected, for its caption, from their numbers of pairs.

    Parameters
    ----------
    n_values : numpy.ndarray
        The number of paired images of each comparison of the table.

    Returns
    -------
    str
        ``"Holm-corrected across the 12 comparisons with at least 5 images"`` (plus how many have
        too few, with their n), or, when none has enough, ``"no comparison has 5 images or more
        (n = 2): no verdict"``.
    """
    n = np.nan_to_num(np.asarray(n_values, dtype=np.float64).ravel()).astype(int)
    few = sorted(set(n[n < MIN_PAIRS].tolist()))
    listed = ", ".join(map(str, few))
    if len(few) and (n < MIN_PAIRS).all():
        return f"no comparison has {MIN_PAIRS} images or more (n = {listed}): no verdict"
    m = int((n >= MIN_PAIRS).sum())
    return (f"Holm-corrected across the {m} comparison{'s' if m != 1 else ''} with at least {MIN_PAIRS} images"
            + (f"; {int((n < MIN_PAIRS).sum())} with too few (n = {listed}) have no verdict" if few else ""))


def format_p(p: float, cell: bool = False) -> str:
    """A p-value as every page prints it: ``"p = 0.012"`` (two significant digits below 0.1, two
    decimals above), ``"p < 0.001"``, ``"p = n/a"``; in a table's ``cell``: ``"0.012"``, ``"< 0.001"``, ``"n/a"``."""
    if p is None or p != p:
        text = "= n/a"
    elif p < 0.001:
        text = "< 0.001"
    else:
        text = f"= {p:.2g}" if p < 0.1 else f"= {p:.2f}"
    return text.removeprefix("= ") if cell else "p " + text


def yes_no(flag) -> str:
    """A boolean as a word: ``"yes"`` or ``"no"``."""
    return "yes" if bool(flag) else "no"


def and_list(items) -> str:
    """Words as a sentence lists them: ``"a"``, ``"a and b"``, ``"a, b and c"``; ``"none"`` for none."""
    items = [str(i) for i in items]
    if not items:
        return "none"
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
