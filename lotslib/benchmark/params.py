"""The benchmark's parameters: validation, defaults and the values that key its cache.

:func:`resolve_params` checks every method's and metric's parameters before any compute;
the method defaults come from :mod:`lotslib.method_registry`, the metric defaults from
:mod:`lotslib.metric_registry`.
"""
from __future__ import annotations

import hashlib
import math
from typing import Sequence

import numpy as np

from ..errors import ParameterError
from ..paths import cache_root
from ..method_registry import ALL_METHODS, check_params, get_method
from ..metric_registry import check_metric_params, metric_defaults
from ..params import as_params_dict

__all__ = ["resolve_params", "cache_spec", "METRIC_DEFAULTS", "DEFAULT_CACHE_DIR", "CACHE_VERSION",
           "model_fingerprint"]

CACHE_VERSION = 1
DEFAULT_CACHE_DIR = cache_root() / "benchmark"

#: insertion/deletion defaults (thesis protocol; blur = Petsiuk et al.'s substrate) and the
#: number of perturbed images per forward pass: the registered metrics' parameters
METRIC_DEFAULTS = metric_defaults()


def _jsonable(v):
    if isinstance(v, float) and not math.isfinite(v):
        return str(v)
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating,)):
        return float(v)
    return v


def resolve_params(methods: Sequence[str], params: dict | None = None) -> dict:
    """Validate ``params`` and return ``{method: resolved params, ..., "metrics": {...}}``.

    Parameters
    ----------
    methods : Sequence of str
        The method keys.
    params : dict or None, optional
        One dict per method key (``"lots"``: a dict or a :class:`lotslib.params.LotsParams`,
        whose values apply to the LOTS target variants too, under their own keys' overrides)
        and ``"metrics"`` (a dict or a :class:`lotslib.params.MetricParams`: the registered
        metrics' parameters); default None. LOTS's ``target`` is set by the method key, not a
        parameter.

    Returns
    -------
    dict
        Method key -> resolved parameters, and ``"metrics"`` -> the metric parameters.

    Raises
    ------
    lotslib.errors.ParameterError
        An unknown method or parameter name, or a bad value, before any compute.
    """
    params = {k: as_params_dict(v) for k, v in dict(params or {}).items()}  # typed parameters to dicts
    unknown = sorted(set(params) - set(ALL_METHODS) - {"metrics"})
    if unknown:
        raise ParameterError(f"params has unknown key(s) {unknown}; use method keys {list(ALL_METHODS)} or 'metrics'.")
    bad = [m for m in methods if m not in ALL_METHODS]
    if bad:
        raise ParameterError(f"Unknown method(s) {bad}. Choose from {list(ALL_METHODS)}.")
    if len(set(methods)) != len(methods):
        raise ParameterError(f"methods lists a method twice: {list(methods)}.")
    out = {}
    # every given method's params are checked, also for methods not run (a typo is an error)
    for m in list(methods) + [k for k in params if k != "metrics" and k not in methods]:
        if get_method(m).is_lots:
            # the shared "lots" parameters a variant takes (the class-logit variant has no target, layer, tau)
            shared = {k: v for k, v in dict(params.get("lots", {})).items() if k in get_method(m).defaults}
            p = {**shared, **(dict(params.get(m, {})) if m != "lots" else {})}
            if "target" in p:
                raise ParameterError(
                    "The benchmark sets LOTS's target by method key: 'lots' (zero F_t), 'lots_class', 'lots_mean'. "
                    "Fix: remove 'target' from params."
                )
            r = check_params(m, p)
            r.pop("target", None)
        else:
            r = check_params(m, params.get(m, {}))
            if "seed" in r and not isinstance(r["seed"], (int, np.integer)):
                raise ParameterError(f"{m}: the benchmark takes one int seed "
                                     "(per-image seeds are derived from image ids).")
        out[m] = {k: _jsonable(v) for k, v in r.items()}
    out = {m: out[m] for m in methods}
    mp = check_metric_params(params.get("metrics", {}))
    out["metrics"] = {k: _jsonable(v) for k, v in mp.items()}
    return out


def cache_spec(resolved: dict, method: str, model: str, weights: str, device: str, timing: str) -> dict:
    """What keys one (model, method) of the benchmark's cache (:func:`lotslib.benchmark.store.key_for`).

    Parameters
    ----------
    resolved : dict
        :func:`resolve_params`' output: every parameter of the method and of the metrics.
    method, model, weights, device, timing : str
        The method key, the model's name and weights fingerprint, the device type and the
        timing mode.

    Returns
    -------
    dict
        The spec (a reference-set fingerprint is added by the runner for the LOTS class/mean
        variants).
    """
    return {"version": CACHE_VERSION, "model": model, "weights": weights, "method": method,
            "params": resolved[method], "metrics": resolved["metrics"], "device": device, "timing": timing}


def model_fingerprint(model) -> str:
    """The weights fingerprint of a lotslib model (or a hash of any module's state dict).

    Parameters
    ----------
    model : lotslib.models.ModelWrapper or torch.nn.Module
        The model.

    Returns
    -------
    str
        The fingerprint (hex digits).
    """
    from ..models import ModelWrapper, weights_fingerprint

    if isinstance(model, ModelWrapper):
        return weights_fingerprint(model)
    h = hashlib.sha256(type(model).__qualname__.encode())
    for k, v in model.state_dict().items():
        h.update(k.encode())
        h.update(v.detach().cpu().float().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]
