"""The PDF edition (``lotsbook.pdf``, ``python -m lotsbook --pdf``) without building a book.

The pieces that need no browser (the pages and their order from ``_toc.yml``, the relinking,
the print document and its print rules) are checked on strings and on a fake built book of
three small pages; that fake book is also printed with Debian's chromium (a few seconds;
skipped without /usr/bin/chromium, a failure when ``CI=true``). The PDF of the real book is
checked by ``test_pdf_edition`` in tests/test_book.py on the tiny book built there.
"""
from __future__ import annotations

import re

import pytest
import yaml

from helpers import pdf_problems, require_chromium
from lotsbook import build as book
from lotsbook import pdf
from lotsbook.paths import SOURCES


def test_pages_follow_the_books_toc():
    """Root first, then the parts' chapters in _toc.yml's order; the API reference left out."""
    pages = pdf.toc_pages(SOURCES / "_toc.yml", pdf.LEFT_OUT)
    paths = [p.path for p in pages]
    spec = yaml.safe_load((SOURCES / "_toc.yml").read_text())
    listed = [spec["root"]] + [c["file"] for part in spec["parts"] for c in part["chapters"]]
    assert paths == [p for p in listed if p != "book/api"]
    assert "book/api" in listed and "book/api" not in paths
    assert paths[0] == "book/intro" and pages[0].part is None
    stems = [p.stem for p in pages]
    # every executed page of the builder is in it, in the builder's book order
    assert [s for s in stems if s in {c.stem for c in book.CHAPTERS}] == [c.stem for c in book.CHAPTERS
                                                                          if c.stem in stems]
    assert set(c.stem for c in book.CHAPTERS) <= set(stems)
    assert stems.index("glossary") < stems.index("references") < stems.index("provenance")
    assert {p.part for p in pages[1:]} == {part["caption"] for part in spec["parts"]}


def test_toc_sections_and_top_level_chapters(tmp_path):
    toc = tmp_path / "_toc.yml"
    toc.write_text("format: jb-book\nroot: r\nparts:\n  - caption: P\n    chapters:\n      - file: a\n"
                   "        sections:\n          - file: a1\n          - file: a2\n      - file: b\n"
                   "chapters:\n  - file: c\n")
    assert [(p.path, p.part) for p in pdf.toc_pages(toc)] == [("r", None), ("a", "P"), ("a1", "P"), ("a2", "P"),
                                                             ("b", "P"), ("c", None)]
    assert [p.path for p in pdf.toc_pages(toc, left_out=("a1", "c"))] == ["r", "a", "a2", "b"]


def test_relink_makes_ids_unique_and_links_internal():
    body = ('<section id="top"><span id="x"></span><label for="x">l</label><p data-id="keep">'
            '<a href="#x">self</a> <a href="glossary.html#term-LOTS">term</a> <a href="glossary.html">page</a> '
            '<a href="api.html#lotslib.lots">api</a> <a href="../genindex.html">index</a> '
            '<a href="https://example.org/p#f">out</a> <a href="mailto:a@b.c">mail</a></p></section>')
    out = pdf.relink(body, "01_attack", {"glossary.html": "glossary", "01_attack.html": "01_attack"})
    assert 'id="01_attack--top"' in out and 'id="01_attack--x"' in out and 'for="01_attack--x"' in out
    assert 'data-id="keep"' in out
    assert 'href="#01_attack--x"' in out and 'href="#glossary--term-LOTS"' in out and 'href="#pdf-glossary"' in out
    assert "api.html" not in out and "genindex" not in out  # pages the PDF leaves out: no link to the server
    assert "<a >api</a>" in out and "<a >index</a>" in out
    assert 'href="https://example.org/p#f"' in out and 'href="mailto:a@b.c"' in out


