"""The PDF edition of the book: ``python -m lotsbook --pdf`` (after the HTML build) or
``--pdf-only`` (from the HTML already built) writes ``_build/pdf/lots-book.pdf`` beside the
``_build/html`` it is made from.

How it is made. The pages of ``book/_toc.yml`` (in its order, the API reference left out:
:data:`LEFT_OUT`) are not printed one by one and merged; their article bodies are put into
**one print document** (:func:`print_document`), which Debian's chromium prints through
Playwright (:func:`write_pdf`). One document is the more robust of the two ways:

* the page numbers of the footer run on from the first page to the last (a merge of
  per-page PDFs restarts them on every chapter, unless each page is stamped afterwards);
* links between pages (a chapter's glossary terms, its citations) become links inside the
  PDF, because every id is made unique per page (:func:`relink`);
* the table of contents gets real page numbers from the PDF's own named destinations
  (Chromium writes one for every link target): the document is printed, the page of each
  chapter's anchor read back with pypdf, the numbers put into the contents (a column of
  fixed width, so nothing moves) and the document printed again, until the numbers agree
  (:func:`toc_page_numbers`; two prints in practice);
* Chromium also writes the PDF's outline (bookmarks) from the headings.

The document is served from 127.0.0.1 next to the built pages (its relative URLs, MathJax
and its fonts resolve as on the site; nothing leaves the machine). Print rules
(:data:`PRINT_CSS`) hide the theme's header, sidebars and buttons, start every chapter on a
new page, keep figures, tables and formulas whole, scale a table wider than the page down
to its width, hide the folded code of the cells (the executed notebooks carry it) and open
the exercises' solutions (a book built with ``--hide-solutions`` has none).
"""
from __future__ import annotations

import functools
import html as htmlmod
import http.server
import io
import posixpath
import re
import threading
import time
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from .paths import SOURCES

__all__ = ["PDF_NAME", "LEFT_OUT", "CHROMIUM", "CHROMIUM_ARGS", "DOCUMENT", "PRINT_CSS", "TocEntry", "PdfReport",
           "toc_pages", "pdf_path", "page_article", "relink", "print_document", "serve", "toc_page_numbers",
           "write_pdf", "pdf_text"]

#: the file name of the PDF edition, in ``_build/pdf/`` beside ``_build/html``
PDF_NAME = "lots-book.pdf"

#: pages of the table of contents the PDF leaves out: the API reference (dozens of generated
#: module pages, read best with the HTML edition's search and links)
LEFT_OUT = ("book/api",)

#: Debian's chromium (``make browser``) and its flags for a headless run without network
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]

#: the name the print document is served under, in the folder of the book's root page
DOCUMENT = "__lotsbook_print__.html"

#: A4 with room for the footer; the content is 182 mm (688 CSS px) wide
PAPER = {"format": "A4", "margin": {"top": "14mm", "bottom": "16mm", "left": "14mm", "right": "14mm"}}
CONTENT_WIDTH_PX = 688

