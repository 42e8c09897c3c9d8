"""Chapter 8, "Sanity checks" (``notebooks/08_sanity.py``): maps of a randomisation cascade,
the similarity curves, the LOTS map of every cell of the location grid, and a Focus mosaic;
each check's figure, table, caption and verdict as one ``show_*`` call, and the exercises'
tables.

The checks themselves are in :mod:`lotslib.sanity` and :mod:`lotslib.focus`; this module
runs the chapter's studies of them and draws their results. Pixels ``(N,3,H,W)`` in [0,1] in; maps ``(N,H,W)`` in [0,1].
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import pandas as pd
import torch

from lotslib.focus import FocusResult
from lotslib.method_registry import ALL_METHODS
from lotslib.sanity import CascadeResult, randomisation_summary
from lotslib.visualize import overlay

from ..plots import BAR_BAND_IN, add_colorbars, map_panel, note, panel_grid, short_class, show, summary_table, table
from ..results import top1

__all__ = ["randomisation_figure", "similarity_figure", "location_figure", "focus_figure", "show_parameters",
           "show_randomisation", "show_similarity", "show_randomisation_verdict", "show_random_logit", "show_road",
           "show_baseline_verdict", "show_focus", "show_focus_verdict", "show_location", "show_lots_summary",
           "sanity_overview", "show_sanity_summary",
           "show_road_table", "CheckRows", "RECORDED_CHECKS", "recorded_checks", "show_recorded_checks"]


def location_figure(x: torch.Tensor, maps: torch.Tensor, rf_boxes: torch.Tensor, cell_boxes: torch.Tensor,
                    size: float = 1.05):
    """The LOTS map of every cell of the grid, each over the photo, with its two boxes.

    Parameters
    ----------
    x : torch.Tensor
        ``(1,3,H,W)`` the photo, pixels in [0,1].
    maps : torch.Tensor
        ``(gh, gw, H, W)`` maps in [0,1], one per cell.
    rf_boxes, cell_boxes : torch.Tensor
        ``(gh, gw, 4)`` boxes ``(top, left, bottom, right)``: the receptive fields (dashed white)
        and the cells' upsampled areas (solid black).
    size : float
        Inches per panel (default 1.05).

    Returns
    -------
    matplotlib.figure.Figure
        A ``gh x gw`` grid of panels in the cells' layout, the jet colour bar below.
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle


    gh, gw = maps.shape[:2]
    height = gh * size + BAR_BAND_IN
    fig, axes = plt.subplots(gh, gw, figsize=(gw * size, height), squeeze=False)
    for i in range(gh):
        for j in range(gw):
            ax = axes[i, j]
            ax.imshow(overlay(x[:1].cpu(), maps[i, j][None])[0].permute(1, 2, 0).numpy())
            for b, style in ((rf_boxes[i, j], dict(ec="white", ls="--")), (cell_boxes[i, j], dict(ec="black", ls="-"))):
                t, le, bo, r = [int(v) for v in b]
                ax.add_patch(Rectangle((le - 0.5, t - 0.5), r - le, bo - t, fill=False, lw=0.9, **style))
            ax.set_axis_off()
    fig.subplots_adjust(wspace=0.04, hspace=0.04, left=0, right=1, top=1, bottom=BAR_BAND_IN / height)
    add_colorbars(fig, ["jet"])
    return fig


def randomisation_figure(x: torch.Tensor, result: CascadeResult, image: int = 0, methods: Sequence[str] | None = None,
                         size: float = 1.45):
    """Adebayo et al.'s Figure 2 for one image: one row per method, one column per step.

    Parameters
    ----------
    x : torch.Tensor
        The ``(N,3,H,W)`` images of the test (pixels in [0,1]).
    result : lotslib.sanity.CascadeResult
        The test's result.
    image : int
        Which image of the batch (default 0).
    methods : Sequence of str or None
        The rows (default: every method of the test).
    size : float
        Inches per panel (default 1.45).

    Returns
    -------
    matplotlib.figure.Figure
        The maps laid over the image (jet, its colour bar below), titled with the step's deepest
        randomised unit.
    """

    methods = list(methods or result.maps[0])
    steps = sorted(result.maps)
    panels = []
    for m in methods:
        for s in steps:
            panels.append(map_panel(x[image : image + 1].cpu(), result.maps[s][m][image],
                                    result.labels[s] if m == methods[0] else ""))
    return panel_grid(panels, len(steps), size=size, row_labels=[ALL_METHODS[m].name for m in methods])


