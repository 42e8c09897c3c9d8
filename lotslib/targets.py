"""LOTS's feature targets F_t (thesis section 4.2), in one place.

* :func:`zero_target`, :func:`image_target` -- the zero vector, or the features of any image
  (e.g. an unseen object); a tensor ``(D,)`` of ``model.features(., layer)``, cached in memory
  per (model weights, layer, source) so a target is computed once per session.
* :func:`reference_targets` -- the targets of Table 5.1's variants (Weber 2023, section
  5.1.1) for a batch of evaluated images, from a labelled *reference set*
  (:func:`open_reference`; the thesis took them from ImageNet's training images):
  ``"lots"`` moves toward the zero vector; ``"lots_class"`` toward the features of a randomly
  chosen *other* image of the same class; ``"lots_mean"`` toward the mean features over that
  class's reference images. The class is the evaluated image's label (its top-1 class when it
  is unlabelled).
* :func:`other_class_reference`, :func:`other_class_target` -- kind ``"other"``
  (``"lots_other"``, :mod:`lotslib.lots_variants`): a reference image of *another* class,
  drawn the same way from every labelled reference image whose class differs and whose
  content is not the evaluated image's; an image with no such reference is N/A.

"Other" is decided by content, not by name: a reference image whose content digest equals
the evaluated image's (the same photo under another name or folder) is never used. The
class image is drawn with a generator seeded by the evaluated image's id
(:func:`lotslib.tensors.id_seed`), so the choice is reproducible and does not depend on the
batch. A class with no usable reference image gets no target: its rows are N/A (the reason is
recorded; their metrics are NaN and excluded from every mean), never a stand-in such as a
mirrored copy of the image itself.
"""
from __future__ import annotations

import numpy as np
import torch

from .errors import DatasetError
from .params import LotsParams
from .tensors import id_seed

__all__ = ["zero_target", "image_target", "REFERENCE_KINDS", "FeatureTargets", "reference_targets", "open_reference",
           "other_class_reference", "other_class_target"]

_CACHE: dict[tuple, torch.Tensor] = {}


def _key(model, layer, *source):
    return (getattr(model, "name", id(model)), getattr(model, "weights_id", ""), layer, *source)


def _features(model, x: torch.Tensor, layer: str, batch_size: int = 16) -> torch.Tensor:
    from .attack import check_pixels

    check_pixels(x)
    dev = next(model.parameters()).device
    out = []
    with torch.no_grad():
        for s in range(0, len(x), batch_size):
            out.append(model.features(x[s : s + batch_size].to(dev), layer).cpu())
    return torch.cat(out)


def zero_target(model, layer: str = LotsParams.layer) -> torch.Tensor:
    """The zero vector of the layer's size ``(D,)``: push every class score toward zero.

    Parameters
    ----------
    model : lotslib.models.ModelWrapper
        The model whose features the target is for.
    layer : str
        ``"logits"`` (the default, ``D = 1000``) or ``"penultimate"``.

    Returns
    -------
    torch.Tensor
        ``(D,)`` float zeros (on the CPU, cached per model and layer).
    """
    key = _key(model, layer, "zero")
    if key not in _CACHE:
        dim = _features(model, torch.full((1, 3, model.input_size, model.input_size), 0.5), layer).shape[1]
        _CACHE[key] = torch.zeros(dim)
    return _CACHE[key]


def image_target(model, x: torch.Tensor, layer: str = LotsParams.layer, key: str | None = None) -> torch.Tensor:
    """Features of one image ``(1,3,H,W)`` or ``(3,H,W)`` (pixels in [0,1]) -> ``(D,)``.

    Used for unseen objects (one view's features as the target of another).

    Parameters
    ----------
    model : lotslib.models.ModelWrapper
        The model whose features are taken.
    x : torch.Tensor
        ``(1,3,H,W)`` or ``(3,H,W)`` float pixels in [0,1], preprocessed for ``model`` (of a
        larger batch only the first image is used).
    layer : str
        ``"logits"`` (the default) or ``"penultimate"``.
    key : str or None
        Pass ``key`` (e.g. the image id) to cache it; None (the default) computes it anew.

    Returns
    -------
    torch.Tensor
        ``(D,)`` features, on the CPU.

    Raises
    ------
    lotslib.errors.InputRangeError
        ``x`` is not finite float pixels in [0,1].
    """
    if x.dim() == 3:
        x = x[None]
    if key is not None and _key(model, layer, "image", key) in _CACHE:
        return _CACHE[_key(model, layer, "image", key)]
    f = _features(model, x[:1], layer)[0]
    if key is not None:
        _CACHE[_key(model, layer, "image", key)] = f
    return f


