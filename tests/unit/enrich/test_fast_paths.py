"""The shortcuts of the URL rules give exactly what the full rules give, on random and hostile URLs.

``path_of`` slices http(s) URLs without ``urlsplit``, and ``aggregate_path`` keeps the path words it
has seen: the first must give what ``urlsplit`` gives, the second what it gave before it learnt
(its outcomes are pinned by ``tests/support/recorded_outcomes.py``) and the same once its words are learnt.

``url_base`` keys the path cache on the URL without its query, and ``may_declare_origin`` skips
parsing URLs that cannot carry an origin parameter: both must be invisible in the result.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from ingest.enrich import origin
from ingest.enrich.urls import aggregate_path, path_of, url_base, url_path_extract

SITE = frozenset({"passculture.pro"})
_path = url_path_extract.__wrapped__  # type: ignore[attr-defined]
_url_origin = origin._url_origin.__wrapped__  # type: ignore[attr-defined]
_referrer_origin = origin._referrer_origin

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
@example("https://passculture.pro/?xt\ror=EPR-14234", None)
@example("https://passculture.pro/?gcl\nid=Cj0KCQiA", None)
@example("https://passculture.pro/#xtor=EPR-1", None)
@example("https://passculture.pro/?fbclid=IwAR1", "https://www.google.fr/")
def test_an_origin_is_never_skipped(url: str, referrer: str | None) -> None:
    if not origin.may_declare_origin(url):
        assert _url_origin(url) is None
    assert origin.compute_origin(url, referrer, SITE) == (_url_origin(url) or _referrer_origin(referrer, SITE))


_SEGMENT = st.one_of(_PIECES, st.sampled_from(["offre", "individuelle", "A9KSA", "T-A9KSA", "T-", "0123", "\u0661\u0662",
                                               "\u00b2", "12ab", "a1b2c3d4-aaaa-bbbb-cccc-0123456789ab", "ABCDEFGHJKL"]))


@settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(urls, st.lists(_SEGMENT, max_size=10).map("/".join),
                 st.lists(_SEGMENT, max_size=10).map(lambda parts: "https://passculture.pro/" + "/".join(parts))))
@example("https://passculture.pro")
@example("HTTPS://passculture.pro/a/")
@example("https://[::1]/a")
@example("https://pass\tculture.pro/a")
@example("https://passculture.pro/a\nb?c")
@example("https://passculture.pro/\u00e9t\u00e9")
@example("https://user:pw@passculture.pro:8080/a/b?x#y")
def test_the_fast_path_and_its_aggregate_are_those_of_urlsplit_and_the_rules(url: str) -> None:
    try:
        expected = urlsplit(url).path.rstrip("/") or "/"
    except ValueError:
        expected = None
    assert path_of(url) == (expected if url else None)
    for path in (expected, url):
        first = aggregate_path(path)
        assert aggregate_path(path) == first  # once its words are learnt
