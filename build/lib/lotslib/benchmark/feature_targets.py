"""The feature targets of the LOTS variants in Table 5.1 (Weber 2023, section 5.1.1).

``"lots"`` moves toward the zero vector. The two others need a labelled *reference set*
(the thesis took them from ImageNet's training images): ``"lots_class"`` moves toward the
features of a randomly chosen *other* image of the same class; ``"lots_mean"`` toward the
mean features over that class's reference images. The class is the evaluated image's label
(its top-1 class when it is unlabelled).

"Other" is decided by content, not by name: a reference image whose content digest equals
the evaluated image's (the same photo under another name or folder) is never used. The
class image is drawn with a generator seeded by the evaluated image's id, so the choice is
reproducible and does not depend on the batch. A class with no usable reference image gets
no target: its rows are N/A (the reason is recorded; their metrics are NaN and excluded from
every mean), never a stand-in such as a mirrored copy of the image itself.

Kind ``"other"`` (``"lots_other"``, :mod:`lotslib.lots_targets`) moves toward the features of
a reference image of *another* class, drawn the same way (seeded by the image id) from every
labelled reference image whose class differs and whose content is not the evaluated image's
(:func:`lotslib.lots_targets.other_class_reference`); an image with no such reference is N/A.
"""
from __future__ import annotations

import numpy as np
import torch

from .. import targets as T
from .params import id_seed

__all__ = ["lots_targets", "FeatureTargets", "open_reference", "REFERENCE_KINDS"]

#: the feature targets built from a reference set (the methods whose ``feature_target`` is one of them)
REFERENCE_KINDS = ("class", "mean", "other")


class FeatureTargets:
    """What :func:`lotslib.benchmark.feature_targets.lots_targets` returns for ``N`` images.

    Attributes
    ----------
    features : torch.Tensor
        ``(N,D)`` feature targets; rows of N/A images are NaN.
    classes : list of int
        The class of each target (-1 where N/A; for kind ``"other"`` the drawn image's class).
    reference_ids : list of str
        The reference image(s) used: the chosen id (class target), ``"mean of k"`` (mean
        target), ``""`` where N/A.
    na_reasons : list of str
        ``""`` where a target exists, else why not (e.g. "no other reference image of class
        281 (tabby)").
    """

    def __init__(self, features, classes, reference_ids, na_reasons):
        self.features, self.classes, self.reference_ids, self.na_reasons = features, classes, reference_ids, na_reasons

    @property
    def ok(self) -> np.ndarray:
        """``(N,)`` True where the image has a target."""
        return np.array([r == "" for r in self.na_reasons], dtype=bool)


def _feature(model, item, layer):
    """The features ``(D,)`` of one reference image, cached by its content digest."""
    key = f"ref:{item.digest}"
    return T.image_target(model, model.preprocess(item.loader())[None], layer, key=key).float()


def _other_class(reference, c, seed, item) -> list:
    """``[the drawn reference image of a class other than c]``, or ``[]`` when there is none."""
    from ..errors import DatasetError
    from ..lots_targets import other_class_reference

    try:
        return [other_class_reference(reference, c, id_seed(seed, item.id), item.digest)]
    except DatasetError:
        return []


def lots_targets(model, kind: str, reference, items, labels, top1, layer: str, seed: int = 0) -> FeatureTargets:
    """Feature targets of kind ``"class"``, ``"mean"`` or ``"other"`` for the evaluated images ``items``.

    Parameters
    ----------
    model : lotslib.models.ModelWrapper
        The model whose features are the targets.
    kind : str
        ``"class"`` (another image of the class), ``"mean"`` (the mean over the class's
        reference images) or ``"other"`` (an image of another class).
    reference : lotslib.data.ImageSource
        Labelled reference images, any number per class.
    items : Sequence
        The evaluated images' items (``.id``, ``.digest``) of a :class:`lotslib.data.ImageSource`.
    labels : Sequence of int or None
        The evaluated images' labels (None: use ``top1``).
    top1 : torch.Tensor
        ``(N,)`` the top-1 class of each evaluated image.
    layer : str
        ``"logits"`` or ``"penultimate"``.
    seed : int
        Base seed of the class-image draw (the per-image seed adds a hash of the image id).

    Returns
    -------
    lotslib.benchmark.feature_targets.FeatureTargets
    """
    by_class: dict[int, list] = {}
    for it in reference.items:
        if it.label is not None:
            by_class.setdefault(int(it.label), []).append(it)
    cats = getattr(model, "categories", None)
    feats, classes, used, reasons = [], [], [], []
    dim = None
    for i, item in enumerate(items):
        c = int(labels[i]) if labels[i] is not None and labels[i] >= 0 else int(top1[i])
        if kind == "other":
            candidates = _other_class(reference, c, seed, item)
        else:
            candidates = [r for r in by_class.get(c, []) if r.digest != item.digest]
        if not candidates:
            name = f" ({cats[c]})" if cats is not None and 0 <= c < len(cats) else ""
            have = len(by_class.get(c, []))
            reasons.append(f"no reference image of a class other than {c}{name} in {reference.description}"
                           if kind == "other" else f"no other reference image of class {c}{name}"
                           + (f" (its {have} reference image{'s are' if have > 1 else ' is'} the evaluated one)"
                              if have else f" in {reference.description}"))
            feats.append(None)
            classes.append(-1)
            used.append("")
            continue
        if kind in ("class", "other"):
            rng = np.random.default_rng(id_seed(seed, item.id))
            chosen = candidates[int(rng.integers(len(candidates)))]
            f = _feature(model, chosen, layer)
            used.append(chosen.id)
            c = int(chosen.label)
        else:
            f = torch.stack([_feature(model, r, layer) for r in candidates]).mean(0)
            used.append(f"mean of {len(candidates)}")
        dim = f.shape[0]
        feats.append(f)
        classes.append(c)
        reasons.append("")
    if dim is None:
        dim = int(T.zero_target(model, layer).shape[0])
    rows = [f if f is not None else torch.full((dim,), float("nan")) for f in feats]
    return FeatureTargets(torch.stack(rows), classes, used, reasons)


def open_reference(path):
    """A labelled reference set for the class and mean targets, from a folder.

    Parameters
    ----------
    path : str, pathlib.Path or lotslib.data.ImageSource
        A folder with ``labels.csv`` (any number of images per class), or an ImageNet
        train/val folder with ``<wnid>/`` subfolders (all 1000 classes, any number of images
        per class); an :class:`~lotslib.data.ImageSource` is returned as it is.

    Returns
    -------
    lotslib.data.ImageSource
        Every labelled image (not only the first per class).

    Raises
    ------
    lotslib.errors.DatasetError
        The folder has neither ``labels.csv`` nor 1000 wnid subfolders, or no labelled image.
    """
    from pathlib import Path

    from .. import data
    from ..errors import DatasetError

    if isinstance(path, data.ImageSource):
        src = path
    else:
        p = Path(path).expanduser()
        if (p / "labels.csv").is_file():
            src = data.folder(p)
        elif p.is_dir() and any(c.is_dir() and c.name.startswith("n") for c in p.iterdir()):
            src = data.imagenet_val(p)
        else:
            raise DatasetError(
                f"reference set {p}: expected a folder with labels.csv (columns file, wnid, class_index, name) or an "
                f"ImageNet train/val folder with <wnid>/ subfolders. Fix: add a labels.csv listing the images."
            )
    if not any(lab is not None for lab in src.labels):
        raise DatasetError(f"reference set {src.description} has no labelled image. Fix: add labels.csv.")
    return src
