"""No asset from the network: the Center's intranet has no CDN and no Internet access.

Every template, stylesheet, script and SVG under src/govcenter (our own and the vendored
libraries) is scanned for absolute URLs. Comments are stripped first (licence headers name
their project's web site); what remains must be one of a short list of strings that are
never fetched — each entry says why.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.contrib.staticfiles import finders

import govcenter

PACKAGE = Path(govcenter.__file__).resolve().parent
VENDOR = PACKAGE / "core" / "static" / "vendor"
SCANNED_SUFFIXES = {".html", ".txt", ".css", ".js", ".mjs", ".svg"}

# XML namespace names: identifiers compared as strings, never dereferenced.
XML_NAMESPACES = {
    "http://www.w3.org/2000/svg",
    "http://www.w3.org/1999/xlink",
    "http://www.w3.org/2000/xmlns/",
    "http://www.w3.org/XML/1998/namespace",
}
# (file name, URL) pairs left after comment stripping, each a string that is not loaded.
ALLOWED = {
    # Text of the TypeError Bootstrap throws when Popper is missing (Popper is bundled).
    ("tabler.min.js", "https://popper.js.org/docs/v2/"),
}

URL = re.compile(r"""(?:https?:)?//[A-Za-z0-9.-]+\.[A-Za-z]{2,}[^\s"'`<>)\\]*""")
ABSOLUTE = re.compile(r"""https?://[^\s"'`<>)\\]+""")
# Places where a protocol-relative URL ("//cdn.example.com/x.js") would be fetched.
PROTOCOL_RELATIVE_LOAD = re.compile(
    r"""(?:\b(?:src|href|action|poster|data)\s*=\s*["']?|url\(\s*["']?|@import\s+["']|\bimport\s*\(\s*["']|fetch\(\s*["'])//[A-Za-z0-9]""",
    re.IGNORECASE,
)


def _strip_comments(text: str, suffix: str) -> str:
    if suffix in {".css", ".js", ".mjs"}:
        # Block comments only: "//" line comments cannot be told from "https://" safely in
        # minified code, so they stay and their URLs must be on the allow-list.
        text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    if suffix in {".html", ".txt", ".svg"}:
        text = re.sub(r"<!--.*?-->", " ", text, flags=re.S)
        text = re.sub(r"\{#.*?#\}", " ", text, flags=re.S)
        text = re.sub(r"\{%\s*comment\s*%\}.*?\{%\s*endcomment\s*%\}", " ", text, flags=re.S)
    return text


def offending_urls(text: str, name: str, suffix: str) -> list[str]:
    """The URLs in one file that could make a browser fetch from another host."""
    code = _strip_comments(text, suffix)
    bad = []
    for url in ABSOLUTE.findall(code):
        url = url.rstrip(".,;")
        if url in XML_NAMESPACES or (name, url) in ALLOWED:
            continue
        bad.append(url)
    bad.extend(m.group(0) for m in PROTOCOL_RELATIVE_LOAD.finditer(code))
    return bad


def _asset_files() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*") if p.is_file() and p.suffix in SCANNED_SUFFIXES)


def test_scanner_finds_the_kinds_of_url_that_would_load():
    assert offending_urls('<script src="https://cdn.example.com/a.js"></script>', "x.html", ".html")
    assert offending_urls('<link href="//cdn.example.com/a.css">', "x.html", ".html")
    assert offending_urls("@import url(https://fonts.googleapis.com/css?family=Inter);", "x.css", ".css")
    assert offending_urls("a{background:url(//img.example.com/x.png)}", "x.css", ".css")
    assert offending_urls('fetch("https://api.example.com/x")', "x.js", ".js")
    assert offending_urls('e.src="http://example.org/t.gif"', "tabler.min.js", ".js")
    # …and lets through what is never fetched.
    assert not offending_urls("/*! Tabler (https://tabler.io) */ a{}", "x.css", ".css")
    assert not offending_urls('<svg xmlns="http://www.w3.org/2000/svg"></svg>', "x.svg", ".svg")
    assert not offending_urls('{# see https://docs.djangoproject.com #}<p></p>', "x.html", ".html")
    assert not offending_urls('<a href="/static/x.css">', "x.html", ".html")


def test_there_are_assets_to_scan():
    files = {p.relative_to(PACKAGE).as_posix() for p in _asset_files()}
    for expected in (
        "core/templates/core/base.html",
        "core/static/vendor/tabler/tabler.min.css",
        "core/static/vendor/tabler/tabler.min.js",
        "core/static/vendor/htmx/htmx.min.js",
        "core/static/vendor/echarts/echarts.min.js",
        "core/static/core/js/district-map.js",
        "core/static/core/css/shell.css",
    ):
        assert expected in files


@pytest.mark.parametrize("path", _asset_files(), ids=lambda p: p.relative_to(PACKAGE).as_posix())
def test_no_network_url_in_asset(path: Path):
    text = path.read_text(encoding="utf-8", errors="replace")
    assert offending_urls(text, path.name, path.suffix) == []


def test_comment_stripping_hides_little():
    """Block-comment stripping must not swallow code (e.g. a "/*" inside a JS string)."""
    for path in VENDOR.rglob("*.js"):
        text = path.read_text(encoding="utf-8", errors="replace")
        assert len(text) - len(_strip_comments(text, ".js")) < 0.01 * len(text) + 2000, path


def test_allow_list_entries_are_still_needed():
    """An entry whose file no longer holds the URL should be removed, keeping the list honest."""
    by_name = {}
    for path in _asset_files():
        by_name.setdefault(path.name, []).append(path)
    for name, url in ALLOWED:
        assert any(url in p.read_text(encoding="utf-8", errors="replace") for p in by_name.get(name, [])), (name, url)


def test_no_web_font_or_css_import():
    for path in PACKAGE.rglob("*.css"):
        code = _strip_comments(path.read_text(encoding="utf-8", errors="replace"), ".css")
        assert "@import" not in code, path
        assert "@font-face" not in code or "url(" not in code.split("@font-face", 1)[1].split("}", 1)[0], path


def test_every_vendored_library_has_its_licence_and_a_readme_row():
    readme = (VENDOR / "README.md").read_text(encoding="utf-8")
    libraries = [p for p in VENDOR.iterdir() if p.is_dir()]
    assert {p.name for p in libraries} >= {"tabler", "htmx", "echarts", "tabler-icons"}
    for library in libraries:
        assert (library / "LICENSE").is_file(), library
        assert f"`{library.name}/`" in readme, library.name
    assert not list(VENDOR.rglob("*.map")), "source maps are not shipped"


def test_every_static_reference_in_templates_exists():
    pattern = re.compile(r"""\{%\s*static\s+["']([^"']+)["']\s*%\}""")
    referenced = set()
    for template in PACKAGE.rglob("templates/**/*.html"):
        referenced |= set(pattern.findall(template.read_text(encoding="utf-8")))
    assert referenced
    missing = sorted(path for path in referenced if finders.find(path) is None)
    assert missing == []


def test_vendored_total_size_is_reasonable():
    total = sum(p.stat().st_size for p in VENDOR.rglob("*") if p.is_file())
    assert total < 3_000_000, total
