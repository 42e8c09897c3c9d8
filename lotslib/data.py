"""Image sources. Every source yields :class:`Sample` objects whose ``image`` is a float
tensor ``(3, H, W)`` with pixels in ``[0, 1]`` (original size; ``model.preprocess`` resizes).

Sources
-------
* :func:`embedded` -- photos shipped inside installed packages (works offline):
  the 20 labelled ImageNet JPEGs of the ``foolbox`` wheel, named photos of scikit-image
  (chelsea, coffee, rocket, astronaut, motorcycle_left, motorcycle_right) and
  matplotlib (grace_hopper).
* :func:`imagenet_val` -- an ILSVRC2012 validation folder with its ground truth;
  ``.first_per_class()`` is the thesis protocol (first image of each class, 1000 images).
* :func:`folder` -- any folder of images, with an optional ``labels.csv``
  (columns ``file, wnid, class_index, name``), e.g. ``../shared/imagenet-sample``.

Decoding (:func:`load_image`) is robust: EXIF orientation is applied; grayscale, palette,
CMYK, 16-bit and alpha images become RGB (alpha is composited over white); unreadable,
truncated or non-image files raise :class:`~lotslib.errors.ImageDecodeError` naming the
file; images smaller than ``MIN_SIDE`` pixels are refused; images larger than
``MAX_SIDE`` on their long side are downscaled while decoding (JPEG draft mode, then an
antialiased thumbnail) so a 12000x12000 photo never exhausts memory; images above
``MAX_PIXELS`` are refused as decompression bombs.

Every file-backed image carries a content digest (SHA-256 of all its bytes, computed on first
use, so listing a large folder reads no pixels); :meth:`ImageSource.fingerprint` and the
benchmark's cache use it, so an edited image is never served from a stale cache entry.
"""
from __future__ import annotations

import csv
import hashlib
import importlib.util
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import DatasetError, ImageDecodeError, ImageNotFoundError

__all__ = [
    "Sample",
    "ImageSource",
    "load_image",
    "to_tensor",
    "embedded",
    "imagenet_val",
    "folder",
    "MIN_SIDE",
    "MAX_SIDE",
    "MAX_PIXELS",
]

MIN_SIDE = 16  #: smaller images are refused (nothing for a 224-pixel network to see)
MAX_SIDE = 4096  #: larger images are downscaled while decoding (long side)
MAX_PIXELS = 400_000_000  #: larger images are refused as decompression bombs
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm"}
_WNID = re.compile(r"^n\d{8}$")


@dataclass
class Sample:
    """One image: ``image`` ``(3,H,W)`` float in [0,1]; ``label`` an ImageNet class index or None."""

    image: torch.Tensor
    id: str
    label: int | None = None
    name: str | None = None
    path: str | None = None


@dataclass
class _Item:
    id: str
    label: int | None
    name: str | None
    path: str | None
    loader: Callable[[], torch.Tensor]
    _digest: str | Callable[[], str]  # content fingerprint, or a function computing it on first use

    @property
    def digest(self) -> str:
        """Hash of the image's content (every byte of its file), computed once on first use."""
        if callable(self._digest):
            self._digest = self._digest()
        return self._digest


