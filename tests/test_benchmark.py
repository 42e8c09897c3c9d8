"""lotslib.benchmark: cached, resumable runs and the thesis's summary tables."""
import numpy as np
import pandas as pd
import pytest
import torch
from helpers import TinyNet

from lotslib import benchmark as B
from lotslib.errors import ParameterError

METRIC_COLS = ["top1", "top1_score", "y", "o", "avg_drop", "increase", "coherency", "insertion", "deletion",
               "degenerate", "coherency_degenerate", "flagged", "flag", "target_class", "na_reason", "lots_iters",
               "lots_stop"]
FAST = {"lots": {"iters": 2, "filter_size": 5}, "metrics": {"steps": 4, "batch_size": 8}}


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def images():
    from lotslib.data import embedded

    return embedded("imagenet").head(8)  # images 6 and 7 share class 609


def _run(images, cache_dir, **kw):
    args = dict(models=[TinyNet()], methods=["random", "gradcam", "lots"], images=images, params=FAST,
                cache_dir=cache_dir, batch_size=2, progress=False)
    args.update(kw)
    return B.run(**args)


def test_resume_after_a_crash_computes_only_the_rest(images, tmp_path):
    full = _run(images[:6], tmp_path / "uninterrupted")

    class Killed(Exception):
        pass

    seen = []

    def kill_after_two_batches(model, method, ids):
        seen.append((method, tuple(ids)))
        if len(seen) == 4:  # random: 3 batches, then gradcam's first batch
            raise Killed

    with pytest.raises(Killed):
        _run(images[:6], tmp_path / "resumed", callback=kill_after_two_batches)
    finished = {f"tinynet/{m}/{i}" for m, ids in seen for i in ids}
    assert len(finished) == 8
    again = []
    resumed = _run(images[:6], tmp_path / "resumed", callback=lambda m, meth, ids: again.append((meth, tuple(ids))))
    computed = set(resumed.attrs["computed"])
    everything = {f"tinynet/{m}/{i}" for m in ("random", "gradcam", "lots") for i in images[:6].ids}
    assert computed == everything - finished
    assert [m for m, _ in again] == ["gradcam", "gradcam", "lots", "lots", "lots"]
    pd.testing.assert_frame_equal(resumed[METRIC_COLS], full[METRIC_COLS])
    assert list(resumed["image_id"]) == list(full["image_id"])
    # and the tables agree too
    pd.testing.assert_frame_equal(B.table_5_2(resumed), B.table_5_2(full))


def test_rerun_returns_from_cache_and_params_change_the_key(images, tmp_path):
    first = _run(images[:4], tmp_path)
    assert len(first.attrs["computed"]) == 12
    second = _run(images[:4], tmp_path)
    assert second.attrs["computed"] == []
    pd.testing.assert_frame_equal(first, second)
    # a subset is served from the same cache; a new parameter is a new key
    assert _run(images[:2], tmp_path).attrs["computed"] == []
    changed = _run(images[:4], tmp_path, params={**FAST, "metrics": {"steps": 5, "batch_size": 8}})
    assert len(changed.attrs["computed"]) == 12
    assert set(changed["cache_key"]).isdisjoint(set(first["cache_key"]))
    # only open formats on disk, curves readable without pickle
    suffixes = {p.suffix for p in tmp_path.rglob("*") if p.is_file()}
    assert suffixes <= {".parquet", ".npz", ".json", ".jsonl"}  # .jsonl: the LOTS store's pass ledger
    curves = B.load_curves(first)
    assert curves["insertion"].shape == (12, 5) and curves["deletion"].shape == (12, 5)
    assert np.allclose(curves["fractions"], [0, 0.25, 0.5, 0.75, 1.0])
    # deletion starts on the image: the first point is top1_score
    assert np.allclose(curves["deletion"][:, 0], first["top1_score"], atol=1e-6)
    assert np.allclose(np.trapezoid(curves["deletion"], curves["fractions"], axis=1) * 100, first["deletion"])


