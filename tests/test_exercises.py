"""The chapters' exercises: their sources, the book's sphinx-exercise
extension (book/_ext/lotslib_exercise.py) on a two-page Sphinx project, and the helper their
solutions call (:func:`lotsbook.results.lots_run_table`). The built pages themselves are
checked in tests/test_book.py, which builds the tiny book once."""
from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
import torch

from lotsbook import build as book
from lotslib.errors import ParameterError
from lotslib.attack import LotsResult, LotsTrace
from lotsbook.results import lots_run_table

EXT = book.ROOT / "book" / "_ext"
#: the chapters that carry exercises (a chapter 8 is added when it has them)
EXERCISE_CHAPTERS = [c for c in book.CHAPTERS if c.number.isdigit()]


# ----------------------------------------------------------------- the helper
def _result(x, delta, iterations, converged, distances):
    n = len(x)
    trace = LotsTrace(distances=torch.tensor(distances), iterations=torch.tensor(iterations),
                      converged=torch.tensor(converged), stop_reason=["max_iters"] * n,
                      top1_before=torch.zeros(n, dtype=torch.long), top1_after=torch.zeros(n, dtype=torch.long))
    return LotsResult(x + delta, trace)


def test_lots_run_table_measures_the_perturbation():
    x = torch.full((2, 3, 4, 4), 0.5)
    delta = torch.zeros_like(x)
    delta[0, 1, 2, 3] = 3 / 255  # one pixel of image 0 moved by 3/255, the others untouched
    delta[1] = -1 / 255  # every pixel of image 1 moved by 1/255
    res = _result(x, delta, [3, 1], [False, True], [[9.0, 5.0, 4.0, 4.0], [2.0, 0.05, 0.05, 0.05]])
    t = lots_run_table(x, {"run": res}, ["a", "b"])
    assert list(t.index) == [("run", "a"), ("run", "b")]
    assert t.loc[("run", "a"), "largest pixel change"] == pytest.approx(3.0, abs=1e-4)
    assert t.loc[("run", "a"), "mean pixel change"] == pytest.approx(3.0 / 48, abs=1e-4)
    assert t.loc[("run", "b"), "largest pixel change"] == pytest.approx(1.0, abs=1e-4)
    assert t.loc[("run", "b"), "mean pixel change"] == pytest.approx(1.0, abs=1e-4)
    assert t.loc[("run", "a"), "distance before"] == 9.0 and t.loc[("run", "a"), "distance after"] == 4.0
    assert t["iterations"].tolist() == [3, 1] and t["reached τ"].tolist() == [False, True]
    two = lots_run_table(x, {"first": res, "second": res})  # default names 0, 1
    assert list(two.index.get_level_values("image")) == ["0", "1", "0", "1"]
    with pytest.raises(ParameterError, match="one name per image"):
        lots_run_table(x, {"run": res}, ["only one"])
    with pytest.raises(ParameterError, match="x_adv has shape"):
        lots_run_table(x[:1], {"run": res})


# ----------------------------------------------------------------- the chapter sources
def test_every_chapter_ends_with_gated_exercises():
    """At least two exercises per chapter, each with a gated solution (code executed with the
    chapter) in a closed dropdown, the solution's code shown (tag show-input), and no
    :nonumber:-less exercise (the book keeps numfig off)."""
    for ch in EXERCISE_CHAPTERS:
        nb = book.convert(book.NOTEBOOKS / f"{ch.stem}.py")
        md = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
        exercises = re.findall(r"```\{exercise\}[^\n]*\n:label: (\S+)\n((?::\w+:[^\n]*\n)*)", md)
        assert len(exercises) >= 2, f"{ch.stem}: {len(exercises)} exercises"
        for label, options in exercises:
            assert ":nonumber:" in options, f"{ch.stem}: exercise {label} lacks :nonumber:"
            assert re.search(rf"```\{{solution-start\}} {re.escape(label)}\n:class: dropdown\n", md), (
                f"{ch.stem}: exercise {label} has no gated solution in a dropdown")
        starts, ends = md.count("{solution-start}"), md.count("{solution-end}")
        assert starts == ends == len(exercises), f"{ch.stem}: {starts} starts, {ends} ends"
        # every code cell after the first solution-start belongs to a solution and shows its code
        first = next(i for i, c in enumerate(nb.cells) if "{solution-start}" in c.source)
        code = [c for c in nb.cells[first:] if c.cell_type == "code"]
        assert code and all("show-input" in c.metadata.get("tags", []) for c in code), ch.stem
        assert not re.search(r"\blotslib\.\w+\._|\b_[a-z]\w*\(", "".join(c.source for c in code)), (
            f"{ch.stem}: a solution uses a private name")


