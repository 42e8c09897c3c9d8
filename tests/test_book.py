"""The book end to end: every chapter executed through papermill with tiny parameters, the
book built with ``jupyter-book build -W``, and the built pages checked in Debian's chromium
(Playwright) served from 127.0.0.1.

The execution and the build happen once per test session (module fixture ``built``) in a
temporary book root, so the repository's own ``book/`` and ``_build/`` are never touched.
Without /usr/bin/chromium the browser test is skipped locally, and fails when ``CI=true``.
Set ``LOTS_BOOK_SHOTS=/some/dir`` to keep a full-page screenshot of every page.
"""
from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

import pytest

from helpers import require_chromium
from lotsbook import build as book
from lotsbook.pdf import CHROMIUM, CHROMIUM_ARGS, serve
from lotsbook.profiles import PARAM_NAMES, PROFILES, resolve_profile
from lotslib.errors import ParameterError


#: page -> captions (figure and table) that must be on it
EXPECTED = {
    "intro": ["LOTS as an explanation method", "How to read this book"],
    "01_attack": ["LOTS convergence", "Predictions of", "Regenerates thesis Figure 4.1", "Run parameters of chapter 1"],
    "02_visualization": ["Regenerates thesis Figure 4.2", "Regenerates thesis Figure 5.6",
                         "Thresholding proposed in thesis section 6.2", "How concentrated the LOTS map is"],
    "03_targets": ["Table 5.1 (regenerated)", "Thesis values of Table 5.1", "Regenerates thesis Figure 5.1",
                   "Paired comparison of the zero target"],
    "04_benchmark": ["Table 5.2 (regenerated)", "Thesis values of Table 5.2", "Rank of each of the thesis",
                     "Table 5.3 (regenerated)", "Regenerates thesis Figure A.4", "Regenerates thesis Figure A.5",
                     "Regenerates thesis Figure A.6",
                     "Regenerates thesis Figure A.7", "LOTS against every CAM method",
                     "Average Drop, Average Increase", "Insertion and Deletion with score=",
                     "verdict of LOTS against", "CAM methods on both paths"],
    "05_qualitative": ["Regenerates thesis Figure 5.2", "Regenerates thesis Figure A.1",
                       "Regenerates thesis Figure 5.3", "Regenerates thesis Figure 5.4",
                       "Regenerates thesis Figure 5.5"],
    "06_unseen": ["Regenerates thesis Figure 5.7", "Top-5 ImageNet classes",
                  "Distance of the logits to each LOTS target"],
    "07_parameters": ["budget (no thesis figure)", "budget curve against the CAMs", "LOTS at each budget",
                      "Plateau early stop", "Step width", "Filter size and", "Recorded run of"],
    "08_sanity": ["Cascading randomisation (Adebayo et al. 2018", "Similarity to the original map",
                  "Randomisation test per method", "Random-logit test on", "Table 5.2's layout with the ROAD columns",
                  "Focus (Arias-Duart et al. 2022)", "Focus per method", "LOTS maps of the"],
    "own": ["All methods on", "Predictions of", "The LOTS perturbation of", "The metrics of every method on",
            "Insertion curves of", "Deletion curves of"],
    "api": ["API reference", "method_registry", "metric_registry", "lotsbook.pages"],
    "glossary": ["Glossary", "Average Drop", "explanation map"],
    "teachers": ["For teachers", "A 90-minute lesson", "Learning goals", "Where LOTS and Grad-CAM disagree"],
    "references": ["Rozsa", "Selvaraju", "Chattopadhyay", "Omeiza", "Jiang", "Draelos", "Petsiuk", "Poppi",
                   "Gildenblat", "Weber"],
    "provenance": ["Package versions", "Weight files and their SHA-256 hashes", "Image lists", "Build machine"],
}
#: the terms of the glossary page (book/glossary.md), each a <dt> there
GLOSSARY_TERMS = ["Activation map", "Average Drop", "Average Increase", "Coherency", "Deletion", "Explanation map",
                  "Feature target", "Focus", "Grad-CAM", "Insertion", "LOTS", "Perturbation", "ROAD", "Sanity check"]
