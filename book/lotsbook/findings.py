"""What became of each claim the thesis makes about LOTS, judged on one tidy table of per-image results.

A claim (:class:`Claim`) is the thesis's statement in the book's words, the section or table
that makes it, and what it expects of LOTS: *better* or *worse* than each method it is
compared with, on one or more per-image columns. :func:`claim_comparisons` runs every
comparison of every claim on one data set -- LOTS against **every** CAM method (never a best
CAM picked afterwards), or the zero target against the class and mean targets -- as paired
Wilcoxon tests over images, Holm-corrected **together** across all the claims' comparisons
(:func:`lotslib.verdicts.holm_verdicts`; one family per data set). :func:`findings` turns them
into one row per claim with a verdict:

* **reproduced** -- every comparison with enough images is significant in the claimed direction;
* **not reproduced** -- none is (ties, or significant the other way);
* **mixed** -- some are, some are not;
* **not testable here** -- the table lacks the methods, every comparison has fewer than
  :data:`lotslib.verdicts.MIN_PAIRS` paired images (:func:`lotslib.verdicts.too_few`), or the
  claim is about something a table of scores does not hold (how maps look, unseen classes).

The input is the benchmark's row format (:func:`lotslib.benchmark.run`, ``results/sample_study.csv``):
one row per (``model``, ``method``, ``image_id``) with the metric columns ``avg_drop``,
``increase`` (0 or 1), ``coherency``, ``insertion``, ``deletion`` (in %) and ``ms_per_map``.
"""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from lotslib.verdicts import BETTER, NO_DIFFERENCE, TOO_FEW, WORSE, family_note, format_p, holm_verdicts, too_few

__all__ = [
    "REPRODUCED",
    "NOT_REPRODUCED",
    "MIXED",
    "NOT_TESTABLE",
    "VERDICTS",
    "TIME",
    "Claim",
    "CLAIMS",
    "claim_comparisons",
    "findings",
    "thesis_support",
    "findings_text",
]

REPRODUCED, NOT_REPRODUCED, MIXED, NOT_TESTABLE = "reproduced", "not reproduced", "mixed", "not testable here"
VERDICTS = (REPRODUCED, NOT_REPRODUCED, MIXED, NOT_TESTABLE)  #: the verdicts a claim can get
TIME = "ms_per_map"  #: the time column (Table 5.3), lower is better, in milliseconds


@dataclass(frozen=True)
class Claim:
    """One claim of the thesis about LOTS.

    Attributes
    ----------
    key : str
        Identifier (the index of :func:`findings`).
    text : str
        The claim, in the book's words.
    source : str
        Where the thesis makes it (section, table, figure).
    page : str
        The book page that regenerates its evidence (a notebook stem, e.g. ``"04_benchmark"``).
    expected : str or None
        :data:`lotslib.verdicts.BETTER` or :data:`~lotslib.verdicts.WORSE`: what the claim says
        of LOTS against each compared method; None for a claim no table of scores can test.
    metrics : tuple of str
        The metric keys (:data:`lotslib.metric_registry.METRICS`) or :data:`TIME` it is judged on.
    against : str
        ``"cams"``: LOTS (zero target) against every CAM method that is not a baseline;
        ``"targets"``: the zero target (method ``lots``) against ``lots_mean`` and ``lots_class``;
        ``""`` for an untestable claim.
    table : str
        The thesis table its own numbers are in (:func:`thesis_support`), or ``""``.
    untestable : str
        Why a per-image table of scores cannot test it (only where ``expected`` is None).
    """

    key: str
    text: str
    source: str
    page: str
    expected: str | None
    metrics: tuple = ()
    against: str = ""
    table: str = ""
    untestable: str = ""