def similarity_figure(rows: pd.DataFrame):
    """The similarity curves of the test: Spearman and SSIM against the original map, per method.

    Parameters
    ----------
    rows : pandas.DataFrame
        The cascade's similarity rows (:attr:`lotslib.sanity.CascadeResult.rows`).

    Returns
    -------
    matplotlib.figure.Figure
        Two panels (Spearman's rho, SSIM); x: the randomisation steps (labelled by the deepest
        unit randomised), y: the mean over the images, one line per method.
    """
    import matplotlib.pyplot as plt

    s = randomisation_summary(rows).reset_index()
    labels = list(dict.fromkeys(s.sort_values("step")["label"]))
    fig, axes = plt.subplots(1, 2, figsize=(7.8, 3.6), sharex=True)
    styles = ["-", "--", "-.", ":"]
    for k, (name, d) in enumerate(s.groupby("method_name", sort=False)):
        d = d.sort_values("step")
        for ax, col in zip(axes, ("spearman", "ssim")):
            ax.plot(d["step"], d[col], styles[k % len(styles)], marker="o", ms=3, label=name)
    for ax, title in zip(axes, ("Spearman's ρ with the original map", "SSIM with the original map")):
        ax.set_title(title)
        ax.set_xticks(range(len(labels)))
        ax.set_xticklabels(labels, rotation=25, ha="right", fontsize=7)
        ax.axhline(0.0, color="grey", lw=0.6)
        ax.set_ylim(-0.35, 1.05)
        ax.set_xlabel("randomised from the logits down to")
    axes[1].legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    fig.tight_layout()
    return fig


def focus_figure(result: FocusResult, pair: int = 0, methods: Sequence[str] | None = None, ncols: int = 5,
                 class_names: Sequence[str] | None = None):
    """One mosaic and every method's map for one of its classes, titled with the Focus.

    Parameters
    ----------
    result : lotslib.focus.FocusResult
        The study's result.
    pair : int
        Which (mosaic, class) pair (default 0: the first mosaic's top-left class).
    methods : Sequence of str or None
        The methods (default: every method of the study).
    ncols : int
        Panels per row (default 5).
    class_names : Sequence of str or None
        The 1000 class names (``model.categories``) for the title; default None: indices.

    Returns
    -------
    matplotlib.figure.Figure
        The mosaic, then each method's map laid over it (jet, its colour bar below).
    """

    r = result.rows
    row = r[r["pair"] == pair].iloc[0]
    k, c = int(row["mosaic"]), int(row["class"])
    x = result.mosaics.x[k : k + 1]
    name = short_class(class_names[c], 18) if class_names is not None else f"class {c}"
    panels = [{"image": x[0], "title": f"mosaic; explained:\n{name} ({row['quadrants']})"}]
    for m in list(methods or result.maps):
        f = float(r[(r["method"] == m) & (r["pair"] == pair)]["focus"].iloc[0])
        panels.append(map_panel(x, result.maps[m][pair], f"{ALL_METHODS[m].name}: {f:.0f}%"))
    return panel_grid(panels, ncols, size=2.0)


# ------------------------------------------------------------------ the page's figures, tables and sentences
def show_parameters(ctx, images) -> None:
    """Show the sentence listing chapter 8's own parameters (photos, randomisation steps,
    mosaic arrangements, ROAD photos, location iterations) and the methods it checks."""
    from lotslib.benchmark import METHODS

    note(f"Chapter 8's own parameters: {len(images)} photos (`sanity_images`), {ctx.sanity_steps} randomisation "
         f"steps after the original (`sanity_steps`), {ctx.focus_arrangements} Focus mosaic(s) per class with two "
         f"photos (`focus_arrangements`), {ctx.road_images} photo(s) scored with ROAD (`road_images`) and "
         f"{ctx.location_iters} LOTS iterations per cell of the location grid (`location_iters`); LOTS runs at most "
         f"{ctx.figure_iters} iterations in the randomisation, random-logit, Focus and ROAD checks (`figure_iters`: "
         f"every randomised model needs its own runs). Methods: "
         f"{', '.join(m.name for m in METHODS.values())}.")


