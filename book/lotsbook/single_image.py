"""The "Try your own image" page's image and model, checked before the book executes.

:func:`check_image` and :func:`check_model_name` validate the book's ``--image`` and
``--model`` before anything is executed, :func:`open_image` opens the page's one image (the
default photo without ``--image``) and :func:`page_params` makes the page's parameters from
the profile's. What the page computes from them (every method and every metric on the image)
is :mod:`lotsbook.pages.own`::

    from lotslib import load_model
    from lotsbook import single_image
    from lotsbook.pages import own

    model = load_model("efficientnet_lite0")
    src = single_image.open_image("photo.jpg")           # one image; None: the default photo
    rep = own.explain_image(model, src.batch(model), lots={"iters": 40})
    rep.metrics                                          # one row per method, one column per metric

Pixels are ``(1,3,H,W)`` in [0,1].
"""
from __future__ import annotations

from pathlib import Path


from lotslib.errors import ImageDecodeError, ImageNotFoundError, UnknownModelError

__all__ = [
    "DEFAULT_PHOTO",
    "check_image",
    "check_model_name",
    "open_image",
    "page_params",
]

#: the embedded photo the page explains when no ``--image`` is given (scikit-image's cat)
DEFAULT_PHOTO = "chelsea"


def check_image(path) -> Path:
    """Check that ``path`` is one decodable, non-constant image file.

    Parameters
    ----------
    path : str or pathlib.Path
        The image file (any format PIL reads).

    Returns
    -------
    pathlib.Path
        The absolute path (the book executes the page in another working directory).

    Raises
    ------
    lotslib.errors.ImageNotFoundError
        ``path`` does not exist.
    lotslib.errors.ImageDecodeError
        ``path`` is a folder, not an image (or truncated), too small or too large to decode,
        or one flat colour (no method can explain it); the message names the fix.
    """
    from lotslib.data import load_image
    from lotslib.explanation import CONSTANT_TOL

    p = Path(path).expanduser()
    if not p.exists():
        raise ImageNotFoundError(f"--image {p}: no such file (relative paths start at {Path.cwd()}). "
                                 f"Fix: give the path of an existing image file.")
    if p.is_dir():
        raise ImageDecodeError(f"--image {p} is a folder; the page explains one image. Fix: pass one image file "
                               f"from it, or run `lots explain {p} --report` for a whole folder.")
    try:
        img = load_image(p)
    except ImageDecodeError as exc:
        raise ImageDecodeError(f"--image: {exc}") from None
    if float((img.amax(dim=(1, 2)) - img.amin(dim=(1, 2))).max()) < CONSTANT_TOL:
        raise ImageDecodeError(f"--image {p} is one flat colour; no explanation method can say where the evidence "
                               f"lies. Fix: use a photo.")
    return p.resolve()


def check_model_name(name: str) -> str:
    """Check a model name before anything is loaded.

    Parameters
    ----------
    name : str
        A key of :func:`lotslib.models.known_models`, or ``"torchvision:<name>"`` /
        ``"timm:<name>"`` (checked when loaded).

    Returns
    -------
    str
        ``name``.

    Raises
    ------
    lotslib.errors.UnknownModelError
        ``name`` is neither; the message lists the known models.
    """
    from lotslib.models import known_models

    name = str(name)
    if name.startswith(("torchvision:", "timm:")) or name.lower().replace("-", "_") in known_models():
        return name
    raise UnknownModelError(f"--model {name!r} is not a model lotslib knows. Fix: use one of {known_models()} or "
                            f"'torchvision:<name>' / 'timm:<name>' (`lots models` lists them).")


def _file_source(path: Path):
    from lotslib.data import ImageSource, _file_item  # the one-file source the folder sources are made of

    return ImageSource([_file_item(path, path.stem, None, path.name)], f"file:{path.name}")


def open_image(path=None):
    """The one image of the page as an image source.

    Parameters
    ----------
    path : str, pathlib.Path or None, optional
        An image file (checked with :func:`check_image`); None (default): the embedded photo
        :data:`DEFAULT_PHOTO`.

    Returns
    -------
    lotslib.data.ImageSource
        One unlabelled image (id: the file's stem or the photo's name).

    Raises
    ------
    lotslib.errors.ImageNotFoundError
        ``path`` does not exist (:func:`check_image`).
    lotslib.errors.ImageDecodeError
        ``path`` is not one decodable, non-constant image file (:func:`check_image`).
    """
    from lotslib.data import embedded

    if path is None:
        return embedded("photos").select([DEFAULT_PHOTO])
    return _file_source(check_image(path))


def page_params(params: dict, image=None, model: str | None = None) -> dict:
    """The parameters of the "Try your own image" page: the profile's, plus the image and model.

    Parameters
    ----------
    params : dict
        The chapters' parameters (:func:`lotsbook.profiles.resolve_profile`).
    image : str, pathlib.Path or None, optional
        The image file (``--image``); None (default): :data:`DEFAULT_PHOTO`.
    model : str or None, optional
        The model (``--model``); None (default): the profile's ``model``.

    Returns
    -------
    dict
        ``params`` with ``image`` (absolute path or None), ``image_digest`` (content hash, so
        an edited file is explained again) and ``model``.

    Raises
    ------
    lotslib.errors.ImageNotFoundError
        ``image`` does not exist (:func:`check_image`).
    lotslib.errors.ImageDecodeError
        ``image`` is a folder, not an image, or one flat colour (:func:`check_image`).
    lotslib.errors.UnknownModelError
        A bad ``model`` (:func:`check_model_name`).
    """
    out = dict(params)
    if model is not None:
        out["model"] = check_model_name(model)
    if image is None:
        out.update(image=None, image_digest=None)
    else:
        src = open_image(image)
        out.update(image=src[0].path, image_digest=src.fingerprint())
    return out
