"""Every file location the library uses, in one place.

* :data:`RESOURCES` -- the data shipped inside the package (``lotslib/resources/``), so an
  installed wheel finds it outside any checkout: :data:`THESIS_TABLES`, the thesis's own
  numbers of Tables 5.1-5.3 (Weber 2023).
* :func:`cache_root` -- where results are cached: ``$LOTSLIB_CACHE``, else ``.cache`` in the
  working directory. The LOTS store, the benchmark's rows and maps, and the studies' frames
  live below it.

The library never assumes it runs from the repository; the book's own paths (its sources, the
recorded results) are :mod:`lotsbook.paths`.
"""
from __future__ import annotations

import os
from pathlib import Path

__all__ = ["RESOURCES", "THESIS_TABLES", "cache_root"]

#: the package's data folder (installed with the wheel as package data)
RESOURCES = Path(__file__).resolve().parent / "resources"

#: the thesis's own values of Tables 5.1-5.3, long format (see :func:`lotslib.benchmark.reference_tables`)
THESIS_TABLES = RESOURCES / "thesis_tables.csv"


def cache_root() -> Path:
    """The root folder of every cache: ``$LOTSLIB_CACHE``, else ``.cache``.

    Returns
    -------
    pathlib.Path
        ``$LOTSLIB_CACHE`` if set, else ``.cache`` relative to the working directory (read at
        each call, so a test or a script can point it elsewhere).
    """
    return Path(os.environ.get("LOTSLIB_CACHE", ".cache"))
