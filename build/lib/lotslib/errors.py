"""Error classes of lotslib. Each message names the culprit and the fix."""
from __future__ import annotations

__all__ = [
    "LotsError",
    "UnknownModelError",
    "WeightsNotFoundError",
    "ImageDecodeError",
    "ImageNotFoundError",
    "DatasetError",
    "InputRangeError",
    "ParameterError",
    "CorruptCacheWarning",
]


class LotsError(Exception):
    """Base class of every error lotslib raises on purpose."""


class UnknownModelError(LotsError, ValueError):
    """A model name lotslib does not know; the message lists the known ones."""


class WeightsNotFoundError(LotsError, FileNotFoundError):
    """Model weights absent from disk and not downloadable; the message names the file."""


class ImageDecodeError(LotsError, ValueError):
    """A file that is not a readable image (truncated, not an image, too large)."""


class ImageNotFoundError(LotsError, FileNotFoundError):
    """An image path (or folder) that does not exist."""


class DatasetError(LotsError, ValueError):
    """A folder or label file that cannot serve as an image source."""


class InputRangeError(LotsError, ValueError):
    """An input tensor with the wrong shape, NaN/inf, or values outside [0, 1]."""


class ParameterError(LotsError, ValueError):
    """An invalid algorithm parameter, rejected before any compute."""


class CorruptCacheWarning(UserWarning):
    """A cache file could not be read back; it was moved aside and its results are recomputed."""
