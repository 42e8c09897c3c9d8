"""The thesis's quantitative experiment (Weber 2023, section 5.1), cached and resumable.

``run(models, methods, images)`` explains every image with every method on every model and
measures the five metrics of :mod:`lotslib.metrics` and the time per map. It returns a tidy
DataFrame with one row per (model, method, image):

============================  ============================================================
column                        meaning
============================  ============================================================
model, method, method_name    model key, method key, display name
image_id, image_fp, label     image id, content fingerprint, ground-truth class (-1: none)
top1, top1_score              top-1 class of the original image and its softmax probability
y, o                          probability of ``top1`` on the image / on ``x * map``
avg_drop                      per-image drop in % (``max(0, y-o)/y*100``)
increase                      1.0 if ``o > y`` else 0.0 (Average Increase = 100 * mean)
coherency                     Coherency in % (Poppi et al. 2021)
insertion, deletion           AUC in % (Petsiuk et al. 2018)
ms_per_map                    wall ms to make the map (``timing``: per image, or the batch's
                              time / images in it), after an untimed warm-up call
degenerate                    the map is all zeros (constant image or constant map)
coherency_degenerate          a constant map entered the coherency (value defined, not NaN)
flagged, flag                 any of the above, and why ("" when not flagged)
target_class,                 LOTS class/mean variants: class of F_t and the reference
target_reference              image(s) used (-1 / "" otherwise)
na_reason                     why a row is N/A ("" otherwise): a LOTS class/mean variant
                              whose class has no other reference image; its metrics are
                              NaN and excluded from every mean
lots_iters, lots_stop         LOTS steps taken and stop reason (-1 / "" for CAMs)
device, threads, batch_size   where and how the row was computed (timing context), and
timing                        whether maps were timed one by one or per batch
steps                         insertion/deletion steps
cache_key                     the cache folder of the row (curves live there)
============================  ============================================================

Every metric is per image and finite (no NaN) except on N/A rows; degenerate cases are
flagged instead.

Methods are the registered keys (:data:`lotslib.method_registry.ALL_METHODS`): the seven
of Table 5.2 and the LOTS target variants of Table 5.1, ``"lots_class"`` and ``"lots_mean"``
(:func:`lotslib.targets.reference_targets`: from a labelled reference set, never the
evaluated image itself; N/A rows where a class has no other reference image). Metrics are
the registered metric objects (:data:`lotslib.metric_registry.METRICS`):
the benchmark computes every one of them.

The package, one concern per module:

=====================  ==================================================================
module                 what it holds
=====================  ==================================================================
``params``             parameter validation and defaults, cache keys' parts
``store``              the result store: parts written atomically, resumed, damaged parts
                       moved aside (the policy of :func:`lotslib.cache.quarantine`)
``scoring``            one batch: explain, score with every metric, lay out the rows
``runner``             :func:`run`: models x methods x images, cached, shardable, spread over
                       processes (``procs``)
``rescoring``          the stored maps scored again under other metric conventions
``tables``             Tables 5.1-5.3 with bootstrap intervals, the paired Wilcoxon test
``timing``             Table 5.3's two CAM paths (graph cut, stock pytorch-grad-cam)
``reference``          the thesis's own numbers (``lotslib/resources/thesis_tables.csv``)
``__main__``           ``python -m lotslib.benchmark`` (also under ``torchrun``)
=====================  ==================================================================

Caching: each (model, method) has a folder under ``cache_dir`` named after a hash of every
parameter that affects its rows: model weights fingerprint, method parameters, metric
parameters, device, timing, the reference list's fingerprint (LOTS class/mean only) and a
format version (:mod:`lotslib.benchmark.store`). A killed run resumes where it stopped. The
per-image random seeds (Random-CAM, SmoothGrad-CAM++) are derived from the image id, so a map
does not depend on the batch it ran in. A LOTS map does, in float rounding (a 500-step walk
amplifies it; :mod:`lotslib.lots_store`): with ``batch_size=1`` every row is computed alone, and
then neither ``shard`` nor ``procs`` changes a number.
"""
from ..method_registry import ALL_METHODS, CAM_METHODS, METHODS, TABLE_METHODS, TABLE_TARGETS, TABLE_TIMING
from ..metric_registry import METRICS
from ..targets import open_reference, reference_targets
from .params import CACHE_VERSION, DEFAULT_CACHE_DIR, METRIC_DEFAULTS, resolve_params
from .reference import REFERENCE_CSV, compare_with_reference, reference_tables
from .rescoring import rescore
from .runner import run
from .scoring import is_na
from .store import load_curves, load_maps
from .timing import cam_path_timing
from .tables import (
    MODELS_ORDER,
    format_table,
    lots_vs_best_cam,
    summarize,
    table_5_1,
    table_5_2,
    table_5_3,
    table_rows,
)

__all__ = [
    "run",
    "rescore",
    "is_na",
    "load_curves",
    "load_maps",
    "ALL_METHODS",
    "METHODS",
    "CAM_METHODS",
    "TABLE_METHODS",
    "TABLE_TARGETS",
    "TABLE_TIMING",
    "LOTS_VARIANTS",
    "METRICS",
    "METRIC_DEFAULTS",
    "DEFAULT_CACHE_DIR",
    "CACHE_VERSION",
    "REFERENCE_CSV",
    "MODELS_ORDER",
    "resolve_params",
    "reference_targets",
    "open_reference",
    "summarize",
    "table_5_1",
    "table_5_2",
    "table_5_3",
    "table_rows",
    "lots_vs_best_cam",
    "format_table",
    "reference_tables",
    "compare_with_reference",
    "cam_path_timing",
    "main",
]

#: the LOTS target variants of Table 5.1 beside ``"lots"`` (zero target): key -> display name
LOTS_VARIANTS = {k: m.name for k, m in ALL_METHODS.items() if k in table_rows(TABLE_TARGETS) and k != "lots"}


def main(argv=None) -> int:
    """``python -m lotslib.benchmark ...`` (also under ``torchrun``): see :mod:`lotslib.benchmark.__main__`."""
    from .__main__ import main as cli_main

    return cli_main(argv)
