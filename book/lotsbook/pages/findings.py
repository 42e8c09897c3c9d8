"""The findings page (``notebooks/findings.py``): what became of each thesis claim about LOTS,
on the recorded study and on this build's benchmark rows.

The claims, the comparisons and the verdicts are :mod:`lotsbook.findings`; this module shows
them: the rules, one table per data set with its caption, and the sentences generated from it.
"""
from __future__ import annotations

import pandas as pd

from ..plots import note, table

__all__ = ["rules_note", "study_label", "build_label", "show_findings", "show_recorded_findings",
           "show_build_findings"]


def rules_note() -> None:
    """Show how a verdict is drawn, with the thresholds of :mod:`lotslib.verdicts`."""
    from lotslib.verdicts import ALPHA, MIN_PAIRS

    from ..findings import MIXED, NOT_REPRODUCED, NOT_TESTABLE, REPRODUCED

    note(f"**How a claim is judged.** Each comparison is a two-sided paired Wilcoxon signed-rank test over the same "
         f"images; the p-values of all the claims' comparisons on one data set are Holm-corrected together, and a "
         f"comparison counts as significant at a corrected p below {ALPHA:g}. No comparison gets a verdict from fewer "
         f"than {MIN_PAIRS} paired images. A claim is *{REPRODUCED}* when every comparison with enough images is "
         f"significant in the claimed direction, *{NOT_REPRODUCED}* when none is (ties, or significant the other way), "
         f"*{MIXED}* in between, and *{NOT_TESTABLE}* when the data cannot answer it (the reason is given). The "
         f"effect is the mean of LOTS minus the other method over the paired images, with a 95% percentile "
         f"bootstrap interval.")


def study_label(rows: pd.DataFrame, meta: dict) -> str:
    """The recorded study in words: its images (ImageNet *training* images) and backbones.

    Parameters
    ----------
    rows : pandas.DataFrame
        ``results/sample_study.csv``.
    meta : dict
        Its sidecar (``results/sample_study.json``).

    Returns
    -------
    str
    """
    n = int(rows["image_id"].nunique())
    lots = meta.get("params", {}).get("lots", {})
    sched = (f"; LOTS: the {meta['schedule']} schedule, at most {lots.get('iters')} iterations"
             if meta.get("schedule") else "")
    return (f"the recorded study ({n} ImageNet training images, {meta.get('images', 'a labelled folder')}; "
            f"{', '.join(dict.fromkeys(rows['model']))}{sched})")


def build_label(ctx, rows: pd.DataFrame) -> str:
    """This build's benchmark rows in words: how many images, from which source, which backbones."""
    n = int(rows["image_id"].nunique())
    return f"this build ({n} images of the {ctx.image_source} source; {', '.join(dict.fromkeys(rows['model']))})"


def show_findings(rows: pd.DataFrame, label: str, caption: str) -> pd.DataFrame:
    """Show the findings (:func:`lotsbook.findings.findings`) of one data set: the table and its sentences.

    Parameters
    ----------
    rows : pandas.DataFrame
        Tidy per-image results (the benchmark's rows).
    label : str
        The data set in words (it opens every evidence).
    caption : str
        The table's caption, before the generated count of claims.

    Returns
    -------
    pandas.DataFrame
        The findings table.
    """
    from ..findings import findings, findings_text

    f = findings(rows, label)
    shown = f[["claim", "source", "thesis", "verdict", "evidence"]].rename(
        columns={"claim": "claim (the book's words)", "source": "thesis", "thesis": "the thesis's own numbers"})
    table(shown, f"{caption} One row per claim; the evidence is generated from {label}.")
    note(findings_text(f, label))
    return f


def show_recorded_findings() -> pd.DataFrame | None:
    """Show the findings on the recorded study chapter 4 leads with
    (:func:`lotsbook.pages.benchmark.recorded_headline`: the protocol study where recorded),
    or how to record it."""
    from .benchmark import recorded_headline

    stem, rows, meta = recorded_headline()
    if rows is None:
        note("No recorded study in results/: run `python experiments/sample_study.py --schedule protocol "
             "--out results/sample_study_protocol.csv` to record it.")
        return None
    label = study_label(rows, meta)
    return show_findings(rows, label, f"Findings on the recorded study (`results/{stem}.csv`). The images are "
                                      "ImageNet *training* images: the network has seen them, so its confidence on "
                                      "them is optimistic.")


def show_build_findings(ctx, rows: pd.DataFrame) -> pd.DataFrame:
    """Show the findings on this build's benchmark rows (chapter 4's Table 5.2 rows and chapter 3's target rows)."""
    return show_findings(rows, build_label(ctx, rows),
                         f"Findings on this build, LOTS at most {ctx.iters} iterations, {ctx.steps} "
                         f"insertion/deletion steps.")
