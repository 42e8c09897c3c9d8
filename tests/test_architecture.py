"""The package's structure: no import cycles, no private names in chapters, the registry and
metric objects as the one place a method or metric is added."""
from __future__ import annotations

import ast
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from helpers import TinyNet

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "lotslib"
#: the two packages: the library, and the book's own package (book/lotsbook)
PACKAGES = {"lotslib": PKG, "lotsbook": ROOT / "book" / "lotsbook"}


@pytest.fixture
def tiny_model():
    return TinyNet(0, name="tinyarch")


def _module_name(path: Path) -> str:
    pkg = next(d for d in PACKAGES.values() if path.is_relative_to(d))
    rel = path.relative_to(pkg.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _modules(packages=tuple(PACKAGES)) -> dict[str, Path]:
    return {_module_name(p): p for name in packages for p in PACKAGES[name].rglob("*.py")}


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """Every module of the two packages that ``name`` imports, at module level or inside
    functions (lazily)."""
    is_pkg = path.name == "__init__.py"
    base = name.split(".") if is_pkg else name.split(".")[:-1]
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name.split(".")[0] in PACKAGES:
                    out.add(a.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                mod = ".".join(base[: len(base) - node.level + 1] + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            if mod.split(".")[0] not in PACKAGES:
                continue
            for a in node.names:
                sub = f"{mod}.{a.name}"
                out.add(sub if sub in known else mod)
    return {m for m in out if m in known and m != name}


def import_graph() -> dict[str, set[str]]:
    mods = _modules()
    return {n: _imports(n, p, set(mods)) for n, p in mods.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in graph:
        if v not in index:
            visit(v)
    return out


def test_no_import_cycles():
    graph = import_graph()
    assert "lotslib.benchmark.runner" in graph and "lotslib.data" in graph["lotslib.benchmark.runner"]
    assert _cycles(graph) == []


def test_the_library_imports_nothing_from_the_book():
    """lotslib is installable and usable without the book: no module of it imports lotsbook,
    at module level or lazily inside a function; the book's package does import the library."""
    graph = import_graph()
    leaks = sorted(f"{m} -> {d}" for m, deps in graph.items() if m.startswith("lotslib")
                   for d in deps if d.startswith("lotsbook"))
    assert leaks == []
    assert any(d.startswith("lotslib") for m, deps in graph.items() if m.startswith("lotsbook") for d in deps)


def test_the_boundary_check_can_fail(tmp_path):
    """A library module that imported the book would be seen (absolute and lazy imports)."""
    path = tmp_path / "leak.py"
    path.write_text("def f():\n    from lotsbook.plots import show\n")
    assert _imports("lotslib.leak", path, {"lotsbook.plots", "lotslib.leak"}) == {"lotsbook.plots"}


def test_cycle_checker_finds_a_cycle():
    """The checker can fail: a two-module cycle and a lazy (function-level) import are seen."""
    assert _cycles({"a": {"b"}, "b": {"a"}, "c": set()}) == [["a", "b"]]
    tree_src = "def f():\n    from .models import load_model\n"
    path = ROOT / "tests" / "_tmp_lazy_import.py"
    try:
        path.write_text(tree_src)
        found = _imports("lotslib.x", path, {"lotslib.models", "lotslib.x"})
    finally:
        path.unlink()
    assert found == {"lotslib.models"}


def test_notebooks_use_no_private_lotslib_names():
    names = ("lotslib|lotsbook|build|plots|benchmark|studies|chapter|metrics|data|models|provenance|cache|results|"
             "single_image|page")
    pat = re.compile(rf"\b(?:{names})\.(_[a-z]\w*)")
    bad = []
    for nb in sorted((ROOT / "notebooks").glob("*.py")):
        for i, line in enumerate(nb.read_text().splitlines(), 1):
            for m in pat.finditer(line):
                bad.append(f"{nb.name}:{i}: {m.group(0)}")
            if re.match(r"\s*from lots(lib|book)[\w.]* import .*\b_[a-z]", line):
                bad.append(f"{nb.name}:{i}: {line.strip()}")
    assert bad == []


def _notebook_ratio():
    import importlib.util

    spec = importlib.util.spec_from_file_location("notebook_ratio", ROOT / "scripts" / "notebook_ratio.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.ratio


#: the most code a chapter may carry, in characters per character of prose
MAX_CODE_PER_PROSE = 0.5


def test_every_chapter_has_at_most_half_as_much_code_as_prose():
    """Each chapter is parameters, a few calls into its page module, the figures and the prose:
    its code cells hold at most half as many characters as its markdown cells."""
    ratio = _notebook_ratio()
    heavy = {}
    for nb in sorted((ROOT / "notebooks").glob("*.py")):
        code, prose = ratio(nb)
        if code > MAX_CODE_PER_PROSE * prose:
            heavy[nb.name] = round(code / prose, 2) if prose else float("inf")
    assert heavy == {}


def test_the_notebook_ratio_counts_code_and_prose(tmp_path):
    """The counter skips the header and the cell markers, strips the markdown's ``# ``, and
    flags a code-heavy chapter."""
    ratio = _notebook_ratio()
    nb = tmp_path / "nb.py"
    nb.write_text("# ---\n# jupyter:\n#   jupytext: {}\n# ---\n\n"
                  "# %% [markdown]\n# Hello prose\n#\n# ab\n\n"
                  "# %% tags=[\"parameters\"]\nx = 1\n\n"
                  "# %%\nprint(x)  # note\n\n")
    assert ratio(nb) == (len("x = 1") + len("print(x)  # note"), len("Hello prose") + len("ab"))
    code, prose = ratio(nb)
    assert code > MAX_CODE_PER_PROSE * prose  # this toy chapter would fail the rule


def test_explain_is_exported_and_every_module_is_listed():
    import lotslib

    assert lotslib.explain is not None and callable(lotslib.explain)
    doc = lotslib.__doc__
    top = sorted({n.split(".")[1] for n in _modules(("lotslib",)) if n.count(".") >= 1})
    missing = [m for m in top if not re.search(rf"^{m}\s", doc, re.M)]
    assert missing == []


# ------------------------------------------------------------------ the registry
def _toy_maps(model, x, targets, params):
    """A toy method: the image's brightness scaled by a parameter (no model needed)."""
    return x.mean(1) * params["gain"]


@pytest.fixture
def toy_method():
    from lotslib.method_registry import Method, register_method, unregister_method

    register_method(Method("toy", "Toy brightness", _toy_maps, defaults={"gain": 2.0, "batch_size": None},
                    tables={"5.2": "Toy brightness"}))
    yield "toy"
    unregister_method("toy")


def test_a_method_registered_in_one_place_reaches_explain_tables_and_benchmark(toy_method, tiny_model, tmp_path):
    from lotslib import benchmark as B
    from lotslib.data import embedded
    from lotslib.explanation import explain
    from lotslib.errors import ParameterError
    from lotslib.method_registry import CAM_METHODS, METHODS

    assert "toy" in METHODS and "toy" in CAM_METHODS and list(METHODS)[-1] == "toy"
    x = torch.rand(2, 3, 32, 32)
    m = explain("toy", tiny_model, x)
    g = x.mean(1)
    want = (g - g.flatten(1).amin(1)[:, None, None]) / (g.flatten(1).amax(1) - g.flatten(1).amin(1))[:, None, None]
    assert torch.allclose(m, want, atol=1e-6)  # min-max by explain, the parameter reached compute
    with pytest.raises(ParameterError, match="gain2"):
        explain("toy", tiny_model, x, gain2=1.0)
    images = embedded("imagenet").head(2)
    df = B.run([tiny_model], ["toy", "gradcam"], images, params={"metrics": {"steps": 4}}, cache_dir=tmp_path,
               progress=False)
    assert set(df["method_name"]) == {"Toy brightness", "Grad-CAM"}
    t = B.table_5_2(df)
    assert "Toy brightness" in t.index.get_level_values("method")
    assert np.isfinite(df[[m.col for m in B.METRICS.values()]].to_numpy(float)).all()


def test_unknown_and_duplicate_methods_are_refused(toy_method):
    from lotslib.errors import ParameterError
    from lotslib.method_registry import Method, get_method, register_method

    with pytest.raises(ParameterError, match="already registered"):
        register_method(Method("toy", "again", _toy_maps))
    with pytest.raises(ParameterError, match="Unknown method 'nope'"):
        get_method("nope")


# ------------------------------------------------------------------ metric objects
def test_metric_objects_carry_direction_and_the_tables_use_it():
    from lotslib.metric_registry import METRICS, metric_by_label
    from lotsbook.plots import direction

    want = {"avg_drop": False, "avg_increase": True, "coherency": True, "insertion": True, "deletion": False}
    assert {k: m.higher_is_better for k, m in METRICS.items()} == want
    assert metric_by_label("Avg Drop ↓").key == "avg_drop" and direction("Deletion ↓") == "min"
    assert direction("Insertion ↑") == "max" and direction("not a metric") is None
    assert METRICS["deletion"].best({"a": 3.0, "b": 1.0}) == "b"
    assert METRICS["insertion"].best({"a": 3.0, "b": 1.0}) == "a"


def test_a_registered_metric_reaches_the_benchmark(tiny_model, tmp_path):
    """A toy metric (the mean map value, in %) is computed per image by the benchmark and
    summarised in the tables, with no change anywhere else."""
    from lotslib import benchmark as B
    from lotslib.data import embedded
    from lotslib.metric_registry import Metric, MetricValues, register_metric, unregister_metric

    class MapMass(Metric):
        key, name, short, higher_is_better, column = "map_mass", "Map mass", "Mass", False, "map_mass"
        category = "complexity"

        def compute(self, batch):
            return MetricValues(batch.maps.flatten(1).mean(1).numpy().astype(np.float64) * 100)

    register_metric(MapMass())
    try:
        images = embedded("imagenet").head(2)
        df = B.run([tiny_model], ["gradcam"], images, params={"metrics": {"steps": 4}}, cache_dir=tmp_path,
                   progress=False)
        maps = B.load_maps(df)
        assert np.allclose(df["map_mass"], maps.reshape(len(maps), -1).mean(1) * 100, atol=0.05)  # float16 storage
        assert "Mass ↓" in B.table_5_2(df).columns.get_level_values(0)
    finally:
        unregister_metric("map_mass")


def _public_defs(path: Path) -> list[str]:
    """The public top-level function and class names a module defines."""
    return [n.name for n in ast.parse(path.read_text()).body
            if isinstance(n, (ast.FunctionDef, ast.ClassDef)) and not n.name.startswith("_")]


def test_no_function_or_class_name_is_defined_in_two_modules():
    """One name, one meaning, across both packages (``main``, a command's entry point, aside)."""
    seen: dict[str, list[str]] = {}
    for name, path in _modules().items():
        for d in _public_defs(path):
            seen.setdefault(d, []).append(name)
    dupes = {d: mods for d, mods in seen.items() if len(mods) > 1 and d != "main"}
    assert dupes == {}


def test_the_duplicate_name_check_can_fail(tmp_path):
    a, b = tmp_path / "a.py", tmp_path / "b.py"
    a.write_text("def run_table():\n    pass\n\n\ndef _private():\n    pass\n")
    b.write_text("class run_table:\n    pass\n")
    assert _public_defs(a) == ["run_table"] and _public_defs(b) == ["run_table"]


def test_no_source_cites_a_tracker_issue_number():
    """The issue tracker is not in the repository: docstrings say what and why, not 'issue 11'."""
    pat = re.compile(r"\bissues? #?\d+", re.I)
    hits = [f"{name}: {m.group(0)}" for name, path in _modules().items() for m in pat.finditer(path.read_text())]
    assert hits == []
    assert pat.search("as issue 11, item 5 said")  # the pattern can fail