#: print rules added to the print document (the theme's own print rules stay in force)
PRINT_CSS = """
.bd-header, .bd-sidebar-primary, .bd-sidebar-secondary, .bd-header-article, .bd-footer, .bd-footer-article,
.bd-footer-content, .prev-next-area, .bd-search, .headerlink, .toggle-button, .copybtn, #pst-back-to-top,
.skip-link, .search-button-field, .sbt-scroll-pixel-helper, details.above-input, .tb-icon, .onlyprint
  { display: none !important; }
/* the theme hides a page's first <h1> in print (its print header repeats it): every chapter keeps its title */
.bd-main .bd-content .bd-article h1:first-of-type { display: block !important; }
html, body { background: white !important; }
.bd-container, .bd-container__inner, .bd-page-width, .bd-main, .bd-content, .bd-article-container, .bd-article
  { max-width: none !important; width: auto !important; margin: 0 !important; padding: 0 !important;
    display: block !important; }
section.pdf-chapter { break-before: page; }
figure, table, img, .admonition, div.math, mjx-container[display="true"], .pdf-toc li
  { break-inside: avoid; }
h1, h2, h3, h4, .admonition-title, caption { break-after: avoid; }
figure img, .cell_output img { max-height: 225mm; width: auto; max-width: 100%; object-fit: contain; }
div.cell_output, .pst-scrollable-table-container, .table-wrapper { overflow: visible !important; }
div.cell_output table { display: table; overflow: visible; max-width: none; }
pre { white-space: pre-wrap; word-break: break-word; }
.toggle-hidden { visibility: visible !important; opacity: 1 !important; height: auto !important; }
.pdf-cover .pdf-title { font-size: 2.2em; font-weight: 700; margin: 2em 0 0.5em; text-align: center; }
.pdf-cover .pdf-note { text-align: center; }
section.pdf-chapter h1 { font-size: 2.3em; margin-top: 0; }
section.pdf-chapter h2 { font-size: 1.5em; }
section.pdf-chapter h3 { font-size: 1.2em; }
.pdf-cover .pdf-note { color: #555; margin-bottom: 1.5em; }
.pdf-toc ol { list-style: none; padding: 0; margin: 0; }
.pdf-toc li.pdf-toc-part { font-weight: 700; margin-top: 0.8em; }
.pdf-toc li a { display: flex; color: inherit; text-decoration: none; }
.pdf-toc .pdf-toc-title { flex: 1 1 auto; overflow: hidden; white-space: nowrap; }
.pdf-toc .pdf-toc-title::after { content: " . . . . . . . . . . . . . . . . . . . . . . . . . . . . . . . . . . . .\
 . . . . . . . . . . . . . . . . . . . . . . . . . . . . . . . . . . ."; color: #999; }
.pdf-toc .pdf-toc-page { flex: 0 0 3em; text-align: right; }
"""

#: before printing: wait for MathJax, open the solutions, scale down tables wider than the page
_PREPARE = """
async () => {
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) await MathJax.startup.promise;
  document.querySelectorAll('.toggle-hidden').forEach(e => e.classList.remove('toggle-hidden'));
  document.querySelectorAll('article details:not(.above-input)').forEach(d => { d.open = true; });
  let scaled = 0;
  for (const t of document.querySelectorAll('article table')) {
    const w = t.getBoundingClientRect().width, avail = t.parentElement.getBoundingClientRect().width;
    if (avail > 0 && w > avail + 1) { t.style.zoom = (avail / w).toFixed(3); scaled += 1; }
  }
  const broken = [...document.images].filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src);
  return {scaled, broken};
}
"""
_FOOTER = ('<div style="font-size:9px;width:100%;text-align:center;color:#555">'
           '<span class="pageNumber"></span> / <span class="totalPages"></span></div>')


@dataclass(frozen=True)
class TocEntry:
    """One page of ``_toc.yml``: its path below the HTML root without suffix (``book/intro``)
    and the caption of the part it belongs to (None for the root page)."""

    path: str
    part: str | None = None

    @property
    def stem(self) -> str:
        """The file name without folder and suffix (``intro``)."""
        return posixpath.basename(self.path)


@dataclass(frozen=True)
class PdfReport:
    """What :func:`write_pdf` wrote: the file, its pages, its size in bytes, the seconds it took,
    the prints made, each chapter's first page (1-based) and the tables scaled to the page width."""

    path: Path
    pages: int
    size: int
    seconds: float
    passes: int
    first_pages: dict
    scaled_tables: int


def toc_pages(toc: Path | str = SOURCES / "_toc.yml", left_out=()) -> list[TocEntry]:
    """Every page of the table of contents, root first, in the book's order.

    Parameters
    ----------
    toc : pathlib.Path or str, optional
        A Jupyter Book ``_toc.yml`` (default: the book's, ``book/_toc.yml``).
    left_out : tuple of str, optional
        Page paths to skip, e.g. :data:`LEFT_OUT` (default: none).

    Returns
    -------
    list of TocEntry
        The root page, then every ``file`` of the parts' chapters and their sections, depth
        first.
    """
    import yaml

    spec = yaml.safe_load(Path(toc).read_text())
    pages = [TocEntry(spec["root"])]

    def walk(entries, part):
        for e in entries or ():
            if "file" in e:
                pages.append(TocEntry(e["file"], part))
            walk(e.get("sections"), part)

    for part in spec.get("parts", ()):
        walk(part.get("chapters"), part.get("caption"))
    walk(spec.get("chapters"), None)
    return [p for p in pages if p.path not in left_out]