def show_randomisation(net, images, x: torch.Tensor, classes, cascade: CascadeResult) -> None:
    """Show the cascading randomisation's maps of the first photo (:func:`randomisation_figure`:
    one row per method, one column per step) with its caption.

    Parameters
    ----------
    net : lotslib.models.ModelWrapper
        The trained model.
    images : lotslib.data.ImageSource
        The photos (the first one's id goes into the caption).
    x : torch.Tensor
        Their pixels ``(N,3,H,W)`` in [0,1].
    classes : torch.Tensor
        ``(N,)`` the trained model's top-1 classes, which the maps explain.
    cascade : lotslib.sanity.CascadeResult
        :func:`lotslib.sanity.cascading_randomisation` of ``x``.
    """
    show(
        randomisation_figure(x, cascade),
        "fig-8-randomisation",
        f"**Cascading randomisation (Adebayo et al. 2018, Figure 2), {net.name}, {images[0].id}.** One row per method, "
        f"one column per step: the trained model, then the network re-initialised from the logits down to the named "
        f"block ({', '.join(cascade.labels[1:])}; {len(cascade.units)} blocks in all). Maps for the trained model's "
        f"top-1 class, *{short_class(net.categories[int(classes[0])])}*, at every step.",
    )


def show_similarity(images, cascade: CascadeResult) -> None:
    """Show the similarity curves of the cascade (:func:`similarity_figure`: mean Spearman ρ and
    SSIM, in [-1,1], with the trained model's maps per step) with their caption."""
    show(
        similarity_figure(cascade.rows),
        "fig-8-similarity",
        f"**Similarity to the original map as the network is randomised.** Mean over {len(images)} photos "
        f"of Spearman's rank correlation (left) and SSIM (right) between each method's map at a step and its map "
        f"on the trained model. A method that explains the model falls towards 0; the Sobel edge map, which never "
        f"sees the model, stays at 1.",
    )


def _rows(result) -> pd.DataFrame:
    """A check's rows: a result's ``rows``, or rows already (the recorded study's)."""
    return result.rows if hasattr(result, "rows") else result


def show_randomisation_verdict(cascade) -> None:
    """Show the randomisation test's verdict (:func:`lotslib.sanity.randomisation_verdict` of
    ``cascade.rows``, or of recorded rows): its sentences, then its table per method with the caption."""
    from lotslib.sanity import randomisation_verdict

    verdict = randomisation_verdict(_rows(cascade))
    note(verdict["text"])
    table(verdict["table"], "Randomisation test per method: mean over the photos of |ρ|, ρ and SSIM with the "
          "trained model's maps after the first step (logits only) and with every block randomised, and the rank "
          "correlation of the last maps with the Sobel edge map of the photo; a method passes when |ρ| ≤ 0.5 at the "
          "end", fmt={c: "{:.2f}" for c in verdict["table"].select_dtypes("number").columns})


def show_random_logit(images, logit) -> None:
    """Show the random-logit test's verdict (:func:`lotslib.sanity.random_logit_verdict` of
    ``logit.rows``, from :func:`lotslib.sanity.random_logit_test`, or of recorded rows): its
    sentences, then its table (Spearman, SSIM, largest pixel difference, verdict per method)
    with the caption; ``images``: the photos, or their number."""
    from lotslib.sanity import random_logit_verdict

    logit_verdict = random_logit_verdict(_rows(logit))
    n = images if isinstance(images, int) else len(images)
    note(logit_verdict["text"])
    table(logit_verdict["table"], f"Random-logit test on {n} photos: mean Spearman and SSIM between the "
          f"maps for the top-1 class and for a random other class, the largest pixel difference between them, and "
          f"the verdict ('same map': not one pixel changed)", fmt={"Spearman": "{:.3f}", "SSIM": "{:.3f}",
                                                                 "largest pixel difference": "{:.3g}"})


