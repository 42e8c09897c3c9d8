"""Table 5.1's class and mean targets from a reference set: never the
evaluated image, the mean by hand, N/A rows where a class has no other reference image."""
from __future__ import annotations

import csv
import shutil

import numpy as np
import pytest
import torch
from helpers import TinyNet, noise_image

from lotslib import benchmark as B
from lotslib.targets import open_reference, reference_targets
from lotslib.data import folder
from lotslib.errors import DatasetError

WNIDS = {3: "n01491361", 5: "n01496331"}


def _labelled(root, files):
    """files: {name: class index} -> a folder with labels.csv."""
    root.mkdir(parents=True, exist_ok=True)
    with open(root / "labels.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["file", "wnid", "class_index", "name"])
        for name, c in files.items():
            w.writerow([name, WNIDS[c], c, f"class{c}"])
    return root


@pytest.fixture
def folders(tmp_path):
    evald = tmp_path / "eval"
    evald.mkdir()
    noise_image(evald / "e3.png", seed=100)
    noise_image(evald / "e5.png", seed=101)
    _labelled(evald, {"e3.png": 3, "e5.png": 5})
    ref = tmp_path / "ref"
    ref.mkdir()
    for i in range(3):
        noise_image(ref / f"r3_{i}.png", seed=i)
    shutil.copy(evald / "e3.png", ref / "copy_of_e3.png")  # the evaluated photo under another name
    shutil.copy(evald / "e5.png", ref / "only5.png")  # class 5: its only reference is the evaluated photo
    _labelled(ref, {"r3_0.png": 3, "r3_1.png": 3, "r3_2.png": 3, "copy_of_e3.png": 3, "only5.png": 5})
    return folder(evald), open_reference(ref)


def _features(net, src, ids):
    sub = src.select(ids)
    with torch.no_grad():
        return net.features(sub.batch(net), "logits")


def test_class_target_is_never_the_evaluated_image_and_the_mean_is_by_hand(folders):
    images, ref = folders
    net = TinyNet(0, name="tinytargets")
    top1 = torch.tensor([0, 0])
    others = _features(net, ref, ["r3_0", "r3_1", "r3_2"])
    seen = set()
    for seed in range(12):
        t = reference_targets(net, "class", ref, images.items, images.labels, top1, "logits", seed=seed)
        assert t.reference_ids[0] in {"r3_0", "r3_1", "r3_2"}  # never copy_of_e3 (same content as e3)
        j = ["r3_0", "r3_1", "r3_2"].index(t.reference_ids[0])
        assert torch.allclose(t.features[0], others[j], atol=1e-6)
        seen.add(t.reference_ids[0])
        assert t.na_reasons[1].startswith("no other reference image of class 5") and t.classes[1] == -1
        assert torch.isnan(t.features[1]).all() and t.ok.tolist() == [True, False]
    assert len(seen) > 1  # the draw really is random over the class's other images
    m = reference_targets(net, "mean", ref, images.items, images.labels, top1, "logits")
    assert torch.allclose(m.features[0], others.mean(0), atol=1e-6) and m.reference_ids[0] == "mean of 3"
    again = reference_targets(net, "class", ref, images.items, images.labels, top1, "logits", seed=3)
    assert again.reference_ids == reference_targets(net, "class", ref, images.items, images.labels, top1, "logits",
                                               seed=3).reference_ids  # reproducible


def test_benchmark_rows_are_na_where_no_reference_exists(folders, tmp_path):
    images, ref = folders
    net = TinyNet(0, name="tinytargets")
    df = B.run([net], ["lots", "lots_class", "lots_mean"], images, reference=ref, cache_dir=tmp_path / "c",
               params={"lots": {"iters": 3}, "metrics": {"steps": 4}}, progress=False)
    cls = df[df["method"] == "lots_class"].set_index("image_id")
    assert cls.loc["e3", "na_reason"] == "" and cls.loc["e3", "target_reference"] in {"r3_0", "r3_1", "r3_2"}
    assert cls.loc["e5", "na_reason"].startswith("no other reference image of class 5")
    assert np.isnan(cls.loc["e5", ["avg_drop", "coherency", "insertion", "deletion"]].astype(float)).all()
    assert np.isfinite(cls.loc["e3", ["avg_drop", "coherency", "insertion", "deletion"]].astype(float)).all()
    t = B.table_5_1(df)
    assert int(t.loc[("tinytargets", "Class F_t"), ("Avg Drop ↓", "n")]) == 1  # the N/A row is not counted
    assert int(t.loc[("tinytargets", "Zero F_t"), ("Avg Drop ↓", "n")]) == 2
    # a folder path works as the reference too, and the rows come back from the cache
    again = B.run([net], ["lots_class"], images, reference=ref, cache_dir=tmp_path / "c",
                  params={"lots": {"iters": 3}, "metrics": {"steps": 4}}, progress=False)
    assert again.attrs["computed"] == []


def test_a_reference_folder_without_labels_is_refused(tmp_path):
    d = tmp_path / "plain"
    d.mkdir()
    noise_image(d / "a.png")
    with pytest.raises(DatasetError, match="labels.csv"):
        open_reference(d)