def pdf_path(html_dir: Path | str) -> Path:
    """Where the PDF of the HTML in ``html_dir`` goes: ``<html_dir>/../pdf/`` + :data:`PDF_NAME`.

    Parameters
    ----------
    html_dir : pathlib.Path or str
        A built book's ``_build/html``.

    Returns
    -------
    pathlib.Path
        ``_build/pdf/lots-book.pdf`` of the same ``_build``.
    """
    return Path(html_dir).parent / "pdf" / PDF_NAME


def _text(fragment: str) -> str:
    fragment = re.sub(r'<a class="headerlink".*?</a>', "", fragment, flags=re.S)
    return re.sub(r"\s+", " ", htmlmod.unescape(re.sub(r"<[^>]+>", "", fragment))).strip()


def page_article(page_html: str) -> tuple[str, str]:
    """The title and the article body of a built page.

    Parameters
    ----------
    page_html : str
        A page of the built book (sphinx-book-theme).

    Returns
    -------
    tuple of str
        ``(title, body)``: the text of its first ``<h1>`` (without the heading's link mark) and the inner HTML of
        its ``<article class="bd-article">``.

    Raises
    ------
    ValueError
        If the page has no such article or no heading.
    """
    m = re.search(r'<article class="bd-article"[^>]*>(.*)</article>', page_html, flags=re.S)
    if not m:
        raise ValueError('no <article class="bd-article"> in the page: not a page of a built book')
    h1 = re.search(r"<h1[^>]*>(.*?)</h1>", m.group(1), flags=re.S)
    if not h1:
        raise ValueError("the page's article has no <h1> title")
    return _text(h1.group(1)), m.group(1)


_ID = re.compile(r'(?<=\s)(id|for)="([^"]*)"')
_HREF = re.compile(r'(?<=\s)href="([^"]*)"')


def relink(body: str, stem: str, targets: dict) -> str:
    """Make a page's ids unique in the print document and its links point inside it.

    Parameters
    ----------
    body : str
        The page's article HTML (:func:`page_article`).
    stem : str
        The page's stem: its ids become ``<stem>--<id>``.
    targets : dict
        ``{href path relative to the page: stem}`` of every page in the document
        (``{"glossary.html": "glossary", ...}``).

    Returns
    -------
    str
        ``body`` with every ``id``/``for`` prefixed; ``#x`` and ``page.html#x`` of a page in the
        document pointing to ``#<page>--x``, ``page.html`` to the page's chapter
        (``#pdf-<page>``); the ``href`` of a relative link to anything else (a page left out,
        the index) removed, so the PDF has no link to the local server; external links kept.
    """
    body = _ID.sub(lambda m: f'{m.group(1)}="{stem}--{m.group(2)}"', body)

    def href(m):
        url = htmlmod.unescape(m.group(1))
        if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", url):
            return m.group(0)
        path, _, frag = url.partition("#")
        target = stem if not path else targets.get(path)
        if target is None:
            return ""
        return f'href="#{target}--{frag}"' if frag else f'href="#pdf-{target}"'

    return _HREF.sub(href, body)


_HEAD_ASSET = re.compile(r'<script\b[^>]*>.*?</script>|<link\b[^>]*rel="stylesheet"[^>]*>', flags=re.S)


