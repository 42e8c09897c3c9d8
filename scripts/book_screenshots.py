#!/usr/bin/env python
"""Serve a built book on 127.0.0.1 and take a full-page screenshot of every page with
Debian's chromium (Playwright).

    python scripts/book_screenshots.py --html _build/html --out /tmp/book-shots [--width 1280 1920]

The pages are every entry of ``book/_toc.yml`` (the root page included). Prints, per page
and width, the HTTP status, the number of images, broken images and requests that left
127.0.0.1. Exits 2 when the build folder is missing, and 1 when any page answered with an
error status (a 404: a page of the table of contents that was not built), had a broken image
or made a request outside the local server; 0 otherwise.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from lotsbook import pdf  # the book's table-of-contents reader, browser flags and local server


def toc_pages() -> list[str]:
    """Every page of the book's table of contents (:func:`lotsbook.pdf.toc_pages`), as paths
    below the HTML root without suffix (``book/intro``, ``book/01_attack``...), in order."""
    return [p.path for p in pdf.toc_pages()]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="Screenshot every page of a built book (see the module docstring).")
    ap.add_argument("--html", default="_build/html", help="the built HTML folder (default _build/html)")
    ap.add_argument("--out", default="/tmp/book-shots", help="where the PNGs go (default /tmp/book-shots)")
    ap.add_argument("--width", type=int, nargs="+", default=[1280], help="viewport widths in px (default 1280)")
    a = ap.parse_args(argv)
    html, out = Path(a.html), Path(a.out)
    pages = toc_pages()
    if not (html / f"{pages[0]}.html").is_file():
        print(f"error: {html} holds no built book ({pages[0]}.html is missing). Fix: build it first "
              f"(make book, or python -m lotsbook --root DIR and pass --html DIR/_build/html).", file=sys.stderr)
        return 2
    from playwright.sync_api import sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    httpd = pdf.serve(html)
    base = f"http://127.0.0.1:{httpd.server_address[1]}"
    bad = 0
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(pdf.CHROMIUM), headless=True, args=pdf.CHROMIUM_ARGS,
                                    ignore_default_args=["--hide-scrollbars"])
        for width in a.width:
            for name in pages:
                page = browser.new_page(viewport={"width": width, "height": 900})
                outside = []
                page.on("request", lambda r, o=outside: (
                    o.append(r.url) if not r.url.startswith((base, "data:", "blob:", "about:")) else None))
                resp = page.goto(f"{base}/{name}.html", wait_until="networkidle")
                status = resp.status if resp is not None else 0
                imgs = page.eval_on_selector_all(
                    "img", "els => els.map(e => [e.currentSrc, e.complete && e.naturalWidth > 0])")
                broken = [s for s, ok in imgs if not ok]
                page.screenshot(path=str(out / f"{Path(name).name}-{width}.png"), full_page=True)
                print(f"{name:22s} {width:5d} px  HTTP {status}  images {len(imgs):3d}  broken {len(broken)}  "
                      f"external requests {len(outside)} {outside[:3]}")
                bad += len(broken) + len(outside) + (status >= 400 or status == 0)
                page.close()
        browser.close()
    httpd.shutdown()
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
