"""Reliability, the book entry point (:mod:`lotsbook.build`): a failing chapter stops
the build naming it, keeps its partial notebook and leaves the other chapters intact.

Split from the former ``test_reliability.py``.
"""
from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.usefixtures("one_thread")


# ====================================================================== the book entry point
NB_OK = '''# %% tags=["parameters"]
params = {}

# %%
from pathlib import Path
Path("chapter_ok_ran.txt").write_text(f"{params['profile']} {params['iters']}")
print("chapter one done")
'''
NB_FAIL = '''# %% tags=["parameters"]
params = {}

# %%
print("first cell of the failing chapter ran")

# %%
x = 1
raise ValueError("deliberate failure in the second code cell")

# %%
print("never reached")
'''
NB_NEVER = '''# %%
from pathlib import Path
Path("chapter_three_ran.txt").write_text("yes")
'''


def test_book_stops_at_a_failing_chapter_naming_it_and_keeps_the_rest(tmp_path, monkeypatch, capsys):
    from lotsbook import build as book

    nbs = tmp_path / "notebooks"
    nbs.mkdir()
    (nbs / "t1_ok.py").write_text(NB_OK)
    (nbs / "t2_fail.py").write_text(NB_FAIL)
    (nbs / "t3_never.py").write_text(NB_NEVER)
    monkeypatch.setattr(book, "ROOT", tmp_path.resolve())
    root = tmp_path.resolve() / "book-root"  # a book root of its own, never the repository
    monkeypatch.setattr(book, "NOTEBOOKS", nbs)
    monkeypatch.setattr(book, "CHAPTERS", (book.Chapter("1", "t1_ok", "ok"), book.Chapter("2", "t2_fail", "fails"),
                                           book.Chapter("3", "t3_never", "after")))
    monkeypatch.setattr(book, "ensure_mathjax", lambda root: None)
    monkeypatch.delenv("LOTSBOOK", raising=False)  # execute_chapter sets it; restored after the test
    out = root / book.BOOK_DIR
    assert book.main(["--root", str(root), "--no-build", "--tiny", "--chapters", "1"]) == 0
    ok_nb = out / "t1_ok.ipynb"
    ok_bytes = ok_nb.read_bytes()
    assert json.loads(ok_bytes)["metadata"]["lotsbook"]["status"] == "ok"
    assert (root / "chapter_ok_ran.txt").read_text() == "embedded 5"  # --tiny's iters reached the chapter
    capsys.readouterr()

    rc = book.main(["--root", str(root), "--no-build", "--tiny", "--jobs", "1"])  # in book order (parallel runs:
    err = capsys.readouterr().err                                                # tests/test_book_jobs.py)
    assert rc == 1
    assert "Chapter 2" in err and "t2_fail" in err and "code cell 3" in err
    assert "ValueError" in err and "deliberate failure" in err and "t2_fail.ipynb" in err
    # the partial notebook is kept, with the output of the cell before the failure
    partial = json.loads((out / "t2_fail.ipynb").read_text())
    assert partial["metadata"]["lotsbook"]["status"] == "failed"
    outputs = json.dumps([c.get("outputs", []) for c in partial["cells"]])
    assert "first cell of the failing chapter ran" in outputs and "deliberate failure" in outputs
    assert "never reached" not in outputs
    # the earlier chapter is intact, the later one never ran
    assert ok_nb.read_bytes() == ok_bytes
    assert not (out / "t3_never.ipynb").exists() and not (root / "chapter_three_ran.txt").exists()


def test_the_book_root_is_never_the_repository_or_its_sources(capsys):
    """Sources and generated output stay apart: --root refuses the repository and book/."""
    from lotsbook import build as book
    from lotsbook.paths import ROOT, SOURCES

    for bad in (ROOT, SOURCES, SOURCES / "sub"):
        with pytest.raises(book.ChapterFailed, match="never in the repository or its sources"):
            book.check_root(bad)
        assert book.main(["--root", str(bad), "--no-build", "--chapters", "1"]) == 1
        assert "Fix: leave --root out" in capsys.readouterr().err
    assert book.check_root(ROOT / "_build" / "book") == (ROOT / "_build" / "book").resolve()