#: the claims, in the order of the thesis (section 5.1.1, 5.1.2, Table 5.3, 5.2, 6.3)
CLAIMS = (
    Claim("target", "The zero target gives LOTS better maps than the mean and the class target, on every one of "
                    "the five metrics.", "§5.1.1, Table 5.1, §7", "03_targets", BETTER,
          ("avg_drop", "avg_increase", "coherency", "insertion", "deletion"), "targets", "5.1"),
    Claim("avg_drop", "LOTS keeps more of the network's confidence than the CAM methods when only its explanation "
                      "map is shown: a lower Average Drop than each of them.", "§5.1.2, Table 5.2 (said of ResNet-50)",
          "04_benchmark", BETTER, ("avg_drop",), "cams", "5.2"),
    Claim("avg_increase", "LOTS raises the network's confidence on fewer images than the CAM methods: a lower "
                          "Average Increase than each of them.", "§5.1.2, Table 5.2", "04_benchmark", WORSE,
          ("avg_increase",), "cams", "5.2"),
    Claim("coherency", "LOTS's map changes less than the CAM maps when it is computed again on its own explanation "
                       "map: a higher Coherency than each of them.", "§5.1.2, Table 5.2 (said of AlexNet), §6.1",
          "04_benchmark", BETTER, ("coherency",), "cams", "5.2"),
    Claim("insertion", "Because its map keeps every feature rather than the top-1 class's, LOTS restores the "
                       "prediction more slowly than the CAM methods: a lower Insertion than each of them.",
          "§5.1.2, Table 5.2", "04_benchmark", WORSE, ("insertion",), "cams", "5.2"),
    Claim("deletion", "For the same reason, deleting LOTS's most important pixels first lowers the prediction "
                      "more slowly than the CAM maps: a higher Deletion than each of them.", "§5.1.2, Table 5.2",
          "04_benchmark", WORSE, ("deletion",), "cams", "5.2"),
    Claim("time", "LOTS is the slowest method: it takes more milliseconds per map than each CAM method.",
          "§5.1.2, Table 5.3", "04_benchmark", WORSE, (TIME,), "cams", "5.3"),
    Claim("unseen", "LOTS can show an object of a class the network was never trained on (black olives), which "
                    "the CAM methods miss.", "§5.2.2, Figure 5.7, §7", "06_unseen", None,
          untestable="one qualitative example in the thesis; testing it needs photos of classes outside ImageNet "
                     "with the object's place annotated, which a table of per-image scores does not hold (chapter 6 "
                     "shows the maps)"),
    Claim("character", "LOTS's maps are finer than CAM maps: pixel-level detail, many small activations around "
                       "the object, features of several classes in one map.", "§5.2.1, Figures 5.3–5.5, §6.3",
          "05_qualitative", None,
          untestable="a statement about how the maps look; a table of scores holds no maps (chapter 5 shows them "
                     "side by side, chapter 2 measures how concentrated they are)"),
)


def _metric(key: str) -> tuple[str, float, bool, str, str]:
    """``(column, scale, higher_is_better, unit, name)`` of a metric key or :data:`TIME`."""
    if key == TIME:
        return TIME, 1.0, False, "ms", "time per map"
    from lotslib.metric_registry import METRICS

    m = METRICS[key]
    return m.col, m.scale, m.higher_is_better, "points", m.name


def _others(claim: Claim, methods: set) -> list[str]:
    """The methods LOTS is compared with under ``claim`` that ``methods`` holds, in registry order."""
    if claim.against == "targets":
        return [m for m in ("lots_mean", "lots_class") if m in methods]
    from lotslib.method_registry import CAM_METHODS, get_method

    return [m for m in CAM_METHODS if not get_method(m).baseline and m in methods]


