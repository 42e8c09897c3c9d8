"""The exercises' solutions run without the book, and the teachers' page lists every exercise.

Each solution (a code cell between ``{solution-start}`` and ``{solution-end}`` of a chapter,
notebooks/*.py) must run in a plain interpreter with the public ``lotslib`` API only: it
imports what it uses (lotslib's public names, torch, torchvision, numpy, pandas,
matplotlib, PIL), binds every name it reads, and never touches the book's package
(``lotsbook``: ``ctx``, ``page``, ``plots``, ``results``). The static check is quick; the
run of every solution (:func:`test_each_solution_runs_without_the_book`) starts one fresh
interpreter per solution, with ``lotsbook`` made unimportable, at 2 LOTS iterations
(``LOTS_EXERCISE_ITERS``): about 5 s each on an idle 2-core machine, 1 to 2 minutes in all
(the slow part of this file).
"""
from __future__ import annotations

import ast
import builtins
import importlib
import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from lotsbook import build as book

ROOT = Path(__file__).resolve().parents[1]
TEACHERS = ROOT / "book" / "teachers.md"
#: the top-level modules a solution may import besides lotslib
PLAIN = {"torch", "torchvision", "numpy", "pandas", "matplotlib", "PIL"}
#: run before a solution: the book's package cannot be imported (even where it is installed)
NO_BOOK = ("import sys\nsys.modules['lotsbook'] = None\ntry:\n    import lotsbook\nexcept ImportError:\n    pass\n"
           "else:\n    raise SystemExit('lotsbook is importable')\n")


def exercises() -> list[tuple[str, str, str]]:
    """Every exercise of the chapters, in order: (chapter stem, label, title)."""
    out = []
    for ch in book.CHAPTERS:
        text = (book.NOTEBOOKS / f"{ch.stem}.py").read_text()
        out += [(ch.stem, label, title.strip())
                for title, label in re.findall(r"^# ```\{exercise\} ([^\n]*)\n# :label: (\S+)$", text, flags=re.M)]
    return out


def solutions() -> list[tuple[str, str]]:
    """Every solution code cell of the chapters: (label, code), in order."""
    out = []
    for ch in book.CHAPTERS:
        label = None
        for cell in book.convert(book.NOTEBOOKS / f"{ch.stem}.py").cells:
            if cell.cell_type == "markdown":
                start = re.search(r"\{solution-start\} (\S+)", cell.source)
                label = start.group(1) if start else (None if "{solution-end}" in cell.source else label)
            elif label is not None:
                out.append((label, cell.source))
    return out


def public_api_problems(code: str) -> list[str]:
    """What in ``code`` a student outside the book could not run: an import of anything but
    lotslib's public names and :data:`PLAIN` modules, a private name, or a name read but
    never bound in the cell (a chapter variable such as ``ctx``, ``x`` or ``page``)."""
    tree, problems, bound = ast.parse(code), [], set(dir(builtins))
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            module = node.module if isinstance(node, ast.ImportFrom) else None
            for a in node.names:
                name = f"{module}.{a.name}" if module else a.name
                top = name.split(".")[0]
                bound.add((a.asname or a.name).split(".")[0])
                if top not in PLAIN | {"lotslib"}:
                    problems.append(f"imports {name}")
                elif top == "lotslib" and module and not _public(module, a.name):
                    problems.append(f"imports {name}, not public")
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            bound.add(node.id)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__"):
            problems.append(f"uses the private name .{node.attr}")
    read = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    problems += [f"reads {n}, which it never binds" for n in sorted(read - bound)]
    return problems


def _public(module: str, name: str) -> bool:
    """``from module import name`` gives a public lotslib name: one of the module's
    ``__all__`` (lotslib's own for the package), or a submodule."""
    mod = importlib.import_module(module)
    return name in getattr(mod, "__all__", ()) or (not name.startswith("_") and importlib.util.find_spec(
        f"{module}.{name}") is not None)


def run_alone(code: str, tmp_path: Path) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter that sees the repository's lotslib but not the
    book's package, at 2 LOTS iterations, with matplotlib's Agg backend."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "LOTS_EXERCISE_ITERS": "2", "MPLBACKEND": "Agg",
           "OMP_NUM_THREADS": "1", "LOTS_THREADS": "1"}
    return subprocess.run([sys.executable, "-c", NO_BOOK + code], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=600)


# ----------------------------------------------------------------- static checks
def test_every_exercise_has_one_solution_cell_or_more():
    labels = [label for _, label, _ in exercises()]
    assert len(labels) >= 2 * 8 and len(set(labels)) == len(labels)
    assert {label for label, _ in solutions()} == set(labels)