def test_rows_columns_and_tables(images, tmp_path):
    methods = ["random", "gradcam", "gradcampp", "hirescam", "lots", "lots_class", "lots_mean"]
    df = _run(images, tmp_path, methods=methods, batch_size=4)
    assert len(df) == len(methods) * 8
    for col in ["model", "method", "image_id", "label", "top1", "top1_score", "avg_drop", "increase", "coherency",
                "insertion", "deletion", "ms_per_map", "device", "threads", "flagged"]:
        assert col in df.columns
    ok = df[df["na_reason"] == ""]
    assert not ok.select_dtypes("number").isna().any().any()
    assert set(ok["increase"]) <= {0.0, 1.0} and (ok["ms_per_map"] > 0).all()
    assert (df["threads"] == 1).all() and (df["device"] == "cpu").all()
    # LOTS class/mean targets: only the two class-609 images have another image of their class;
    # the other six rows are N/A (NaN metrics, a reason), never a stand-in target
    lc = df[df["method"] == "lots_class"].set_index("image_id")
    assert (lc["na_reason"] != "").tolist() == [True] * 6 + [False, False]
    assert lc["na_reason"].iloc[0].startswith("no other reference image of class")
    assert lc[["avg_drop", "coherency", "insertion", "deletion"]].iloc[:6].isna().all().all()
    assert (lc["target_class"].iloc[6:] == lc["label"].iloc[6:]).all() and lc["flagged"].sum() >= 6
    assert set(lc["target_reference"].iloc[6:]) == set(lc.index[6:])  # each other's reference

    t2 = B.table_5_2(df)
    assert list(t2.index.get_level_values("method")) == ["Random-CAM", "Grad-CAM", "Grad-CAM++", "HiRes-CAM", "LOTS"]
    assert t2.shape == (5, 5 * 4)
    assert (t2.xs("n", axis=1, level="stat") == 8).all().all()
    means = t2.xs("mean", axis=1, level="stat")
    lows, highs = t2.xs("ci_low", axis=1, level="stat"), t2.xs("ci_high", axis=1, level="stat")
    assert ((lows <= means + 1e-9) & (means <= highs + 1e-9)).all().all()
    gc = df[df["method"] == "gradcam"]
    assert np.isclose(means.loc[("tinynet", "Grad-CAM"), "Avg Drop ↓"], gc["avg_drop"].mean())
    assert np.isclose(means.loc[("tinynet", "Grad-CAM"), "Avg Increase ↑"], 100 * gc["increase"].mean())

    t1 = B.table_5_1(df)
    assert list(t1.index.get_level_values("target")) == ["Zero F_t", "Class F_t", "Mean F_t"] and t1.shape == (3, 20)
    t3 = B.table_5_3(df)
    assert list(t3.index) == ["Random-CAM", "Grad-CAM", "Grad-CAM++", "HiRes-CAM", "LOTS"]
    assert list(t3.columns.get_level_values(0).unique()) == ["tinynet"]
    assert (t3[("tinynet", "n")] == 8).all()

    w = B.lots_vs_best_cam(df)
    assert list(w["metric"]) == list(B.METRICS) and w["best_cam"].isin(["gradcam", "gradcampp", "hirescam"]).all()
    assert ((w["p_value"] >= 0) & (w["p_value"] <= 1)).all()
    best = df[df["method"] == w.loc[w["metric"] == "insertion", "best_cam"].item()]["insertion"].mean()
    assert np.isclose(w.loc[w["metric"] == "insertion", "best_mean"].item(), best)
    cells = B.format_table(t2)
    assert cells.shape == (5, 5) and cells.iloc[0, 0].endswith("(n=8)")


def test_constant_image_rows_are_flagged_not_nan(tmp_path):
    from PIL import Image

    from lotslib.data import folder

    rng = np.random.default_rng(0)
    Image.new("RGB", (40, 40), (120, 60, 200)).save(tmp_path / "a_constant.png")
    Image.fromarray(rng.integers(0, 255, (40, 40, 3), dtype=np.uint8)).save(tmp_path / "b_noise.png")
    src = folder(tmp_path)
    df = _run(src, tmp_path / "cache", methods=["gradcam", "lots", "lots_class"])
    # an unlabelled folder is no reference set: the class-target rows are N/A, the others finite
    assert (df.loc[df["method"] == "lots_class", "na_reason"] != "").all()
    df = df[df["method"] != "lots_class"]
    assert not df.select_dtypes("number").isna().any().any()
    const = df[df["image_id"].str.contains("constant")]
    assert const["degenerate"].all() and const["flagged"].all()
    assert const["flag"].str.contains("degenerate_map").all()
    assert (const.loc[const["method"] == "lots", "lots_stop"] == "constant_image").all()
    noise = df[df["image_id"].str.contains("noise") & (df["method"] == "gradcam")]
    assert not noise["degenerate"].any()