@dataclass
class ImageSource(Sequence):
    """A lazily decoded, ordered list of images. ``source[i]`` decodes image ``i``."""

    items: list[_Item]
    description: str = ""
    _cache: dict = field(default_factory=dict, repr=False)

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return ImageSource(self.items[i], f"{self.description}[{i.start}:{i.stop}]")
        it = self.items[i]
        if it.id not in self._cache:
            self._cache[it.id] = it.loader()
        return Sample(self._cache[it.id], it.id, it.label, it.name, it.path)

    @property
    def ids(self) -> list[str]:
        return [it.id for it in self.items]

    @property
    def labels(self) -> list[int | None]:
        return [it.label for it in self.items]

    def select(self, ids: Iterable[str]) -> "ImageSource":
        """The sub-source with these ids, in the given order (unknown ids raise DatasetError)."""
        by_id = {it.id: it for it in self.items}
        missing = [i for i in ids if i not in by_id]
        if missing:
            raise DatasetError(f"Unknown image ids {missing[:5]} in {self.description}; known: {self.ids[:5]}...")
        return ImageSource([by_id[i] for i in ids], self.description)

    def head(self, n: int | None) -> "ImageSource":
        """The first ``n`` images (all when ``n`` is None)."""
        return self if n is None else ImageSource(self.items[: int(n)], f"{self.description}[:{n}]")

    def first_per_class(self) -> "ImageSource":
        """The first image (in file order) of each labelled class -- the thesis protocol."""
        seen, keep = set(), []
        for it in self.items:
            if it.label is not None and it.label not in seen:
                seen.add(it.label)
                keep.append(it)
        return ImageSource(keep, f"{self.description} first_per_class")

    def fingerprint(self) -> str:
        """Hash of the ordered ids, labels and content digests: changes when the list does."""
        h = hashlib.sha256()
        for it in self.items:
            h.update(f"{it.id}|{it.label}|{it.digest}\n".encode())
        return h.hexdigest()[:16]

    def batch(self, model, indices: Sequence[int] | None = None) -> torch.Tensor:
        """Decode and ``model.preprocess`` the images -> ``(N,3,S,S)`` in [0,1]."""
        idx = range(len(self)) if indices is None else indices
        return torch.stack([model.preprocess(self[i].image) for i in idx])


# ------------------------------------------------------------------ decoding
def to_tensor(img) -> torch.Tensor:
    """PIL image or ``(H,W[,C])`` uint8/float array -> ``(3,H,W)`` float32 tensor in [0,1]."""
    if isinstance(img, torch.Tensor):
        return img
    if isinstance(img, Image.Image):
        arr = _pil_to_array(img, "<PIL image>")
    else:
        arr = np.asarray(img)
        if arr.dtype == np.uint8:
            arr = arr.astype(np.float32) / 255.0
        elif arr.dtype == np.uint16:
            arr = arr.astype(np.float32) / 65535.0
        else:
            arr = arr.astype(np.float32)
        if arr.ndim == 2:
            arr = np.repeat(arr[..., None], 3, axis=2)
        elif arr.ndim == 3 and arr.shape[2] == 4:
            a = arr[..., 3:4]
            arr = arr[..., :3] * a + (1.0 - a)
        elif arr.ndim == 3 and arr.shape[2] == 1:
            arr = np.repeat(arr, 3, axis=2)
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise ImageDecodeError(f"Expected an RGB image array (H,W,3); got shape {arr.shape}.")
    return torch.from_numpy(np.ascontiguousarray(arr.transpose(2, 0, 1))).float().clamp_(0.0, 1.0)


def _pil_to_array(img: Image.Image, where: str) -> np.ndarray:
    """Any PIL mode -> (H,W,3) float32 in [0,1]."""
    mode = img.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N"):
        arr = np.asarray(img, dtype=np.float32) / 65535.0
        arr = np.repeat(arr[..., None], 3, axis=2)
    elif mode in ("I", "F"):
        arr = np.asarray(img, dtype=np.float32)
        hi = 65535.0 if arr.max(initial=0) > 255 else 255.0
        arr = np.repeat((arr / hi)[..., None], 3, axis=2)
    elif mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        arr = np.asarray(Image.alpha_composite(white, rgba).convert("RGB"), dtype=np.float32) / 255.0
    else:  # L, 1, P, CMYK, YCbCr, LAB, HSV, RGB
        arr = np.asarray(img.convert("RGB"), dtype=np.float32) / 255.0
    if not np.isfinite(arr).all():
        raise ImageDecodeError(f"{where}: decoded pixels contain NaN/inf. Fix: re-export the image as 8-bit RGB.")
    return np.clip(arr, 0.0, 1.0)


