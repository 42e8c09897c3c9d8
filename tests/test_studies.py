"""Parameter studies: cached, consistent with direct computation."""
import numpy as np
import pytest

from lotslib.errors import ParameterError
from lotslib.studies import (
    alpha_study,
    early_stop_study,
    early_stop_summary,
    iteration_study,
    map_correlation,
    postprocess_study,
)


@pytest.fixture(scope="module")
def two_images():
    from lotslib.data import embedded

    return embedded("imagenet").head(2)


pytestmark = pytest.mark.usefixtures("one_thread")


def test_map_correlation_known_answers():
    a = np.random.default_rng(0).random((3, 5, 5))
    assert np.allclose(map_correlation(a, a), 1.0)
    assert np.allclose(map_correlation(a, -a), -1.0)
    assert np.allclose(map_correlation(a, 2 * a + 3), 1.0)
    c = np.zeros((1, 4, 4))
    assert map_correlation(c, c)[0] == 1.0 and map_correlation(c, a[:1, :4, :4])[0] == 0.0


def test_iteration_study_final_cap_is_identity_and_cached(lite0, two_images, tmp_path):
    df = iteration_study(lite0, two_images, iters=6, checkpoints=(2, 4), steps=4, cache_dir=tmp_path)
    assert sorted(df["cap"].unique()) == [2, 4, 6] and len(df) == 6
    final = df[df["cap"] == 6]
    assert np.allclose(final["pearson_vs_final"], 1.0)
    assert (df.groupby("image_id")["distance"].apply(lambda d: d.is_monotonic_increasing).sum() == 0)  # distance falls
    assert len(list(tmp_path.glob("study-iterations-*.parquet"))) == 1
    again = iteration_study(lite0, two_images, iters=6, checkpoints=(2, 4), steps=4, cache_dir=tmp_path)
    assert again.equals(df)
    with pytest.raises(ParameterError, match="steps"):
        iteration_study(lite0, two_images, iters=6, steps=10**6, cache_dir=tmp_path)


def test_early_stop_study_with_patience_off_equals_full(lite0, two_images, tmp_path):
    # min_delta=0 with patience larger than iters never triggers: both runs are the full protocol
    df = early_stop_study(lite0, two_images, patience=50, min_delta=0.0, iters=4, steps=4, cache_dir=tmp_path)
    assert (df["iters_full"] == 4).all() and (df["iters_early"] == 4).all()
    assert np.allclose(df["pearson"], 1.0, atol=1e-3)
    assert np.allclose(df["deletion_full"], df["deletion_early"], atol=1e-6)
    s = early_stop_summary(df)
    assert s.loc["iterations", "ratio or p"] == pytest.approx(1.0)
    assert s.loc["deletion", "ratio or p"] == pytest.approx(1.0)


def test_alpha_and_postprocess_studies(lite0, two_images, tmp_path):
    a = alpha_study(lite0, two_images, alphas=(2 / 255,), iters=3, steps=4, cache_dir=tmp_path)
    assert sorted(a["alpha_255"].round(6).unique()) == [1.0, 2.0]
    assert np.allclose(a[a["alpha_255"].round(6) == 1.0]["pearson_vs_reference"], 1.0)
    p = postprocess_study(lite0, two_images, filter_sizes=(49, 1), iters=3, steps=4, cache_dir=tmp_path)
    assert set(p["filter_size"]) == {49, 1} and len(p) == 4
    for col in ("avg_drop", "insertion", "deletion"):
        assert np.isfinite(p[col]).all()
    # the LOTS runs are shared through the cache (alpha 1/255, 3 iterations, same images)
    assert len(list((tmp_path / "lots").glob("*.npz"))) == 4