@pytest.mark.parametrize("label,code", solutions(), ids=[label for label, _ in solutions()])
def test_every_solution_uses_the_public_api_only(label, code):
    assert public_api_problems(code) == [], label


def test_the_public_api_check_can_fail():
    """A chapter variable, the book's package, a private or unlisted lotslib name and an
    unbound name are each caught; a self-contained cell passes."""
    assert public_api_problems("page.show_bound(ctx, net, sizes)") == [
        "reads ctx, which it never binds", "reads net, which it never binds", "reads page, which it never binds",
        "reads sizes, which it never binds"]
    assert public_api_problems("from lotsbook import results\nresults.top1(1, 2)") == ["imports lotsbook.results"]
    assert public_api_problems("from lotslib.studies import _maps") == ["imports lotslib.studies._maps, not public"]
    assert public_api_problems("import lotslib\nlotslib.studies._top1(1, 2)") == ["uses the private name ._top1"]
    assert public_api_problems("from lotslib import lots\nfrom lotslib.models import exercise_kit\n"
                               "kit = exercise_kit(1)\nr = lots(kit.net, kit.x)\nprint([v for v in r.x_adv])") == []


# ----------------------------------------------------------------- the teachers' page
def test_the_teachers_page_lists_every_exercise_once():
    """The page's exercise list and the chapters' exercises are the same: each
    ``{ref}`title <label>``` line names an exercise by its label and its title, under its
    chapter's number (the strict build resolves every label: a wrong one fails it)."""
    text = TEACHERS.read_text()
    listed = re.findall(r"^- Chapter (\d+): \{ref\}`(.+) <(ex-[\w-]+)>`$", text, flags=re.M)
    assert len(listed) == len({label for _, _, label in listed})
    chapters = {ch.stem: ch.number for ch in book.CHAPTERS}
    assert [(chapters[stem], title, label) for stem, label, title in exercises()] == listed
    # every {ref} of the page (the lesson plan's too) names an exercise
    refs = set(re.findall(r"\{ref\}`[^`<]*<([^>]+)>`", text))
    assert refs <= {label for _, label, _ in exercises()}


def test_the_teachers_page_quotes_the_recorded_classroom_build():
    record = json.loads((ROOT / "results" / "book_time_classroom.json").read_text())
    assert record["profile"] == "classroom"
    seconds = re.search(r"A cold build of it took\s+(\d+) s", TEACHERS.read_text())
    assert seconds and int(seconds.group(1)) == round(record["cold_s"])


def test_the_teachers_page_is_in_the_table_of_contents():
    assert re.search(r"^\s*- file: book/teachers\b", (ROOT / "book" / "_toc.yml").read_text(), flags=re.M)


# ----------------------------------------------------------------- the kit
def test_exercise_kit_reads_the_iteration_cap_from_the_environment(monkeypatch):
    from lotslib.models import EXERCISE_ITERS_ENV, exercise_kit
    from lotslib.errors import ParameterError

    monkeypatch.setenv(EXERCISE_ITERS_ENV, "3")
    kit = exercise_kit(ids=["chelsea"])
    assert kit.iters == 3 and kit.photos.ids == ["chelsea"] and kit.x.shape == (1, 3, 224, 224)
    assert 0.0 <= float(kit.x.min()) and float(kit.x.max()) <= 1.0
    assert (kit.alpha, kit.tau, kit.filter_size) == (1 / 255, 0.1, 49)
    monkeypatch.setenv(EXERCISE_ITERS_ENV, "forty")  # a bad value is named, not a ValueError traceback
    with pytest.raises(ParameterError, match=r"LOTS_EXERCISE_ITERS='forty': must be a whole number"):
        exercise_kit(1)
    monkeypatch.delenv(EXERCISE_ITERS_ENV)
    with pytest.raises(ParameterError, match="n_images"):
        exercise_kit(0)


# ----------------------------------------------------------------- running them (slow: one interpreter each)
def test_the_runner_hides_the_book(tmp_path):
    """A solution that reaches for the book fails where the solutions run; lotslib imports."""
    assert run_alone("import lotslib.data", tmp_path).returncode == 0
    failed = run_alone("from lotsbook import results", tmp_path)
    assert failed.returncode != 0 and "lotsbook" in failed.stderr


@pytest.mark.parametrize("label,code", solutions(), ids=[label for label, _ in solutions()])
def test_each_solution_runs_without_the_book(label, code, tmp_path):
    done = run_alone(code, tmp_path)
    assert done.returncode == 0, f"{label}:\n{done.stderr[-3000:]}"