# ----------------------------------------------------------------- the Sphinx extension
PAGE = """# Page

```{exercise} Try it
:label: ex-one
:nonumber:

Predict it.
```

```{solution-start} ex-one
:class: dropdown
```

The hidden answer is forty-two.

```{solution-end}
```

Text after the exercise.
"""


def _sphinx_build(tmp_path: Path, pages: dict | None = None, **overrides) -> str:
    """Build :data:`PAGE` as index.md (and ``pages``: name -> Markdown) with the book's
    exercise extension; the HTML of index."""
    from sphinx.application import Sphinx
    from sphinx.util.docutils import docutils_namespace

    src = tmp_path / "src"
    src.mkdir(parents=True, exist_ok=True)
    (src / "conf.py").write_text("")
    (src / "index.md").write_text(PAGE + "".join(f"\n```{{toctree}}\n{name}\n```\n" for name in pages or {}))
    for name, text in (pages or {}).items():
        (src / f"{name}.md").write_text(text)
    warnings = tmp_path / "warnings.txt"
    sys.path.insert(0, str(EXT))
    try:
        with warnings.open("w") as w, docutils_namespace():  # a fresh node registry per build
            app = Sphinx(str(src), str(src), str(tmp_path / "html"), str(tmp_path / "doctrees"), "html",
                         confoverrides={"extensions": ["myst_parser", "lotslib_exercise"], **overrides},
                         status=None, warning=w, freshenv=True)
            app.build()
    finally:
        sys.path.remove(str(EXT))
    text = warnings.read_text()
    assert "WARNING" not in text and "ERROR" not in text, text
    return (tmp_path / "html" / "index.html").read_text()


def test_solutions_are_dropdowns_and_can_be_hidden(tmp_path):
    """Shown: the gated solution is a closed dropdown under its exercise. Hidden
    (``hide_solutions``, upstream crashes on gated solutions): the exercise stays, the
    solution's text is gone, the page after it is intact, and numfig stays off."""
    shown = _sphinx_build(tmp_path / "shown")
    assert re.search(r'class="solution dropdown admonition"', shown) and "forty-two" in shown
    assert "Fig. " not in shown
    hidden = _sphinx_build(tmp_path / "hidden", hide_solutions=True)
    assert 'class="exercise admonition"' in hidden and "Predict it." in hidden
    assert "forty-two" not in hidden and "solution" not in re.sub(r"<script.*?</script>", "", hidden, flags=re.S)
    assert "Text after the exercise." in hidden


def test_a_reference_to_an_exercise_links_to_its_anchor(tmp_path):
    """The teachers' page links each exercise as ``{ref}`title <label>```: Sphinx resolves
    the exercise's label to its anchor on the chapter's page (a wrong label warns, and the
    book's -W build fails on it)."""
    _sphinx_build(tmp_path, pages={"teachers": "# Teachers\n\n- {ref}`Try it <ex-one>`\n"})
    html = (tmp_path / "html" / "teachers.html").read_text()
    assert re.search(r'<a class="reference internal" href="index\.html#ex-one">.*?Try it', html, flags=re.S), html
    with pytest.raises(AssertionError, match="undefined label"):
        _sphinx_build(tmp_path / "bad", pages={"teachers": "# Teachers\n\n- {ref}`Try it <ex-none>`\n"})