def load_image(path, max_side: int = MAX_SIDE, min_side: int = MIN_SIDE) -> torch.Tensor:
    """Decode an image file -> ``(3,H,W)`` float32 in [0,1] (see the module docstring for the rules)."""
    p = Path(path)
    if not p.exists():
        raise ImageNotFoundError(f"Image file {p} does not exist. Fix: check the path (cwd is {Path.cwd()}).")
    if p.is_dir():
        raise ImageDecodeError(f"{p} is a folder, not an image file. Fix: use lotslib.data.folder({str(p)!r}).")
    old_limit = Image.MAX_IMAGE_PIXELS
    try:
        Image.MAX_IMAGE_PIXELS = MAX_PIXELS
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(p) as img:
                w, h = img.size
                if min(w, h) < min_side:
                    raise ImageDecodeError(
                        f"{p} is only {w}x{h} pixels; lotslib needs at least {min_side} on each side. "
                        f"Fix: use a larger image (or upsample it yourself if that is really intended)."
                    )
                if img.format == "JPEG" and max(w, h) > max_side:
                    img.draft("RGB", (max_side, max_side))  # decode at a reduced scale
                img.load()
                img = ImageOps.exif_transpose(img)
                if max(img.size) > max_side:
                    img.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
                arr = _pil_to_array(img, str(p))
    except ImageDecodeError:
        raise
    except Image.DecompressionBombError as exc:
        raise ImageDecodeError(
            f"{p} is too large to decode safely ({exc}). Fix: downscale it below {MAX_PIXELS:,} pixels."
        ) from exc
    except UnidentifiedImageError as exc:
        raise ImageDecodeError(
            f"{p} is not a readable image (unknown format or not an image at all). "
            f"Fix: remove it from the folder or re-export it as JPEG/PNG."
        ) from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageDecodeError(
            f"{p} could not be decoded ({exc}); the file is probably truncated or corrupt. "
            f"Fix: re-download or re-export it, or remove it from the folder."
        ) from exc
    finally:
        Image.MAX_IMAGE_PIXELS = old_limit
    return torch.from_numpy(np.ascontiguousarray(arr.transpose(2, 0, 1))).float()


def _digest(path: Path) -> str:
    """SHA-256 of every byte of the file (an edit anywhere in it changes the digest)."""
    h = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
    except FileNotFoundError:
        raise ImageNotFoundError(f"Image file {path} has disappeared since the list was made. Fix: restore it or rebuild the list.") from None
    return h.hexdigest()[:16]


def _file_item(path: Path, id: str, label, name) -> _Item:
    # the digest is computed lazily: listing a 50,000-image folder reads no image bytes
    return _Item(id, label, name, str(path), lambda p=path: load_image(p), lambda p=path: _digest(p))


# ------------------------------------------------------------------ sources
def _package_dir(pkg: str) -> Path:
    spec = importlib.util.find_spec(pkg)
    if spec is None or not spec.submodule_search_locations:
        raise DatasetError(f"Package {pkg!r} is not installed; it ships embedded images. Fix: `make test` or pip install -e .")
    return Path(list(spec.submodule_search_locations)[0])


def _foolbox_items(categories: list[str]) -> list[_Item]:
    d = _package_dir("foolbox") / "data"
    items = []
    for p in sorted(d.glob("imagenet_*.jpg")):
        _, nn, cls = p.stem.split("_")
        label = int(cls)
        items.append(_file_item(p, f"foolbox_{nn}_{label}", label, categories[label]))
    if not items:
        raise DatasetError(f"No imagenet_*.jpg files in {d}. Fix: reinstall foolbox==3.3.4.")
    return items


def _skimage_loader(name: str):
    def load():
        import skimage.data as skd

        if name.startswith("motorcycle_"):
            left, right, _disp = skd.stereo_motorcycle()
            arr = left if name.endswith("left") else right
        else:
            arr = getattr(skd, name)()
        return to_tensor(arr)

    return load