class FailsOn(TinyNet):
    """Raises on the image whose pixel mean is ``bad`` (module level: a spawned worker unpickles it)."""

    bad = -1.0

    def forward(self, x):
        if (x.flatten(1).mean(1) - self.bad).abs().min() < 1e-6:
            raise RuntimeError("boom on one image")
        return super().forward(x)


class Bomb(TinyNet):
    def forward(self, x):
        raise AssertionError("computed before validating parameters")


@pytest.mark.parametrize(
    "kw",
    [
        {"methods": ["gradcam", "nope"]},
        {"params": {"metrics": {"steps": 0}}},
        {"params": {"metrics": {"steps": 32 * 32 + 1}}},
        {"params": {"metrics": {"blur": 3}}},
        {"params": {"lots": {"target": "zero"}}},
        {"params": {"gradcam": {"iters": 3}}},
        {"params": {"random": {"seed": [1, 2]}}},
        {"batch_size": 0},
        {"shard": (2, 2)},
        {"timing": "sometimes"},
        {"procs": 0},
        {"procs": 2, "shard": (0, 2)},
    ],
)
def test_bad_parameters_raise_before_compute(kw, images, tmp_path):
    args = dict(models=[Bomb()], methods=["gradcam"], images=images[:2], cache_dir=tmp_path, progress=False)
    args.update(kw)
    with pytest.raises(ParameterError):
        B.run(**args)
    assert not any(tmp_path.rglob("rows-*"))


def test_shards_partition_the_images(images, tmp_path):
    a = _run(images[:5], tmp_path, methods=["gradcam"], shard=(0, 2))
    b = _run(images[:5], tmp_path, methods=["gradcam"], shard=(1, 2))
    assert list(a["image_id"]) == images.ids[0:5:2] and list(b["image_id"]) == images.ids[1:5:2]
    whole = _run(images[:5], tmp_path, methods=["gradcam"])
    assert whole.attrs["computed"] == []


def test_procs_spread_the_rows_and_give_those_of_one_process(images, tmp_path):
    """Two spawned processes compute the shards into one cache; with one image per batch their
    rows equal one process's bit for bit (the LOTS walks included), and the store records that
    every walk was computed alone on one thread."""
    from lotslib.lots_store import ledger

    one = _run(images[:5], tmp_path / "one", batch_size=1, threads=1)
    two = _run(images[:5], tmp_path / "two", batch_size=1, procs=2)
    assert sorted(two.attrs["computed"]) == sorted(one.attrs["computed"]) and len(one.attrs["computed"]) == 15
    cols = [c for c in METRIC_COLS if c in one.columns] + ["image_id", "method"]
    pd.testing.assert_frame_equal(one[cols], two[cols])
    assert (two["threads"] == 1).all()
    walks = list((tmp_path / "two" / "lots").glob("*.npz"))
    assert walks and all(int(np.load(f)["chunk"]) == 1 and int(np.load(f)["threads"]) == 1 for f in walks)
    assert ledger(tmp_path / "two" / "lots")["computed"].sum() == ledger(tmp_path / "one" / "lots")["computed"].sum()
    again = _run(images[:5], tmp_path / "two", batch_size=1, procs=2)
    assert again.attrs["computed"] == []  # a rerun reads every row
    wide = _run(images[:5], tmp_path / "wide", batch_size=2, procs=3)  # workers compute each image alone
    pd.testing.assert_frame_equal(one[cols], wide[cols])
    assert (wide["batch_size"] == 1).all()


def test_an_error_in_a_worker_is_raised_after_the_other_items_saved_their_rows(images, tmp_path):
    """A worker's exception reaches the caller (its type and message), and the items that
    succeeded keep their rows in the cache: a rerun computes only the failed ones."""
    net = FailsOn()
    net.bad = float(images[2:3].batch(net).mean())  # the third image's pixel mean
    args = dict(models=[net], methods=["gradcam"], images=images[:4], cache_dir=tmp_path, progress=False,
                batch_size=1, procs=2)
    with pytest.raises(RuntimeError, match="boom on one image"):
        B.run(**args)
    net.bad = -1.0  # mended: only the failed image is computed again
    again = B.run(**{**args, "procs": 1})
    assert again.attrs["computed"] == [f"tinynet/gradcam/{images.ids[2]}"]


