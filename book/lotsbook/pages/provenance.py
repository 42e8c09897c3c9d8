"""The provenance page (``notebooks/provenance.py``): its tables of the build, the chapter
runs and the image lists. The data they show is gathered by :mod:`lotsbook.provenance`.
"""
from __future__ import annotations

import pandas as pd

__all__ = ["build_info", "chapter_runs", "image_lists"]


def build_info(profile: str) -> pd.DataFrame:
    """The build machine, date and repository state.

    Parameters
    ----------
    profile : str
        The profile the book was built with.

    Returns
    -------
    pandas.DataFrame
        Index ``item``, column ``value`` (text): :func:`lotsbook.provenance.hardware`, the
        profile, the git commit and the lotslib code fingerprint.
    """
    from ..build import code_fingerprint
    from ..provenance import git_state, hardware

    git = git_state()
    commit = git.get("commit", "not a git checkout") + (" (uncommitted changes)" if git.get("dirty") else "")
    return pd.DataFrame(hardware() + [
        {"item": "profile", "value": profile},
        {"item": "git commit", "value": commit},
        {"item": "lotslib code fingerprint", "value": code_fingerprint()},
    ]).set_index("item")


def chapter_runs(book_dir) -> pd.DataFrame:
    """The chapter executions recorded in the executed notebooks.

    Parameters
    ----------
    book_dir : str or pathlib.Path
        The folder of the executed notebooks.

    Returns
    -------
    pandas.DataFrame
        :func:`lotsbook.provenance.chapter_runs`'s rows, the provenance page left out, indexed
        by ``chapter`` (seconds >= 0); empty, without columns, when none is recorded.
    """
    from ..provenance import chapter_runs as runs

    df = pd.DataFrame([r for r in runs(book_dir) if r["chapter"] != "provenance"])
    return df.set_index("chapter") if len(df) else df


def image_lists(images, photos) -> pd.DataFrame:
    """The book's two image lists.

    Parameters
    ----------
    images, photos : lotslib.data.ImageSource
        The images of chapters 1-5 and chapter 6's photos.

    Returns
    -------
    pandas.DataFrame
        Index ``list``; ``source`` (description), ``images`` (count) and ``list hash``
        (:meth:`lotslib.data.ImageSource.fingerprint`, 16 hex digits).
    """
    rows = (("chapters 1-5", images), ("chapter 6 (photos)", photos))
    return pd.DataFrame([{"list": name, "source": src.description, "images": len(src), "list hash": src.fingerprint()}
                         for name, src in rows]).set_index("list")
