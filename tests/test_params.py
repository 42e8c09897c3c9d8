"""The typed parameters: checked at construction, each default written once, and every
field reaching the cache keys (lotslib.params, lotsbook.profiles)."""
from __future__ import annotations

import dataclasses
import json

import pytest

from lotslib.benchmark.params import cache_spec, resolve_params
from lotslib.benchmark.store import key_for
from lotslib.errors import ParameterError
from lotslib.params import LotsParams, MetricParams
from lotsbook import build as book
from lotsbook.profiles import PROFILES, BookProfile, resolve_profile

#: a valid value other than the default, per field (a new field without one fails the tests)
LOTS_ALT = dict(iters=7, tau=0.2, alpha=2 / 255, alpha_final=0.5 / 255, layer="penultimate", distance="cosine",
                filter_size=25, sigma=3.0, batch_size=2, patience=5, min_delta=0.01, step_space="normalized")
METRIC_ALT = dict(steps=8, blur_kernel=5, blur_sigma=2.0, score="max", fill="mean", batch_size=4)
PROFILE_ALT = dict(profile="classroom", model="efficientnet_lite1", models=["efficientnet_lite1"],
                   compare_models=["efficientnet_lite1", "efficientnet_lite2"], image_source="folder",
                   image_path="/data/photos", ground_truth="gt.txt", n_images=3, n_grid=3, n_grid_large=4, iters=7,
                   figure_iters=5, tau=0.2, alpha=2 / 255, filter_size=25, steps=8, fill="mean", score="max",
                   batch_size=2,
                   device="cuda", cache_dir="/tmp/c", seed=1, study_images=4, study_iters=20, patience=5,
                   min_delta=0.1, reference="/data/ref", sanity_images=4, sanity_steps=2, focus_arrangements=2,
                   road_images=2, location_iters=4, image="/tmp/a.png", image_digest="abc",
                   fill_coherency=True, plateau_study=True)


def _names(cls):
    return [f.name for f in dataclasses.fields(cls)]


@pytest.mark.parametrize("cls, alt", [(LotsParams, LOTS_ALT), (MetricParams, METRIC_ALT), (BookProfile, PROFILE_ALT)])
def test_every_field_has_an_alternative_value(cls, alt):
    assert sorted(alt) == sorted(_names(cls))
    for k, v in alt.items():
        assert getattr(cls().replace(**{k: v}), k) != getattr(cls(), k), k


def _benchmark_key(method: str, params: dict) -> str:
    resolved = resolve_params([method], params)
    return key_for(cache_spec(resolved, method, "m", "w", "cpu", "per_image"), "m", method)


@pytest.mark.parametrize("name", _names(LotsParams))
def test_the_benchmark_key_changes_with_every_lots_parameter(name):
    base = _benchmark_key("lots", {"lots": LotsParams()})
    assert _benchmark_key("lots", {"lots": LotsParams(**{name: LOTS_ALT[name]})}) != base, name
    assert _benchmark_key("lots", {"lots": LotsParams().as_dict()}) == base  # a dict at the boundary: same key


@pytest.mark.parametrize("name", _names(MetricParams))
def test_the_benchmark_key_changes_with_every_metric_parameter(name):
    base = _benchmark_key("gradcam", {"metrics": MetricParams()})
    assert _benchmark_key("gradcam", {"metrics": MetricParams(**{name: METRIC_ALT[name]})}) != base, name


@pytest.mark.parametrize("name", _names(BookProfile))
def test_a_chapter_is_executed_again_when_any_book_parameter_changes(name):
    src = book.NOTEBOOKS / "01_attack.py"
    base = BookProfile()
    changed = base.replace(**{name: PROFILE_ALT[name]})
    assert book._execution_key(src, changed.as_dict()) != book._execution_key(src, base.as_dict()), name


def test_the_book_passes_its_lots_and_metric_settings_to_the_benchmark():
    from lotsbook.chapter import benchmark_params

    p = PROFILES["embedded"]
    bp = benchmark_params(p)
    assert isinstance(bp["lots"], LotsParams) and isinstance(bp["metrics"], MetricParams)
    assert (bp["lots"].iters, bp["lots"].filter_size, bp["metrics"].steps, bp["metrics"].fill) == (
        p.iters, p.filter_size, p.steps, p.fill)
    assert benchmark_params(p.as_dict()) == bp  # the dict a notebook holds gives the same objects
    for name in ("iters", "tau", "alpha", "filter_size", "batch_size", "steps", "fill", "score"):
        changed = benchmark_params(p.replace(**{name: PROFILE_ALT[name]}))
        assert _benchmark_key("lots", changed) != _benchmark_key("lots", bp), name


