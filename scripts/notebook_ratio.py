"""How much code a chapter carries beside its prose: characters in code cells divided by
characters in markdown cells of a jupytext py:percent source.

The ``# ---`` header (the jupytext metadata) is skipped; a markdown cell's lines count without
their leading ``# `` (or a bare ``#``), a code cell's lines count as written; the ``# %%`` cell
markers and blank lines at the ends of a cell count for neither. The book's rule
(``tests/test_architecture.py``) is code at most half of prose in every chapter.

Usage: ``python scripts/notebook_ratio.py [notebooks/*.py ...]`` prints each notebook's code
characters, prose characters and ratio (default: every ``notebooks/*.py``).
"""
from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _cells(text: str) -> list[tuple[str, list[str]]]:
    """The cells of a py:percent source as (kind, lines), kind ``"markdown"`` or ``"code"``,
    without the ``# ---`` header block and without the ``# %%`` marker lines."""
    lines = text.splitlines()
    if lines and lines[0].strip() == "# ---":
        end = next((i for i in range(1, len(lines)) if lines[i].strip() == "# ---"), len(lines) - 1)
        lines = lines[end + 1:]
    cells: list[tuple[str, list[str]]] = []
    kind, body = None, []
    for line in lines:
        if line.startswith("# %%"):
            if kind is not None:
                cells.append((kind, body))
            kind = "markdown" if "[markdown]" in line or "[md]" in line else "code"
            body = []
        elif kind is not None:
            body.append(line)
        elif line.strip():  # code before the first marker is a code cell
            kind, body = "code", [line]
    if kind is not None:
        cells.append((kind, body))
    return cells


def _prose_line(line: str) -> str:
    """A markdown cell's line without its comment prefix (``# `` or a bare ``#``)."""
    if line.startswith("# "):
        return line[2:]
    return line[1:] if line.startswith("#") else line


def ratio(path) -> tuple[int, int]:
    """Characters of code and of prose in one jupytext py:percent notebook.

    Parameters
    ----------
    path : str or pathlib.Path
        The ``notebooks/*.py`` source.

    Returns
    -------
    tuple of int
        ``(code, prose)``: characters (newlines excluded, leading/trailing blank lines of a
        cell dropped) in code cells and in markdown cells; the chapter's ratio is
        ``code / prose``.
    """
    code = prose = 0
    for kind, body in _cells(Path(path).read_text(encoding="utf-8")):
        if kind == "markdown":
            body = [_prose_line(line) for line in body]
        while body and not body[0].strip():
            body = body[1:]
        while body and not body[-1].strip():
            body = body[:-1]
        n = sum(len(line) for line in body)
        if kind == "markdown":
            prose += n
        else:
            code += n
    return code, prose


def main(argv: list[str] | None = None) -> int:
    """Print one line per notebook: name, code characters, prose characters, ratio."""
    paths = [Path(p) for p in (argv if argv else sys.argv[1:])] or sorted((ROOT / "notebooks").glob("*.py"))
    print(f"{'notebook':<24} {'code':>7} {'prose':>7} {'ratio':>6}")
    for p in paths:
        code, prose = ratio(p)
        print(f"{p.name:<24} {code:>7} {prose:>7} {code / prose if prose else float('inf'):>6.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
