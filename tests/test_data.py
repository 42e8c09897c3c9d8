"""Image sources and robust decoding."""
import csv

import numpy as np
import pytest
import torch
from PIL import Image

from lotslib.data import MAX_SIDE, embedded, folder, imagenet_val, load_image, photo
from lotslib.errors import DatasetError, ImageDecodeError, ImageNotFoundError


def _rgb(h=40, w=60, seed=0):
    return (np.random.default_rng(seed).random((h, w, 3)) * 255).astype(np.uint8)


def test_embedded_sources():
    src = embedded("all")
    assert len(src) == 27
    assert src.ids[:2] == ["foolbox_00_243", "foolbox_01_559"]
    s = src[0]
    assert s.label == 243 and s.name == "bull mastiff"
    for i in range(len(src)):
        img = src[i].image
        assert img.dim() == 3 and img.shape[0] == 3 and img.dtype == torch.float32
        assert 0 <= img.min() and img.max() <= 1
    m = photo("motorcycle_left").image
    assert m.shape == (3, 500, 741)
    assert not torch.equal(m, photo("motorcycle_right").image)
    with pytest.raises(DatasetError, match="chelsea"):
        photo("nope")
    with pytest.raises(DatasetError):
        embedded("everything")


def test_fingerprint_changes_with_list():
    a = embedded("imagenet")
    assert a.fingerprint() == embedded("imagenet").fingerprint()
    assert a.head(5).fingerprint() != a.fingerprint()
    assert a.select(a.ids[::-1]).fingerprint() != a.fingerprint()


def test_grayscale_rgba_cmyk_16bit_palette(tmp_path):
    Image.fromarray(_rgb()[..., 0]).save(tmp_path / "g.png")
    g = load_image(tmp_path / "g.png")
    assert g.shape == (3, 40, 60) and torch.equal(g[0], g[1]) and torch.equal(g[1], g[2])

    rgba = np.zeros((40, 60, 4), np.uint8)
    rgba[..., 0] = 255
    rgba[:, :30, 3] = 0  # left half transparent
    rgba[:, 30:, 3] = 255
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    a = load_image(tmp_path / "a.png")
    assert torch.allclose(a[:, :, :30], torch.ones(3, 40, 30))  # composited over white
    assert torch.allclose(a[:, :, 30:], torch.tensor([1.0, 0, 0]).view(3, 1, 1).expand(3, 40, 30))

    Image.fromarray(_rgb()).convert("CMYK").save(tmp_path / "c.jpg")
    c = load_image(tmp_path / "c.jpg")
    assert c.shape == (3, 40, 60) and 0 <= c.min() and c.max() <= 1

    arr16 = (np.linspace(0, 65535, 40 * 60).reshape(40, 60)).astype(np.uint16)
    Image.fromarray(arr16).save(tmp_path / "d.png")
    d = load_image(tmp_path / "d.png")
    assert abs(float(d.max()) - 1.0) < 1e-3 and float(d.min()) == 0.0

    Image.fromarray(_rgb()).convert("P").save(tmp_path / "p.gif")
    assert load_image(tmp_path / "p.gif").shape == (3, 40, 60)


def test_exif_orientation_applied(tmp_path):
    img = Image.fromarray(_rgb(40, 60))
    exif = img.getexif()
    exif[0x0112] = 6  # rotate 90 CW on display
    img.save(tmp_path / "r.jpg", exif=exif.tobytes())
    assert load_image(tmp_path / "r.jpg").shape == (3, 60, 40)