PHOTOS = ("chelsea", "coffee", "rocket", "astronaut", "motorcycle_left", "motorcycle_right", "grace_hopper")


def _photo_items() -> list[_Item]:
    items = []
    for name in PHOTOS:
        if name == "grace_hopper":
            p = _package_dir("matplotlib") / "mpl-data" / "sample_data" / "grace_hopper.jpg"
            items.append(_file_item(p, name, None, name))
        else:
            items.append(_Item(name, None, name, None, _skimage_loader(name), f"skimage:{name}"))
    return items


def embedded(which: str = "all") -> ImageSource:
    """Photos shipped by installed packages. ``which``: ``"imagenet"`` (foolbox's 20
    labelled ImageNet samples), ``"photos"`` (scikit-image + matplotlib, unlabelled),
    ``"all"`` (both, ImageNet first)."""
    from .models import imagenet_categories

    if which not in ("all", "imagenet", "photos"):
        raise DatasetError(f"embedded(which={which!r}): choose 'all', 'imagenet' or 'photos'.")
    items: list[_Item] = []
    if which in ("all", "imagenet"):
        items += _foolbox_items(imagenet_categories())
    if which in ("all", "photos"):
        items += _photo_items()
    return ImageSource(items, f"embedded:{which}")


def photo(name: str) -> Sample:
    """One named embedded photo, e.g. ``photo("chelsea")``."""
    src = embedded("photos")
    if name not in src.ids:
        raise DatasetError(f"Unknown embedded photo {name!r}; known: {list(PHOTOS)}.")
    return src.select([name])[0]


def _check_folder(path) -> Path:
    root = Path(path).expanduser()
    if not root.exists():
        raise ImageNotFoundError(f"Image folder {root} does not exist. Fix: check the path or set it in the chapter's parameters.")
    if not root.is_dir():
        raise DatasetError(f"{root} is a file, not a folder. Fix: pass the folder that contains the images.")
    return root


