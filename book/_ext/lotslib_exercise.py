"""Sphinx glue for the chapters' exercises (sphinx-exercise 1.2.1), loaded through
``sphinx: local_extensions`` in _config.yml. Two fixes:

1. ``hide_solutions: true`` (``python -m lotsbook --hide-solutions``) crashes the build
   when a solution is *gated* -- ``{solution-start}`` ... ``{solution-end}``, the form the
   chapters use so that the solution's code cells are executed by papermill with the rest of
   the chapter. sphinx-exercise's ``solution-start`` then returns no node at all, so the
   cells between the two directives stay on the page and the orphaned end marker has no HTML
   writer ("departing unknown node type: solution_end_node"; upstream
   executablebooks/sphinx-exercise#89, open). Here a suppressed ``solution-start`` (by
   ``hide_solutions`` or its ``:hidden:`` option) leaves a marker instead, and a transform
   that runs before sphinx-exercise merges the gated solutions removes everything from the
   marker to its ``solution-end``: text, code cells and their outputs.
2. sphinx-exercise turns Sphinx's ``numfig`` on for every project (its ``config-inited``
   handler), which would number every figure of the book ("Fig. 3 Regenerates thesis Figure
   5.3"); the book keeps ``numfig: false`` because each caption names the thesis figure it
   regenerates. The setting from _config.yml is restored, and an exercise without
   ``:nonumber:`` -- whose title would then lose its "Exercise" label -- is a warning, so the
   strict (-W) build names it.
"""
from __future__ import annotations

from docutils import nodes
from sphinx.transforms import SphinxTransform
from sphinx.util import logging
from sphinx_exercise.directive import SolutionStartDirective
from sphinx_exercise.nodes import exercise_enumerable_node, solution_end_node

logger = logging.getLogger(__name__)


class hidden_solution_start(nodes.Element):
    """Where a suppressed gated solution starts; removed, with the solution, before writing."""


class SolutionStart(SolutionStartDirective):
    """``{solution-start}`` that leaves a :class:`hidden_solution_start` marker when suppressed."""

    def run(self):
        out = super().run()
        return out or [hidden_solution_start()]


class RemoveHiddenSolutions(SphinxTransform):
    """Remove a suppressed gated solution: the marker, every sibling up to the next
    ``solution_end_node``, and that node (before sphinx-exercise merges the shown ones)."""

    default_priority = 9  # sphinx-exercise: CheckGatedDirectives 1, MergeGatedSolutions 10

    def apply(self, **kwargs):
        for marker in list(self.document.findall(hidden_solution_start)):
            parent = marker.parent
            start = parent.index(marker)
            end = next((i for i in range(start + 1, len(parent.children))
                        if isinstance(parent.children[i], solution_end_node)), None)
            if end is None:  # CheckGatedDirectives reports the missing end; just drop the marker
                parent.remove(marker)
                continue
            for child in parent.children[start:end + 1]:
                parent.remove(child)


def _remember_numfig(app, config):
    app.lotslib_numfig = config.numfig


def _restore_numfig(app, config):
    config.numfig = app.lotslib_numfig


def _check_nonumber(app, doctree):
    if app.config.numfig:
        return
    for node in doctree.findall(exercise_enumerable_node):
        logger.warning("an exercise without :nonumber: has no 'Exercise' title in this book (numfig is off, so "
                       "figure captions stay unnumbered). Fix: add ':nonumber:' to the exercise directive.",
                       location=node)


def setup(app):
    app.setup_extension("sphinx_exercise")
    app.add_node(hidden_solution_start)
    app.add_directive("solution-start", SolutionStart, override=True)
    app.add_transform(RemoveHiddenSolutions)
    app.connect("config-inited", _remember_numfig, priority=100)  # before sphinx-exercise's init_numfig (500)
    app.connect("config-inited", _restore_numfig, priority=900)
    app.connect("doctree-read", _check_nonumber)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
