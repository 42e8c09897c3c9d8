#!/usr/bin/env python
"""Serve a built book on 127.0.0.1 and take a full-page screenshot of every chapter with
Debian's chromium (Playwright). Usage:

    python scripts/book_screenshots.py [_build/html] [/tmp/book-shots]

Prints, per page, the number of images, broken images and requests that left 127.0.0.1.
"""
from __future__ import annotations

import functools
import http.server
import sys
import threading
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
PAGES = ["intro", "01_attack", "02_visualization", "03_targets", "04_benchmark", "05_qualitative", "06_unseen",
         "07_parameters", "api",
         "references", "provenance"]


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # no access log on stderr
        pass


def serve(root: Path):
    handler = functools.partial(_Quiet, directory=str(root))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd


def main(html="_build/html", out="/tmp/book-shots") -> int:
    from playwright.sync_api import sync_playwright

    html, out = Path(html), Path(out)
    out.mkdir(parents=True, exist_ok=True)
    httpd = serve(html)
    base = f"http://127.0.0.1:{httpd.server_address[1]}"
    bad = 0
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS,
                                    ignore_default_args=["--hide-scrollbars"])
        for name in PAGES:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            outside = []
            page.on("request", lambda r, o=outside: (
                o.append(r.url) if not r.url.startswith((base, "data:", "blob:", "about:")) else None))
            page.goto(f"{base}/book/{name}.html", wait_until="networkidle")
            imgs = page.eval_on_selector_all(
                "img", "els => els.map(e => [e.currentSrc, e.complete && e.naturalWidth > 0])")
            broken = [s for s, ok in imgs if not ok]
            page.screenshot(path=str(out / f"{name}.png"), full_page=True)
            print(f"{name:18s} images {len(imgs):3d}  broken {len(broken)}  "
                  f"external requests {len(outside)} {outside[:3]}")
            bad += len(broken) + len(outside)
            page.close()
        browser.close()
    httpd.shutdown()
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