def _page(title: str, body: str, anchor: str, extra_head: str = "") -> str:
    return (f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>{title} &#8212; A fake book</title>'
            f'<link rel="stylesheet" type="text/css" href="../_static/base.css" />{extra_head}</head><body>'
            f'<header class="bd-header">header</header><div class="bd-sidebar-primary"><a href="a.html">nav</a></div>'
            f'<main class="bd-main"><div class="bd-content"><article class="bd-article">'
            f'<section id="{anchor}"><h1>{title}<a class="headerlink" href="#{anchor}">#</a></h1>{body}'
            f'</section></article></div></main></body></html>')


WIDE = "<table><tr>" + "".join(f"<th>column number {i}</th>" for i in range(30)) + "</tr></table>"


@pytest.fixture
def fake_book(tmp_path):
    """A built book of four pages (intro, a, b, api) with an image, a wide table and links."""
    from PIL import Image

    html = tmp_path / "_build" / "html"
    (html / "book").mkdir(parents=True)
    (html / "_static").mkdir()
    (html / "_images").mkdir()
    (html / "_static" / "base.css").write_text("body { font-family: sans-serif; }")
    (html / "_static" / "extra.js").write_text("window.EXTRA = 1;")
    Image.new("RGB", (200, 100), (200, 30, 30)).save(html / "_images" / "red.png")
    filler = "".join(f"<p>Paragraph {i} of a long page that fills more than one printed page.</p>" for i in range(90))
    pages = {
        "intro": _page("A fake book", "<p>Welcome.</p>", "a-fake-book"),
        "a": _page("1 First chapter", '<p>See <a href="b.html#term-x">x</a> and <a href="api.html#f">f</a>.</p>'
                   + filler + '<figure><img src="../_images/red.png"/><figcaption>Regenerates thesis Figure 9.9'
                   "</figcaption></figure>", "first-chapter",
                   '<script src="../_static/extra.js"></script>'),
        "b": _page("Glossary of b", f'<dl><dt id="term-x">x</dt><dd>a term</dd></dl>{WIDE}', "glossary-of-b"),
        "api": _page("API reference", "<p>left out</p>", "api-reference"),
    }
    for stem, text in pages.items():
        (html / "book" / f"{stem}.html").write_text(text)
    toc = tmp_path / "_toc.yml"
    toc.write_text("format: jb-book\nroot: book/intro\nparts:\n  - caption: Chapters\n    chapters:\n"
                   "      - file: book/a\n  - caption: Back matter\n    chapters:\n      - file: book/b\n"
                   "      - file: book/api\n")
    return html, toc


def test_print_document(fake_book):
    html, toc = fake_book
    pages = pdf.toc_pages(toc, pdf.LEFT_OUT)
    doc, chapters = pdf.print_document(html, pages, built="2030-01-02")
    assert chapters == [("intro", "A fake book"), ("a", "1 First chapter"), ("b", "Glossary of b")]
    sections = re.findall(r'<section class="pdf-chapter" id="pdf-([^"]+)"', doc)
    assert sections == ["intro", "a", "b"] and "left out" not in doc
    assert doc.count("<article") == 1 and doc.count("</article>") == 1
    assert pdf.PRINT_CSS in doc and doc.index(pdf.PRINT_CSS) < doc.index("</head>")
    assert '<script src="../_static/extra.js"></script>' in doc[: doc.index("</head>")]  # a later page's asset
    assert doc.count('href="../_static/base.css"') == 1
    # the contents: the parts' captions and one entry per page, in order, numbers to be filled in
    toc_html = doc[doc.index('<nav class="pdf-toc">'):doc.index("</nav>", doc.index('<nav class="pdf-toc">'))]
    assert re.findall(r'href="#pdf-([^"]+)"', toc_html) == ["intro", "a", "b"]
    assert toc_html.index("Chapters") < toc_html.index("1 First chapter") < toc_html.index("Back matter")
    assert re.findall(r'data-stem="([^"]+)"></span>', toc_html) == ["intro", "a", "b"]
    assert 'href="#b--term-x"' in doc and 'id="b--term-x"' in doc and "2030-01-02" in doc


