"""The provenance page (``notebooks/provenance.py``): its tables of the build, the chapter
runs and the image lists. The data they show is gathered by :mod:`lotsbook.provenance`.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from lotslib.cache import sha256_file

from .. import provenance
from ..plots import note, table
from ..results import recorded

__all__ = ["build_info", "chapter_runs_table", "image_lists", "show_build", "show_chapter_runs", "show_lots_walks",
           "show_packages", "show_weights", "show_images", "show_reference", "show_build_times"]


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


def chapter_runs_table(book_dir) -> pd.DataFrame:
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


# ------------------------------------------------------------------ the page's tables, with their captions
def show_build(profile: str) -> None:
    """Show :func:`build_info` with its caption.

    Parameters
    ----------
    profile : str
        The profile the book was built with.
    """
    table(build_info(profile), "Build machine, date and repository state")


def show_lots_walks(cache_dir) -> None:
    """Show how the book's LOTS runs were computed (:func:`lotslib.lots_store.computed_how` of
    ``<cache_dir>/lots``): entries per images-per-batch and torch threads, with a sentence
    saying whether every run was computed one image at a time on one thread.

    Parameters
    ----------
    cache_dir : str or pathlib.Path
        The book's cache folder (the profile's ``cache_dir``).
    """
    from lotslib.lots_store import computed_how

    how = computed_how(Path(cache_dir) / "lots")
    if not len(how):
        note("The LOTS store holds no run yet.")
        return
    alone = int(how.loc[(how["chunk"] == 1) & (how["threads"] == 1), "entries"].sum())
    total = int(how["entries"].sum())
    table(how.rename(columns={"chunk": "images per batch", "threads": "torch threads"}),
          f"How the LOTS store's {total} entries (runs and their snapshots) were computed: {alone} of {total} one "
          f"image at a time on one torch thread. A 500-step walk's float rounding depends on both "
          f"(lotslib.lots_store), so only runs computed alike give the same numbers; -1: not recorded (an entry "
          f"from before the record).")


def show_chapter_runs(book_dir) -> None:
    """Show :func:`chapter_runs_table` with its caption, or a note when no execution is recorded.

    Parameters
    ----------
    book_dir : str or pathlib.Path
        The folder of the executed notebooks.
    """
    runs = chapter_runs_table(book_dir)
    if len(runs):
        table(runs, "Chapter executions recorded by lotsbook.build (seconds: papermill wall time; key: hash of source, "
                    "parameters and lotslib code)", fmt={"seconds": "{:.0f}"})
    else:
        note("No chapter execution is recorded in book/ yet.")


def show_packages() -> None:
    """Show the installed versions of :data:`lotsbook.provenance.PACKAGES` (and Python)."""
    table(pd.DataFrame(provenance.package_versions()).set_index("package"), "Package versions")


def show_weights(models) -> None:
    """Show the weight files of ``models`` with their size (MB) and SHA-256 hashes.

    Parameters
    ----------
    models : sequence of str
        The backbones the book used, each once.
    """
    table(pd.DataFrame(provenance.weights(models)).set_index("model"), "Weight files and their SHA-256 hashes",
          fmt={"MB": "{:.1f}"})


def show_images(images, photos) -> None:
    """Show :func:`image_lists` and then every image of ``images`` with its content digest.

    Parameters
    ----------
    images, photos : lotslib.data.ImageSource
        The images of chapters 1-5 and chapter 6's photos.
    """
    table(image_lists(images, photos), "Image lists (the list hash covers ids, labels and content digests, in order)")
    table(pd.DataFrame(provenance.images(images)).set_index("image"),
          "Images of chapters 1-5 and their content digests")


def show_reference(path="lotslib/resources/thesis_tables.csv") -> None:
    """Show the SHA-256 of the thesis's transcribed reference values, or a note when the file is missing.

    Parameters
    ----------
    path : str or pathlib.Path
        The reference file, relative to the working directory.
    """
    ref = Path(path)
    if ref.is_file():
        table(pd.DataFrame([{"file": str(ref), "sha256": sha256_file(ref)}]).set_index("file"),
              "Reference values transcribed from the thesis (Tables 5.1-5.3)")
    else:
        note(f"{ref} is missing: the thesis's reference values are not shown.")


def show_build_times() -> None:
    """Show the recorded build times (``results/book_time.json``), or how to record them."""
    bt = recorded("book_time.json")
    if bt is not None:
        table(bt, "Recorded build times of this book (experiments/book_time.py: cold = empty cache, warm = rerun right "
                  "after)")
    else:
        note("No recorded build time: run `python experiments/book_time.py` (writes results/book_time.json).")