def print_document(html_dir: Path | str, pages, built: str | None = None) -> tuple[str, list]:
    """The print document: a cover with the contents, then every page's article, in order.

    Parameters
    ----------
    html_dir : pathlib.Path or str
        A built book's ``_build/html``.
    pages : list of TocEntry
        The pages, in order (:func:`toc_pages`); the first is the root page, whose shell (head,
        theme) the document reuses, and all lie in its folder.
    built : str or None, optional
        The date shown on the cover (default None: today, ``YYYY-MM-DD``).

    Returns
    -------
    tuple
        ``(html, chapters)``: the HTML (to be served as :data:`DOCUMENT` in the root page's
        folder) and the ``(stem, title)`` of each chapter, in order. The contents link every
        chapter to its anchor ``#pdf-<stem>``; their page numbers are empty ``.pdf-toc-page``
        cells that :func:`write_pdf` fills in.

    Raises
    ------
    ValueError
        If a page lies in another folder than the root page, or is no page of a built book.
    FileNotFoundError
        If a page was not built.
    """
    html_dir = Path(html_dir)
    folder = posixpath.dirname(pages[0].path)
    if any(posixpath.dirname(p.path) != folder for p in pages):
        raise ValueError(f"every page of the PDF must lie in {folder or 'the HTML root'}/ like the root page")
    texts = {}
    for p in pages:
        f = html_dir / f"{p.path}.html"
        if not f.is_file():
            raise FileNotFoundError(f"{f.name} is missing from the built HTML: build the book first "
                                    f"(python -m lotsbook), then write the PDF.")
        texts[p.stem] = f.read_text(encoding="utf-8")
    targets = {f"{p.stem}.html": p.stem for p in pages}
    shell = texts[pages[0].stem]
    head_end = shell.index("</head>")
    assets = []
    for t in texts.values():
        head = t[: t.index("</head>")]
        assets += [a for a in _HEAD_ASSET.findall(head) if a not in shell[:head_end] and a not in assets]
    title_m = re.search(r"<title>(.*?)</title>", shell, flags=re.S)
    book_title = _text(title_m.group(1)).split(" \u2014 ")[-1] if title_m else "LOTS book"
    chapters, sections, toc, part = [], [], [], None
    for p in pages:
        title, body = page_article(texts[p.stem])
        chapters.append((p.stem, title))
        if p.part != part and p.part:
            toc.append(f'<li class="pdf-toc-part">{htmlmod.escape(p.part)}</li>')
        part = p.part
        toc.append(f'<li><a href="#pdf-{p.stem}"><span class="pdf-toc-title">{htmlmod.escape(title)}</span>'
                   f'<span class="pdf-toc-page" data-stem="{p.stem}"></span></a></li>')
        sections.append(f'<section class="pdf-chapter" id="pdf-{p.stem}">{relink(body, p.stem, targets)}</section>')
    built = built or time.strftime("%Y-%m-%d")
    cover = (f'<section class="pdf-cover"><p class="pdf-title">{htmlmod.escape(book_title)}</p>'
             f'<p class="pdf-note">PDF edition of the HTML book, printed from its pages on {built}. '
             f'The API reference is in the HTML edition only.</p>'
             f'<nav class="pdf-toc"><h2>Contents</h2><ol>{"".join(toc)}</ol></nav></section>')
    m = re.search(r'(<article class="bd-article"[^>]*>).*</article>', shell, flags=re.S)
    doc = (shell[:head_end] + "\n".join(assets) + f"\n<style>{PRINT_CSS}</style>\n" + shell[head_end:m.start()]
           + m.group(1) + cover + "".join(sections) + "</article>" + shell[m.end():])
    return doc, chapters