def claim_comparisons(rows: pd.DataFrame, claims=CLAIMS) -> pd.DataFrame:
    """Every comparison of every testable claim on one data set, Holm-corrected together.

    Parameters
    ----------
    rows : pandas.DataFrame
        Tidy per-image results: ``model``, ``method`` (``lots`` is LOTS with the zero target),
        ``image_id`` and the claims' columns (``avg_drop``, ``increase``, ``coherency``,
        ``insertion``, ``deletion`` in %, ``ms_per_map``); NaN where a value is missing. A
        (model, method, image) given twice counts once (its first row).
    claims : Sequence of Claim
        The claims (default :data:`CLAIMS`); those with ``expected`` None are skipped.

    Returns
    -------
    pandas.DataFrame
        One row per (``claim``, ``model``, ``metric``, ``other``): ``n`` (images with both
        values finite), ``mean_diff`` (mean of LOTS minus the other method, in points, or ms
        for time), ``ci_low``/``ci_high`` (95 % percentile bootstrap interval of that mean,
        :func:`lotslib.stats.mean_ci`), ``p_value`` (uncorrected two-sided Wilcoxon signed-rank,
        :func:`lotslib.stats.paired_wilcoxon`), ``higher_is_better``, ``unit``, ``p_holm``
        (Holm across all the rows with at least :data:`lotslib.verdicts.MIN_PAIRS` images) and
        ``verdict`` (:func:`lotslib.verdicts.verdict_word`). Empty (with these columns) when no
        claim is testable on ``rows``.
    """
    from lotslib.stats import mean_ci, paired_wilcoxon

    out = []
    for model in dict.fromkeys(rows["model"]):
        dm = rows[rows["model"] == model]
        methods = set(dm["method"])
        if "lots" not in methods:
            continue
        for claim in claims:
            others = _others(claim, methods) if claim.expected else []
            for key in claim.metrics if others else ():
                col, scale, higher, unit, _ = _metric(key)
                if col not in dm.columns:
                    continue
                wide = dm.pivot_table(index="image_id", columns="method", values=col, aggfunc="first",
                                      dropna=False).reindex(columns=["lots", *others]).astype(float) * scale
                for other in others:
                    t = paired_wilcoxon(wide["lots"], wide[other])
                    ci = mean_ci(wide["lots"] - wide[other])
                    out.append({"claim": claim.key, "model": model, "metric": key, "other": other, "n": t["n"],
                                "mean_diff": t["mean_diff"], "ci_low": ci["ci_low"], "ci_high": ci["ci_high"],
                                "p_value": t["p_value"], "higher_is_better": higher, "unit": unit})
    cols = ["claim", "model", "metric", "other", "n", "mean_diff", "ci_low", "ci_high", "p_value",
            "higher_is_better", "unit"]
    return holm_verdicts(pd.DataFrame(out, columns=cols))


def thesis_support(claim: Claim) -> str:
    """What the thesis's own table says on the claim: in how many of its comparisons LOTS lies on
    the claimed side, per backbone (counted over the metrics and targets for Table 5.1).

    Parameters
    ----------
    claim : Claim
        A testable claim (``table`` set).

    Returns
    -------
    str
        E.g. ``"Table 5.2: LOTS on the claimed side of 0 of 5 on alexnet; 5 of 5 on resnet50; 0 of 5
        on densenet121 (CAM methods)"``; ``""`` for a claim without a table.
    """
    if not claim.table:
        return ""
    from lotslib.benchmark import reference_tables

    ref = reference_tables()
    ref = ref[(ref["table"] == claim.table) & ref["metric"].isin(claim.metrics)]
    parts = []
    for model, gm in ref.groupby("model", sort=False):
        hits = total = 0
        for key, g in gm.groupby("metric", sort=False):
            vals = g.set_index("method")["value"]
            if "lots" not in vals.index:
                continue
            higher = _metric(key)[2]
            for o in _others(claim, set(vals.index)):
                total += 1
                hits += bool(vals["lots"] != vals[o]
                             and ((vals["lots"] > vals[o]) == higher) == (claim.expected == BETTER))
        if total:
            parts.append(f"{hits} of {total} on {model}")
    what = "metric–target pairs" if claim.against == "targets" else "CAM methods"
    return (f"Table {claim.table}: LOTS on the claimed side of " + "; ".join(parts) + f" ({what})"
            if parts else f"Table {claim.table} has no LOTS value for it")


def _effect(r) -> str:
    """One comparison as ``"Grad-CAM: +6.0 points [3.1, 8.9], p (Holm) = 0.002"``."""
    from lotslib.method_registry import method_name

    if r["verdict"] == TOO_FEW:
        return f"{method_name(r['other'])}: {too_few(r['n'])}"
    return (f"{method_name(r['other'])}: {r['mean_diff']:+.1f} {r['unit']} [{r['ci_low']:+.1f}, {r['ci_high']:+.1f}], "
            f"{format_p(r['p_holm'])}")


def _verdict(claim: Claim, comps: pd.DataFrame) -> tuple[str, str]:
    """The claim's verdict from its comparisons, and the reason when it is not testable."""
    if not claim.expected:
        return NOT_TESTABLE, claim.untestable
    if comps.empty:
        need = "LOTS and the mean or class target" if claim.against == "targets" else "LOTS and a CAM method"
        return NOT_TESTABLE, f"the table has no rows of {need} on the same images"
    judged = comps[comps["verdict"] != TOO_FEW]
    if judged.empty and not comps["n"].fillna(0).any():
        return NOT_TESTABLE, "no image has values of both LOTS and the methods it is compared with (their rows are N/A)"
    if judged.empty:
        return NOT_TESTABLE, f"{too_few(int(comps['n'].max()))} in every comparison"
    hits = int((judged["verdict"] == claim.expected).sum())
    return (REPRODUCED if hits == len(judged) else NOT_REPRODUCED if hits == 0 else MIXED), ""