#: the feature targets built from a reference set (the methods whose ``feature_target`` is one of them)
REFERENCE_KINDS = ("class", "mean", "other")


class FeatureTargets:
    """What :func:`reference_targets` returns for ``N`` images.

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
    return image_target(model, model.preprocess(item.loader())[None], layer, key=key).float()


def _other_class(reference, c, seed, item) -> list:
    """``[the drawn reference image of a class other than c]``, or ``[]`` when there is none."""
    try:
        return [other_class_reference(reference, c, id_seed(seed, item.id), item.digest)]
    except DatasetError:
        return []


def reference_targets(model, kind: str, reference, items, labels, top1, layer: str, seed: int = 0) -> FeatureTargets:
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
    lotslib.targets.FeatureTargets
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
        dim = int(zero_target(model, layer).shape[0])
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

    from . import data

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


def other_class_reference(reference, class_index: int, seed: int = 0, exclude_digest: str | None = None):
    """A reference image of a class other than ``class_index``, drawn with ``seed`` (uniform over those images).

    The draw is ``numpy.random.default_rng(seed)`` over the labelled images of other classes
    in the reference set's order; a drawn image whose content is the explained image's is
    set aside and the draw repeated (only drawn images are read for their digest). The
    benchmark draws with the seed :func:`lotslib.tensors.id_seed` of the image id.

    Parameters
    ----------
    reference : lotslib.data.ImageSource
        Labelled reference images (unlabelled ones are skipped).
    class_index : int
        The explained image's class.
    seed : int
        Seed of the draw: the same seed and reference set give the same image. Default 0.
    exclude_digest : str or None
        The content digest of the explained image: a reference with the same content (the
        same photo under another name) is never drawn. Default None.

    Returns
    -------
    object
        The drawn item of ``reference.items`` (``.id``, ``.label``, ``.loader()``, ``.digest``).

    Raises
    ------
    lotslib.errors.DatasetError
        ``reference`` has no labelled image of another class (the message says which class
        and where).
    """
    cands = [it for it in reference.items if it.label is not None and int(it.label) != int(class_index)]
    rng = np.random.default_rng(int(seed))
    while cands:  # a draw with the explained image's content is put aside and drawn again
        it = cands.pop(int(rng.integers(len(cands))))
        if exclude_digest is None or it.digest != exclude_digest:
            return it
    raise DatasetError(f"no reference image of a class other than {int(class_index)} in {reference.description}. "
                       f"Fix: add labelled images of at least one other class to the reference set.")


def other_class_target(model, reference, class_index: int, layer: str = LotsParams.layer, seed: int = 0,
                       exclude_digest: str | None = None) -> torch.Tensor:
    """The features ``(D,)`` of :func:`other_class_reference`'s image: the target of ``"lots_other"``.

    Parameters
    ----------
    model : lotslib.models.ModelWrapper
        Whose features are the target (its ``preprocess`` sizes the reference image).
    reference, class_index, seed, exclude_digest
        The draw, as in :func:`other_class_reference`.
    layer : str
        ``"logits"`` (the default) or ``"penultimate"``.

    Returns
    -------
    torch.Tensor
        ``(D,)`` float features on the CPU (cached per model, layer and image content).

    Raises
    ------
    lotslib.errors.DatasetError
        No labelled reference image of another class.
    """
    it = other_class_reference(reference, class_index, seed, exclude_digest)
    return image_target(model, model.preprocess(it.loader())[None], layer, key=f"ref:{it.digest}").float()
