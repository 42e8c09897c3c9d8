"""One image, every method, every metric: the book's "Try your own image" page.

:func:`explain_image` explains one image with every method of Table 5.2 (the six CAM methods
and LOTS, :data:`lotslib.method_registry.METHODS`, registered ones included) and scores each
map with every registered metric (:data:`lotslib.metric_registry.METRICS`), exactly as the
benchmark scores a batch, but without its cache and per-dataset bookkeeping::

    from lotslib import load_model
    from lotsbook import single_image

    model = load_model("efficientnet_lite0")
    src = single_image.open_image("photo.jpg")           # one image; None: the default photo
    rep = single_image.explain_image(model, src.batch(model), lots={"iters": 40})
    rep.metrics                                          # one row per method, one column per metric

:func:`check_image` and :func:`check_model_name` validate the book's ``--image`` and
``--model`` before anything is executed, and :func:`page_params` makes the page's
parameters from the profile's. Pixels are ``(1,3,H,W)`` in [0,1]; maps ``(H,W)`` in [0,1].
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from lotslib.errors import ImageDecodeError, ImageNotFoundError, ParameterError, UnknownModelError

__all__ = [
    "DEFAULT_PHOTO",
    "check_image",
    "check_model_name",
    "open_image",
    "page_params",
    "ImageReport",
    "explain_image",
    "metric_verdicts",
    "run_table",
]

#: the embedded photo the page explains when no ``--image`` is given (scikit-image's cat)
DEFAULT_PHOTO = "chelsea"

#: run-table rows that do not apply to one image (the chapters' image counts, the benchmark's backbones)
_NOT_ON_PAGE = ("models", "compare_models", "image_source", "image_path", "n_images", "n_grid", "n_grid_large")


def check_image(path) -> Path:
    """Check that ``path`` is one decodable, non-constant image file.

    Parameters
    ----------
    path : str or pathlib.Path
        The image file (any format PIL reads).

    Returns
    -------
    pathlib.Path
        The absolute path (the book executes the page in another working directory).

    Raises
    ------
    lotslib.errors.ImageNotFoundError
        ``path`` does not exist.
    lotslib.errors.ImageDecodeError
        ``path`` is a folder, not an image (or truncated), too small or too large to decode,
        or one flat colour (no method can explain it); the message names the fix.
    """
    from lotslib.data import load_image
    from lotslib.explanation import CONSTANT_TOL

    p = Path(path).expanduser()
    if not p.exists():
        raise ImageNotFoundError(f"--image {p}: no such file (relative paths start at {Path.cwd()}). "
                                 f"Fix: give the path of an existing image file.")
    if p.is_dir():
        raise ImageDecodeError(f"--image {p} is a folder; the page explains one image. Fix: pass one image file "
                               f"from it, or run `lots explain {p} --report` for a whole folder.")
    try:
        img = load_image(p)
    except ImageDecodeError as exc:
        raise ImageDecodeError(f"--image: {exc}") from None
    if float((img.amax(dim=(1, 2)) - img.amin(dim=(1, 2))).max()) < CONSTANT_TOL:
        raise ImageDecodeError(f"--image {p} is one flat colour; no explanation method can say where the evidence "
                               f"lies. Fix: use a photo.")
    return p.resolve()


def check_model_name(name: str) -> str:
    """Check a model name before anything is loaded.

    Parameters
    ----------
    name : str
        A key of :func:`lotslib.models.known_models`, or ``"torchvision:<name>"`` /
        ``"timm:<name>"`` (checked when loaded).

    Returns
    -------
    str
        ``name``.

    Raises
    ------
    lotslib.errors.UnknownModelError
        ``name`` is neither; the message lists the known models.
    """
    from lotslib.models import known_models

    name = str(name)
    if name.startswith(("torchvision:", "timm:")) or name.lower().replace("-", "_") in known_models():
        return name
    raise UnknownModelError(f"--model {name!r} is not a model lotslib knows. Fix: use one of {known_models()} or "
                            f"'torchvision:<name>' / 'timm:<name>' (`lots models` lists them).")


def _file_source(path: Path):
    from lotslib.data import ImageSource, _file_item  # the one-file source the folder sources are made of

    return ImageSource([_file_item(path, path.stem, None, path.name)], f"file:{path.name}")


def open_image(path=None):
    """The one image of the page as an image source.

    Parameters
    ----------
    path : str, pathlib.Path or None, optional
        An image file (checked with :func:`check_image`); None (default): the embedded photo
        :data:`DEFAULT_PHOTO`.

    Returns
    -------
    lotslib.data.ImageSource
        One unlabelled image (id: the file's stem or the photo's name).

    Raises
    ------
    lotslib.errors.ImageNotFoundError
        ``path`` does not exist (:func:`check_image`).
    lotslib.errors.ImageDecodeError
        ``path`` is not one decodable, non-constant image file (:func:`check_image`).
    """
    from lotslib.data import embedded

    if path is None:
        return embedded("photos").select([DEFAULT_PHOTO])
    return _file_source(check_image(path))


def page_params(params: dict, image=None, model: str | None = None) -> dict:
    """The parameters of the "Try your own image" page: the profile's, plus the image and model.

    Parameters
    ----------
    params : dict
        The chapters' parameters (:func:`lotsbook.build.chapter_parameters`).
    image : str, pathlib.Path or None, optional
        The image file (``--image``); None (default): :data:`DEFAULT_PHOTO`.
    model : str or None, optional
        The model (``--model``); None (default): the profile's ``model``.

    Returns
    -------
    dict
        ``params`` with ``image`` (absolute path or None), ``image_digest`` (content hash, so
        an edited file is explained again) and ``model``.

    Raises
    ------
    lotslib.errors.ImageNotFoundError
        ``image`` does not exist (:func:`check_image`).
    lotslib.errors.ImageDecodeError
        ``image`` is a folder, not an image, or one flat colour (:func:`check_image`).
    lotslib.errors.UnknownModelError
        A bad ``model`` (:func:`check_model_name`).
    """
    out = dict(params)
    if model is not None:
        out["model"] = check_model_name(model)
    if image is None:
        out.update(image=None, image_digest=None)
    else:
        src = open_image(image)
        out.update(image=src[0].path, image_digest=src.fingerprint())
    return out


@dataclass
class ImageReport:
    """What :func:`explain_image` returns.

    Attributes
    ----------
    x : torch.Tensor
        The image, ``(1,3,H,W)`` in [0,1].
    target : int
        The explained class: the model's top-1 class on ``x``.
    probability : float
        Its softmax probability, in [0,1].
    maps : dict
        Method name -> ``(H,W)`` map in [0,1], in the registry's order (LOTS last).
    metrics : pandas.DataFrame
        Index ``method`` (names); one column per metric (its table label, e.g.
        ``"Insertion ↑"``, in %) and ``"ms per map"``.
    curves : dict
        ``"insertion"`` / ``"deletion"`` -> {method name: curve ``(S+1,)`` of class
        probabilities in [0,1]}.
    lots : lotslib.explanation.Explanation or None
        LOTS's explanation (``x_adv``, ``trace``; the zero target's when ``"lots"`` ran); None
        when no LOTS method was among the methods.
    degenerate : list of str
        The methods whose map is all zeros (a constant map).
    """

    x: torch.Tensor
    target: int
    probability: float
    maps: dict
    metrics: pd.DataFrame
    curves: dict = field(default_factory=dict)
    lots: object = None
    degenerate: list = field(default_factory=list)

    def legend(self, first: str = "b") -> str:
        """The panel letters of :func:`lotsbook.plots.methods_figure` for :attr:`maps`.

        Parameters
        ----------
        first : str, optional
            The letter of the first method's panel (default ``"b"``: panel (a) is the image).

        Returns
        -------
        str
            E.g. ``"(b) Random-CAM, (c) Grad-CAM, ..., (h) LOTS"``.
        """
        return ", ".join(f"({chr(ord(first) + i)}) {name}" for i, name in enumerate(self.maps))


def explain_image(model, x: torch.Tensor, methods=None, lots: dict | None = None, metrics: dict | None = None,
                  seed: int = 0) -> ImageReport:
    """Explain one image with every method and score every map with every registered metric.

    Parameters
    ----------
    model : lotslib.models.ModelWrapper
        The classifier: pixels in [0,1] in, logits out.
    x : torch.Tensor
        One image, ``(1,3,H,W)`` float pixels in [0,1] (``model.preprocess(img)[None]``).
    methods : Sequence of str or None, optional
        Method keys (default None: Table 5.2's methods, :data:`lotslib.method_registry.METHODS`).
    lots : dict or None, optional
        Parameters of the LOTS methods (``iters``, ``tau``, ``alpha``, ``filter_size``, ...;
        default None: their defaults); each LOTS variant gets the ones it takes.
    metrics : dict or None, optional
        Metric parameters (``steps``, ``fill``, ``score``, ``batch_size``, ...; default None:
        :func:`lotslib.metric_registry.metric_defaults`).
    seed : int, optional
        Seed of the stochastic methods (default 0).

    Returns
    -------
    ImageReport
        The maps, the metric table, the insertion/deletion curves and LOTS's result.

    Raises
    ------
    lotslib.errors.InputRangeError
        ``x`` is not one ``(1,3,H,W)`` image in [0,1].
    lotslib.errors.ParameterError
        An unknown method, or a bad method or metric parameter, before any compute.

    Notes
    -----
    Each map is scored as :mod:`lotslib.benchmark` scores a batch (a
    :class:`lotslib.metric_registry.ScoreBatch` per method, every metric's ``compute``), so
    the numbers are the benchmark's for this image; Average Increase of one image is 0 or 100.
    """
    import warnings

    from lotslib.explanation import DegenerateMapWarning, explain_with_info
    from lotslib.method_registry import METHODS, check_params, get_method
    from lotslib.metric_registry import METRICS, ScoreBatch, check_metric_params
    from lotslib.params import as_params_dict
    from lotslib.tensors import check_pixels, model_device

    check_pixels(x)
    if x.shape[0] != 1:
        raise ParameterError(f"x holds {x.shape[0]} images; explain_image takes one (1,3,H,W). Fix: x[:1], or "
                             f"lotslib.benchmark.run for many images.")
    keys = list(METHODS) if methods is None else [methods] if isinstance(methods, str) else list(methods)
    lots = as_params_dict(lots)  # a dict or a lotslib.params.LotsParams
    lots_methods = [get_method(k) for k in keys if get_method(k).is_lots]
    unknown = sorted(set(lots) - {name for m in lots_methods for name in m.defaults})
    if lots_methods and unknown:
        raise ParameterError(f"lots: no LOTS method here takes parameter(s) {unknown}. Fix: use the names of "
                             f"lotslib.method_registry.default_params('lots') ({sorted(lots_methods[0].defaults)}).")
    per_method = {}
    for k in keys:  # every parameter checked before any compute
        m = get_method(k)
        p = {name: v for name, v in lots.items() if name in m.defaults} if m.is_lots else {}
        if "seed" in m.defaults:
            p["seed"] = seed
        per_method[k] = check_params(m, p)
    mp = check_metric_params(metrics)
    x = x.to(model_device(model), torch.float32)
    with torch.no_grad():
        prob = model(x).float().softmax(1)[0]
    target = int(prob.argmax())
    classes = torch.tensor([target])
    maps, rows, degenerate, lots_ex = {}, [], [], None
    curves: dict = {"insertion": {}, "deletion": {}}
    for k in keys:
        name = get_method(k).name
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DegenerateMapWarning)  # reported in ``degenerate``
            ex = explain_with_info(k, model, x, targets=classes, **per_method[k])
            batch = ScoreBatch(model, x, ex.maps.to(x.device), classes, k, ex.params, mp)
            scored = {m.key: m.compute(batch) for m in METRICS.values()}
        if bool(ex.degenerate[0]):
            degenerate.append(name)
        if ex.trace is not None and (lots_ex is None or k == "lots"):  # the zero-target LOTS first
            lots_ex = ex
        maps[name] = ex.maps[0]
        row = {"method": name}
        for m in METRICS.values():
            row[m.label] = float(np.asarray(scored[m.key].values, dtype=float)[0]) * m.scale
            if scored[m.key].curves is not None and m.key in curves:
                curves[m.key][name] = np.asarray(scored[m.key].curves)[0]
        row["ms per map"] = 1000.0 * ex.seconds
        rows.append(row)
    return ImageReport(x=x.cpu(), target=target, probability=float(prob[target]), maps=maps,
                       metrics=pd.DataFrame(rows).set_index("method"), curves=curves, lots=lots_ex,
                       degenerate=degenerate)


def metric_verdicts(report: ImageReport, method: str = "LOTS") -> list[str]:
    """One sentence per metric, from the numbers: the best method and ``method``'s rank.

    Parameters
    ----------
    report : ImageReport
        The result of :func:`explain_image`.
    method : str, optional
        The method whose rank is stated (a name of ``report.metrics``' index; default
        ``"LOTS"``); if it is absent only the best methods are named.

    Returns
    -------
    list of str
        E.g. ``"Insertion ↑ (higher is better): best Grad-CAM (61.2%); LOTS 58.0%, rank 3 of 7."``;
        tied best methods are all named, and a metric on which every method ties says so.
    """
    from lotslib.metric_registry import METRICS

    out = []
    table = report.metrics
    for m in METRICS.values():
        if m.label not in table.columns:
            continue
        col = table[m.label].astype(float)
        best_value = col.max() if m.higher_is_better else col.min()
        best = [name for name, v in col.items() if np.isclose(v, best_value)]
        if len(best) == len(col):
            out.append(f"{m.label} ({m.better} is better): all {len(col)} methods tie at {best_value:.1f}%.")
            continue
        text = f"{m.label} ({m.better} is better): best {', '.join(best)} ({best_value:.1f}%)"
        if method in col.index and method not in best:
            v = col[method]
            better = int((col > v).sum() if m.higher_is_better else (col < v).sum())
            text += f"; {method} {v:.1f}%, rank {better + 1} of {len(col)}"
        out.append(text + ".")
    return out


def run_table(params: dict, images):
    """The page's run table: :func:`lotsbook.chapter.run_table` without the rows that count or
    choose the chapters' images and backbones (one image, one model here).

    Parameters
    ----------
    params : dict
        The page's parameters (:func:`page_params`).
    images : lotslib.data.ImageSource
        The page's one image.

    Returns
    -------
    pandas.io.formats.style.Styler
        Profile, image, model and every LOTS and metric parameter beside the thesis's value.
    """
    from .chapter import run_table as chapter_table

    notes = {"model": "the page's model: --model KEY (default: the profile's model)",
             "iters": "the profile's LOTS iterations, fewer than the thesis's so that the book builds on a CPU "
                      "(chapter 1 shows the distance falling; chapter 7 compares caps)"}
    sty = chapter_table(params, "own", images, notes=notes)
    rows = [r for r in _NOT_ON_PAGE if r in sty.data.index]
    return sty.hide(rows, axis="index").set_caption(
        "Run parameters of this page: this run beside the thesis protocol (Weber 2023, section 5.1)")