def findings(rows: pd.DataFrame, label: str, claims=CLAIMS, comparisons: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per thesis claim: its verdict on this data set and the evidence behind it.

    Parameters
    ----------
    rows : pandas.DataFrame
        Tidy per-image results, as :func:`claim_comparisons` reads them.
    label : str
        The data set in words (e.g. ``"100 ImageNet training images"``); it opens each evidence.
    claims : Sequence of Claim
        The claims (default :data:`CLAIMS`).
    comparisons : pandas.DataFrame or None
        :func:`claim_comparisons` of ``rows`` if already computed (default None: computed).

    Returns
    -------
    pandas.DataFrame
        Index ``key`` (the claims' keys, in order); columns ``claim`` (text), ``source``
        (section/table of the thesis), ``thesis`` (:func:`thesis_support`), ``verdict`` (one of
        :data:`VERDICTS`), ``evidence`` (the data set, n, and per comparison LOTS minus the other
        method with its 95 % interval and Holm-corrected p; or why it is not testable), ``reason``
        (why it is not testable, else ``""``), ``tally``
        (``{verdict word: count}`` of its comparisons) and ``page`` (the book page with the
        evidence).
    """
    comps = claim_comparisons(rows, claims) if comparisons is None else comparisons
    family = family_note(comps["n"]) if len(comps) else "no comparison"
    out = []
    for claim in claims:
        c = comps[comps["claim"] == claim.key]
        verdict, why = _verdict(claim, c)
        if claim.expected and not c.empty:
            parts = []
            for (model, key), g in c.groupby(["model", "metric"], sort=False):
                n = g["n"].min(), g["n"].max()
                name = _metric(key)[4]
                parts.append(f"{model}{', ' + name if len(claim.metrics) > 1 else ''} "
                             f"(n = {n[0] if n[0] == n[1] else f'{n[0]}–{n[1]}'}): LOTS minus "
                             + "; ".join(_effect(r) for _, r in g.iterrows()))
            evidence = (f"{label}; paired Wilcoxon tests, {family}. " + " | ".join(parts)
                        + (f". Not testable: {why}" if why else ""))
        else:
            evidence = f"{label}: not testable here: {why}"
        tally = c["verdict"].value_counts().to_dict() if claim.expected else {}
        out.append({"key": claim.key, "claim": claim.text, "source": claim.source, "thesis": thesis_support(claim),
                    "verdict": verdict, "evidence": evidence, "reason": why, "tally": tally, "page": claim.page})
    return pd.DataFrame(out).set_index("key")


def findings_text(table: pd.DataFrame, label: str) -> str:
    """Markdown sentences on :func:`findings`'s table: how many claims got each verdict, and
    for each testable claim how its comparisons came out.

    Parameters
    ----------
    table : pandas.DataFrame
        :func:`findings`'s result.
    label : str
        The data set in words.

    Returns
    -------
    str
        One paragraph of counts, then one bullet per claim.
    """
    counts = table["verdict"].value_counts()
    head = (f"On {label}, of the {len(table)} claims " + ", ".join(
        f"{int(counts[v])} {'is' if counts[v] == 1 else 'are'} {v}" for v in VERDICTS if v in counts) + ".")
    words = {BETTER: "LOTS better", WORSE: "LOTS worse", NO_DIFFERENCE: "no significant difference",
             TOO_FEW: "too few images"}
    lines = []
    for key, r in table.iterrows():
        what = r["claim"] if "claim" in r else key
        if r["tally"] and set(r["tally"]) != {TOO_FEW}:
            how = ", ".join(f"{n} {words.get(w, w)}" for w, n in r["tally"].items())
            why = f" ({r['reason']})" if r["reason"] else ""
            lines.append(f"* **{what}** — {r['verdict']}: {sum(r['tally'].values())} comparisons, {how}{why}.")
        else:
            lines.append(f"* **{what}** — {r['verdict']}: {r['reason']}.")
    return head + "\n\n" + "\n".join(lines)
