#!/usr/bin/env python
"""Check the built course book as a reader meets it, offline.

Usage (``make run`` calls it after building the book)::

    .venv/bin/python tools/check_book.py [build/site] [--search "guided backpropagation"]

* every internal link and image of every page resolves to a file of the book;
* every topic card on the front page has its picture;
* every launch link (Colab, Binder, JupyterHub) points at the repository configured in
  ``pyproject.toml`` (``tools/course_links.py``), and no page loads a script from the network;
* in headless Chromium (Debian's ``chromium``; skipped with a message when there is none), the equations
  of a lecture page are typeset by the book's own MathJax and the search page finds the given phrase.

Exit status 0 when everything holds, 1 with one line per problem otherwise.
"""
from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import unquote, urlparse

sys.path.insert(0, str(Path(__file__).resolve().parent))
from course_links import REPO_ROOT, CourseConfig, load_config  # noqa: E402

_LINK = re.compile(r'<(?:a|link)\b[^>]*\bhref="([^"]*)"', re.IGNORECASE)
_SOURCE = re.compile(r'<(?:img|script)\b[^>]*\bsrc="([^"]*)"', re.IGNORECASE)
_LAUNCH = re.compile(r'href="(https://(?:colab\.research\.google\.com|mybinder\.org)[^"]*)"')
BROWSER_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--virtual-time-budget=20000",
]  # fmt: skip


def pages(site: Path) -> list[Path]:
    """The book's HTML pages (Sphinx's own source copies and static folder excluded)."""
    skip = {"_static", "_sources", "_images"}
    return sorted(p for p in site.rglob("*.html") if not skip & set(p.relative_to(site).parts))


def _local_target(page: Path, url: str) -> Path | None:
    """The file a relative URL of ``page`` points to, or None for an external or in-page link."""
    parsed = urlparse(url)
    if parsed.scheme or url.startswith(("#", "//", "mailto:", "javascript:", "data:")) or not parsed.path:
        return None
    return (page.parent / unquote(parsed.path)).resolve()


def check_links(site: Path) -> list[str]:
    """Every internal link, stylesheet, image and script resolves; no script is loaded from the network."""
    problems = []
    for page in pages(site):
        text = page.read_text(encoding="utf-8", errors="replace")
        for url in _LINK.findall(text) + _SOURCE.findall(text):
            target = _local_target(page, url)
            if target is not None and not target.exists():
                problems.append(f"{page.relative_to(site)}: broken link {url}")
        for url in re.findall(r'<script\b[^>]*\bsrc="(https?://[^"]*)"', text):
            problems.append(f"{page.relative_to(site)}: loads a script from the network ({url})")
    return problems


def check_cards(site: Path, expected: int | None = None) -> list[str]:
    """Each topic card of the front page has a picture that exists."""
    index = (site / "index.html").read_text(encoding="utf-8")
    cards = re.findall(r'<div class="sd-card [^"]*"[^>]*>(.*?)<div class="sd-card-body', index, re.DOTALL)
    problems = [] if cards else ["index.html: no topic cards"]
    if expected is not None and len(cards) != expected:
        problems.append(f"index.html: {len(cards)} topic cards, expected {expected}")
    for i, card in enumerate(cards, 1):
        images = _SOURCE.findall(card)
        if not images or not all((site / unquote(src)).is_file() for src in images):
            problems.append(f"index.html: card {i} has no picture")
    return problems


def check_launch_links(site: Path, config: CourseConfig) -> list[str]:
    """Every Colab/Binder/JupyterHub link names the configured repository and branch."""
    problems, found = [], 0
    for page in pages(site):
        for url in _LAUNCH.findall(page.read_text(encoding="utf-8", errors="replace")):
            found += 1
            url = unquote(url.replace("&amp;", "&"))
            if config.slug not in url or config.branch not in url:
                problems.append(f"{page.relative_to(site)}: launch link {url} is not {config.slug}@{config.branch}")
    return problems + ([] if found else ["no Colab or Binder launch link anywhere in the book"])


def browser() -> str | None:
    """Debian's Chromium, or None."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    return None


def dump_dom(url: str, chromium: str) -> str:
    """The page's DOM after its scripts ran, in headless Chromium with no network."""
    with tempfile.TemporaryDirectory() as profile:
        result = subprocess.run(
            [chromium, *BROWSER_FLAGS, f"--user-data-dir={profile}", "--dump-dom", url],
            capture_output=True, text=True, timeout=180,
        )  # fmt: skip
    return result.stdout


def check_in_browser(site: Path, phrase: str, chromium: str) -> list[str]:
    """Equations typeset on every page that has them (first three checked) and the search finds ``phrase``."""
    problems = []
    with_math = [p for p in pages(site) if 'class="math notranslate' in p.read_text(encoding="utf-8")][:3]
    if not with_math:
        problems.append("no page with equations")
    for page in with_math:
        expected = page.read_text(encoding="utf-8").count('class="math notranslate')
        dom = dump_dom(page.as_uri(), chromium)
        typeset = dom.count("<mjx-container")
        errors = dom.count('<g data-mml-node="merror"') + dom.count("Math Processing Error")
        if typeset < expected or errors:
            problems.append(f"{page.relative_to(site)}: MathJax typeset {typeset} of {expected} equations, "
                            f"{errors} errors")
    dom = dump_dom((site / "search.html").as_uri() + "?q=" + phrase.replace(" ", "+"), chromium)
    if not re.search(r"found [1-9]\d* pages? matching", dom):
        problems.append(f'search.html: searching "{phrase}" found nothing')
    return problems


def check_book(site: Path, *, phrase: str, config: CourseConfig | None = None, cards: int | None = None,
               use_browser: bool = True) -> list[str]:
    """All of the checks above; returns the problems (empty when the book holds)."""
    site = Path(site).resolve()
    if not (site / "index.html").is_file():
        return [f"no book at {site}: build it with `make run`"]
    problems = check_links(site) + check_cards(site, cards) + check_launch_links(site, config or load_config())
    chromium = browser() if use_browser else None
    if chromium is None and use_browser:
        print("note: no Chromium here (apt-get install chromium): equations and search not checked in a browser")
    elif chromium is not None:
        problems += check_in_browser(site, phrase, chromium)
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("site", nargs="?", type=Path, default=REPO_ROOT / "build" / "site")
    parser.add_argument("--search", default="guided backpropagation")
    args = parser.parse_args(argv)
    lectures = len(list((REPO_ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")))
    problems = check_book(args.site, phrase=args.search, cards=lectures)
    for problem in problems:
        print(f"book: {problem}", file=sys.stderr)
    print(f"Book check: {'OK' if not problems else f'{len(problems)} problems'} ({len(pages(args.site))} pages)")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
