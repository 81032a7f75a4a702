"""``page_location`` → ``url_path_extract`` (its path) and ``url_path_agg`` (the page type).

Both are cached on their input: a site has far fewer distinct pages than events, and urlsplit
plus the segment rules cost a few microseconds where a cache hit costs a fraction of one. Callers
key them on ``url_base`` rather than on the whole URL, whose query differs on every click id.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from ingest.enrich.cache import bounded_cache

URL_CACHE_SIZE = 8192
"""Distinct URLs (and paths) kept, each of at most ``cache.MAX_KEY_CHARS``; pages repeat far more
often than events do."""

ID_PLACEHOLDER = "{id}"
UUID_PLACEHOLDER = "{uuid}"

_NUMERIC_ID = re.compile(r"[0-9]+")
_HUMANIZED_ID = re.compile(r"[A-HJ-NP-Z2-9]{2,10}")
"""pass Culture's humanized ids: the id's bytes in base32 (A-Z, 2-7) with O→8 and I→9, no
padding, so 2 to 10 upper-case characters for ids below 2^48. Path words on the site are lower
case ("offres", "structures", "collectif"), which is what keeps them out."""
_TEMPLATE_PREFIX = "T-"
"""The portal writes a collective offer template's id as "T-<id>"; the prefix is kept because
templates and bookable offers are different pages."""
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def url_base(url: str) -> str:
    """The URL up to its first "?" or "#": ``urlsplit`` gives it the same scheme, host and path
    as the whole URL, so a path cache keyed on it still hits when click ids (``gclid``,
    ``fbclid``...) make every URL distinct. Empty when the URL starts with one of them."""
    return url.partition("?")[0].partition("#")[0]


@bounded_cache(URL_CACHE_SIZE)
def url_path_extract(url: str | None) -> str | None:
    """The URL's path without query, fragment or trailing slash ("/" for the root).

    Percent-escapes are kept as sent, so the value maps back to the URL unambiguously. None when
    there is no URL or it cannot be parsed.
    """
    if not url:
        return None
    try:
        path = urlsplit(url).path
    except ValueError:  # e.g. an unbalanced "[" in the host
        return None
    return path.rstrip("/") or "/"


def _is_id(segment: str) -> bool:
    return bool(_NUMERIC_ID.fullmatch(segment) or _HUMANIZED_ID.fullmatch(segment))


def _placeholder(segment: str) -> str:
    if _is_id(segment):
        return ID_PLACEHOLDER
    if segment.startswith(_TEMPLATE_PREFIX) and _is_id(segment.removeprefix(_TEMPLATE_PREFIX)):
        return _TEMPLATE_PREFIX + ID_PLACEHOLDER
    if _UUID.fullmatch(segment):
        return UUID_PLACEHOLDER
    return segment


@bounded_cache(URL_CACHE_SIZE)
def url_path_agg(path: str | None) -> str | None:
    """The path with its id segments replaced, so that all pages of one kind share a value.

    A segment made only of digits, or a pass Culture humanized id, becomes ``{id}`` (both name
    the same database ids, so old and new URLs of a page aggregate together), "T-<id>" becomes
    ``T-{id}``, a UUID becomes ``{uuid}``; any other segment is kept:
    "/offre/individuelle/A9KSA/recapitulatif" → "/offre/individuelle/{id}/recapitulatif".
    """
    if not path:
        return None
    return "/".join(_placeholder(segment) for segment in path.split("/"))
