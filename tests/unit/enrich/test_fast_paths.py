"""The shortcuts of the URL rules give exactly what the full rules give, on random and hostile URLs.

``url_base`` keys the path cache on the URL without its query, and ``may_declare_origin`` skips
parsing URLs that cannot carry an origin parameter: both must be invisible in the result.
"""

from __future__ import annotations

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from ingest.enrich import origin
from ingest.enrich.urls import url_base, url_path_extract

SITE = frozenset({"passculture.pro"})
_path = url_path_extract.__wrapped__  # type: ignore[attr-defined]
_url_origin = origin._url_origin.__wrapped__  # type: ignore[attr-defined]
_referrer_origin = origin._referrer_origin.__wrapped__  # type: ignore[attr-defined]

_PIECES = st.sampled_from([
    "https://", "http://", "HTTP://", "//", "android-app://", "mailto:", "javascript:", ":", " ", "\t", "\n", "\r",
    "\x00", "\x1f", "passculture.pro", "[::1]", "[", "]", "user:pw@", ":8080", "www.google.fr", "\uff03", "\u2100",
    "/", "/offre/", "A9KSA", "123", "?", "#", "&", "=", "+", "%", "%3F", "%23", "%75tm_source", "utm_source",
    "utm_medium", "utm\t_source", "utm_", "gclid", "gcl\nid", "gcl%69d", "fbclid", "xtor", "xt\ror", "EPR-14234",
    "q", "Cj0KCQiA", "é", "\u00a0", ";", "..",
])
urls = st.one_of(st.lists(_PIECES, max_size=14).map("".join), st.text(max_size=60))


@settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(urls)
@example("https://passculture.pro/a#b?c")
@example("https://passculture.pro/a?b#c/d")
@example("?x=1")
@example("#x")
@example("https://[::1?x]/p")
def test_the_path_of_the_url_base_is_the_path_of_the_url(url: str) -> None:
    assert _path(url_base(url) or url) == _path(url)


@settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(urls, st.one_of(st.none(), urls))
@example("https://passculture.pro/?utm_source=brevo", None)
@example("https://passculture.pro/?gcl%69d=x", None)
@example("https://passculture.pro/?utm\t_source=x", None)
@example("https://passculture.pro/#xtor=EPR-1", None)
@example("https://passculture.pro/?fbclid=IwAR1", "https://www.google.fr/")
def test_an_origin_is_never_skipped(url: str, referrer: str | None) -> None:
    if not origin.may_declare_origin(url):
        assert _url_origin(url) is None
    assert origin.compute_origin(url, referrer, SITE) == (_url_origin(url) or _referrer_origin(referrer, SITE))
