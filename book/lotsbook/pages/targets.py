"""Chapter 3, "Choice of the LOTS target" (``notebooks/03_targets.py``): the tests of the
zero target against the class and mean targets, the N/A rows, Table 5.1 and Figure 5.1 with
their captions, and the exercises' tables and sentences.
"""
from __future__ import annotations

import pandas as pd
import torch

from ..plots import methods_figure, note, reference_wide, short_class, show, summary_table, table
from ..results import top1

__all__ = ["targets_summary", "show_targets_summary", "na_rows", "na_summary", "single_reference", "target_sentence",
           "first_with_targets", "target_tests", "target_maps", "show_table_5_1", "show_na_rows",
           "show_thesis_5_1", "show_target_tests", "show_figure_5_1"]


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


def _generic_reason(reason: str) -> str:
    """A N/A reason without its class (number and name), so that rows sharing a cause share a line."""
    import re

    return re.sub(r"class \d+(?: \((?:[^()]|\([^()]*\))*\))?", "its class", str(reason))


def na_summary(df: pd.DataFrame) -> pd.DataFrame:
    """The N/A rows of Table 5.1 collapsed: one line per reason (its class left out) with a count.

    ``df`` holds the benchmark rows (:func:`lotslib.benchmark.run`), N/A ones among them. The
    result is a DataFrame with the index ``reason``; columns ``rows`` (how many N/A rows give
    it), ``images`` (distinct images), ``classes`` (distinct classes, from the rows' labels or
    top-1) and ``methods`` (their names); empty when no row is N/A.
    """
    from lotslib.benchmark import is_na

    cols = ["rows", "images", "classes", "methods"]
    if "na_reason" not in df.columns:
        return pd.DataFrame(columns=cols, index=pd.Index([], name="reason"))
    na = df[is_na(df)]
    if not len(na):
        return pd.DataFrame(columns=cols, index=pd.Index([], name="reason"))
    cls = na["label"].where(na["label"] >= 0, na["top1"]) if {"label", "top1"} <= set(na.columns) else na["image_id"]
    g = na.assign(reason=na["na_reason"].map(_generic_reason), cls=cls).groupby("reason", sort=False)
    return pd.DataFrame({"rows": g.size(), "images": g["image_id"].nunique(), "classes": g["cls"].nunique(),
                         "methods": g["method_name"].agg(lambda v: ", ".join(dict.fromkeys(v)))})


