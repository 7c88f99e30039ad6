"""Offline GraphiQL page: serve GraphiQL's JS/CSS from our own server instead of unpkg.com.

Strawberry's GraphiQL template (``strawberry/static/graphiql.html``) loads React, ReactDOM,
js-cookie, GraphiQL and the GraphiQL explorer plugin from ``https://unpkg.com``. Government
intranets have no internet access, so with the stock template the page at ``/graphql`` stays at
"Loading..." forever. This module vendors those exact files under ``office_api/static/graphiql/``
(see ``LICENSES.md`` there: same npm packages and versions, with only the source-map comments
removed) and rewrites strawberry's own template to point at them:

* every unpkg URL becomes ``/static/graphiql/<file>`` (:data:`STATIC_URL_PREFIX`);
* the ``integrity="..."`` (SRI) and ``crossorigin`` attributes of those tags are dropped, because
  the files come from our own origin and the SRI hashes would break if a file ever differed
  by even one byte.

The template is read from the installed strawberry package (located via ``strawberry.__file__``)
so that strawberry's own page logic stays in use. If a strawberry upgrade starts loading a URL we
do not vendor, :func:`graphiql_html` raises :class:`RuntimeError` rather than serving a page that
silently needs the internet. The test ``tests/unit/test_graphiql_offline.py`` catches this early.

Serving ``STATIC_DIR`` at ``STATIC_URL_PREFIX`` (for example with
``app.mount(STATIC_URL_PREFIX, StaticFiles(directory=STATIC_DIR))``) and returning
:func:`render_graphiql` for the IDE page is up to the application wiring. This module changes
nothing in the app.
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path

import strawberry

__all__ = [
    "STATIC_DIR",
    "STATIC_URL_PREFIX",
    "UNPKG_FILES",
    "graphiql_html",
    "render_graphiql",
    "strawberry_graphiql_template_path",
]

STATIC_DIR: Path = Path(__file__).resolve().parent / "static" / "graphiql"
STATIC_URL_PREFIX = "/static/graphiql"

# Exact unpkg URLs in strawberry-graphql 0.341.2's graphiql.html -> vendored file names in STATIC_DIR.
UNPKG_FILES: dict[str, str] = {
    "https://unpkg.com/react@18.2.0/umd/react.production.min.js": "react.production.min.js",
    "https://unpkg.com/react-dom@18.2.0/umd/react-dom.production.min.js": "react-dom.production.min.js",
    "https://unpkg.com/js-cookie@3.0.5/dist/js.cookie.min.js": "js.cookie.min.js",
    "https://unpkg.com/graphiql@3.8.3/graphiql.min.css": "graphiql.min.css",
    "https://unpkg.com/graphiql@3.8.3/graphiql.min.js": "graphiql.min.js",
    "https://unpkg.com/@graphiql/plugin-explorer@1.0.2/dist/style.css": "plugin-explorer.css",
    "https://unpkg.com/@graphiql/plugin-explorer@1.0.2/dist/index.umd.js": "plugin-explorer.umd.js",
}

# A whole <script ...> or <link ...> start tag (the template's tags span several lines).
_TAG_RE = re.compile(r"<(?:script|link)\b[^>]*>", re.IGNORECASE)
_URL_ATTR_RE = re.compile(r"""\b(src|href)\s*=\s*(["'])(https?://unpkg\.com/[^"']*)\2""", re.IGNORECASE)
# `integrity="sha384-..."` and `crossorigin` / `crossorigin="anonymous"` (value optional).
_INTEGRITY_RE = re.compile(r"""\s+integrity\s*=\s*(?:"[^"]*"|'[^']*'|[^\s>]+)""", re.IGNORECASE)
_CROSSORIGIN_RE = re.compile(r"""\s+crossorigin(?:\s*=\s*(?:"[^"]*"|'[^']*'|[^\s>]+))?(?=[\s/>])""", re.IGNORECASE)


def strawberry_graphiql_template_path() -> Path:
    """Path of the GraphiQL template shipped with the installed strawberry package."""
    return Path(strawberry.__file__).resolve().parent / "static" / "graphiql.html"


def _rewrite_tag(tag: str) -> str:
    match = _URL_ATTR_RE.search(tag)
    if match is None:
        return tag
    url = match.group(3)
    file_name = UNPKG_FILES.get(url)
    if file_name is None:
        raise RuntimeError(
            f"strawberry's graphiql.html loads {url!r}, which is not vendored in {STATIC_DIR}. "
            "The installed strawberry-graphql probably changed its GraphiQL assets: fetch the new "
            "files from npm, update UNPKG_FILES in office_api/graphiql.py and LICENSES.md."
        )
    attr, quote = match.group(1), match.group(2)
    local = f"{attr}={quote}{STATIC_URL_PREFIX}/{file_name}{quote}"
    tag = tag[: match.start()] + local + tag[match.end() :]
    tag = _INTEGRITY_RE.sub("", tag)
    return _CROSSORIGIN_RE.sub("", tag)


@functools.cache
def graphiql_html() -> str:
    """Strawberry's GraphiQL template with every unpkg asset pointed at ``/static/graphiql/``.

    Strawberry's template placeholders (if the installed version has any) are left intact.
    Use :func:`render_graphiql` for the final page.
    """
    template = strawberry_graphiql_template_path().read_text(encoding="utf-8")
    html = _TAG_RE.sub(lambda m: _rewrite_tag(m.group(0)), template)
    if "unpkg.com" in html:
        raise RuntimeError(
            "strawberry's graphiql.html still references unpkg.com outside a <script>/<link> tag "
            "after rewriting; update office_api/graphiql.py for the installed strawberry-graphql."
        )
    return html


def render_graphiql(subscription_enabled: bool = True, replace_variables: bool = True) -> str:
    """The complete offline GraphiQL page, with strawberry's template substitutions applied.

    Same substitution as strawberry's ``get_graphql_ide_html`` in ``strawberry/http/ides.py``
    from the versions whose template had placeholders: if *replace_variables* is true,
    ``{{ SUBSCRIPTION_ENABLED }}`` becomes ``json.dumps(subscription_enabled)``. In
    strawberry-graphql 0.341.2, ``get_graphql_ide_html(graphql_ide=...)`` returns the file unchanged
    (the ``graphql_ide_html`` property of the views just calls it) and ``graphiql.html`` contains
    no placeholders. So on that version this returns :func:`graphiql_html` unchanged, whatever
    the arguments, and the page always sets up a subscription URL itself.
    """
    html = graphiql_html()
    if replace_variables:
        html = html.replace("{{ SUBSCRIPTION_ENABLED }}", json.dumps(subscription_enabled))
    return html
