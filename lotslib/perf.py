"""CPU/GPU performance switches, each enabled only where it was measured to gain.

* :func:`tune_malloc` (on by default for CPU models, see :func:`lotslib.models.load_model`):
  glibc serves every allocation above its mmap threshold (at most 32 MiB) with a fresh
  ``mmap`` and returns it with ``munmap`` on free, so each large activation tensor of a CPU
  forward pass is page-faulted in again, every pass. For EfficientNet-Lite0 at batch 32 (the
  insertion/deletion batch; its first activations are 51 MB) that made the forward pass
  3.6x slower on this project's 2-core machine (118 -> 32 ms per image, single thread; two
  thirds of the CPU time was kernel time) and 1.5x slower at batch 8. Keeping freed memory
  in the heap (``M_MMAP_MAX=0``, trim threshold 1 GiB) removes those faults; the price is
  that up to 1 GiB of freed memory stays with the process. Set ``LOTSLIB_TUNE_MALLOC=0``
  to leave the allocator alone. No-op outside Linux/glibc.
* channels-last memory format: opt-in (``load_model(..., channels_last=True)`` or
  ``LOTSLIB_CHANNELS_LAST=1``). Measured on the 2-core CPU (float32, interleaved, min of
  repeats): forward at batch 32 1.61x (Lite0) and 1.38x (ResNet-50) faster, LOTS at batch 4
  1.10x / 1.18x, LOTS at batch 1 1.19x (Lite0, Lite2), Grad-CAM/Grad-CAM++ at batch 1 1.20x.
  Off by default because the results are not bit-identical to the default layout (logits differ
  by ~1e-5, LOTS images by < alpha after a few steps) and cached results do not record the layout.
* torch threads (:func:`default_threads`, applied by :func:`use_default_threads`): torch
  starts one OpenMP thread per core; on a machine with two cores two busy processes then
  oversubscribe them and LOTS slows down many times over (measured on this project's machine).
  The ``lots`` command and the library choose alike: ``$LOTS_THREADS``, else 1 thread
  on a machine with <= 2 cores, else up to 8 (the book's builder sets one thread per chapter
  kernel: a LOTS walk's float rounding depends on the thread count, :mod:`lotslib.lots_store`).
  The library applies it on the first :func:`lotslib.models.load_model`,
  :func:`lotslib.models.wrap` or :func:`lotslib.explanation.explain` call, once, and only where
  the process has not set its own count (``torch.set_num_threads`` before that call).
* bf16 autocast and ``torch.compile`` are not used: on CPU float32 is kept (bf16 autocast
  measured 6-25x slower, compile 0.56-1.12x). ``experiments/gpu_protocol.py --channels-last
  --amp`` measures channels-last and bf16 autocast on a GPU (speed-up and result change).
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

__all__ = ["tune_malloc", "malloc_tuned", "default_threads", "set_threads", "use_default_threads", "usable_cores"]

_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4
_state = {"tuned": None, "threads_decided": False, "threads_set": None}


def malloc_tuned() -> bool:
    """Whether :func:`tune_malloc` has changed the allocator in this process.

    Returns
    -------
    bool
        True once :func:`tune_malloc` has put its settings into effect, False before it
        ran, where it was turned off, and outside Linux/glibc.
    """
    return bool(_state["tuned"])


def tune_malloc(force: bool = False) -> bool:
    """Keep large freed blocks in glibc's heap instead of unmapping them (idempotent).

    Sets ``M_MMAP_MAX=0`` and a trim threshold of 1 GiB with ``mallopt``: up to 1 GiB of
    freed memory stays with the process. Does nothing (returns False) outside Linux/glibc
    or when the environment variable ``LOTSLIB_TUNE_MALLOC`` is ``0`` (unless ``force``).

    Parameters
    ----------
    force : bool
        Apply the settings even when ``LOTSLIB_TUNE_MALLOC=0``, and again when an earlier
        call already decided. Default False.

    Returns
    -------
    bool
        True if the settings are in effect.
    """
    if _state["tuned"] is not None and not force:
        return _state["tuned"]
    ok = False
    if (force or os.environ.get("LOTSLIB_TUNE_MALLOC", "1") != "0") and sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
            mallopt = libc.mallopt  # glibc (musl has none: AttributeError)
            mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
            ok = bool(mallopt(_M_MMAP_MAX, 0)) and bool(mallopt(_M_TRIM_THRESHOLD, 1 << 30))
        except (OSError, AttributeError):
            ok = False
    _state["tuned"] = ok
    return ok


def default_threads() -> int:
    """The torch thread count lotslib picks: ``$LOTS_THREADS``, else 1 on a machine with <= 2
    cores (fast alone and under load), else the cores up to 8. Imports no torch.

    Returns
    -------
    int
        The thread count (>= 1).

    Raises
    ------
    lotslib.errors.ParameterError
        ``$LOTS_THREADS`` is set but is not a whole number >= 1.
    """
    env = os.environ.get("LOTS_THREADS", "").strip()
    if env:
        try:
            n = int(env)
        except ValueError:
            n = 0
        if n < 1:
            from .errors import ParameterError

            raise ParameterError(f"LOTS_THREADS={env!r}: must be a whole number >= 1 (torch threads per process). "
                                 f"Fix: export LOTS_THREADS=1, or unset it for lotslib's default.")
        return n
    cores = os.cpu_count() or 1
    return 1 if cores <= 2 else min(cores, 8)


def set_threads(n: int) -> None:
    """``torch.set_num_threads(n)``, remembered: :func:`use_default_threads` leaves it alone.

    Parameters
    ----------
    n : int
        The thread count (>= 1).
    """
    import torch

    torch.set_num_threads(int(n))
    _state["threads_decided"], _state["threads_set"] = True, int(n)


def use_default_threads() -> int | None:
    """Apply :func:`default_threads` once per process, unless the process chose its own count.

    The process chose its own count when torch's thread count is no longer the one torch started
    with (one per core, or ``$OMP_NUM_THREADS``) at the first call, or through :func:`set_threads`.

    Returns
    -------
    int or None
        The count set by this call, or None (already decided, or the process's own choice kept).
    """
    if _state["threads_decided"]:
        return None
    _state["threads_decided"] = True
    import torch

    if torch.get_num_threads() != _torch_start_threads():
        return None  # the user's own torch.set_num_threads
    n = default_threads()
    if n != torch.get_num_threads():
        torch.set_num_threads(n)
    _state["threads_set"] = n
    return n


def usable_cores() -> int:
    """The cores this process may run on: its CPU affinity (a container's limit, not the host's
    cores), else ``os.cpu_count()``.

    Returns
    -------
    int
        At least 1.
    """
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _torch_start_threads() -> int:
    """The intra-op thread count torch starts with: ``$OMP_NUM_THREADS``, else the cores it sees."""
    env = os.environ.get("OMP_NUM_THREADS", "").strip()
    if env.isdigit() and int(env) > 0:
        return int(env)
    return usable_cores()
