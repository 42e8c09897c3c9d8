"""Every file location of the book, in one place.

The book runs from a checkout of the repository: :data:`ROOT` is the checkout,
:data:`NOTEBOOKS` the chapters' jupytext sources, :data:`SOURCES` the book's own pages,
configuration, extensions and static files, and :data:`RESULTS` the recorded runs of the
scripts in ``experiments/`` that chapters read. The library's locations (its package data,
the cache) are :mod:`lotslib.paths`.
"""
from __future__ import annotations

from pathlib import Path

__all__ = ["ROOT", "NOTEBOOKS", "SOURCES", "RESULTS", "EXPERIMENTS"]

#: the repository checkout (this file is book/lotsbook/paths.py)
ROOT = Path(__file__).resolve().parents[2]

#: the chapters' sources, jupytext py:percent
NOTEBOOKS = ROOT / "notebooks"

#: the book's sources: markdown pages, bibliography, Sphinx extensions, templates, CSS
SOURCES = ROOT / "book"

#: the recorded results the chapters read (written by the scripts of :data:`EXPERIMENTS`)
RESULTS = ROOT / "results"

#: the scripts that record the results (timings, the sample and equivalence studies)
EXPERIMENTS = ROOT / "experiments"
