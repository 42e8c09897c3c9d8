"""The explanation methods lotslib knows: one :class:`~lotslib.method_registry.Method` record per method.

A record holds everything the rest of lotslib needs to know about a method: its key, display
name, documented defaults, whether it draws random numbers, the tables it has a row in, and
the callable that computes its maps. :func:`lotslib.explanation.explain`, the benchmark, the
Coherency metric, the tables and the command line read names, keys and defaults from here,
so adding a method is one :func:`register_method` call next to its compute function (or a
pytorch-grad-cam ``BaseCAM`` subclass wrapped in :class:`lotslib.cams.CamCompute`)::

    from lotslib.method_registry import Method, register_method

    def sobel_maps(model, x, targets, params):  # (N,3,H,W) in [0,1] -> (N,H,W)
        ...

    register_method(Method("sobel", "Sobel edges", sobel_maps, defaults={"batch_size": None}))

The built-in methods are registered on the registry's first use (``BUILTIN_MODULES``, loaded
by name like plug-ins, so ``import lotslib`` stays cheap): the six CAM methods in
:mod:`lotslib.cams`, LOTS and its Table 5.1 target variants in :mod:`lotslib.lots_explainer`.
A leaf module: it imports nothing from lotslib but :mod:`lotslib.errors` and
``lotslib.tensors``.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Callable, Iterator

import numpy as np
import torch

from .errors import ParameterError
from .tensors import is_int

__all__ = [
    "Method",
    "MethodOutput",
    "MethodView",
    "register_method",
    "unregister_method",
    "TABLE_METHODS",
    "TABLE_TARGETS",
    "get_method",
    "method_keys",
    "method_name",
    "default_params",
    "check_params",
    "METHODS",
    "ALL_METHODS",
    "CAM_METHODS",
]


#: the thesis's table ids: Table 5.2 compares the methods, Table 5.1 the LOTS feature targets,
#: Table 5.3 the time per map
TABLE_METHODS = "5.2"
TABLE_TARGETS = "5.1"
TABLE_TIMING = "5.3"


@dataclass
class MethodOutput:
    """What a method's ``compute`` may return instead of a bare ``(N,H,W)`` tensor.

    Attributes
    ----------
    maps : torch.Tensor
        ``(N,H,W)`` maps, any finite range: :func:`lotslib.explanation.explain` min-max
        normalizes them to [0,1].
    trace : lotslib.attack.LotsTrace or None
        For LOTS, the :class:`lotslib.attack.LotsTrace` (None otherwise).
    x_adv : torch.Tensor or None
        For LOTS, the ``(N,3,H,W)`` adversarial images in [0,1] (None otherwise).
    """

    maps: torch.Tensor
    trace: object = None
    x_adv: torch.Tensor | None = None


@dataclass(frozen=True)
class Method:
    """One explanation method.

    Parameters
    ----------
    key : str
        Short identifier (``"gradcam"``), used by the API, the command line and the cache.
    name : str
        Display name (``"Grad-CAM"``), used in tables and figures.
    compute : Callable
        ``compute(model, x, targets, params) -> (N,H,W) tensor or MethodOutput`` for pixels
        ``x`` ``(N,3,H,W)`` in [0,1] (never constant images), class indices ``targets``
        ``(N,)`` and the resolved parameters ``params`` (a dict with every key of
        ``defaults``; a ``seed`` is already one int per image).
    defaults : dict
        Every parameter the method takes, with its documented default. ``batch_size`` (images
        per chunk, None = all) is expected by convention.
    stochastic : bool
        True when the map depends on random numbers drawn from ``seed`` (Coherency then draws
        the second map with a shifted seed, as an independent call would).
    tables : dict
        Table id -> row label, for the tables the method has a row in: :data:`TABLE_METHODS`
        (the method comparison, :data:`METHODS`) and :data:`TABLE_TARGETS` (LOTS targets).
    feature_target : str or None
        For LOTS variants: which feature target the benchmark builds for it (``"zero"``,
        ``"class"``, ``"mean"``, ``"other"``: another class's image, or ``"logit"``: none, the
        variant descends the explained class's logit); None for methods that are not LOTS.
    baseline : bool
        True for a sanity baseline (Random-CAM): it has a row in the tables but is never the
        "best CAM" that LOTS is tested against.
    image_only : bool
        True for a baseline whose map depends on the image alone, not on the model (the Sobel
        edges of :mod:`lotslib.baselines`): it has a Table 5.2 row but is not a CAM method
        (:data:`CAM_METHODS`).
    check : Callable or None
        ``check(params)`` raises :class:`~lotslib.errors.ParameterError` for method-specific
        bad values (the generic checks -- unknown names, ``batch_size``, ``seed`` -- are
        done by :func:`check_params`).
    description : str
        One line on the method and its reference.
    order : int
        The method's place among the tables' rows (the registry is sorted by it, then by
        registration); a method that sets none comes after the built-in ones.
    """

    key: str
    name: str
    compute: Callable = field(repr=False)
    defaults: Mapping = field(default_factory=lambda: {"batch_size": None})
    stochastic: bool = False
    tables: Mapping = field(default_factory=dict)
    feature_target: str | None = None
    baseline: bool = False
    image_only: bool = False
    check: Callable | None = field(default=None, repr=False)
    description: str = ""
    order: int = 1000

    @property
    def is_lots(self) -> bool:
        """True for LOTS and its target variants."""
        return self.feature_target is not None


_REGISTRY: dict[str, Method] = {}
#: the modules that register the built-in methods, imported on the registry's first use
BUILTIN_MODULES = ("lotslib.cams", "lotslib.baselines", "lotslib.lots_explainer", "lotslib.lots_variants")
_LOADED = []


def _builtins() -> None:
    """Import ``BUILTIN_MODULES`` once (each registers its methods when imported)."""
    if _LOADED:
        return
    import importlib

    _LOADED.append(True)
    try:
        for name in BUILTIN_MODULES:
            importlib.import_module(name)
    except BaseException:
        _LOADED.clear()
        raise


def _sorted() -> list[Method]:
    """The registered methods by ``order``, then registration: the tables' row order."""
    _builtins()
    pos = {k: i for i, k in enumerate(_REGISTRY)}
    return sorted(_REGISTRY.values(), key=lambda m: (m.order, pos[m.key]))


def register_method(method: Method, replace: bool = False) -> Method:
    """Add ``method`` to the registry (its ``order`` places it among the tables' rows).

    Parameters
    ----------
    method : Method
        The record to add.
    replace : bool
        Replace a method already registered under the same key (it keeps its place in the
        order). Default False.

    Returns
    -------
    Method
        ``method`` itself.

    Raises
    ------
    lotslib.errors.ParameterError
        When the key is taken (unless ``replace``) or the record is incomplete (not a
        :class:`Method`, a key that is not letters, digits and underscores, a ``compute``
        that is not callable).
    """
    _builtins()
    if not isinstance(method, Method):
        raise ParameterError(f"register_method() takes a lotslib.method_registry.Method; got {type(method).__name__}.")
    if not method.key or not method.key.replace("_", "").isalnum():
        raise ParameterError(f"method key {method.key!r}: use letters, digits and underscores.")
    if method.key in _REGISTRY and not replace:
        raise ParameterError(
            f"a method {method.key!r} is already registered. Fix: pick another key or pass replace=True."
        )
    if not callable(method.compute):
        raise ParameterError(f"method {method.key!r}: compute must be callable.")
    _REGISTRY[method.key] = method
    return method


def unregister_method(key: str) -> None:
    """Remove a method (tests register toy methods and remove them again).

    Parameters
    ----------
    key : str
        The method's key; an unknown key is ignored.
    """
    _builtins()
    _REGISTRY.pop(key, None)


def get_method(key) -> Method:
    """The :class:`Method` registered under ``key``; a clear error listing the keys otherwise.

    Parameters
    ----------
    key : str or Method
        A registered key (a :class:`Method` is returned as it is).

    Returns
    -------
    Method
        The record.

    Raises
    ------
    lotslib.errors.ParameterError
        ``key`` is not registered; the message lists the registered keys.
    """
    if isinstance(key, Method):
        return key
    _builtins()
    if key not in _REGISTRY:
        raise ParameterError(f"Unknown method {key!r}. Choose one of {list(_REGISTRY)}.")
    return _REGISTRY[key]


def method_keys(table: str | None = None) -> list[str]:
    """Registered keys in the tables' order; only those with a row in ``table`` if given.

    Parameters
    ----------
    table : str or None
        A table id (:data:`TABLE_METHODS`, :data:`TABLE_TARGETS`); None (the default) = every method.

    Returns
    -------
    list of str
        The keys, in the tables' order.
    """
    return [m.key for m in _sorted() if table is None or table in m.tables]


def method_name(key: str) -> str:
    """The display name of a registered method, or ``key`` itself when none is registered under it.

    Parameters
    ----------
    key : str
        A method key, e.g. ``"gradcam"``.

    Returns
    -------
    str
        ``get_method(key).name`` (e.g. ``"Grad-CAM"``), else ``key`` unchanged (for rows of a
        method registered in another session).
    """
    _builtins()
    m = _REGISTRY.get(key)
    return m.name if m is not None else key


class MethodView(Mapping):
    """A live, read-only ``{key: Method}`` view of the registry (a filter on records), in the
    tables' order -- the same shape as :data:`lotslib.metric_registry.METRICS`.

    It always reflects the methods registered now, so a method registered later shows up in
    every table and menu built from it. A record's display name is ``view[key].name``.

    Parameters
    ----------
    keep : Callable
        ``keep(method) -> bool``: which :class:`Method` records the view shows.
    doc : str
        The view's docstring (default: this class's).
    """

    def __init__(self, keep: Callable[[Method], bool], doc: str = ""):
        self._keep = keep
        self.__doc__ = doc or self.__doc__

    def _records(self) -> list[Method]:
        return [m for m in _sorted() if self._keep(m)]

    def __getitem__(self, key: str) -> Method:
        for m in self._records():
            if m.key == key:
                return m
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        return iter([m.key for m in self._records()])

    def __len__(self) -> int:
        return len(self._records())

    def __repr__(self) -> str:
        return f"MethodView({[m.key for m in self._records()]!r})"


#: the method comparison of thesis Table 5.2 -- key -> Method record, Random-CAM first, LOTS last
METHODS = MethodView(lambda m: TABLE_METHODS in m.tables)
#: every registered method (Table 5.2's plus the LOTS target variants) -> Method record
ALL_METHODS = MethodView(lambda m: True)
#: Table 5.2's methods that are not LOTS and use the model (the CAM methods; not the image-only baselines)
CAM_METHODS = MethodView(lambda m: TABLE_METHODS in m.tables and not m.is_lots and not m.image_only)


def default_params(method) -> dict:
    """A copy of the documented defaults of ``method``'s parameters.

    Parameters
    ----------
    method : str or Method
        A registered key or a :class:`Method`.

    Returns
    -------
    dict
        ``{parameter: default}``, a fresh copy.

    Raises
    ------
    lotslib.errors.ParameterError
        ``method`` is not registered.
    """
    return dict(get_method(method).defaults)


def check_params(method, params: dict | None = None) -> dict:
    """Validate ``params`` for ``method`` and return them merged over its defaults.

    The generic checks (unknown names, ``batch_size``, ``seed``) are done here, then the
    method's own ``check``.

    Parameters
    ----------
    method : str or Method
        A registered key or a :class:`Method`.
    params : dict or None
        The parameters given (None, the default: none).

    Returns
    -------
    dict
        Every parameter of the method: its defaults updated with ``params``.

    Raises
    ------
    lotslib.errors.ParameterError
        Naming the parameter, before any compute: an unknown method or parameter, a
        ``batch_size`` that is not a positive integer or None, a ``seed`` that is not an
        int or a sequence of ints, or a value the method's ``check`` rejects.
    """
    m = get_method(method)
    params = dict(params or {})
    unknown = sorted(set(params) - set(m.defaults))
    if unknown:
        raise ParameterError(f"{m.name} does not take parameter(s) {unknown}; it takes {sorted(m.defaults)}.")
    p = {**m.defaults, **params}
    bs = p.get("batch_size")
    if bs is not None and (not is_int(bs) or bs < 1):
        raise ParameterError(f"batch_size={bs!r}: must be a positive integer or None (all images at once).")
    if "seed" in p:
        s = p["seed"]
        ok = is_int(s) or (isinstance(s, (list, tuple, np.ndarray)) and all(is_int(v) for v in s))
        if not ok:
            raise ParameterError(f"seed={s!r}: must be an int or a sequence of ints (one per image).")
    if m.check is not None:
        m.check(p)
    return p