def _image_files(root: Path, recursive: bool = False) -> list[Path]:
    it = root.rglob("*") if recursive else root.iterdir()
    return sorted(p for p in it if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def folder(path, labels: str | None = "labels.csv") -> ImageSource:
    """Every image in ``path`` (sorted by name). With ``labels.csv`` (columns ``file, wnid,
    class_index, name``) only the listed files are used, with their labels; a row naming a
    missing file, a malformed wnid, a class index outside 0..999 or a wnid given two
    different indices raises :class:`DatasetError` naming the row."""
    from .models import imagenet_categories

    root = _check_folder(path)
    cats = imagenet_categories()
    lab = root / labels if labels else None
    items: list[_Item] = []
    if lab is not None and lab.is_file():
        wnid_to_idx: dict[str, int] = {}
        with open(lab, newline="") as f:
            reader = csv.DictReader(f)
            if not reader.fieldnames or "file" not in reader.fieldnames:
                raise DatasetError(f"{lab}: needs a header with at least a 'file' column (file, wnid, class_index, name).")
            for rowno, row in enumerate(reader, start=2):
                where = f"{lab}, row {rowno}"
                fp = root / (row.get("file") or "").strip()
                if not row.get("file") or not fp.is_file():
                    raise DatasetError(f"{where}: file {row.get('file')!r} is not in {root}. Fix: correct or delete that row.")
                wnid = (row.get("wnid") or "").strip()
                if wnid and not _WNID.match(wnid):
                    raise DatasetError(f"{where}: {wnid!r} is not a WordNet id (n########). Fix: correct the wnid column.")
                ci = (row.get("class_index") or "").strip()
                label = None
                if ci:
                    try:
                        label = int(ci)
                    except ValueError:
                        raise DatasetError(f"{where}: class_index {ci!r} is not an integer. Fix: use 0..999.") from None
                    if not 0 <= label < 1000:
                        raise DatasetError(f"{where}: class_index {label} outside 0..999. Fix: use ImageNet-1k indices.")
                if wnid:
                    if label is None and wnid not in wnid_to_idx:
                        raise DatasetError(f"{where}: unknown wnid {wnid!r} and no class_index. Fix: add its class_index.")
                    if label is None:
                        label = wnid_to_idx[wnid]
                    if wnid_to_idx.setdefault(wnid, label) != label:
                        raise DatasetError(
                            f"{where}: wnid {wnid} given class_index {label} but earlier {wnid_to_idx[wnid]}. Fix: make them agree."
                        )
                name = (row.get("name") or "").strip() or (cats[label] if label is not None else fp.stem)
                items.append(_file_item(fp, fp.stem, label, name))
    else:
        items = [_file_item(p, p.stem, None, p.stem) for p in _image_files(root)]
    if not items:
        raise DatasetError(f"Folder {root} contains no images ({', '.join(sorted(IMAGE_SUFFIXES))}). Fix: point to a folder with images.")
    return ImageSource(items, f"folder:{root}")


def imagenet_val(root, ground_truth=None) -> ImageSource:
    """An ILSVRC2012 validation folder.

    ``root`` holds ``ILSVRC2012_val_*.JPEG`` (flat) or ``<wnid>/*.JPEG`` subfolders (the
    torchvision ``ImageFolder`` layout, sorted wnids = class indices). For a flat folder,
    ``ground_truth`` is a text file with one torchvision class index (0..999) per line in
    sorted-file order, or a CSV with columns ``file,class_index``.
    """
    root = _check_folder(root)
    subdirs = sorted(d for d in root.iterdir() if d.is_dir() and _WNID.match(d.name))
    from .models import imagenet_categories

    cats = imagenet_categories()
    items: list[_Item] = []
    if subdirs:
        if len(subdirs) != 1000:
            raise DatasetError(
                f"{root} has {len(subdirs)} wnid subfolders; class indices need all 1000. Fix: use a flat folder with a ground-truth file."
            )
        for idx, d in enumerate(subdirs):
            for p in _image_files(d):
                items.append(_file_item(p, p.stem, idx, cats[idx]))
    else:
        files = _image_files(root)
        if not files:
            raise DatasetError(f"{root} contains no images. Fix: point to the ILSVRC2012 validation folder.")
        if ground_truth is None:
            raise DatasetError(
                f"{root} is flat; pass ground_truth= (one class index 0..999 per line, or a CSV file,class_index)."
            )
        gt = Path(ground_truth)
        if not gt.is_file():
            raise ImageNotFoundError(f"Ground-truth file {gt} does not exist. Fix: check the path.")
        text = gt.read_text().strip().splitlines()
        by_file: dict[str, int] = {}
        if text and "," in text[0]:
            for rowno, row in enumerate(csv.DictReader(text), start=2):
                try:
                    by_file[Path(row["file"]).stem] = int(row["class_index"])
                except (KeyError, ValueError, TypeError):
                    raise DatasetError(f"{gt}, row {rowno}: needs columns file,class_index with an integer index.") from None
        else:
            if len(text) != len(files):
                raise DatasetError(f"{gt} has {len(text)} lines but {root} has {len(files)} images. Fix: use the matching file.")
            for rowno, (p, line) in enumerate(zip(files, text), start=1):
                try:
                    by_file[p.stem] = int(line.strip())
                except ValueError:
                    raise DatasetError(f"{gt}, line {rowno}: {line!r} is not a class index.") from None
        for p in files:
            if p.stem in by_file:
                lab = by_file[p.stem]
                if not 0 <= lab < 1000:
                    raise DatasetError(f"{gt}: class index {lab} for {p.name} is outside 0..999.")
                items.append(_file_item(p, p.stem, lab, cats[lab]))
    return ImageSource(items, f"imagenet_val:{root}")