def single_reference(df: pd.DataFrame) -> int:
    """How many images have a mean target built from one reference image only: for them the
    class target (one other image of the class, drawn) and the mean target (the mean over
    the class's other images) are the same image's features, and their rows coincide.

    Parameters
    ----------
    df : pandas.DataFrame
        Benchmark rows with ``lots_mean`` rows and their ``target_reference`` (``"mean of k"``).

    Returns
    -------
    int
    """
    if "target_reference" not in df.columns:
        return 0
    mean = df[(df["method"] == "lots_mean")]
    return int((mean["target_reference"] == "mean of 1").sum())


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
        (the metric's mean in %, both over the same ``n`` images: those with the other target),
        ``p-value (Wilcoxon)`` in [0,1], ``n`` (pairs),
        ``p (Holm)`` (Holm-corrected across the comparisons with at least 5 pairs) and
        ``verdict`` (:func:`lotslib.verdicts.verdict_word`, "zero target better/worse", "no
        significant difference" or "too few images").
    """
    from lotslib.benchmark import LOTS_VARIANTS, METRICS, TABLE_TARGETS, table_rows
    from lotslib.stats import paired_wilcoxon
    from lotslib.verdicts import holm_verdicts

    rows = table_rows(TABLE_TARGETS)
    tests = []
    for variant in LOTS_VARIANTS:
        a = df[df["method"] == "lots"].set_index("image_id")
        b = df[df["method"] == variant].set_index("image_id")
        for metric in METRICS.values():
            col, scale = metric.col, metric.scale
            za, zb = a[col], b[col].reindex(a.index)
            ok = za.notna() & zb.notna()  # the same images under both targets: the means are paired too
            t = paired_wilcoxon(za, zb)
            tests.append({"comparison": f"zero vs {rows[variant].split()[0].lower()}", "metric": metric.label,
                          "zero": za[ok].mean() * scale, "other": zb[ok].mean() * scale,
                          "p_value": t["p_value"], "n": t["n"], "mean_diff": t["mean_diff"],
                          "higher_is_better": metric.higher_is_better})
    out = holm_verdicts(pd.DataFrame(tests))
    out["verdict"] = out["verdict"].str.replace("LOTS", "zero target")
    out = out.rename(columns={"p_value": "p-value (Wilcoxon)", "p_holm": "p (Holm)"})
    return out.drop(columns=["mean_diff", "higher_is_better"]).set_index(["comparison", "metric"])


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


def show_table_5_1(ctx, net, df: pd.DataFrame) -> None:
    """Show Table 5.1 regenerated (LOTS with the zero, class and mean target; mean and 95 %
    bootstrap interval in %, :func:`lotslib.benchmark.table_5_1`), beside the thesis's
    ResNet-50 values when ``net`` is ResNet-50, with its caption (how many class/mean rows
    are N/A, :func:`na_rows`).

    Parameters
    ----------
    ctx : lotsbook.chapter.ChapterContext
        The chapter (its images and reference set).
    net : lotslib.models.ModelWrapper
        The backbone.
    df : pandas.DataFrame
        Benchmark rows of ``lots``, ``lots_class`` and ``lots_mean`` on ``net``.
    """
    from lotslib.benchmark import TABLE_TARGETS, table_5_1

    from lotslib.benchmark import is_na

    na = na_rows(df)
    others = int((df["method"] != "lots").sum())
    have = df[(df["method"] != "lots") & ~is_na(df)]
    n_with = int(have["image_id"].nunique())
    summary_table(
        table_5_1(df),
        f"Table 5.1 (regenerated): LOTS with the zero, class and mean target on {net.name}, {len(ctx.images)} images, "
        f"mean and 95% bootstrap interval in %; n is the number of images of each row. The thesis's ResNet-50 values "
        f"are shown where its text gives them (the class-target row survives only as its Coherency). "
        f"{len(na)} of the {others} class/mean rows are N/A (no other reference image of the class in "
        f"{ctx.reference_set().description}) and are left out of the means: the class and mean rows rest on "
        f"{n_with} image{'s' if n_with != 1 else ''}, the zero row on every image, so the rows' means are not over "
        f"the same images (the paired comparison below is). " + target_sentence(df),
        thesis=reference_wide(TABLE_TARGETS) if net.name == "resnet50" else None,
    )


def target_sentence(df: pd.DataFrame) -> str:
    """What the class and mean rows of ``df`` rest on, as a sentence: their n, whether the two
    coincide (one reference image: :func:`single_reference`) and, with fewer than
    :data:`lotslib.verdicts.MIN_PAIRS` images, that no verdict is drawn from them."""
    from lotslib.benchmark import is_na
    from lotslib.verdicts import too_few

    have = df[(df["method"] != "lots") & ~is_na(df)]
    n = int(have["image_id"].nunique())
    if not n:
        return "No image has a class or mean target here, so the zero target is compared with nothing."
    one = single_reference(df)
    text = ""
    if one:
        text += (f"{'The' if one == n else f'For {one} of the {n}'} image{'s' if one != 1 else ''} with a target"
                 f"{'' if one == n else ','} the class has a single other reference image, so the class target and "
                 f"the mean target are the features of that same image: the class and mean rows coincide there. ")
    few = too_few(n)
    if few:
        text += (f"With {n} image{'s' if n != 1 else ''} behind the class and mean rows ({few}), no verdict is drawn "
                 f"on which target is best, and no row is bold from them.")
    return text


def show_na_rows(df: pd.DataFrame) -> None:
    """Show the N/A rows of Table 5.1 collapsed into one line per reason with a count
    (:func:`na_summary`), or a sentence that there are none."""
    na = na_summary(df)
    if len(na):
        total = int(na["rows"].sum())
        table(na, f"The {total} N/A rows of Table 5.1, one line per reason: a class with no other reference image has "
                  f"no class or mean target (the thesis's training set always had one).",
              fmt={"rows": "{:d}", "images": "{:d}", "classes": "{:d}"})
    else:
        note("No row of Table 5.1 is N/A: every image's class has another reference image.")


def show_thesis_5_1(net) -> None:
    """Show the thesis's Table 5.1 (ResNet-50, in %) on its own, unless ``net`` is ResNet-50,
    whose values Table 5.1 already shows beside ours (then a sentence says so)."""
    from lotslib.benchmark import TABLE_TARGETS

    if net.name != "resnet50":
        table(reference_wide(TABLE_TARGETS),
              "Thesis values of Table 5.1 (Weber 2023; ResNet-50, ImageNet 1k v2 weights, 1000 validation images), "
              "in %. Missing cells were not recoverable from the thesis's text.", fmt="{:.2f}")
    else:
        note("The thesis's ResNet-50 values are beside ours in Table 5.1 above.")


def show_target_tests(df: pd.DataFrame) -> None:
    """Show the paired Wilcoxon tests of the zero target against the class and mean targets
    (:func:`target_tests`; means in %, p-values in [0,1]) with their caption."""
    from lotslib.verdicts import family_note, format_p

    tests = target_tests(df)
    table(tests,
          "Paired comparison of the zero target with the class and mean targets on the same images (the zero and "
          "other means are over the n images that have the other target; two-sided Wilcoxon signed-rank test "
          f"over images; {family_note(tests['n'])}; with this few images only large differences can reach p < 0.05)",
          fmt={"zero": "{:.2f}", "other": "{:.2f}", "p-value (Wilcoxon)": lambda p: format_p(p, cell=True),
               "p (Holm)": lambda p: format_p(p, cell=True), "n": "{:d}"})


def targets_summary(df: pd.DataFrame) -> str:
    """What the chapter's table and tests show, from the same rows: on how many images each
    target exists, and the paired tests' outcome (:func:`target_tests`,
    :func:`lotsbook.pages.benchmark.tests_summary`).

    Parameters
    ----------
    df : pandas.DataFrame
        Benchmark rows of ``lots``, ``lots_class`` and ``lots_mean`` on one model (``na_reason``
        "" where the row has a value).

    Returns
    -------
    str
        The images with a zero, class and mean target, then per comparison n and either "too few
        images" (below :data:`lotslib.verdicts.MIN_PAIRS`) or the verdicts per metric.
    """
    from lotslib.benchmark import LOTS_VARIANTS, is_na

    from .benchmark import tests_summary

    n_zero = int((df["method"] == "lots").sum())
    have = {v: int(((df["method"] == v) & ~is_na(df)).sum()) for v in LOTS_VARIANTS}
    counts = " and ".join(f"the {v.split('_')[-1]} target on {k}" for v, k in have.items())
    return (f"The zero target exists for every image ({n_zero}), {counts}: the others have no other reference "
            f"image of their class (the N/A rows above). Paired tests of the zero target against the others: "
            + " ".join(tests_summary(target_tests(df), against="other target", subject="zero target")))


def show_targets_summary(df: pd.DataFrame) -> None:
    """Show :func:`targets_summary` of the chapter's benchmark rows ``df``."""
    note(targets_summary(df))


def show_figure_5_1(ctx, net, df: pd.DataFrame) -> None:
    """Show thesis Figure 5.1: the first image with a class and mean target (:func:`first_with_targets`)
    and its LOTS heat-maps with the zero, class and mean target (:func:`target_maps`), with its
    caption.

    Parameters
    ----------
    ctx : lotsbook.chapter.ChapterContext
        The chapter (images, reference set, cached LOTS maps, ``iters``, ``alpha``, ``filter_size``).
    net : lotslib.models.ModelWrapper
        The backbone.
    df : pandas.DataFrame
        The benchmark rows of Table 5.1.
    """
    ex = first_with_targets(df[df["method"] != "lots"], ctx.images)
    x = ex.batch(net).to(ctx.device)
    cls, p0 = top1(net, x)
    maps, notes = target_maps(net, ctx.reference_set(), ex, x, cls, ctx.lots_maps)
    name = short_class(net.categories[int(cls)])
    show(
        methods_figure(x, maps, notes, first_title=f"original: {name} {100 * float(p0):.0f}%", ncols=4),
        "fig-5-1",
        f"**Regenerates thesis Figure 5.1.** (a) The image ({ex[0].id}, the first with a class and mean target); then "
        f"the LOTS heat-maps on {net.name} with the {', '.join(k.split()[0].lower() for k in maps)} target "
        f"(at most {ctx.iters} iterations, α = {ctx.alpha:.4g}, {ctx.filter_size} × {ctx.filter_size} blur"
        + ("" if len(maps) == 3 else "; no image here has a class or mean target") + "). "
        + ("The class and mean targets are both the features of the one other reference image of the class, so "
           "their maps are the same. " if _one_reference(df, ex.ids[0]) else "")
        + "The thesis shows a sea lion on ResNet-50.",
    )


def _one_reference(df: pd.DataFrame, image_id: str) -> bool:
    """Whether ``image_id``'s mean target rests on one reference image (then it is its class target)."""
    return single_reference(df[df["image_id"] == image_id]) > 0