def show_road(ctx, net, images, x: torch.Tensor, base: dict, classes) -> tuple[pd.DataFrame, list]:
    """Opt in to ROAD (register :data:`lotslib.metric_registry.ROAD_METRICS`), score the trained
    model's maps of the first ``ctx.road_images`` photos with Average Drop/Increase,
    Insertion, Deletion and ROAD (:func:`lotslib.sanity.score_maps`), and show them in Table
    5.2's layout (means and 95 % bootstrap intervals, in %) with the caption.

    Parameters
    ----------
    ctx : lotsbook.chapter.ChapterContext
        The chapter (``road_images``, ``steps``, ``fill``, ``score``).
    net : lotslib.models.ModelWrapper
        The trained model.
    images : lotslib.data.ImageSource
        The photos.
    x : torch.Tensor
        Their pixels ``(N,3,H,W)`` in [0,1].
    base : dict
        Method key -> maps ``(N,H,W)`` in [0,1] on the trained model (every method of
        :data:`lotslib.benchmark.METHODS`, and ``edge``).
    classes : torch.Tensor
        ``(N,)`` the explained classes.

    Returns
    -------
    scored : pandas.DataFrame or None
        One row per (method, photo), the benchmark's layout; None with ``road_images`` 0.
    keys : list of str
        The metric keys scored.
    """
    from lotslib.benchmark import METHODS
    from lotslib.sanity import road_keys, score_maps

    keys = road_keys()
    if ctx.road_images == 0:
        note("ROAD is not run live in this profile (`road_images` = 0): it solves an imputation for every removal "
             "step, map and photo, about a minute per photo for the nine methods. The section *The same checks at "
             "full size* below scores every photo from the recorded study; `--road-images N` runs it here.")
        return None, keys
    k = min(ctx.road_images, len(images))
    scored = score_maps(net, x[:k], {m: base[m][:k] for m in METHODS}, classes[:k], keys,
                        metric_params={"steps": ctx.steps, "batch_size": 8, "fill": ctx.fill, "score": ctx.score},
                        image_ids=images.ids[:k])
    show_road_table(scored, keys, net.name)
    return scored, keys


def show_road_table(scored: pd.DataFrame, keys, model_name: str) -> None:
    """Show scored maps (:func:`lotslib.sanity.score_maps` rows with ROAD) in Table 5.2's layout
    (means and 95 % bootstrap intervals, in %) with the caption."""
    from lotslib.benchmark import table_5_2
    from lotslib.metric_registry import ROAD_PERCENTILES

    k = int(scored["image_id"].nunique())
    summary_table(
        table_5_2(scored, metrics=list(keys)),
        f"Table 5.2's layout with the ROAD columns, {model_name}, n = {k} photo(s): mean and 95% bootstrap interval, "
        f"best per metric in bold where a best can be named. ROAD (Rong et al. 2022) through pytorch-grad-cam's "
        f"ROADMostRelevantFirst / ROADLeastRelevantFirst at the percentiles of their ...Average classes, "
        f"{', '.join(str(p) for p in ROAD_PERCENTILES)} (10% to 90% of the pixels removed); the change "
        f"of the class probability in percentage points; combined = (LeRF − MoRF) / 2.",
    )


def show_baseline_verdict(scored: pd.DataFrame | None, keys) -> None:
    """Show the sentences of :func:`lotslib.sanity.baseline_verdict` (what the edge map earns)
    and :func:`lotslib.sanity.road_verdict` on the scored maps (None: none scored live)."""
    from lotslib.sanity import baseline_verdict, road_verdict

    if scored is None:
        note("No map was scored live, so the edge baseline and ROAD are judged below, on the recorded study.")
        return
    note(baseline_verdict(scored, keys)["text"] + " " + road_verdict(scored)["text"])