def test_bad_files_raise_clear_errors(tmp_path):
    Image.fromarray(_rgb(200, 200)).save(tmp_path / "full.jpg", quality=95)
    data = (tmp_path / "full.jpg").read_bytes()
    (tmp_path / "trunc.jpg").write_bytes(data[: len(data) // 3])
    with pytest.raises(ImageDecodeError, match="trunc.jpg"):
        load_image(tmp_path / "trunc.jpg")
    (tmp_path / "text.jpg").write_text("this is not an image")
    with pytest.raises(ImageDecodeError, match="text.jpg.*not a readable image"):
        load_image(tmp_path / "text.jpg")
    Image.fromarray(_rgb(1, 1)).save(tmp_path / "tiny.png")
    with pytest.raises(ImageDecodeError, match="1x1"):
        load_image(tmp_path / "tiny.png")
    with pytest.raises(ImageNotFoundError, match="missing.png"):
        load_image(tmp_path / "missing.png")


@pytest.mark.parametrize("fmt", ["jpg", "png"])
def test_large_image_is_downscaled_while_decoding(tmp_path, fmt):
    big = Image.new("RGB", (12000, 6000), (10, 200, 30))
    p = tmp_path / f"big.{fmt}"
    big.save(p)
    del big
    x = load_image(p)
    assert max(x.shape[1:]) <= MAX_SIDE and x.shape[1] * 2 == x.shape[2]
    assert abs(float(x[1].mean()) - 200 / 255) < 0.02


def test_folder_with_and_without_labels(tmp_path):
    for i in range(3):
        Image.fromarray(_rgb(seed=i)).save(tmp_path / f"im{i}.png")
    (tmp_path / "notes.txt").write_text("ignored")
    src = folder(tmp_path)
    assert src.ids == ["im0", "im1", "im2"] and src.labels == [None] * 3
    with open(tmp_path / "labels.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["file", "wnid", "class_index", "name"])
        w.writerow(["im0.png", "n01440764", "0", "tench"])
        w.writerow(["im2.png", "n01440764", "", ""])
    src = folder(tmp_path)
    assert src.ids == ["im0", "im2"] and src.labels == [0, 0] and src[1].name == "tench"


@pytest.mark.parametrize(
    "row,match",
    [
        (["gone.png", "n01440764", "0", "tench"], "gone.png"),
        (["im0.png", "fish", "0", "tench"], "WordNet"),
        (["im0.png", "n09999999", "", ""], "unknown wnid"),
        (["im0.png", "n01440764", "1000", ""], "0..999"),
        (["im0.png", "n01440764", "zero", ""], "integer"),
    ],
)
def test_labels_csv_bad_rows(tmp_path, row, match):
    Image.fromarray(_rgb()).save(tmp_path / "im0.png")
    with open(tmp_path / "labels.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["file", "wnid", "class_index", "name"])
        w.writerow(row)
    with pytest.raises(DatasetError, match=match) as e:
        folder(tmp_path)
    assert "row 2" in str(e.value)


def test_empty_and_missing_folders(tmp_path):
    with pytest.raises(DatasetError, match="no images"):
        folder(tmp_path)
    with pytest.raises(ImageNotFoundError, match="does not exist"):
        folder(tmp_path / "nowhere")


def test_imagenet_val_flat_with_ground_truth(tmp_path):
    for i in range(5):
        Image.fromarray(_rgb(seed=i)).save(tmp_path / f"ILSVRC2012_val_{i + 1:08d}.JPEG")
    (tmp_path / "gt.txt").write_text("\n".join(["7", "3", "7", "1", "3"]))
    src = imagenet_val(tmp_path, tmp_path / "gt.txt")
    assert src.labels == [7, 3, 7, 1, 3]
    fpc = src.first_per_class()
    assert fpc.ids == ["ILSVRC2012_val_00000001", "ILSVRC2012_val_00000002", "ILSVRC2012_val_00000004"]
    (tmp_path / "short.txt").write_text("1\n2")
    with pytest.raises(DatasetError, match="lines"):
        imagenet_val(tmp_path, tmp_path / "short.txt")
    with pytest.raises(DatasetError, match="ground_truth"):
        imagenet_val(tmp_path)


def test_shared_imagenet_sample(imagenet_sample, lite0):
    src = folder(imagenet_sample)
    assert len(src) == 500 and src.labels[:3] == [0, 2, 4]
    assert len(src.first_per_class()) == 500
    sub = src.head(40)
    top1 = lite0.predict(sub.batch(lite0))[1][:, 0].tolist()
    correct = sum(p == y for p, y in zip(top1, sub.labels))
    assert correct >= 26, correct  # training-set images: Lite0 is right on most
