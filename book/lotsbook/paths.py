"""Every file location of the book, in one place.

The book runs from a checkout of the repository: :data:`ROOT` is the checkout,
:data:`NOTEBOOKS` the chapters' jupytext sources, :data:`SOURCES` the book's own pages,
configuration, extensions and static files, and :data:`RESULTS` the recorded runs of the
scripts in ``experiments/`` that chapters read. Sources and generated output are apart: a
build assembles a book root under :data:`BUILD` (never in the sources) and executes the
chapters into it. The library's locations (its package data,
the cache) are :mod:`lotslib.paths`.
"""
from __future__ import annotations

import re
from pathlib import Path

__all__ = ["ROOT", "NOTEBOOKS", "SOURCES", "RESULTS", "EXPERIMENTS", "BUILD", "DEFAULT_BOOK_ROOT", "shown"]

#: the repository checkout (this file is book/lotsbook/paths.py)
ROOT = Path(__file__).resolve().parents[2]

#: the chapters' sources, jupytext py:percent
NOTEBOOKS = ROOT / "notebooks"

#: the book's sources: its configuration (``_config.yml``, ``_toc.yml``), markdown pages,
#: bibliography, Sphinx extensions, templates and CSS (and, apart, the package ``lotsbook``)
SOURCES = ROOT / "book"

#: the recorded results the chapters read (written by the scripts of :data:`EXPERIMENTS`)
RESULTS = ROOT / "results"

#: the scripts that record the results (timings, the sample and equivalence studies)
EXPERIMENTS = ROOT / "experiments"

#: everything generated: the assembled book root and the HTML (git-ignored; ``make clean``)
BUILD = ROOT / "_build"

#: the default book root: the sources copied in, the executed chapters (``book/<stem>.ipynb``),
#: the generated API pages and the chapters' cache (``.cache/book``); the HTML goes to
#: ``_build/html``
DEFAULT_BOOK_ROOT = BUILD / "book"


#: absolute paths of a machine, as recorded commands and interpreters hold them
_ABSOLUTE = r"/(?:tmp|work|root|home|scratch|var|opt|usr|mnt|data|check)(?:/[\w.+-]+)*"


def shown(text: str) -> str:
    """``text`` with every absolute path of the build machine replaced, for a page a reader sees.

    A path inside the repository becomes relative to it (``.venv/bin/python``), the shared
    folder beside it ``../shared/...`` (as the README names it), and any other absolute path
    (a scratch folder, a cache) ``<scratch>/<its last component>``. The checkout and the
    shared folder are matched wherever they lie, not only under the usual top folders.

    Parameters
    ----------
    text : str
        A recorded command, a file name, an interpreter path.

    Returns
    -------
    str
        ``text`` with no absolute path of this machine in it.
    """
    root, shared = str(ROOT), str(ROOT.parent / "shared")
    pattern = re.compile(r"(?<![\w.:/])(?:"
                         + "|".join(re.escape(p) + r"(?:/[\w.+-]+)*(?![\w.+-])" for p in (root, shared))
                         + "|" + _ABSOLUTE + ")")

    def one(m: re.Match) -> str:
        p = m.group(0)
        if p == root or p.startswith(root + "/"):
            return p[len(root) + 1:] or "."
        if p == shared or p.startswith(shared + "/"):
            return "../shared" + p[len(shared):]
        return "<scratch>/" + p.rstrip("/").rsplit("/", 1)[-1]

    return pattern.sub(one, text)
