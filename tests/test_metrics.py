"""lotslib.metrics and lotslib.stats: known answers and invariants."""
import numpy as np
import pytest
import torch
from helpers import K, RegionModel

from lotslib.errors import InputRangeError, ParameterError
from lotslib.metrics import (
    average_drop,
    average_increase,
    blur_images,
    class_probs,
    coherency,
    coherency_details,
    confidence_change,
    drop,
    increase,
    insertion_deletion,
    pearson_coherency,
)
from lotslib.stats import bootstrap_ci, mean_ci, paired_wilcoxon

pytestmark = pytest.mark.usefixtures("one_thread")


def sigmoid(v):
    return 1.0 / (1.0 + np.exp(-v))


def region_image(size=32, inside=0.9, outside=0.2, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = outside + 0.05 * torch.rand(1, 3, size, size, generator=g)
    x[:, :, 10:22, 8:20] = inside
    return x.clamp(0, 1)


def region_map(size=32):
    m = torch.zeros(1, size, size)
    m[:, 10:22, 8:20] = 1.0
    return m


# ------------------------------------------------------------------ insertion / deletion
def test_region_map_beats_inverse_and_random_cam():
    from lotslib.explanation import explain

    model = RegionModel()
    x = region_image()
    good = region_map()
    inv = 1.0 - good
    rand = explain("random", model, x.expand(6, -1, -1, -1).contiguous(), targets=0, seed=list(range(6)))
    assert rand.shape == (6, 32, 32) and rand.std() > 0.05
    maps = torch.cat([good, inv, rand])
    xs = x.expand(len(maps), -1, -1, -1).contiguous()
    r = insertion_deletion(model, xs, maps, [0] * len(maps), steps=16, batch_size=17)
    good_del, inv_del, rand_del = r.deletion[0], r.deletion[1], r.deletion[2:]
    good_ins, inv_ins, rand_ins = r.insertion[0], r.insertion[1], r.insertion[2:]
    assert good_del < inv_del and (good_del < rand_del).all()
    assert good_ins > inv_ins and (good_ins > rand_ins).all()
    # the score only moves while region pixels change: the inverse map's deletion curve stays
    # flat at P(x) until the background (81 % of pixels) is gone
    p = class_probs(model, x, [0])[0]
    flat = r.fractions <= (1024 - 144) / 1024
    assert np.allclose(r.deletion_curves[1][flat], p)


def test_curves_have_steps_plus_one_points_and_the_right_ends():
    model = RegionModel(size=224, region=(slice(60, 140), slice(50, 170)))
    g = torch.Generator().manual_seed(3)
    x = torch.rand(2, 3, 224, 224, generator=g)
    x[0, :, 60:140, 50:170] = 0.95
    maps = torch.rand(2, 224, 224, generator=g)
    r = insertion_deletion(model, x, maps, [0, 1], steps=224, batch_size=225)
    assert r.deletion_curves.shape == (2, 225) and r.insertion_curves.shape == (2, 225)
    assert np.allclose(r.fractions, np.arange(225) / 224)
    p_x = class_probs(model, x, [0, 1])
    p_blur = class_probs(model, blur_images(x), [0, 1])
    assert np.allclose(r.deletion_curves[:, 0], p_x) and np.allclose(r.deletion_curves[:, -1], p_blur)
    assert np.allclose(r.insertion_curves[:, 0], p_blur) and np.allclose(r.insertion_curves[:, -1], p_x)
    # AUC = trapezoid over the fraction of pixels, in %
    assert np.allclose(r.deletion, np.trapezoid(r.deletion_curves, dx=1 / 224, axis=1) * 100)
    assert np.allclose(r.insertion, np.trapezoid(r.insertion_curves, dx=1 / 224, axis=1) * 100)


def test_known_deletion_curve_on_a_tiny_image():
    """4x4 image, the region is the top-left 2x2 block, steps=4 (4 pixels a step).
    Ordering the region first deletes it in the first step: the score drops to P(blurred) at once."""
    model = RegionModel(size=4, region=(slice(0, 2), slice(0, 2)))
    x = torch.zeros(1, 3, 4, 4)
    x[:, :, :2, :2] = 1.0
    m = torch.zeros(1, 4, 4)
    m[:, :2, :2] = torch.tensor([[1.0, 0.9], [0.8, 0.7]])
    r = insertion_deletion(model, x, m, [0], steps=4, blur_kernel=3, blur_sigma=1.0)
    p_x = class_probs(model, x, [0])[0]
    p_b = class_probs(model, blur_images(x, 3, 1.0), [0])[0]
    assert np.allclose(r.deletion_curves[0], [p_x, p_b, p_b, p_b, p_b])
    assert np.allclose(r.insertion_curves[0], [p_b, p_x, p_x, p_x, p_x])
    assert np.isclose(r.deletion[0], 100 * (0.125 * p_x + 0.875 * p_b))


def test_batch_size_does_not_change_curves():
    model = RegionModel()
    x = torch.cat([region_image(seed=s) for s in range(3)])
    maps = torch.rand(3, 32, 32, generator=torch.Generator().manual_seed(0))
    a = insertion_deletion(model, x, maps, [0, 0, 1], steps=8, batch_size=1)
    b = insertion_deletion(model, x, maps, [0, 0, 1], steps=8, batch_size=50)
    assert np.allclose(a.deletion_curves, b.deletion_curves) and np.allclose(a.insertion_curves, b.insertion_curves)


class Bomb(RegionModel):
    def forward(self, x):
        raise AssertionError("computed before validating parameters")


@pytest.mark.parametrize(
    "kw",
    [
        {"steps": 0},
        {"steps": 32 * 32 + 1},
        {"steps": 2.5},
        {"blur_kernel": 10},
        {"blur_sigma": 0.0},
        {"blur_sigma": float("nan")},
        {"batch_size": 0},
    ],
)
def test_bad_insdel_parameters_raise_before_compute(kw):
    with pytest.raises(ParameterError):
        insertion_deletion(Bomb(), region_image(), region_map(), [0], **kw)


def test_bad_maps_raise():
    model, x = RegionModel(), region_image()
    with pytest.raises(InputRangeError):
        confidence_change(model, x, torch.ones(1, 16, 16), [0])
    with pytest.raises(InputRangeError):
        confidence_change(model, x, torch.full((1, 32, 32), float("nan")), [0])
    with pytest.raises(InputRangeError):
        insertion_deletion(model, x, region_map() * 2, [0], steps=4)
    with pytest.raises(ParameterError):
        confidence_change(model, x, region_map(), [0, 1])


# ------------------------------------------------------------------ average drop / increase
def test_average_drop_and_increase_by_hand():
    """Three images with uniform regions; constant maps over the region, so O is known in closed form."""
    model = RegionModel()
    inside = [0.9, 0.3, 0.2]
    scale = [0.5, 1.0, 0.5]
    classes = [0, 0, 1]
    x = torch.cat([region_image(inside=v, seed=i) for i, v in enumerate(inside)])
    maps = torch.stack([torch.full((32, 32), s) for s in scale])
    c = confidence_change(model, x, maps, classes)
    p0 = lambda r: sigmoid(K * (r - 0.5))  # noqa: E731
    y = np.array([p0(0.9), p0(0.3), 1 - p0(0.2)])
    o = np.array([p0(0.45), p0(0.3), 1 - p0(0.1)])
    assert np.allclose(c.y, y, atol=1e-6) and np.allclose(c.o, o, atol=1e-6)
    hand_drop = np.array([(y[0] - o[0]) / y[0] * 100, 0.0, 0.0])
    assert np.allclose(c.drop, hand_drop, atol=1e-4)
    assert c.increase.tolist() == [0.0, 0.0, 1.0]
    assert np.isclose(average_drop(c.y, c.o), hand_drop.mean(), atol=1e-4)
    assert np.isclose(average_increase(c.y, c.o), 100 / 3)


def test_all_ones_map_has_zero_drop(lite0):
    from lotslib.data import embedded

    x = embedded("imagenet").batch(lite0, [0, 1])
    top1 = lite0(x).argmax(1)
    c = confidence_change(lite0, x, torch.ones(2, 224, 224), top1)
    assert np.allclose(c.y, c.o)
    assert average_drop(c.y, c.o) == 0.0 and average_increase(c.y, c.o) == 0.0


def test_drop_edge_cases():
    assert drop([0.0], [0.3]).tolist() == [0.0]  # y == 0: no defined drop, 0 (not NaN)
    assert drop([0.5], [0.0]).tolist() == [100.0]
    assert increase([0.5, 0.5], [0.5, 0.6]).tolist() == [0.0, 1.0]


# ------------------------------------------------------------------ coherency
def test_coherency_of_a_method_ignoring_its_input_is_100():
    model, x = RegionModel(), torch.cat([region_image(seed=0), region_image(seed=1)])
    fixed = torch.linspace(0, 1, 32 * 32).view(1, 32, 32).expand(2, -1, -1).contiguous()
    same = lambda model, x, targets: fixed[: len(x)]  # noqa: E731
    r = coherency_details(same, model, x, fixed, [0, 0])
    assert np.allclose(r.values, 100.0) and not r.degenerate.any()


def test_pearson_rescaling_and_constant_maps():
    g = torch.Generator().manual_seed(0)
    a = torch.rand(3, 8, 8, generator=g)
    v, d = pearson_coherency(a, 0.5 * a + 0.25)
    assert np.allclose(v, 100.0) and not d.any()
    v, _ = pearson_coherency(a, 1 - a)
    assert np.allclose(v, 0.0)
    b = torch.rand(3, 8, 8, generator=g)
    r = [np.corrcoef(a[i].ravel(), b[i].ravel())[0, 1] for i in range(3)]
    v, _ = pearson_coherency(a, b)
    assert np.allclose(v, (np.array(r) + 1) / 2 * 100)
    z = torch.zeros(2, 8, 8)
    v, d = pearson_coherency(z, z)  # coherence condition holds exactly
    assert v.tolist() == [100.0, 100.0] and d.all()
    v, d = pearson_coherency(z, a[:2])  # undefined correlation -> r := 0
    assert v.tolist() == [50.0, 50.0] and d.all()


def test_coherency_with_gradcam_equals_a_direct_computation(lite0):
    from lotslib.explanation import explain
    from lotslib.data import embedded

    x = embedded("imagenet").batch(lite0, [0, 1])
    top1 = lite0(x).argmax(1)
    maps = explain("gradcam", lite0, x)
    again = explain("gradcam", lite0, x * maps[:, None], targets=top1)
    expected = [(np.corrcoef(maps[i].ravel(), again[i].ravel())[0, 1] + 1) / 2 * 100 for i in range(2)]
    got = coherency("gradcam", lite0, x, maps, top1)
    assert np.allclose(got, expected, atol=1e-6)
    assert ((got > 0) & (got <= 100)).all()


def test_coherency_redraws_random_methods():
    model = RegionModel()
    x = torch.cat([region_image(seed=0), region_image(seed=1)])
    from lotslib.explanation import explain

    maps = explain("random", model, x, targets=0, seed=[1, 2])
    r = coherency_details("random", model, x, maps, [0, 0], seed=[1, 2])
    # the activations are image-independent fields, so the same seed would give 100 %
    assert (r.values < 99.0).all()
    assert np.allclose(coherency_details("random", model, x, maps, [0, 0], seed=[1, 2]).values, r.values)


# ------------------------------------------------------------------ stats
def test_bootstrap_ci_is_deterministic_and_sane():
    v = np.random.default_rng(1).normal(10, 2, size=200)
    lo, hi = bootstrap_ci(v)
    assert (lo, hi) == bootstrap_ci(v)
    assert lo < v.mean() < hi and 0.2 < hi - lo < 1.2  # ~ 2*1.96*2/sqrt(200) = 0.55
    assert bootstrap_ci([3.0, 3.0, 3.0]) == (3.0, 3.0)
    s = mean_ci([0, 1, 1, 0], scale=100)
    assert s["mean"] == 50.0 and s["n"] == 4 and 0 <= s["ci_low"] <= 50 <= s["ci_high"] <= 100


def test_paired_wilcoxon():
    a = np.arange(20.0)
    assert paired_wilcoxon(a, a)["p_value"] == 1.0
    t = paired_wilcoxon(a + 1.0 + 0.01 * a, a)
    assert t["n_nonzero"] == 20 and np.isclose(t["p_value"], 2 / 2**20)