#: the pages that end with exercises, each with a solution in a closed dropdown
EXERCISE_PAGES = [c.stem for c in book.CHAPTERS if c.number.isdigit()]
FIGURES_PER_PAGE = {"01_attack": 2, "02_visualization": 3, "03_targets": 1, "04_benchmark": 5, "05_qualitative": 5,
                    "06_unseen": 2, "07_parameters": 2, "08_sanity": 4, "own": 4}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """Execute every chapter (tiny parameters) into a fresh root, then build it with -W."""
    root = tmp_path_factory.mktemp("lotsbook")
    t0 = time.perf_counter()
    times = book.build(profile="embedded", tiny=True, root=root, cache_dir=str(root / ".cache"), log=lambda *a: None)
    times["wall"] = time.perf_counter() - t0
    print("\nbook timings (s): " + ", ".join(f"{k} {v:.0f}" for k, v in times.items()))
    return root, times


def _html(root: Path, page: str) -> str:
    return (root / "_build" / "html" / "book" / f"{page}.html").read_text(encoding="utf-8")


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


# ----------------------------------------------------------------- no browser needed
def test_every_chapter_executed_without_errors(built):
    root, _ = built
    for ch in book.CHAPTERS:
        nb = json.loads((root / "book" / f"{ch.stem}.ipynb").read_text())
        assert nb["metadata"]["lotsbook"]["status"] == "ok", ch.stem
        errors = [o for c in nb["cells"] if c["cell_type"] == "code" for o in c.get("outputs", [])
                  if o.get("output_type") == "error"]
        assert not errors, f"{ch.stem}: {errors[:1]}"
        injected = [c for c in nb["cells"] if "injected-parameters" in c["metadata"].get("tags", [])]
        assert injected and re.search(r"[\"']iters[\"']: 5\b", "".join(injected[0]["source"])), (
            f"{ch.stem}: tiny parameters were not injected")


def test_pages_have_captions_and_figures(built):
    root, _ = built
    for page, captions in EXPECTED.items():
        text = _text(_html(root, page))
        for cap in captions:
            assert cap in text, f"{page}: caption {cap!r} missing"
    for page, n in FIGURES_PER_PAGE.items():
        html = _html(root, page)
        figs = re.findall(r"<figure[^>]*>.*?</figure>", html, flags=re.S)
        with_img = [f for f in figs if "<img" in f and "<figcaption" in f]
        assert len(with_img) >= n, f"{page}: {len(with_img)} figures with an image and a caption, expected >= {n}"
        alts = [re.search(r'<img[^>]*\balt="([^"]*)"', f) for f in with_img]
        paths = [m.group(1) if m else "(none)" for m in alts if not m or re.search(r"\.(png|jpe?g|svg)$", m.group(1))]
        assert not paths, f"{page}: figures whose alt text is a file path or missing: {paths[:2]}"


def test_pages_reference_nothing_outside(built):
    """No script, stylesheet, font or image is loaded from another host (links may point out)."""
    root, _ = built
    for html_file in (root / "_build" / "html").rglob("*.html"):
        html = html_file.read_text(encoding="utf-8")
        for tag, attr in (("script", "src"), ("link", "href"), ("img", "src"), ("iframe", "src")):
            for m in re.finditer(rf"<{tag}\b[^>]*\b{attr}=\"([^\"]+)\"", html):
                url = m.group(1)
                if tag == "link" and re.search(r'rel="(?:canonical|prev|next|index|search)"', m.group(0)):
                    continue
                assert not re.match(r"^(https?:)?//", url), (
                    f"{html_file.name}: <{tag} {attr}={url}> loads from another host")
    assert (root / "_build" / "html" / "_static" / "mathjax" / "tex-mml-chtml.js").is_file()


def test_no_repository_or_launch_button_unless_configured(built, tmp_path, monkeypatch):
    """With no repository configured no page links to one (no repository,
    issues, Binder or Colab button); with one, the build's config sets it and the buttons."""
    import yaml

    root, _ = built
    for html_file in (root / "_build" / "html").rglob("*.html"):
        html = html_file.read_text(encoding="utf-8")
        # citations may link to GitHub; buttons may not
        for mark in ("mybinder.org", "colab.research.google.com", "lots-book/lots-book", "btn-source-repository-button",
                     "btn-launch-repository-button", "launch-buttons"):
            assert mark not in html, f"{html_file.name} has {mark!r} though no repository is configured"
    assert "_sources/book/01_attack.ipynb" in _html(root, "01_attack")  # the download button: a local file
    monkeypatch.delenv("LOTSBOOK_REPOSITORY", raising=False)
    (tmp_path / "_config.yml").write_text((root / "_config.yml").read_text())
    assert book.book_config(tmp_path) == tmp_path / "_config.yml"
    monkeypatch.setenv("LOTSBOOK_REPOSITORY", "https://example.org/me/lots-book")
    cfg = yaml.safe_load(book.book_config(tmp_path).read_text())
    assert cfg["repository"]["url"] == "https://example.org/me/lots-book"
    assert cfg["html"]["use_repository_button"] and cfg["launch_buttons"]["binderhub_url"] == "https://mybinder.org"
    with pytest.raises(book.ChapterFailed, match="https:// URL"):
        book.book_config(tmp_path, repository="git@example.org:me/lots-book")