def show_focus(ctx, net, methods, mp: dict) -> tuple:
    """Run Focus on mosaics built as Arias-Duart et al. (2022) do (:func:`lotslib.focus.focus_study`
    with ``design="target"``: two photos of a target class, two of other classes, shuffled) from
    the source's photos (all of them, not one per class; at most 64, at most 4 target classes;
    classes from the labels, else each photo's top-1 alone), and show the first mosaic with
    each method's map for its target class (:func:`focus_figure`) with its caption, or a
    sentence when no class has two photos.

    Parameters
    ----------
    ctx : lotsbook.chapter.ChapterContext
        The chapter (``focus_arrangements``, images, device).
    net : lotslib.models.ModelWrapper
        The trained model.
    methods : list of str
        The method keys.
    mp : dict
        Each method's parameters (:func:`lotslib.sanity.method_params`).

    Returns
    -------
    fres : lotslib.focus.FocusResult
        The study.
    fverdict : dict
        :func:`lotslib.focus.focus_verdict` of its rows (``text``, ``table``; Focus in %).
    """
    from lotslib.focus import focus_study, focus_verdict

    from ..chapter import open_images

    pool = open_images(ctx.image_source, ctx.image_path, ctx.ground_truth, None, first_per_class=False).head(64)
    xp = pool.batch(net).to(ctx.device)
    labelled = all(lab is not None and lab >= 0 for lab in pool.labels)
    classes = torch.as_tensor(pool.labels) if labelled else top1(net, xp)[0]
    fres = focus_study(net, xp, classes, methods, params=mp, arrangements=ctx.focus_arrangements, design="target",
                       seed=ctx.seed, max_classes=4)
    fverdict = focus_verdict(fres.rows)
    if not len(fres.rows):
        note(f"Focus needs a class with two photos; among the {len(pool)} photos of the source none has "
             f"({'labels' if labelled else 'top-1 classes'}), so no mosaic is built (n = 0).")
        return fres, fverdict
    k = len(fres.mosaics.x)
    show(
        focus_figure(fres, 0, class_names=net.categories),
        "fig-8-focus",
        f"**Focus (Arias-Duart et al. 2022) on a mosaic, {net.name}.** As in the paper, the mosaic holds two photos of "
        f"the target class and two of other classes, in shuffled positions; the first panel is the mosaic, the others "
        f"each method's map for the target class, with that map's Focus (the share of the map in the target class's "
        f"two quadrants; 50% is chance). Classes are the photos' {'labels' if labelled else 'top-1 classes'}; of the "
        f"{len(pool)} photos, {fres.rows['class'].nunique()} class(es) have two photos, giving n = {k} mosaic"
        f"{'s' if k != 1 else ''} ({ctx.focus_arrangements} per class, `focus_arrangements`). The network's top-1 "
        f"class on this mosaic is *{short_class(net.categories[int(fres.top1[0])])}*.",
    )
    return fres, fverdict


def show_focus_verdict(fverdict: dict) -> None:
    """Show the Focus verdict (from :func:`show_focus`): its sentences, then its table per
    method (Focus, chance level, Focus on the mosaic's top-1 class, all in %) with the caption."""
    note(fverdict["text"])
    if not len(fverdict["table"]):
        return
    table(fverdict["table"], f"Focus per method: mean over the n = {fverdict['n']} mosaic(s) (one target class each), "
          "the chance level, the Focus where the network's top-1 class on the mosaic is the target class, and whether "
          "the method gives one map whatever the class",
          fmt={"Focus %": "{:.1f}", "chance %": "{:.0f}", "Focus on the mosaic's top-1 class %": "{:.1f}"})


def show_location(ctx, net, images, x: torch.Tensor) -> None:
    """Run LOTS on every cell of a 7 × 7 grid over the last convolutional block for the first
    photo (:func:`lotslib.lots_variants.location_maps`), and show the maps laid out as the
    cells are (:func:`location_figure`, with each cell's receptive field and the pixels a CAM
    stretches it over) with the caption, then the sentences of
    :func:`lotslib.sanity.location_verdict`.

    Parameters
    ----------
    ctx : lotsbook.chapter.ChapterContext
        The chapter (``location_iters``, ``filter_size``, ``batch_size``).
    net : lotslib.models.ModelWrapper
        The trained model.
    images : lotslib.data.ImageSource
        The photos (the first one's id goes into the caption).
    x : torch.Tensor
        Their pixels ``(N,3,H,W)`` in [0,1]; only the first is used.
    """
    from lotslib.sanity import location_grid, location_verdict

    x0 = x[:1]
    grid, rf, cells = location_grid(net, x0, grid=7, iters=ctx.location_iters, filter_size=ctx.filter_size,
                                    batch_size=ctx.batch_size)
    where = location_verdict(grid, rf, cells)
    show(
        location_figure(x0, grid, rf, cells),
        "fig-8-location",
        f"**LOTS maps of the {grid.shape[0]} × {grid.shape[1]} cells of the last convolutional block, {net.name}, "
        f"{images[0].id}** ({ctx.location_iters} iterations per cell, {ctx.filter_size} × {ctx.filter_size} blur), "
        f"laid out as the cells are. Dashed white: the cell's theoretical receptive field; black: the pixels a CAM "
        f"stretches the cell over.",
    )
    note(where["text"])