@pytest.mark.parametrize("cls, kw, message", [
    (LotsParams, {"iters": 0}, r"iters=0: must be an integer >= 1"),
    (LotsParams, {"tau": -1.0}, r"tau=-1.0"),
    (LotsParams, {"alpha": 0}, r"alpha=0"),
    (LotsParams, {"filter_size": 4}, r"filter_size"),
    (LotsParams, {"layer": "conv"}, r"layer='conv': choose 'logits'"),
    (LotsParams, {"alpha_final": -1.0}, r"alpha_final=-1.0"),
    (MetricParams, {"fill": "white"}, r"fill='white'"),
    (MetricParams, {"score": "top5"}, r"score='top5': choose 'original'"),
    (MetricParams, {"steps": 0}, r"steps=0"),
    (MetricParams, {"blur_kernel": 4}, r"blur_kernel=4"),
    (MetricParams, {"batch_size": 0}, r"batch_size=0"),
    (BookProfile, {"n_images": 0}, r"n_images=0: must be an integer >= 1"),
    (BookProfile, {"models": []}, r"models=\[\]: must be a non-empty list"),
    (BookProfile, {"image_source": "web"}, r"image_source='web': choose one of"),
    (BookProfile, {"iters": 2.5}, r"iters=2.5"),
    (BookProfile, {"fill": "white"}, r"fill='white'"),
    (BookProfile, {"plateau_study": "yes"}, r"plateau_study='yes': must be true or false"),
])
def test_bad_values_are_refused_at_construction(cls, kw, message):
    with pytest.raises(ParameterError, match=message):
        cls(**kw)
    with pytest.raises(ParameterError, match=message):
        cls().replace(**kw)  # a copy is checked too


def test_unknown_names_and_profiles_are_refused():
    with pytest.raises(ParameterError, match=r"no parameter\(s\) \['itres'\]"):
        LotsParams.from_dict({"itres": 3})
    with pytest.raises(ParameterError, match="itres=3: unknown chapter parameter"):
        BookProfile.from_dict({"itres": 3})
    with pytest.raises(ParameterError, match="profile='huge': unknown profile"):
        resolve_profile("huge")


def test_a_profile_round_trips_through_json():
    for name in PROFILES:
        p = resolve_profile(name, tiny=True, image_path="/data/val")
        assert BookProfile.from_dict(json.loads(json.dumps(p.as_dict()))) == p


def test_defaults_are_shared_not_repeated():
    """The book's profiles read the library's defaults: the thesis's values are LotsParams'/MetricParams'."""
    thesis = PROFILES["full"]
    assert (thesis.iters, thesis.tau, thesis.alpha, thesis.filter_size) == (
        LotsParams.iters, LotsParams.tau, LotsParams.alpha, LotsParams.filter_size)
    assert (thesis.steps, thesis.fill, thesis.score) == (MetricParams.steps, MetricParams.fill, MetricParams.score)
    from lotslib.method_registry import get_method
    from lotslib.metric_registry import METRICS

    assert {k: get_method("lots").defaults[k] for k in LotsParams().as_dict()} == LotsParams().as_dict()
    assert METRICS["insertion"].defaults["score"] == MetricParams.score
    assert METRICS["avg_drop"].defaults["fill"] == MetricParams.fill


# ------------------------------------------------------------------ defaults written once
def _repeated_defaults(source: str, defaults: dict) -> list[str]:
    """Function parameters whose default is a literal equal to the dataclass default of the
    same name: a second place where that default is written."""
    import ast

    out = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        args = node.args.posonlyargs + node.args.args
        pairs = list(zip(args[len(args) - len(node.args.defaults):], node.args.defaults))
        pairs += [(a, d) for a, d in zip(node.args.kwonlyargs, node.args.kw_defaults) if d is not None]
        for arg, default in pairs:
            if not all(isinstance(n, (ast.Constant, ast.BinOp, ast.UnaryOp, ast.operator, ast.unaryop))
                       for n in ast.walk(default)):
                continue  # not a literal (a name, an attribute such as LotsParams.iters, a call)
            value = eval(compile(ast.Expression(default), "<default>", "eval"), {"__builtins__": {}})
            if arg.arg in defaults and value is not None and value == defaults[arg.arg]:
                out.append(f"{node.name}({arg.arg}={ast.unparse(default)})")
    return out


def test_no_function_repeats_a_parameter_default():
    """LotsParams and MetricParams are the only place their defaults are written: no function
    of either package repeats one as a literal (it reads ``LotsParams.iters`` etc. instead)."""
    from pathlib import Path

    from lotslib.params import LotsParams, MetricParams, defaults_of

    defaults = {**defaults_of(LotsParams), **defaults_of(MetricParams)}
    defaults.pop("batch_size")  # a name both use with different meanings and defaults
    root = Path(__file__).resolve().parents[1]
    files = [p for base in (root / "lotslib", root / "book" / "lotsbook") for p in base.rglob("*.py")
             if p.name != "params.py"]
    hits = [f"{p.relative_to(root)}: {h}" for p in files for h in _repeated_defaults(p.read_text(), defaults)]
    assert hits == []


def test_the_repeated_default_check_can_fail():
    src = "def f(x, iters=500, tau=0.2, fill='black', alpha=1 / 255, *, steps=224):\n    pass\n"
    found = _repeated_defaults(src, {"iters": 500, "tau": 0.1, "fill": "black", "alpha": 1 / 255, "steps": 224})
    assert found == ["f(iters=500)", "f(fill='black')", "f(alpha=1 / 255)", "f(steps=224)"]  # tau 0.2 differs


def test_the_side_studies_run_live_where_the_budget_allows():
    """The embedded and classroom builds read the two side studies from the recorded ones;
    the full profile and --tiny (which the book test builds) run them."""
    for name in ("embedded", "classroom"):
        assert not PROFILES[name].fill_coherency and not PROFILES[name].plateau_study
    assert PROFILES["full"].fill_coherency and PROFILES["full"].plateau_study
    tiny = resolve_profile("embedded", tiny=True)
    assert tiny.fill_coherency and tiny.plateau_study
