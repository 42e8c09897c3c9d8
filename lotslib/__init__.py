"""lotslib: LOTS adversarial perturbations as explanations, compared with CAM methods.

Modules: ``models`` (ImageNet classifiers, pixels in [0,1] in, logits out), ``data``
(image sources), ``lots`` (Algorithm 1, batched), ``targets`` (F_t choices),
``visualize`` (Algorithm 2 maps and figures' building blocks).
"""
from .errors import (  # noqa: F401
    CorruptCacheWarning,
    DatasetError,
    ImageDecodeError,
    ImageNotFoundError,
    InputRangeError,
    LotsError,
    ParameterError,
    UnknownModelError,
    WeightsNotFoundError,
)
from .lots import LotsResult, LotsTrace, lots  # noqa: F401
from .models import known_models, load_model  # noqa: F401
from .visualize import lots_map  # noqa: F401

__version__ = "0.1.0"