def show_lots_summary(cascade, logit, fverdict: dict, scored: pd.DataFrame | None) -> None:
    """Show what the checks mean for LOTS (:func:`lotslib.sanity.lots_summary` of the
    randomisation and random-logit rows (or results), the Focus table and the scored maps)."""
    from lotslib.sanity import lots_summary

    note(lots_summary(_rows(cascade), _rows(logit), fverdict["table"], scored))


#: the checks of the recorded study, each in ``results/sanity_study_<check>.csv``
RECORDED_CHECKS = ("randomisation", "random_logit", "road", "focus", "location")


@dataclass
class CheckRows:
    """The rows of chapter 8's checks recorded at full size by ``experiments/sanity_study.py``
    (one attribute per :data:`RECORDED_CHECKS`, None where absent) and the two parts' sidecars."""

    randomisation: pd.DataFrame | None = None
    random_logit: pd.DataFrame | None = None
    road: pd.DataFrame | None = None
    focus: pd.DataFrame | None = None
    location: pd.DataFrame | None = None
    meta: dict = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        """Every check that bears on a verdict is present (randomisation, random logit, ROAD, Focus)."""
        return all(getattr(self, c) is not None for c in ("randomisation", "random_logit", "road", "focus"))


def recorded_checks(ctx=None) -> CheckRows | None:
    """The recorded study's rows (:class:`CheckRows`), or None where none of its files exists or,
    given the chapter ``ctx``, where they do not describe its set-up (the embedded photos and
    the chapter's model: the study records those; another profile's chapter shows its own run)."""
    from ..results import recorded, recorded_meta

    rows = {c: recorded(f"sanity_study_{c}.csv") for c in RECORDED_CHECKS}
    if all(v is None for v in rows.values()):
        return None
    meta = {part: recorded_meta(f"sanity_study_{part}.json") for part in ("road", "checks")}
    if ctx is not None:
        models = {m.get("model") for m in meta.values()} - {None}
        if ctx.config.image_source != "embedded" or models != {ctx.config.model}:
            return None
    return CheckRows(**rows, meta=meta)


def show_recorded_checks(rec: CheckRows | None) -> None:
    """Show the checks at full size from the recorded study (:func:`recorded_checks`): each
    check's verdict and table as the live sections show them, from the recorded rows, with
    the commands that recorded them; or a note on how to record them."""
    from lotslib.focus import focus_verdict
    from lotslib.sanity import location_text, road_keys
    from lotslib.verdicts import and_list

    if rec is None:
        note("No recorded study at full size applies to this run: `results/sanity_study_*.csv` "
             "(`python experiments/sanity_study.py`) records the embedded photos with the embedded profile's model.")
        return
    commands = "; ".join(f"`{m.get('command', '(not recorded)')}`" for m in rec.meta.values())
    model = next((m["model"] for m in rec.meta.values() if "model" in m), "the main backbone")
    checks, road = rec.meta.get("checks", {}), rec.meta.get("road", {})
    sizes = [f"{checks['photos']} photos in the randomisation ({checks['randomisation_steps']} steps: every block) "
             f"and random-logit tests" if "photos" in checks else "",
             f"{road['road_photos']} photos scored with ROAD" if "road_photos" in road else "",
             f"{checks['mosaics']} Focus mosaics" if "mosaics" in checks else "",
             f"{checks['location_iters']} LOTS iterations per cell of the location grid" if "location_iters" in checks
             else "",
             f"LOTS at {checks.get('lots_iters', road.get('lots_iters'))} iterations elsewhere"
             if "lots_iters" in checks or "lots_iters" in road else ""]
    note(f"**The same checks at full size (recorded, {model}):** {and_list([z for z in sizes if z])}. Recorded "
         f"once by {commands} (`results/sanity_study_*.csv`); the book reads the rows and derives every verdict "
         f"below from them.")
    if rec.randomisation is not None:
        show_randomisation_verdict(rec.randomisation)
    if rec.random_logit is not None:
        show_random_logit(int(rec.random_logit["image"].nunique()), rec.random_logit)
    if rec.road is not None:
        keys = road_keys()
        show_road_table(rec.road, keys, model)
        show_baseline_verdict(rec.road, keys)
    if rec.focus is not None:
        show_focus_verdict(focus_verdict(rec.focus))
    if rec.location is not None:
        iters = rec.meta.get("checks", {}).get("location_iters", "?")
        note(f"Location grid, {iters} LOTS iterations per cell: " + location_text(rec.location))


