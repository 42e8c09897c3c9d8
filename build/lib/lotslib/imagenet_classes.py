"""The 1000 ImageNet-1k class names (a leaf module: no lotslib imports)."""
from __future__ import annotations

__all__ = ["imagenet_categories"]


def imagenet_categories() -> list[str]:
    """The 1000 ImageNet-1k class names in index order (from torchvision's metadata).

    Returns
    -------
    list of str
        1000 names; entry ``i`` names class index ``i`` (0..999).
    """
    from torchvision.models import ResNet50_Weights

    return list(ResNet50_Weights.IMAGENET1K_V2.meta["categories"])