def test_per_image_and_per_batch_timing_give_the_same_rows(images, tmp_path):
    a = _run(images[:4], tmp_path, timing="per_image", batch_size=4)
    b = _run(images[:4], tmp_path, timing="per_batch", batch_size=4)
    assert len(b.attrs["computed"]) == 12  # a different timing mode is a different cache entry
    num = [c for c in METRIC_COLS if a[c].dtype.kind == "f"]
    assert np.allclose(a[num], b[num], atol=1e-3)
    assert (a[["degenerate", "lots_iters", "lots_stop"]] == b[["degenerate", "lots_iters", "lots_stop"]]).all().all()
    # per batch: one time for the whole batch; per image: each map timed on its own
    assert b.groupby("method")["ms_per_map"].nunique().eq(1).all()
    assert (a["timing"] == "per_image").all() and (b["timing"] == "per_batch").all()


def test_lite0_smoke(lite0, tmp_path):
    from lotslib.data import embedded

    df = B.run([lite0], ["random", "gradcam"], embedded("imagenet").head(2), params={"metrics": {"steps": 4}},
               cache_dir=tmp_path, batch_size=2, progress=False)
    assert len(df) == 4 and (df["model"] == "efficientnet_lite0").all()
    assert not df.select_dtypes("number").isna().any().any()
    assert (df["top1"] == df["label"]).sum() >= 1  # foolbox's samples are classified correctly by Lite0
    g, r = df[df["method"] == "gradcam"], df[df["method"] == "random"]
    assert g["coherency"].mean() > r["coherency"].mean()


def test_reference_tables():
    ref = B.reference_tables()
    assert {"table", "model", "method", "metric", "value", "source"} <= set(ref.columns)
    assert not ref["value"].isna().any()

    def val(table, model, method, metric):
        sel = ref[(ref["table"] == table) & (ref["model"] == model) & (ref["method"] == method)
                  & (ref["metric"] == metric)]
        assert len(sel) == 1, (table, model, method, metric)
        return sel["value"].item()

    assert val("5.2", "resnet50", "hirescam", "avg_drop") == 14.04
    assert val("5.2", "alexnet", "lots", "coherency") == 92.47
    assert val("5.2", "densenet121", "gradcam", "deletion") == 31.07
    assert val("5.2", "convnext_tiny", "random", "avg_increase") == 4.0
    assert val("5.1", "resnet50", "lots", "insertion") == 32.20
    assert val("5.1", "resnet50", "lots_mean", "coherency") == 80.68
    assert val("5.3", "resnet50", "lots", "ms_per_map") == 40515.11
    assert val("5.3", "convnext_tiny", "layercam", "ms_per_map") == 20.14
    cls = ref[(ref["table"] == "5.1") & (ref["method"] == "lots_class")]
    assert cls["metric"].tolist() == ["coherency"] and cls["value"].tolist() == [75.17]
    for t in ("5.1", "5.2", "5.3"):
        assert (ref.loc[ref["table"] == t, "source"] == f"Weber (2023), Table {t}").all()
    # Table 5.2: 4 models x 7 methods x 5 metrics minus ConvNeXt-Tiny's LOTS row (absent from the text)
    assert (ref["table"] == "5.2").sum() == 4 * 7 * 5 - 5
    assert (ref["table"] == "5.3").sum() == 4 * 7


def test_maps_are_stored_and_reloaded(tmp_path):
    import numpy as np

    from lotslib.benchmark import load_maps, run
    from lotslib.explanation import explain
    from lotslib.data import embedded
    from lotslib.models import load_model

    torch.manual_seed(0)
    m = load_model("efficientnet_lite0")
    imgs = embedded("imagenet").head(2)
    df = run([m], ["gradcam"], imgs, params={"metrics": {"steps": 4}}, cache_dir=tmp_path, progress=False)
    maps = load_maps(df)
    assert maps.shape == (2, 224, 224) and maps.min() >= 0 and maps.max() <= 1
    direct = explain("gradcam", m, imgs.batch(m)).numpy()
    assert np.abs(maps - direct).max() < 1e-3  # float16 storage