def test_exercises_and_glossary_in_the_html(built):
    """Every chapter ends with at least two exercises, each followed
    by its solution in a closed dropdown that holds executed code; every glossary term is a
    <dt> of the glossary page and is linked from a chapter."""
    root, _ = built
    linked = set()
    for page in EXERCISE_PAGES:
        html = _html(root, page)
        exercises = html.count('class="exercise admonition"')
        solutions = re.findall(r'<div class="solution dropdown admonition".*?</section>\s*</div>', html, flags=re.S)
        assert exercises >= 2 and len(solutions) == exercises, (page, exercises, len(solutions))
        assert all("cell_output" in sol for sol in solutions), f"{page}: a solution has no executed output"
        linked |= set(re.findall(r'href="glossary\.html#term-([^"]+)"', html))
    dts = re.findall(r'<dt id="term-([^"]+)"', _html(root, "glossary"))
    for term in GLOSSARY_TERMS:
        assert term.replace(" ", "-") in dts, f"glossary: no <dt> for {term!r}"
    missing = {t for t in GLOSSARY_TERMS if t.replace(" ", "-") not in linked}
    assert not missing, f"no chapter links to the glossary's {sorted(missing)}"


def test_hide_solutions_sets_the_config(tmp_path, monkeypatch):
    """``--hide-solutions`` builds with a config that sets sphinx-exercise's hide_solutions
    (book/_ext/lotslib_exercise.py makes it work for gated solutions; tests/test_exercises.py
    builds a page with it); the local extensions still resolve from the generated file."""
    import yaml

    monkeypatch.delenv("LOTSBOOK_REPOSITORY", raising=False)
    (tmp_path / "_config.yml").write_text((book.SOURCES / "_config.yml").read_text())
    assert book.book_config(tmp_path) == tmp_path / "_config.yml"
    path = book.book_config(tmp_path, hide_solutions=True)
    cfg = yaml.safe_load(path.read_text())
    assert path.parent == tmp_path / "_build" and cfg["sphinx"]["config"]["hide_solutions"] is True
    assert "sphinx_exercise" in cfg["sphinx"]["extra_extensions"]
    assert cfg["sphinx"]["local_extensions"]["lotslib_exercise"] == str((tmp_path / "book" / "_ext").resolve())
    assert "hide_solutions" not in yaml.safe_load((tmp_path / "_config.yml").read_text())["sphinx"]["config"]
    seen = {}
    monkeypatch.setattr(book, "build", lambda **kw: seen.update(kw) or {"total": 0.0})
    assert book.main(["--hide-solutions", "--no-build", "--root", str(tmp_path)]) == 0 and seen["hide_solutions"]
    assert book.main(["--no-build", "--root", str(tmp_path)]) == 0 and not seen["hide_solutions"]


