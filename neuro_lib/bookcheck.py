"""The rendered book checked in a real browser: ``python -m neuro_lib.bookcheck [_build/html] [--screenshots DIR]``.

Every HTML page of the built book is opened in headless Chromium (Debian's ``chromium``, driven by Playwright; no
browser download) from a local web server on 127.0.0.1, and a page fails when it has

* an **error output** (a cell's traceback, ``div.output.traceback``);
* a **missing image** (an ``<img>`` that did not load: ``naturalWidth == 0``);
* a **broken internal link** (an ``<a href>`` into the book whose page does not exist, or whose ``#anchor`` is not
  an element id of that page);
* a **broken citation** (sphinxcontrib-bibtex's unresolved-citation marks, or a citation key shown as ``[key]``
  text);
* an **unrendered MyST directive or role** (``{cite}``, ``{glue:...}``, ````{figure}``, ``:::{note}`` ... left as
  text outside code).

Screenshots of chosen pages are written for a person to look at. Why a browser and not the HTML text: a missing
image or a link is only known to be broken once a browser has tried it, and what a reader sees is what the browser
renders after the theme's JavaScript ran.
"""
from __future__ import annotations

import argparse
import contextlib
import functools
import http.server
import re
import shutil
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlparse

__all__ = ["PageReport", "chromium_path", "check_book", "main"]

_CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-dev-shm-usage"]

#: MyST syntax that must never reach a reader as text (outside code).
_UNRENDERED = re.compile(r"\{(cite|glue|numref|ref|doc|eq|download|math|term|abbr)(:[a-z]+)?\}"
                         r"|```\{[a-z-]+\}|:::\{[a-z-]+\}|\{(figure|admonition|note|warning|include)\}")

_JS = r"""
() => {
  const errors = [...document.querySelectorAll('div.output.traceback, div.output.error, .cell_output .traceback')]
      .map(e => (e.innerText.split('\n').filter(l => l.trim()).slice(-1)[0] || 'traceback').slice(0, 200));
  const images = [...document.images].filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src);
  const links = [...document.querySelectorAll('a[href]')].map(a => a.href);
  const body = document.querySelector('article') || document.querySelector('main') || document.body;
  const clone = body.cloneNode(true);
  clone.querySelectorAll('pre, code, script, style, .highlight').forEach(e => e.remove());
  const text = clone.innerText;
  const badcites = [...document.querySelectorAll('.bibtex-unresolved, span.problematic')].map(e => e.innerText);
  const ids = [...document.querySelectorAll('[id]')].map(e => e.id);
  return {errors, images, links, text, badcites, ids, title: document.title};
}
"""


@dataclass
class PageReport:
    """What the browser found on one page (``path`` relative to the HTML root); ``ok`` when nothing."""

    path: str
    errors: list = field(default_factory=list)
    missing_images: list = field(default_factory=list)
    broken_links: list = field(default_factory=list)
    broken_citations: list = field(default_factory=list)
    unrendered: list = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.errors or self.missing_images or self.broken_links or self.broken_citations
                    or self.unrendered)

    def problems(self) -> list[str]:
        out = []
        for what, items in (("error output", self.errors), ("missing image", self.missing_images),
                            ("broken internal link", self.broken_links), ("broken citation", self.broken_citations),
                            ("unrendered MyST", self.unrendered)):
            out += [f"{self.path}: {what}: {x}" for x in items]
        return out


def chromium_path() -> str:
    """The Chromium executable (``$CHROMIUM`` or ``chromium`` / ``chromium-browser`` on PATH). Raises
    ``FileNotFoundError`` saying how to install it (Debian: ``apt-get install -y chromium``)."""
    import os

    for cand in (os.environ.get("CHROMIUM"), "chromium", "chromium-browser", "google-chrome"):
        if cand and shutil.which(cand):
            return shutil.which(cand)
    raise FileNotFoundError("no Chromium found: install Debian's package (apt-get install -y chromium) or set "
                            "CHROMIUM to the browser's path")