def test_print_rules():
    """Figures and tables are not split, the theme's chrome is hidden, chapters start a page."""
    css = re.sub(r"\s+", " ", pdf.PRINT_CSS)
    avoid = re.search(r"([^{}]*)\{ break-inside: avoid; \}", css).group(1)
    assert {"figure", "table", "img"} <= {s.strip() for s in avoid.split(",")}
    hidden = re.search(r"([^{}]*)\{ display: none !important; \}", css).group(1)
    assert {".bd-header", ".bd-sidebar-primary", ".bd-sidebar-secondary", ".bd-header-article",
            ".onlyprint"} <= {s.strip() for s in hidden.split(",")}
    assert "section.pdf-chapter { break-before: page; }" in css


def test_missing_page_and_other_folder(fake_book, tmp_path):
    html, toc = fake_book
    (html / "book" / "b.html").unlink()
    with pytest.raises(FileNotFoundError, match="b.html is missing"):
        pdf.print_document(html, pdf.toc_pages(toc, pdf.LEFT_OUT))
    with pytest.raises(ValueError, match="must lie in book/"):
        pdf.print_document(html, [pdf.TocEntry("book/intro"), pdf.TocEntry("other/a", "P")])


def test_pdf_path_and_command_line(tmp_path):
    assert pdf.pdf_path(tmp_path / "_build" / "html") == tmp_path / "_build" / "pdf" / "lots-book.pdf"
    assert book.main(["--pdf", "--no-build"]) == 2
    assert book.main(["--pdf-only", "--root", str(tmp_path)]) == 1  # nothing built there
    assert not (tmp_path / "_build" / "pdf").exists()


def test_fake_book_printed(fake_book, tmp_path):
    """The printed fake book: contents with the right page numbers, each chapter on a new page,
    footers ``i / n``, the wide table scaled, links kept inside the PDF."""
    require_chromium()
    from pypdf import PdfReader

    html, toc = fake_book
    report = pdf.write_pdf(html, out=tmp_path / "out" / "book.pdf", toc=toc, log=lambda *a: None)
    assert report.path.is_file() and report.size == report.path.stat().st_size
    assert report.passes == 2 and report.scaled_tables == 1
    assert report.first_pages["intro"] == 2 and report.first_pages["b"] - report.first_pages["a"] >= 2
    assert pdf_problems(report, html, toc, ["Regenerates thesis Figure 9.9"]) == []
    assert pdf_problems(report, html, toc, ["Regenerates thesis Figure 0.0"]) == [
        "caption 'Regenerates thesis Figure 0.0' is not in the PDF"]
    shifted = pdf.PdfReport(**{**report.__dict__, "first_pages": {**report.first_pages, "a": report.pages}})
    found = pdf_problems(shifted, html, toc)
    assert any("'1 First chapter' is not on page" in p for p in found), found
    assert any(p.startswith("b starts on page") for p in found), found
    reader = PdfReader(str(report.path))
    assert [o.title for o in reader.outline if not isinstance(o, list)][:1] == ["Contents"]
    uris = [str((a.get_object().get("/A") or {}).get("/URI", "")) for pg in reader.pages
            for a in pg.get("/Annots") or ()]
    assert not [u for u in uris if "127.0.0.1" in u]
    assert "left out" not in " ".join(pdf.pdf_text(report.path))


def test_pdf_only_prints_a_built_root(fake_book, capsys):
    """``python -m lotsbook --pdf-only --root DIR`` prints DIR/_build/html by DIR/_toc.yml into
    DIR/_build/pdf/lots-book.pdf."""
    require_chromium()
    html, toc = fake_book
    root = toc.parent
    assert book.main(["--pdf-only", "--root", str(root)]) == 0
    out = root / "_build" / "pdf" / "lots-book.pdf"
    assert out.is_file() and "timings (s): pdf" in capsys.readouterr().out
    text = " ".join(pdf.pdf_text(out))
    assert "Glossary of b" in text and "left out" not in text