def sanity_overview(passed, failed, logit_verdicts: pd.Series, n_photos: int, n_mosaics: int, n_road: int) -> str:
    """The lead of the chapter's "What this shows": how many photos each check rests on and how
    many methods each check separates, pointing to the sections' own sentences.

    Parameters
    ----------
    passed, failed : Sequence of str
        The methods that pass / fail the randomisation test (:func:`lotslib.sanity.randomisation_verdict`).
    logit_verdicts : pandas.Series
        Per method the random-logit verdict ("same map", "changes", "barely changes";
        :func:`lotslib.sanity.random_logit_verdict`).
    n_photos, n_mosaics, n_road : int
        The photos of the randomisation and random-logit tests, the Focus mosaics and the photos
        scored with ROAD.

    Returns
    -------
    str
        The counts, with "too few images" for each check below :data:`lotslib.verdicts.MIN_PAIRS`:
        there the counts describe these photos and are not verdicts on the methods.
    """
    from lotslib.verdicts import too_few

    def n_of(n, what):
        few = too_few(n)
        word = what if n != 1 else what[:-1]  # "1 photo", "2 photos"
        return f"{n} {word}" + (f", {few}: a description, not a verdict" if few else "")

    m = len(passed) + len(failed)
    same = int((logit_verdicts == "same map").sum())
    return (f"Model randomisation ({n_of(n_photos, 'photos')}): {len(passed)} of {m} methods pass. Random logit (same "
            f"photos): {int((logit_verdicts == 'changes').sum())} of {len(logit_verdicts)} change their map, {same} "
            f"return the same map. Focus rests on {n_of(n_mosaics, 'mosaics')}; ROAD on {n_of(n_road, 'photos')}. "
            f"Each section above gives its numbers; for LOTS they come to:")


def show_sanity_summary(images, cascade: CascadeResult, logit, fverdict: dict, scored: pd.DataFrame | None,
                        recorded: CheckRows | None = None) -> None:
    """Show the chapter's "What this shows": :func:`sanity_overview` of the checks, then what they
    mean for LOTS (:func:`show_lots_summary`); ``images``: the photos of the checks. Where the
    recorded study at full size is complete (``recorded``, :func:`recorded_checks`), it is
    summarised instead of this build's small run, and the lead says so."""
    from lotslib.focus import focus_verdict
    from lotslib.sanity import random_logit_verdict, randomisation_verdict

    n_photos = len(images)
    if recorded is not None and recorded.complete:
        cascade, logit, scored = recorded.randomisation, recorded.random_logit, recorded.road
        fverdict = focus_verdict(recorded.focus)
        n_photos = int(cascade["image"].nunique())
        note("From the recorded study at full size (the section above), not this build's small run:")
    rv = randomisation_verdict(_rows(cascade))
    lv = random_logit_verdict(_rows(logit))["table"]["verdict"]
    n_road = 0 if scored is None else int(scored["image_id"].nunique())
    note(sanity_overview(rv["passed"], rv["failed"], lv, n_photos, int(fverdict["n"]), n_road))
    show_lots_summary(cascade, logit, fverdict, scored)


