"""lotslib: LOTS adversarial perturbations as explanations, compared with CAM methods.

Pixels are ``(N,3,H,W)`` float tensors in [0,1]; maps are ``(N,H,W)`` in [0,1].

``import lotslib`` is cheap (no torch): the names below load their modules on first use, and the
built-in methods register on the method registry's first use.

The library imports nothing from the book: the book's own package (chapter context, profiles,
figures, tables, the builder) is ``lotsbook``, in the repository's ``book/`` folder.

Modules
-------
errors            the error and warning classes (each message names the culprit and the fix)
tensors           shared helpers: images to tensors, pixel checks, a model's device
imagenet_classes  the 1000 ImageNet-1k class names
models            ImageNet classifiers behind one wrapper: pixels in [0,1] in, logits out
data              image sources: embedded photos, labelled folders, ImageNet validation
attack            LOTS, Algorithm 1 (the function lotslib.lots), batched, with per-sample stopping and snapshots
targets           feature targets F_t: zero, any image, and Table 5.1's class, mean and other-class targets
visualize         Algorithm 2 (the LOTS map) and the views built on maps
method_registry   the Method records: key, name, defaults, order, compute; register your own
cams              the six CAM methods (pytorch-grad-cam) and their registration
baselines         the image-only baseline: Sobel edges blurred like the LOTS map
lots_explainer    LOTS as an explanation method (zero, class and mean targets)
lots_variants     LOTS down the class logit, toward another class, on one cell of the last conv block
receptive_field   a cell's activation, receptive field box and grid; a map's mass inside a box
explanation       explain(method, model, x) (lotslib.explain) for every registered method
metrics           the metric formulas: Average Drop/Increase, Coherency, Insertion/Deletion
metric_registry   the Metric objects: key, name, defaults, order, unit, direction, batch computation
params            the typed LOTS and metric parameters (LotsParams, MetricParams): defaults once, checked
focus             Focus (Arias-Duart et al. 2022): 2x2 mosaics of photos, the class's share of the map
sanity            sanity checks: cascading model randomisation, random logit (Adebayo et al. 2018)
stats             bootstrap intervals, paired tests, equivalence tests (TOST)
verdicts          the rules of every generated verdict (too few images, Holm, verdict changes)
paths             every file location: the package data (the thesis's tables), the cache root
cache             atomic writes and parameter-keyed caches (one damaged-file policy)
lots_store        one LOTS run per (model, image, target, parameters), shared; its pass ledger
benchmark         the cached, resumable experiment of Tables 5.1-5.3 (a package)
studies           parameter studies (the budget curve, early stop, alpha, blur), schedule equivalence
perf              allocator tuning for CPU forward passes; the torch thread count lotslib picks
cli               the ``lots`` command line
manifest          the manifest of a ``lots explain`` output folder: every file's key, verified on a rerun
"""
from .errors import (  # noqa: F401
    CorruptCacheWarning,
    DatasetError,
    ImageDecodeError,
    ImageNotFoundError,
    InputRangeError,
    LotsError,
    ParameterError,
    UnknownModelError,
    WeightsNotFoundError,
)

__version__ = "0.1.0"

#: where each public name lives (module, or module.name), loaded on first use (PEP 562): `lots --help` needs no torch
_LAZY = {
    "lots": "attack", "LotsResult": "attack", "LotsTrace": "attack",
    "known_models": "models", "load_model": "models", "wrap": "models",
    "lots_map": "visualize",
    "ALL_METHODS": "method_registry", "METHODS": "method_registry", "Method": "method_registry",
    "register_method": "method_registry",
    "explain": "explanation", "explain_with_info": "explanation", "explain_image": "explanation.explain_photo",
    "ImageExplanation": "explanation",
}

#: the names ``from lotslib import *`` gives: the one-call API. No function here has the name
#: of a module: ``lotslib.lots`` is the function, :mod:`lotslib.attack` its module;
#: ``lotslib.explain`` the function, :mod:`lotslib.explanation` its module.
__all__ = [
    "lots", "LotsResult", "LotsTrace", "lots_map", "explain", "explain_with_info", "explain_image",
    "ImageExplanation", "load_model", "known_models", "wrap", "Method", "register_method", "METHODS", "ALL_METHODS",
    "LotsError", "ParameterError", "DatasetError", "ImageDecodeError", "ImageNotFoundError", "InputRangeError",
    "UnknownModelError", "WeightsNotFoundError", "CorruptCacheWarning", "__version__",
]


def __getattr__(name: str):
    """A public name or a submodule, imported on first use."""
    import importlib

    if name in _LAZY:
        module, _, attr = _LAZY[name].partition(".")
        value = getattr(importlib.import_module(f"{__name__}.{module}"), attr or name)
        globals()[name] = value
        return value
    try:
        return importlib.import_module(f"{__name__}.{name}")
    except ModuleNotFoundError as exc:
        if exc.name != f"{__name__}.{name}":
            raise
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