def serve(directory: Path, extra: dict | None = None):
    """Serve ``directory`` on 127.0.0.1 (a free port, a daemon thread, no access log), and each
    ``{url path: HTML text}`` of ``extra`` from memory; returns the server (``shutdown()`` it).
    The print document, the screenshot tool and the book's browser tests use it."""
    payloads = {k: v.encode("utf-8") for k, v in (extra or {}).items()}

    class Handler(http.server.SimpleHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (the handler's API)
            payload = payloads.get(self.path.split("?")[0])
            if payload is None:
                super().do_GET()
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(directory)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd


def toc_page_numbers(pdf: bytes, stems) -> dict:
    """The page each chapter starts on, read from the PDF's named destinations.

    Parameters
    ----------
    pdf : bytes
        A PDF of the print document (Chromium writes a named destination ``pdf-<stem>`` for
        every chapter the contents link to).
    stems : list of str
        The chapters' stems.

    Returns
    -------
    dict
        ``{stem: page}``, pages counted from 1; a chapter without a destination is missing.
    """
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(pdf))
    dests = {str(k).lstrip("/"): v for k, v in reader.named_destinations.items()}
    return {s: reader.get_destination_page_number(dests[f"pdf-{s}"]) + 1 for s in stems if f"pdf-{s}" in dests}


def write_pdf(html_dir: Path | str, out: Path | str | None = None, toc: Path | str | None = None,
              log=print, timeout_s: float = 600.0) -> PdfReport:
    """Print the built book into one PDF with Debian's chromium (see the module's docstring).

    Parameters
    ----------
    html_dir : pathlib.Path or str
        A built book's ``_build/html``.
    out : pathlib.Path or str or None, optional
        The PDF (default None: :func:`pdf_path`, ``_build/pdf/lots-book.pdf``).
    toc : pathlib.Path or str or None, optional
        The table of contents (default None: the book's ``book/_toc.yml``); the pages of
        :data:`LEFT_OUT` are skipped.
    log : Callable, optional
        Progress messages (default ``print``).
    timeout_s : float, optional
        Longest wait for the document to load and for one print, in seconds (default 600).

    Returns
    -------
    PdfReport
        The file, its page count (>= 1 + the chapters), size, seconds, prints made (2 when the
        contents' numbers held at once) and each chapter's first page.

    Raises
    ------
    FileNotFoundError
        If chromium or a page of the book is missing.
    RuntimeError
        If an image does not load, or the contents' page numbers do not settle in 4 prints.
    """
    from playwright.sync_api import sync_playwright

    t0 = time.perf_counter()
    html_dir = Path(html_dir)
    out = Path(out) if out is not None else pdf_path(html_dir)
    if not CHROMIUM.exists():
        raise FileNotFoundError(f"{CHROMIUM} is missing, so the book cannot be printed. "
                                f"Fix: `make browser` (apt-get install chromium).")
    pages = toc_pages(toc if toc is not None else SOURCES / "_toc.yml", LEFT_OUT)
    document, chapters = print_document(html_dir, pages)
    stems = [s for s, _ in chapters]
    folder = posixpath.dirname(pages[0].path)
    doc_url = "/" + posixpath.join(folder, DOCUMENT)
    httpd = serve(html_dir, {doc_url: document})
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
            try:
                page = browser.new_page(viewport={"width": CONTENT_WIDTH_PX, "height": 1000})
                page.set_default_timeout(timeout_s * 1000)
                page.emulate_media(media="print")
                page.goto(f"http://127.0.0.1:{httpd.server_address[1]}{doc_url}", wait_until="networkidle")
                ready = page.evaluate(_PREPARE)
                if ready["broken"]:
                    raise RuntimeError(f"{len(ready['broken'])} image(s) did not load, e.g. {ready['broken'][0]}")
                log(f"pdf: {len(chapters)} pages of the book in one document ({len(document) / 1e6:.1f} MB of HTML), "
                    f"{ready['scaled']} wide table(s) scaled to the page; printing ...")
                numbers: dict = {}
                for passes in range(1, 5):
                    pdf = page.pdf(**PAPER, print_background=True, display_header_footer=True,
                                   header_template="<span></span>", footer_template=_FOOTER,
                                   outline=True, tagged=True)
                    found = toc_page_numbers(pdf, stems)
                    if found == numbers:
                        break
                    numbers = found
                    page.evaluate("nums => document.querySelectorAll('.pdf-toc-page').forEach("
                                  "e => { e.textContent = nums[e.dataset.stem] ?? ''; })", numbers)
                else:
                    raise RuntimeError(f"the contents' page numbers did not settle in 4 prints: {numbers}")
            finally:
                browser.close()
    finally:
        httpd.shutdown()
    missing = [s for s in stems if s not in numbers]
    if missing:
        raise RuntimeError(f"the PDF has no anchor of the chapter(s) {missing}")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(pdf)
    from pypdf import PdfReader

    n_pages = len(PdfReader(io.BytesIO(pdf)).pages)
    report = PdfReport(out, n_pages, len(pdf), time.perf_counter() - t0, passes, numbers, ready["scaled"])
    log(f"pdf: {out}: {n_pages} pages, {len(pdf) / 1e6:.1f} MB, {passes} prints, {report.seconds:.0f} s")
    return report


def pdf_text(path: Path | str) -> list[str]:
    """The text of each page of a PDF (pypdf), ligatures spelt out (NFKC) and whitespace
    collapsed to single spaces.

    Parameters
    ----------
    path : pathlib.Path or str
        The PDF.

    Returns
    -------
    list of str
        One string per page, in order.
    """
    from pypdf import PdfReader

    return [re.sub(r"\s+", " ", unicodedata.normalize("NFKC", pg.extract_text() or "")).strip()
            for pg in PdfReader(str(path)).pages]
