"""The reusable proof of data scope, for every list/detail/search/export of every module.

``assert_scoped`` drives a signed-in test client against a list URL (API JSON or UI
HTML, detected from the response) and proves that for the caller:

* every ``visible`` object is listed, and no ``hidden`` object is, on any page;
* the total count agrees with what is listed (and with ``expected_count`` if given),
  so a count computed without the scope is caught;
* a search for a hidden object's name (``search_param``) does not find it — while the
  same search for a visible object does, so the check is not vacuous;
* an export (``export_url``: CSV, JSON, text or Excel) never contains a hidden object;
* the detail of a hidden object is 404 — never 403, never 200 — and the detail of a
  visible object is 200.

``assert_requires_login`` proves the anonymous case: 401 with the API error body on
``/api/`` paths, a redirect to the login page elsewhere.

Example::

    assert_scoped(
        client=api_client_for(manager),
        list_url="/api/v1/units/",
        detail_url_for=lambda u: f"/api/v1/units/{u.pk}/",
        visible=[dongcheng_unit],
        hidden=[xicheng_unit],
        search_param="q",
    )
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterable
from html import unescape
from urllib.parse import urlencode, urljoin, urlsplit

MAX_PAGES = 200
_A_TAG = re.compile(r"<a\b[^>]*>", re.IGNORECASE)
_HREF = re.compile(r'href="([^"]*)"')
_TOTAL = re.compile(r'data-total-count="(\d+)"')


def _is_json(response) -> bool:
    return response.get("Content-Type", "").startswith("application/json")


def _with_query(url: str, **params) -> str:
    sep = "&" if "?" in url else "?"
    return f"{url}{sep}{urlencode(params)}"


def _next_html_page(url: str, html: str) -> str | None:
    for tag in _A_TAG.findall(html):
        if re.search(r'\brel="next"', tag):
            href = _HREF.search(tag)
            if href:
                return urljoin(url, unescape(href.group(1)))
    return None


class _Listing:
    """Everything a list endpoint shows across all its pages."""

    def __init__(self, client, url: str, count_key: str):
        self.json = None
        self.ids: list = []
        self.html = ""
        self.count: int | None = None
        pages = 0
        next_url: str | None = url
        while next_url:
            pages += 1
            assert pages <= MAX_PAGES, f"more than {MAX_PAGES} pages at {url}"
            response = client.get(next_url)
            assert response.status_code == 200, f"GET {next_url} → {response.status_code}"
            if _is_json(response):
                self.json = True
                data = response.json()
                results = data["results"] if isinstance(data, dict) and "results" in data else data
                self.ids += [row["id"] for row in results]
                if isinstance(data, dict) and count_key in data:
                    page_count = data[count_key]
                    assert self.count in (None, page_count), "the count changed between pages"
                    self.count = page_count
                next_url = data.get("next") if isinstance(data, dict) else None
                if next_url:
                    parts = urlsplit(next_url)
                    next_url = f"{parts.path}?{parts.query}"
            else:
                self.json = False
                html = response.content.decode()
                self.html += html
                total = _TOTAL.search(html)
                if total:
                    self.count = int(total.group(1))
                next_url = _next_html_page(next_url, html)
        if self.json:
            assert len(self.ids) == len(set(self.ids)), f"duplicate rows across pages at {url}"
            if self.count is not None:
                assert self.count == len(self.ids), (
                    f"count {self.count} ≠ {len(self.ids)} rows listed at {url}: the count ignores the scope"
                )

    def shows(self, obj, detail_url: str) -> bool:
        if self.json:
            return obj.pk in self.ids
        return f'href="{detail_url}"' in self.html


def _export_text(response) -> str:
    content_type = response.get("Content-Type", "")
    body = b"".join(response.streaming_content) if getattr(response, "streaming", False) else response.content
    if "spreadsheetml" in content_type or body[:2] == b"PK":
        from openpyxl import load_workbook

        workbook = load_workbook(io.BytesIO(body), read_only=True)
        cells = []
        for sheet in workbook.worksheets:
            for row in sheet.iter_rows(values_only=True):
                cells += [str(v) for v in row if v is not None]
        return "\n".join(cells)
    return body.decode("utf-8-sig", errors="replace")


def assert_scoped(
    *,
    client,
    list_url: str,
    detail_url_for: Callable[[object], str],
    visible: Iterable,
    hidden: Iterable,
    count_key: str = "count",
    expected_count: int | None = None,
    search_param: str | None = None,
    search_term_for: Callable[[object], str] = str,
    export_url: str | None = None,
    export_marker_for: Callable[[object], str] | None = None,
) -> None:
    """Prove the caller sees ``visible`` and never ``hidden`` (see the module docstring)."""
    visible, hidden = list(visible), list(hidden)
    assert hidden, "assert_scoped needs at least one hidden object, or it proves nothing"

    listing = _Listing(client, list_url, count_key)
    for obj in visible:
        assert listing.shows(obj, detail_url_for(obj)), f"{obj!r} (in scope) is missing from {list_url}"
    for obj in hidden:
        assert not listing.shows(obj, detail_url_for(obj)), f"{obj!r} (out of scope) is listed at {list_url}"
    if listing.count is not None:
        assert listing.count >= len(visible)
    if expected_count is not None:
        assert listing.count == expected_count, (
            f"count {listing.count} ≠ expected {expected_count} at {list_url}"
        )

    if search_param:
        if visible:
            term = search_term_for(visible[0])
            found = _Listing(client, _with_query(list_url, **{search_param: term}), count_key)
            assert found.shows(visible[0], detail_url_for(visible[0])), (
                f"searching {term!r} does not find {visible[0]!r}: the search check would prove nothing"
            )
        for obj in hidden:
            term = search_term_for(obj)
            found = _Listing(client, _with_query(list_url, **{search_param: term}), count_key)
            assert not found.shows(obj, detail_url_for(obj)), (
                f"searching {term!r} finds {obj!r} (out of scope)"
            )

    if export_url:
        marker = export_marker_for or search_term_for
        response = client.get(export_url)
        assert response.status_code == 200, f"GET {export_url} → {response.status_code}"
        text = _export_text(response)
        for obj in visible:
            assert marker(obj) in text, f"{obj!r} (in scope) is missing from the export {export_url}"
        for obj in hidden:
            assert marker(obj) not in text, f"{obj!r} (out of scope) is in the export {export_url}"

    for obj in hidden:
        url = detail_url_for(obj)
        response = client.get(url)
        assert response.status_code == 404, f"GET {url} (out of scope) → {response.status_code}, expected 404"
        if _is_json(response) or url.startswith("/api/"):
            body = response.json()
            assert body["code"] == "not_found" and set(body) == {"code", "message", "details"}, body
    for obj in visible:
        url = detail_url_for(obj)
        response = client.get(url)
        assert response.status_code == 200, f"GET {url} (in scope) → {response.status_code}, expected 200"


def assert_requires_login(client, url: str, *, login_path: str = "/accounts/login/") -> None:
    """Anonymous: API → 401 with ``{"code","message","details"}``; UI → redirect to login."""
    response = client.get(url)
    if url.startswith("/api/"):
        assert response.status_code == 401, f"GET {url} anonymously → {response.status_code}, expected 401"
        body = response.json()
        assert set(body) == {"code", "message", "details"} and body["code"] == "not_authenticated", body
    else:
        assert response.status_code == 302, (
            f"GET {url} anonymously → {response.status_code}, expected a redirect"
        )
        assert urlsplit(response["Location"]).path == login_path, response["Location"]