@contextlib.contextmanager
def _serve(root: Path):
    handler = functools.partial(_QuietHandler, directory=str(root))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # no request log on stderr
        pass


def _is_redirect(html: Path) -> bool:
    """Jupyter Book's top-level ``index.html`` only redirects to the root page."""
    head = html.read_text(errors="replace")[:2000].lower()
    return 'http-equiv="refresh"' in head


def _page_ids(html: Path, cache: dict) -> set:
    if html not in cache:
        text = html.read_text(errors="replace") if html.exists() else ""
        cache[html] = set(re.findall(r'\bid="([^"]+)"', text))
    return cache[html]


def check_book(html_dir: str | Path, *, pages: list[str] | None = None, screenshots: str | Path | None = None,
               screenshot_pages: list[str] = (), timeout_ms: int = 30_000) -> list[PageReport]:
    """Open every page (``pages``: paths relative to ``html_dir``; default every ``*.html`` but Sphinx's
    ``genindex``/``search`` and the redirecting ``index.html``) in headless Chromium and report what is broken.

    ``screenshots``: folder for PNG screenshots of ``screenshot_pages`` (1280 px wide, the first screen). Returns one
    :class:`PageReport` per page. Raises ``FileNotFoundError`` if ``html_dir`` has no HTML or Chromium is missing.
    """
    from playwright.sync_api import sync_playwright

    root = Path(html_dir).resolve()
    if pages is None:
        skip = {"genindex.html", "search.html", "py-modindex.html"}
        pages = sorted(p.relative_to(root).as_posix() for p in root.rglob("*.html")
                       if p.relative_to(root).as_posix() not in skip and "_static" not in p.parts
                       and "_sources" not in p.parts and not _is_redirect(p))
    if not pages:
        raise FileNotFoundError(f"no HTML pages under {root}: build the book first")
    shots = Path(screenshots) if screenshots else None
    if shots:
        shots.mkdir(parents=True, exist_ok=True)
    reports, ids_cache = [], {}
    with _serve(root) as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path(), args=_CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            for rel in pages:
                rep = PageReport(rel)
                page.goto(f"{base}/{rel}", wait_until="load", timeout=timeout_ms)
                got = page.evaluate(_JS)
                rep.errors = got["errors"]
                rep.missing_images = [unquote(urlparse(s).path) for s in got["images"]]
                rep.broken_citations = [c for c in got["badcites"] if c.strip()]
                rep.unrendered = sorted(set(m.group(0) for m in _UNRENDERED.finditer(got["text"])))
                for href in dict.fromkeys(got["links"]):
                    u = urlparse(href)
                    if not href.startswith(base):
                        continue
                    target = root / unquote(u.path).lstrip("/")
                    if target.is_dir():
                        target = target / "index.html"
                    if not target.exists():
                        rep.broken_links.append(unquote(u.path))
                    elif u.fragment and target.suffix == ".html":
                        ids = set(got["ids"]) if target == root / rel else _page_ids(target, ids_cache)
                        if unquote(u.fragment) not in ids:
                            rep.broken_links.append(f"{unquote(u.path)}#{u.fragment}")
                if shots and rel in screenshot_pages:
                    page.screenshot(path=str(shots / (rel.replace("/", "__").removesuffix(".html") + ".png")))
                reports.append(rep)
        finally:
            browser.close()
    return reports


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m neuro_lib.bookcheck", description=__doc__.split("\n\n")[0])
    ap.add_argument("html", nargs="?", default="_build/html")
    ap.add_argument("--screenshots", default=None, help="folder for screenshots of the front page and the pages "
                                                        "given with --shot")
    ap.add_argument("--shot", action="append", default=[], help="page to screenshot (relative path; repeatable)")
    args = ap.parse_args(argv)
    reports = check_book(args.html, screenshots=args.screenshots, screenshot_pages=args.shot)
    problems = [p for r in reports for p in r.problems()]
    print(f"{len(reports)} pages checked in Chromium; {len(problems)} problem(s)")
    for p in problems:
        print("  " + p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
