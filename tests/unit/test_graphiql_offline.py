"""The GraphiQL page must load all JS/CSS from our own server (government intranets have no internet)."""

import re

from office_api.graphiql import STATIC_DIR, STATIC_URL_PREFIX, graphiql_html, render_graphiql

_SRC_HREF_RE = re.compile(r"""\b(?:src|href)\s*=\s*["']([^"']*)["']""", re.IGNORECASE)
_TAG_RE = re.compile(r"<(?:script|link)\b[^>]*>", re.IGNORECASE)
_LOCAL_ASSET_RE = re.compile(re.escape(STATIC_URL_PREFIX) + r"/([A-Za-z0-9._-]+)")


def _script_and_link_urls(html: str) -> list[str]:
    return [url for tag in _TAG_RE.findall(html) for url in _SRC_HREF_RE.findall(tag)]


def test_no_unpkg_or_remote_script_or_link():
    html = render_graphiql()
    assert "unpkg.com" not in html
    urls = _script_and_link_urls(html)
    assert urls, "expected <script src> / <link href> tags in the GraphiQL page"
    remote = [url for url in urls if url.lower().startswith(("https://", "http://", "//"))]
    assert remote == []


def test_sri_and_crossorigin_dropped_from_local_tags():
    for tag in _TAG_RE.findall(render_graphiql()):
        if STATIC_URL_PREFIX in tag:
            assert "integrity" not in tag.lower()
            assert "crossorigin" not in tag.lower()


def test_every_referenced_static_file_exists_and_is_non_empty():
    names = set(_LOCAL_ASSET_RE.findall(render_graphiql()))
    assert names == {
        "react.production.min.js",
        "react-dom.production.min.js",
        "js.cookie.min.js",
        "graphiql.min.css",
        "graphiql.min.js",
        "plugin-explorer.css",
        "plugin-explorer.umd.js",
    }
    for name in names:
        path = STATIC_DIR / name
        assert path.is_file(), f"missing vendored asset {path}"
        assert path.stat().st_size > 0, f"empty vendored asset {path}"


def test_graphiql_bundle_contains_graphiql():
    assert "GraphiQL" in (STATIC_DIR / "graphiql.min.js").read_text(encoding="utf-8")


def test_no_source_map_references_in_vendored_files():
    for path in STATIC_DIR.iterdir():
        if path.suffix in {".js", ".css"}:
            assert "sourceMappingURL" not in path.read_text(encoding="utf-8"), path.name


def test_licenses_file_present():
    text = (STATIC_DIR / "LICENSES.md").read_text(encoding="utf-8")
    for package in ("react", "react-dom", "js-cookie", "graphiql", "@graphiql/plugin-explorer"):
        assert f"`{package}`" in text
    assert "MIT" in text


def test_render_keeps_page_logic_and_is_cached():
    html = render_graphiql()
    assert "GraphiQL.createFetcher" in html
    assert "ReactDOM.createRoot" in html
    assert graphiql_html() is graphiql_html()
    assert render_graphiql(subscription_enabled=False, replace_variables=False).startswith("<!doctype html>")