def _exercise_problems(page, page_name: str) -> list[str]:
    """At least two exercises on the page, each with a solution dropdown whose content is
    hidden until its toggle button is clicked."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    exercises, solutions = page.query_selector_all("div.exercise"), page.query_selector_all("div.solution.dropdown")
    if len(exercises) < 2 or len(solutions) != len(exercises):
        return [f"{page_name}: {len(exercises)} exercises and {len(solutions)} solution dropdowns"]
    out = []
    for i, sol in enumerate(solutions, 1):
        content = sol.query_selector(":scope > section")
        if content is None or content.is_visible():
            out.append(f"{page_name}: solution {i} is shown before a click")
            continue
        sol.query_selector("button.toggle-button").click()
        try:
            content.wait_for_element_state("visible", timeout=3000)
        except PlaywrightTimeout:
            out.append(f"{page_name}: solution {i} stays hidden after a click on its toggle")
    return out


# ----------------------------------------------------------------- the browser
#: table header cells that lie beyond the visible page (or their clipping container) while that
#: container draws no scrollbar: [text, right edge, visible right edge]
CLIPPED_HEADERS = """
() => {
  const vw = document.documentElement.clientWidth, out = [];
  for (const th of document.querySelectorAll('table th')) {
    const r = th.getBoundingClientRect();
    if (r.width === 0) continue;
    let el = th.parentElement, clip = null;
    while (el && el !== document.body) {
      if (getComputedStyle(el).overflowX !== 'visible') { clip = el; break; }
      el = el.parentElement;
    }
    const right = Math.min(clip ? clip.getBoundingClientRect().right : vw, vw);
    if (r.right <= right + 1) continue;
    const bar = clip && clip.scrollWidth > clip.clientWidth + 1 && clip.offsetHeight - clip.clientHeight > 0
      && ['auto', 'scroll'].includes(getComputedStyle(clip).overflowX);
    if (!bar) out.push([th.textContent.trim().slice(0, 40), Math.round(r.right), Math.round(right)]);
  }
  return out;
}
"""


def test_pages_in_chromium(built):
    require_chromium()
    from playwright.sync_api import sync_playwright

    root, _ = built
    shots = os.environ.get("LOTS_BOOK_SHOTS")
    httpd = serve(root / "_build" / "html")
    base = f"http://127.0.0.1:{httpd.server_address[1]}"
    problems = []
    try:
        with sync_playwright() as p:
            # scrollbars drawn as a reader sees them (Playwright hides them in headless mode by default)
            browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS,
                                        ignore_default_args=["--hide-scrollbars"])
            try:
                for page_name, captions in EXPECTED.items():
                    page = browser.new_page(viewport={"width": 1280, "height": 900})
                    outside = []
                    page.on("request", lambda r, o=outside: o.append(r.url)
                            if not r.url.startswith((base + "/", "data:", "blob:", "about:")) else None)
                    resp = page.goto(f"{base}/book/{page_name}.html", wait_until="networkidle")
                    if resp is None or resp.status != 200:
                        problems.append(f"{page_name}: HTTP {resp.status if resp else 'no response'}")
                        continue
                    imgs = page.eval_on_selector_all(
                        "img", "els => els.map(e => [e.getAttribute('src'), e.complete && e.naturalWidth > 0])")
                    problems += [f"{page_name}: image {src} did not load" for src, ok in imgs if not ok]
                    problems += [f"{page_name}: request left 127.0.0.1: {u}" for u in outside]
                    body = page.inner_text("body")
                    problems += [f"{page_name}: caption {c!r} not shown" for c in captions if c not in body]
                    if page_name in FIGURES_PER_PAGE and len(imgs) < FIGURES_PER_PAGE[page_name]:
                        problems.append(f"{page_name}: {len(imgs)} images")
                    clipped = page.evaluate(CLIPPED_HEADERS)
                    problems += [f"{page_name}: table header {h!r} is cut off at 1280 px (right edge {r} px, "
                                 f"visible to {v} px) and no scrollbar shows it" for h, r, v in clipped]
                    problems += _exercise_problems(page, page_name) if page_name in EXERCISE_PAGES else []
                    if page_name == "glossary":
                        shown = page.eval_on_selector_all("dl.glossary dt", "els => els.map(e => e.innerText.trim())")
                        problems += [f"glossary: term {t!r} not shown" for t in GLOSSARY_TERMS if t not in shown]
                    if page_name == "01_attack" and not page.query_selector("mjx-container"):
                        problems.append("01_attack: MathJax did not typeset the formulas")
                    if shots:
                        Path(shots).mkdir(parents=True, exist_ok=True)
                        page.screenshot(path=str(Path(shots) / f"{page_name}.png"), full_page=True)
                    page.close()
            finally:
                browser.close()
    finally:
        httpd.shutdown()
    assert not problems, "\n".join(problems)


#: the regenerated thesis figures and tables: their captions must be in the PDF edition too
REGENERATED = [c for caps in EXPECTED.values() for c in caps if "Regenerates thesis" in c or "(regenerated)" in c]


def test_pdf_edition(built):
    """``--pdf`` of the built tiny book (lotsbook.pdf): one PDF with the pages of _toc.yml (less the
    API reference) in order, each title on the page its contents line names, page numbers in
    every footer, and every regenerated thesis figure and table caption in its text."""
    require_chromium()
    from helpers import pdf_problems
    from lotsbook import pdf

    root, _ = built
    html = root / "_build" / "html"
    report = pdf.write_pdf(html, toc=root / "_toc.yml", log=lambda *a: None)
    assert report.path == root / "_build" / "pdf" / "lots-book.pdf" and report.path.is_file()
    assert len(REGENERATED) >= 15 and "api" not in report.first_pages
    problems = pdf_problems(report, html, root / "_toc.yml", REGENERATED)
    assert not problems, "\n".join(problems)


# ----------------------------------------------------------------- pipeline behaviour
FAILING = '''# %% [markdown]
# # A chapter that fails
# %% tags=["parameters"]
params = {}
# %%
x = params["iters"] + 1
# %%
raise RuntimeError("boom in the third code cell")
# %%
print("never reached")
'''
PASSING = '''# %% tags=["parameters"]
params = {}
# %%
print("ok", params["iters"])
'''


def test_failing_chapter_is_named_and_kept(tmp_path, monkeypatch):
    src = tmp_path / "notebooks"
    src.mkdir()
    (src / "a_good.py").write_text(PASSING)
    (src / "b_bad.py").write_text(FAILING)
    monkeypatch.setattr(book, "NOTEBOOKS", src)
    root = tmp_path / "root"
    good, bad = book.Chapter("1", "a_good", "good"), book.Chapter("2", "b_bad", "bad")
    params = {"iters": 3}
    assert book.execute_chapter(good, params, root, log=lambda *a: None) == "executed"
    good_nb = (root / "book" / "a_good.ipynb").read_bytes()
    with pytest.raises(book.ChapterFailed) as exc:
        book.execute_chapter(bad, params, root, log=lambda *a: None)
    msg = str(exc.value)
    assert "b_bad.py" in msg and "code cell 3" in msg and "boom in the third code cell" in msg, msg
    partial = json.loads((root / "book" / "b_bad.ipynb").read_text())
    assert partial["metadata"]["lotsbook"]["status"] == "failed"
    outs = [o for c in partial["cells"] if c["cell_type"] == "code" for o in c.get("outputs", [])]
    assert any(o.get("output_type") == "error" for o in outs)
    assert (root / "book" / "a_good.ipynb").read_bytes() == good_nb  # earlier chapter untouched
    # unchanged source and parameters: not executed again; changed parameters: executed
    assert book.execute_chapter(good, params, root, log=lambda *a: None) == "up to date"
    assert book.execute_chapter(good, {"iters": 4}, root, log=lambda *a: None) == "executed"


def test_parameters_and_cli_errors(monkeypatch):
    p = resolve_profile("embedded", tiny=True)
    assert p.n_images == 2 and p.iters == 5 and p.steps == 8
    assert set(PARAM_NAMES) <= set(p.as_dict()) and p.study_images == 2
    assert resolve_profile("embedded", iters=7).iters == 7
    with pytest.raises(ParameterError, match="nonsense=1: unknown chapter parameter"):
        resolve_profile("embedded", nonsense=1)
    with pytest.raises(ParameterError, match="unknown profile"):
        resolve_profile("huge")
    monkeypatch.delenv("LOTS_IMAGENET_VAL", raising=False)
    with pytest.raises(ParameterError, match="ILSVRC2012 validation folder"):
        resolve_profile("full")
    assert [c.stem for c in book.select_chapters(["2", "P"])] == ["02_visualization", "provenance"]
    assert book.main(["--tiny", "--iters", "0", "--no-build", "--chapters", "1"]) == 2  # printed, no traceback
    with pytest.raises(ParameterError, match="Unknown chapter"):
        book.select_chapters(["9"])


def test_chapter_sources_take_one_params_dict():
    """papermill injects one dict; every chapter declares exactly ``params`` and opens its context."""
    import papermill as pm

    for ch in book.CHAPTERS:
        nb = book.convert(book.NOTEBOOKS / f"{ch.stem}.py")
        declared = set(pm.inspect_notebook(_write(nb)).keys())
        assert declared == {"params"}, f"{ch.stem}: declares {sorted(declared)}"
        src = (book.NOTEBOOKS / f"{ch.stem}.py").read_text()
        assert "chapter.open_chapter(params" in src, f"{ch.stem}: does not open its context"


def test_chapter_context_merges_params_over_the_profile():
    from lotsbook.profiles import BookProfile

    p = BookProfile.from_dict({"iters": 7})
    assert p.iters == 7 and p.tau == PROFILES["embedded"].tau and p.study_iters == 200
    assert BookProfile.from_dict(None) == BookProfile.from_dict({}) == PROFILES["embedded"]
    # the builder's and the chapter's merge are one: the builder's parameters, through JSON, come back equal
    for name in PROFILES:
        built = resolve_profile(name, tiny=True, image_path="/data/val")
        assert BookProfile.from_dict(json.loads(json.dumps(built.as_dict()))) == built


def _write(nb) -> str:
    import tempfile

    import nbformat

    f = tempfile.NamedTemporaryFile("w", suffix=".ipynb", delete=False)
    nbformat.write(nb, f)
    f.close()
    return f.name


SILENT = '''# %% tags=["parameters"]
params = {}
# %%
from lotsbook import plots
import pandas as pd
if params.get("iters", 0) > 100:
    plots.table(pd.DataFrame({"a": [1]}), "never shown")
'''


def test_a_cell_that_should_show_a_table_but_shows_nothing_fails(tmp_path, monkeypatch):
    """A table helper inside an `if` without `else` would leave its cell empty;
    the build names the cell instead of publishing a page without the table."""
    src = tmp_path / "notebooks"
    src.mkdir()
    (src / "c_silent.py").write_text(SILENT)
    monkeypatch.setattr(book, "NOTEBOOKS", src)
    with pytest.raises(book.ChapterFailed, match=r"code cell\(s\) \[2\] call a table or figure helper"):
        book.execute_chapter(book.Chapter("9", "c_silent", "silent"), {"iters": 3}, tmp_path / "root",
                             log=lambda *a: None)
    shown = SILENT.replace('"never shown")', '"never shown")\nelse:\n    plots.note("nothing to show")')
    (src / "c_silent.py").write_text(shown)
    assert book.execute_chapter(book.Chapter("9", "c_silent", "silent"), {"iters": 3}, tmp_path / "root",
                                log=lambda *a: None) == "executed"


def _sentences(nb_path: Path, start: str) -> list[str]:
    nb = json.loads(nb_path.read_text())
    texts = ["".join(o.get("data", {}).get("text/markdown", "")) for c in nb["cells"] if c["cell_type"] == "code"
             for o in c.get("outputs", [])]
    return [t for t in texts if t.startswith(start)]


def test_chapter_sentences_follow_their_inputs(built, tmp_path):
    """Chapter 1 built again on other photos (two of scikit-image's, an unlabelled folder):
    its result sentence is generated from each build's numbers, so it states different
    numbers for different inputs, never the first build's text."""
    from skimage import data as skdata
    from skimage.io import imsave

    root, _ = built
    photos = tmp_path / "photos"
    photos.mkdir()
    for name in ("chelsea", "coffee"):
        imsave(photos / f"{name}.png", getattr(skdata, name)())
    other = tmp_path / "other"
    book.build(profile="embedded", tiny=True, chapters=["1"], root=other, build_html=False,
               cache_dir=str(root / ".cache"), image_source="folder", image_path=str(photos), log=lambda *a: None)
    start = "Half of the perturbation's magnitude lies in"
    a = _sentences(root / "book" / "01_attack.ipynb", start)
    b = _sentences(other / "book" / "01_attack.ipynb", start)
    assert len(a) == len(b) == 1, (a, b)
    nums = [re.findall(r"\d+(?:\.\d+)?", s) for s in (a[0], b[0])]
    assert nums[0] != nums[1], (a, b)


#: an absolute path of a machine: a home, a scratch or system folder, the checkout
MACHINE_PATH = re.compile(r"(?<![\w.~-])/(?:work|tmp|home|root|check|mnt|scratch|usr|opt|var|srv)/[\w./-]*")


def test_no_rendered_page_shows_a_machine_path(built):
    """Every built page's visible text (scripts and styles aside) names no absolute path of the
    machine that built it: recorded commands go through lotsbook.paths.shown."""
    root, _ = built
    pages = sorted((root / "_build" / "html").rglob("*.html"))
    assert len(pages) > 10
    found = {}
    for page in pages:
        html = re.sub(r"<script.*?</script>|<style.*?</style>", "", page.read_text(encoding="utf-8"), flags=re.S)
        text = _text(html).replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
        hits = set(MACHINE_PATH.findall(text)) | ({str(root)} if str(root) in text else set())
        if hits:
            found[page.name] = sorted(hits)[:5]
    assert not found, f"machine paths on rendered pages: {found}"
    assert MACHINE_PATH.findall("cache in /tmp/book_x/.cache") == ["/tmp/book_x/.cache"]  # the check can fail
