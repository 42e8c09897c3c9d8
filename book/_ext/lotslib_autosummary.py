"""Sphinx glue for the book's API reference (book/api.md), loaded through
``sphinx: local_extensions`` in _config.yml. Four fixes, the first three for the strict
(-W -n) build:

1. The pages autosummary generates (book/api/generated/ in the book root: generated output) are not in _toc.yml,
   so with ``only_build_toc_files`` sphinx-external-toc excludes them on every build after
   the first (they exist by then when it lists the files). They are taken off the exclude
   list again: autosummary's tables are their toctrees. The folder is also emptied before
   autosummary fills it, so that the page of an object that left a module's ``__all__``
   does not linger (and fail to import); pages whose text is unchanged get their old
   modification time back, so Sphinx does not read them again.
2. napoleon reads the first line of every attribute, constant and property docstring as
   Google's inline ``type: description`` whenever it holds a colon, so "The table header:
   ..." becomes a cross-referenced type "The table header". numpydoc has no such
   convention: those docstrings are kept as written. (napoleon still parses the docstrings
   of modules, classes, functions and methods.)
3. autodoc shows an undocumented module constant (a dict, a tuple) with the docstring of
   its type (``dict() -> new empty dictionary ...``, not even valid reST); that docstring
   is dropped. Constants documented with a ``#:`` comment keep theirs.
4. A constant holding an absolute path (``REFERENCE_CSV = PosixPath('/home/.../data/...')``)
   is shown without its value: the value names the machine the book was built on.
"""
from __future__ import annotations

import inspect
import os
import shutil
from pathlib import Path

from sphinx.ext.autodoc import DataDocumenter

#: where book/api.md's autosummary tables write their pages (``:toctree: api/generated``)
GENERATED = "book/api/generated"


# 1. generated pages: built, and never stale ----------------------------------------------

_previous_pages: dict[str, tuple[bytes, int]] = {}


def _include_generated(app, config):
    prefix = GENERATED + "/"
    config.exclude_patterns = [p for p in config.exclude_patterns if not p.startswith(prefix)]


def _empty_generated(app):
    folder = Path(app.srcdir, GENERATED)
    _previous_pages.clear()
    _previous_pages.update(
        {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in folder.glob("*.rst")}
    )
    shutil.rmtree(folder, ignore_errors=True)


def _keep_unchanged_mtimes(app):
    folder = Path(app.srcdir, GENERATED)
    for name, (text, mtime_ns) in _previous_pages.items():
        page = folder / name
        if page.is_file() and page.read_bytes() == text:
            os.utime(page, ns=(mtime_ns, mtime_ns))


# 2. attribute docstrings: not napoleon's inline "type: description" ----------------------

_ATTRIBUTE_KINDS = ("attribute", "data", "property")
_stashed: list[str] | None = None


def _stash_attribute_docstring(app, what, name, obj, options, lines):
    global _stashed
    _stashed = list(lines) if what in _ATTRIBUTE_KINDS else None


def _restore_attribute_docstring(app, what, name, obj, options, lines):
    global _stashed
    if what in _ATTRIBUTE_KINDS and _stashed is not None:
        lines[:] = _stashed
    _stashed = None


# 3. undocumented constants: not their type's docstring -----------------------------------

def _drop_type_docstring(app, what, name, obj, options, lines):
    if what != "data" or not lines:
        return
    type_doc = type(obj).__doc__
    if type_doc and "\n".join(lines).strip() == inspect.cleandoc(type_doc).strip():
        lines.clear()


# 4. no absolute paths of the build machine -----------------------------------------------

class _DataDocumenter(DataDocumenter):
    def should_suppress_value_header(self) -> bool:
        value = self.object
        if isinstance(value, os.PathLike) and os.path.isabs(os.fspath(value)):
            return True
        return super().should_suppress_value_header()


def setup(app):
    app.setup_extension("sphinx.ext.autosummary")  # it generates in builder-inited (500)
    app.setup_extension("sphinx.ext.napoleon")  # autodoc-process-docstring (500)
    app.connect("config-inited", _include_generated, priority=950)  # after external-toc (900)
    app.connect("builder-inited", _empty_generated, priority=400)
    app.connect("builder-inited", _keep_unchanged_mtimes, priority=600)
    app.connect("autodoc-process-docstring", _stash_attribute_docstring, priority=400)
    app.connect("autodoc-process-docstring", _restore_attribute_docstring, priority=600)
    app.connect("autodoc-process-docstring", _drop_type_docstring, priority=700)
    app.setup_extension("sphinx.ext.autodoc")
    app.add_autodocumenter(_DataDocumenter, override=True)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
