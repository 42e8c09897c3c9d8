"""Uncertainty for the summary tables: percentile bootstrap confidence intervals of a mean,
a paired Wilcoxon signed-rank test over images, the detectable difference of a paired test,
and the paired equivalence test (two one-sided t-tests, :func:`lotslib.stats.tost`).

All are deterministic: the bootstrap uses ``numpy.random.default_rng(seed)`` (seed 0 by
default), the tests are SciPy's ``scipy.stats.wilcoxon`` and Student's t distribution.
"""
from __future__ import annotations

import math
import warnings

import numpy as np

from .errors import ParameterError

__all__ = ["bootstrap_ci", "mean_ci", "paired_wilcoxon", "paired_mde", "tost", "N_BOOT", "LEVEL", "SEED"]

N_BOOT = 2_000  #: bootstrap resamples
LEVEL = 0.95  #: confidence level
SEED = 0  #: bootstrap seed


def _clean(values) -> np.ndarray:
    v = np.asarray(values, dtype=np.float64).ravel()
    return v[np.isfinite(v)]


def bootstrap_ci(
    values, n_boot: int = N_BOOT, level: float = LEVEL, seed: int = SEED, scale: float = 1.0
) -> tuple[float, float]:
    """Percentile bootstrap interval ``(low, high)`` of the mean of ``values`` (times ``scale``).

    Non-finite values are dropped. One value gives a zero-width interval; none gives NaNs.

    Parameters
    ----------
    values : numpy.ndarray
        The per-image values (anything ``numpy.asarray`` accepts; flattened).
    n_boot : int
        Number of bootstrap resamples, >= 1. Default :data:`N_BOOT` (2000).
    level : float
        Confidence level in (0, 1). Default :data:`LEVEL` (0.95).
    seed : int
        Seed of ``numpy.random.default_rng``. Default :data:`SEED` (0).
    scale : float
        Factor applied to the interval (e.g. 100 for percent). Default 1.

    Returns
    -------
    tuple of float
        ``(low, high)``: the ``(1 - level) / 2`` and ``(1 + level) / 2`` quantiles of the
        resampled means, times ``scale``.

    Raises
    ------
    lotslib.errors.ParameterError
        ``n_boot`` is not a positive integer or ``level`` is outside (0, 1).
    """
    if not (isinstance(n_boot, int) and n_boot >= 1):
        raise ParameterError(f"n_boot={n_boot!r}: must be a positive integer.")
    if not (0 < level < 1):
        raise ParameterError(f"level={level!r}: must be in (0, 1), e.g. 0.95.")
    v = _clean(values)
    if v.size == 0:
        return (math.nan, math.nan)
    if v.size == 1 or np.all(v == v[0]):
        return (float(v[0] * scale), float(v[0] * scale))
    rng = np.random.default_rng(seed)
    means = np.empty(n_boot)
    chunk = max(1, 2_000_000 // v.size)
    for s in range(0, n_boot, chunk):
        k = min(chunk, n_boot - s)
        means[s : s + k] = v[rng.integers(0, v.size, size=(k, v.size))].mean(1)
    a = (1 - level) / 2
    lo, hi = np.quantile(means, [a, 1 - a])
    return (float(lo * scale), float(hi * scale))


def mean_ci(values, scale: float = 1.0, **kw) -> dict:
    """``{"mean", "ci_low", "ci_high", "n"}`` of the finite ``values`` (times ``scale``).

    Parameters
    ----------
    values : numpy.ndarray
        The per-image values (anything ``numpy.asarray`` accepts; non-finite ones dropped).
    scale : float
        Factor applied to the mean and the interval. Default 1.
    **kw
        ``n_boot``, ``level``, ``seed`` of :func:`bootstrap_ci`.

    Returns
    -------
    dict
        ``mean`` (NaN without finite values), ``ci_low``, ``ci_high`` (the
        :func:`bootstrap_ci` interval) and ``n`` (the number of finite values).

    Raises
    ------
    lotslib.errors.ParameterError
        A bad ``n_boot`` or ``level``.
    """
    v = _clean(values)
    lo, hi = bootstrap_ci(v, scale=scale, **kw)
    return {"mean": float(v.mean() * scale) if v.size else math.nan, "ci_low": lo, "ci_high": hi, "n": int(v.size)}


def paired_wilcoxon(a, b) -> dict:
    """Two-sided Wilcoxon signed-rank test of paired samples ``a`` vs ``b`` (same images).

    Pairs with a non-finite value are dropped; zero differences are dropped (Wilcoxon's
    convention). With no non-zero difference the samples are identical: statistic 0,
    p-value 1.

    Parameters
    ----------
    a : numpy.ndarray
        One value per image (anything ``numpy.asarray`` accepts; flattened).
    b : numpy.ndarray
        The paired values, same length as ``a``.

    Returns
    -------
    dict
        ``{"statistic", "p_value", "n", "n_nonzero", "median_diff", "mean_diff"}``: SciPy's
        statistic and two-sided p-value, the number of finite pairs, of non-zero differences,
        and the median and mean of ``a - b`` over the finite pairs (NaN without any).

    Raises
    ------
    lotslib.errors.ParameterError
        ``a`` and ``b`` differ in length.
    """
    from scipy.stats import wilcoxon

    a = np.asarray(a, dtype=np.float64).ravel()
    b = np.asarray(b, dtype=np.float64).ravel()
    if a.shape != b.shape:
        raise ParameterError(f"paired test needs samples of equal length; got {a.size} and {b.size}.")
    ok = np.isfinite(a) & np.isfinite(b)
    d = a[ok] - b[ok]
    nz = int(np.count_nonzero(d))
    out = {"n": int(ok.sum()), "n_nonzero": nz, "median_diff": float(np.median(d)) if d.size else math.nan,
           "mean_diff": float(d.mean()) if d.size else math.nan}
    if nz == 0:
        return {**out, "statistic": 0.0, "p_value": 1.0}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # small-sample notes from SciPy
        res = wilcoxon(d, zero_method="wilcox", alternative="two-sided")
    return {**out, "statistic": float(res.statistic), "p_value": float(res.pvalue)}


def paired_mde(diffs, power: float = 0.8, alpha: float = 0.05) -> float:
    """The smallest mean paired difference a two-sided test over these pairs detects with ``power``.

    For the paired t-test with ``n`` pairs whose differences have standard deviation ``s``:
    ``MDE = (t_{n-1, 1-alpha/2} + t_{n-1, power}) * s / sqrt(n)`` (the usual approximation:
    the noncentral t replaced by a shifted central t). The Wilcoxon signed-rank test the
    tables use needs at most about 1/0.864 of the pairs for the same power (its asymptotic
    relative efficiency to the t-test is >= 0.864 for every continuous distribution,
    0.955 for normal ones), so its detectable difference is up to 8 % larger.

    Parameters
    ----------
    diffs : numpy.ndarray
        The paired differences (anything ``numpy.asarray`` accepts; non-finite values are
        dropped), in the unit of the result.
    power : float, optional
        The wanted power, in (0, 1) (default 0.8).
    alpha : float, optional
        The two-sided significance level, in (0, 1) (default 0.05).

    Returns
    -------
    float
        The detectable mean difference (>= 0, in the unit of ``diffs``); NaN with fewer than
        two finite differences.

    Raises
    ------
    lotslib.errors.ParameterError
        ``power`` or ``alpha`` is not in (0, 1).
    """
    from scipy.stats import t

    for name, v in (("power", power), ("alpha", alpha)):
        if not (isinstance(v, (int, float)) and 0 < v < 1):
            raise ParameterError(f"{name}={v!r}: must be a number in (0, 1).")
    d = _clean(diffs)
    n = d.size
    if n < 2:
        return math.nan
    return float((t.ppf(1 - alpha / 2, n - 1) + t.ppf(power, n - 1)) * d.std(ddof=1) / math.sqrt(n))


def tost(diffs, margin: float, alpha: float = 0.05) -> dict:
    """Two one-sided tests (TOST, Schuirmann 1987) that the mean paired difference lies
    within ``(-margin, +margin)``.

    With ``n`` finite differences ``d_i`` (candidate minus reference, one per image), mean
    ``m``, standard deviation ``s`` (``ddof=1``), ``se = s / sqrt(n)`` and ``T`` Student's t
    distribution with ``n - 1`` degrees of freedom, the two null hypotheses and their p-values:

    * ``H0_lower: mean <= -margin``:  ``p_lower = 1 - T.cdf((m + margin) / se)``
    * ``H0_upper: mean >= +margin``:  ``p_upper = T.cdf((m - margin) / se)``

    The difference is *equivalent* within the margin when both are rejected at level
    ``alpha``: ``max(p_lower, p_upper) < alpha``. This is the same decision as "the
    ``1 - 2 alpha`` (90 %) interval ``m -/+ T.ppf(1 - alpha) * se`` lies strictly inside
    ``(-margin, margin)``", and the test's size is ``alpha`` (not ``2 alpha``). Unlike "the 95 %
    interval contains 0", a noisier candidate has a *wider* interval and so is *less*
    often called equivalent.

    Why t-based and not Wilcoxon-based: the book's tables report *means* over images
    (Average Drop, the share of images in Average Increase, mean AUCs), so the margin bounds a
    mean difference, which is what the paired t statistic is about; a signed-rank TOST bounds
    the pseudo-median instead, which differs from the mean for the skewed differences of
    Average Drop (a clipped ratio) and is undefined in practice for Average Increase, whose
    per-image differences are -100, 0 or +100 with many ties. The t-based test relies on the
    mean being close to normal; with 20 images and skewed differences its size is approximate.

    Degenerate cases: fewer than two finite differences give NaN p-values and "not shown
    equivalent"; differences that are all equal (``se = 0``) give p-values 0 or 1, equivalent
    exactly when ``|m| < margin``.

    Parameters
    ----------
    diffs : numpy.ndarray
        The paired differences (anything ``numpy.asarray`` accepts; flattened, non-finite
        values dropped), in the unit of ``margin``.
    margin : float
        The equivalence margin (> 0), fixed before the data are seen.
    alpha : float, optional
        The level of each one-sided test, in (0, 0.5) (default 0.05).

    Returns
    -------
    dict
        ``decision`` ("equivalent" or "not shown equivalent"), ``equivalent`` (bool), ``n``,
        ``mean_diff``, ``p_lower``, ``p_upper``, ``p_value`` (their maximum),
        ``ci_low``/``ci_high`` (the ``1 - 2 alpha`` interval of the mean difference),
        ``margin`` and ``alpha``.

    Raises
    ------
    lotslib.errors.ParameterError
        ``margin`` is not positive or ``alpha`` is not in (0, 0.5).
    """
    from scipy.stats import t

    if not (isinstance(margin, (int, float)) and math.isfinite(margin) and margin > 0):
        raise ParameterError(f"margin={margin!r}: must be a positive number (in the unit of the differences).")
    if not (isinstance(alpha, (int, float)) and 0 < alpha < 0.5):
        raise ParameterError(f"alpha={alpha!r}: must be in (0, 0.5), e.g. 0.05.")
    d = _clean(diffs)
    n = int(d.size)
    out = {"n": n, "margin": float(margin), "alpha": float(alpha)}
    if n < 2:
        m = float(d.mean()) if n else math.nan
        return {**out, "decision": "not shown equivalent", "equivalent": False, "mean_diff": m,
                "p_lower": math.nan, "p_upper": math.nan, "p_value": math.nan, "ci_low": math.nan, "ci_high": math.nan}
    m = float(d.mean())
    se = float(d.std(ddof=1) / math.sqrt(n))
    if se == 0:
        p_lower = 0.0 if m > -margin else 1.0
        p_upper = 0.0 if m < margin else 1.0
        lo = hi = m
    else:
        p_lower = float(t.sf((m + margin) / se, n - 1))
        p_upper = float(t.cdf((m - margin) / se, n - 1))
        half = float(t.ppf(1 - alpha, n - 1)) * se
        lo, hi = m - half, m + half
    p = max(p_lower, p_upper)
    eq = bool(p < alpha)
    return {**out, "decision": "equivalent" if eq else "not shown equivalent", "equivalent": eq, "mean_diff": m,
            "p_lower": p_lower, "p_upper": p_upper, "p_value": p, "ci_low": float(lo), "ci_high": float(hi)}
