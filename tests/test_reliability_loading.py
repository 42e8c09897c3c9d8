"""Reliability, safe loading: no pickle anywhere in lotslib, the chapters, the
scripts or the benchmarks (a static check of their sources).

Split from the former ``test_reliability.py``.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


pytestmark = pytest.mark.usefixtures("one_thread")


# ====================================================================== safe loading
PICKLERS = ("pickle", "cPickle", "_pickle", "dill", "cloudpickle", "joblib", "shelve", "marshal")


def _sources():
    files = sorted((ROOT / "lotslib").glob("*.py")) + sorted((ROOT / "notebooks").glob("*.py"))
    files += sorted((ROOT / "scripts").glob("*.py")) + sorted((ROOT / "experiments").glob("*.py"))
    return [f for f in files if f.is_file()]


def _kw(call, name):
    for k in call.keywords:
        if k.arg == name:
            return k.value
    return None


def test_every_load_is_pickle_free():
    """Every torch.load / hub download passes weights_only=True; no pickle module, no
    np.load(allow_pickle=True), no pandas pickles, no torch.save caches."""
    bad, n_weight_loads = [], 0
    for f in _sources():
        tree = ast.parse(f.read_text(), filename=str(f))
        for node in ast.walk(tree):
            where = f"{f.relative_to(ROOT)}:{getattr(node, 'lineno', '?')}"
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [a.name for a in node.names]
                names += [node.module] if isinstance(node, ast.ImportFrom) and node.module else []
                bad += [f"{where} imports {n}" for n in names
                        if n.split(".")[0] in PICKLERS]
            if not isinstance(node, ast.Call):
                continue
            fn = node.func
            name = fn.attr if isinstance(fn, ast.Attribute) else (fn.id if isinstance(fn, ast.Name) else "")
            owner = fn.value.id if isinstance(fn, ast.Attribute) and isinstance(fn.value, ast.Name) else ""
            if (owner == "torch" and name == "load") or name in ("load_state_dict_from_url", "load_url"):
                n_weight_loads += 1
                v = _kw(node, "weights_only")
                if not (isinstance(v, ast.Constant) and v.value is True):
                    bad.append(f"{where} {owner + '.' if owner else ''}{name} without weights_only=True")
            if owner in ("np", "numpy") and name == "load":
                v = _kw(node, "allow_pickle")
                if v is not None and not (isinstance(v, ast.Constant) and v.value is False):
                    bad.append(f"{where} np.load with allow_pickle not False")
            if name in ("read_pickle", "to_pickle"):
                bad.append(f"{where} pandas {name}")
            if owner == "torch" and name == "save":
                bad.append(f"{where} torch.save (a pickle; caches are parquet/npz/JSON)")
    assert n_weight_loads >= 3  # the checker does see models.py's two torch.load and the hub download
    assert bad == [], "\n".join(bad)
