"""Traffic origin of a page view (mediarithmics ``$origin`` rules) → ``traffic_*`` columns.

Precedence, first match wins: UTM parameters, then ``gclid``, then AT Internet ``xtor`` (all
read from ``page_location``), then ``page_referrer``: a known search engine, a known social
network, the site itself (internal navigation: no new origin), any other site, no referrer.

The URL part and the referrer part are cached separately, each on its own input: a landing URL
or a referrer repeats far more often than a (URL, referrer) pair does.
"""

from __future__ import annotations

from functools import lru_cache, partial
from typing import Callable, NamedTuple
from urllib.parse import SplitResult, parse_qsl, urlsplit

from ingest.enrich.cache import bounded_cache

ORIGIN_CACHE_SIZE = 8192
"""Distinct page URLs, and distinct referrers, kept with their origin (each of at most
``cache.MAX_KEY_CHARS``)."""

CHANNEL_DIRECT = "direct"
CHANNEL_ORGANIC = "organic"
CHANNEL_SOCIAL = "social"
CHANNEL_REFERRAL = "referral"
SOURCE_DIRECT = "(direct)"

_UTM_PARAMETERS = ("utm_source", "utm_medium", "utm_campaign", "utm_id", "utm_term", "utm_content")

XTOR_CHANNELS: dict[str, str] = {
    "SEC": "cpc",  # Sponsored links (paid search)
    "AD": "display",  # Advertising: banners, display and video ads
    "AL": "affiliate",  # Affiliation
    "EREC": "email",  # Email marketing: AT Internet's three email campaign types
    "EPR": "email",
    "ES": "email",
    "RSS": "rss",  # RSS feeds
}
"""AT Internet source code (the part of ``xtor`` before the first "-") → channel. Codes not
listed (custom sources CS1-CS8, on-site ads INT/PUB, typos) keep source and campaign id and get
no channel."""

_SEARCH_KEYWORD_PARAMETERS = ("q", "p", "text", "wd", "word", "query")
"""Where engines that still pass the query put it (Bing/Qwant q, Yahoo p, Yandex text, Baidu wd)."""

_SECOND_LEVEL_LABELS = frozenset({"co", "com", "org", "net", "gov", "edu", "ac", "ne", "or"})


class _Site(NamedTuple):
    channel: str
    name: str
    subdomains: bool = True
    """False when only the host itself (or www.) counts: mail.google.com is not Google search."""


_KNOWN_SITES: dict[str, _Site] = {
    # Keys are hosts; "*" stands for any public suffix (google.fr, google.co.uk...). Android
    # apps send "android-app://<package>/" as referrer, hence the package names.
    "google.*": _Site(CHANNEL_ORGANIC, "google", subdomains=False),
    "com.google.android.googlequicksearchbox": _Site(CHANNEL_ORGANIC, "google"),
    "bing.com": _Site(CHANNEL_ORGANIC, "bing"),
    "search.yahoo.*": _Site(CHANNEL_ORGANIC, "yahoo"),
    "duckduckgo.com": _Site(CHANNEL_ORGANIC, "duckduckgo"),
    "qwant.com": _Site(CHANNEL_ORGANIC, "qwant"),
    "ecosia.org": _Site(CHANNEL_ORGANIC, "ecosia"),
    "yandex.*": _Site(CHANNEL_ORGANIC, "yandex"),
    "ya.ru": _Site(CHANNEL_ORGANIC, "yandex"),
    "baidu.com": _Site(CHANNEL_ORGANIC, "baidu"),
    "search.brave.com": _Site(CHANNEL_ORGANIC, "brave"),
    "startpage.com": _Site(CHANNEL_ORGANIC, "startpage"),
    "search.lilo.org": _Site(CHANNEL_ORGANIC, "lilo"),
    "search.aol.com": _Site(CHANNEL_ORGANIC, "aol"),
    "ask.com": _Site(CHANNEL_ORGANIC, "ask"),
    "naver.com": _Site(CHANNEL_ORGANIC, "naver"),
    "seznam.cz": _Site(CHANNEL_ORGANIC, "seznam"),
    "facebook.com": _Site(CHANNEL_SOCIAL, "facebook"),
    "com.facebook.katana": _Site(CHANNEL_SOCIAL, "facebook"),
    "messenger.com": _Site(CHANNEL_SOCIAL, "messenger"),
    "instagram.com": _Site(CHANNEL_SOCIAL, "instagram"),
    "com.instagram.android": _Site(CHANNEL_SOCIAL, "instagram"),
    "linkedin.com": _Site(CHANNEL_SOCIAL, "linkedin"),
    "lnkd.in": _Site(CHANNEL_SOCIAL, "linkedin"),
    "com.linkedin.android": _Site(CHANNEL_SOCIAL, "linkedin"),
    "twitter.com": _Site(CHANNEL_SOCIAL, "twitter"),
    "x.com": _Site(CHANNEL_SOCIAL, "twitter"),
    "t.co": _Site(CHANNEL_SOCIAL, "twitter"),
    "com.twitter.android": _Site(CHANNEL_SOCIAL, "twitter"),
    "youtube.com": _Site(CHANNEL_SOCIAL, "youtube"),
    "youtu.be": _Site(CHANNEL_SOCIAL, "youtube"),
    "tiktok.com": _Site(CHANNEL_SOCIAL, "tiktok"),
    "com.zhiliaoapp.musically": _Site(CHANNEL_SOCIAL, "tiktok"),
    "pinterest.*": _Site(CHANNEL_SOCIAL, "pinterest"),
    "pin.it": _Site(CHANNEL_SOCIAL, "pinterest"),
    "snapchat.com": _Site(CHANNEL_SOCIAL, "snapchat"),
    "reddit.com": _Site(CHANNEL_SOCIAL, "reddit"),
    "threads.net": _Site(CHANNEL_SOCIAL, "threads"),
    "bsky.app": _Site(CHANNEL_SOCIAL, "bluesky"),
    "mastodon.social": _Site(CHANNEL_SOCIAL, "mastodon"),
    "tumblr.com": _Site(CHANNEL_SOCIAL, "tumblr"),
    "vk.com": _Site(CHANNEL_SOCIAL, "vk"),
    "whatsapp.com": _Site(CHANNEL_SOCIAL, "whatsapp"),
    "discord.com": _Site(CHANNEL_SOCIAL, "discord"),
    "t.me": _Site(CHANNEL_SOCIAL, "telegram"),
}


class Origin(NamedTuple):
    """The channel that brought a visit, in mediarithmics ``$origin`` vocabulary.

    A tuple so that it hashes in C: every event looks its columns up by origin."""

    channel: str | None = None
    source: str | None = None
    campaign_name: str | None = None
    campaign_id: str | None = None
    keywords: str | None = None
    creative_name: str | None = None
    gclid: str | None = None
    referral_path: str | None = None
    social_network: str | None = None


_DIRECT = Origin(channel=CHANNEL_DIRECT, source=SOURCE_DIRECT)


def _split(url: str) -> SplitResult | None:
    try:
        return urlsplit(url.strip())
    except ValueError:  # e.g. an unbalanced "[" in the host
        return None


def _parameters(query: str) -> dict[str, str]:
    """First non-blank value of each parameter, decoded and stripped."""
    values: dict[str, str] = {}
    for name, value in parse_qsl(query):
        if (value := value.strip()) and name not in values:
            values[name] = value
    return values


def _xtor_origin(xtor: str) -> Origin | None:
    """Reads ``EPR-14234-[label]-...`` as source EPR, campaign id 14234, channel from the table."""
    code, _, rest = xtor.partition("-")
    code = code.strip().upper()
    if not code:
        return None
    return Origin(
        channel=XTOR_CHANNELS.get(code),
        source=code,
        campaign_id=rest.partition("-")[0].strip() or None,
    )


@bounded_cache(ORIGIN_CACHE_SIZE)
def _url_origin(page_location: str | None) -> Origin | None:
    """The origin declared by the landing URL's parameters, if any."""
    parts = _split(page_location) if page_location else None
    if parts is None:
        return None
    params = _parameters(parts.query)
    gclid = params.get("gclid")
    if any(name in params for name in _UTM_PARAMETERS):
        return Origin(
            channel=params.get("utm_medium") or ("cpc" if gclid else None),
            source=params.get("utm_source") or ("google" if gclid else None),
            campaign_name=params.get("utm_campaign"),
            campaign_id=params.get("utm_id"),
            keywords=params.get("utm_term"),
            creative_name=params.get("utm_content"),
            gclid=gclid,
        )
    if gclid:
        return Origin(channel="cpc", source="google", gclid=gclid)
    # AT Internet documents xtor after "#" (kept out of search engines' indexes) or "?".
    xtor = params.get("xtor") or _parameters(parts.fragment).get("xtor")
    return _xtor_origin(xtor) if xtor else None


def _site_candidates(host: str) -> list[str]:
    """Keys to look up for a host, most specific first, each literal then with "*" as suffix.

    The public suffix is guessed as the last label, or the last two for "co.uk"-like ones.
    """
    labels = host.split(".")
    two_level = len(labels) > 2 and len(labels[-1]) == 2 and labels[-2] in _SECOND_LEVEL_LABELS
    suffix = 2 if two_level else 1
    candidates = []
    for start in range(len(labels) - suffix):
        candidates.append(".".join(labels[start:]))
        candidates.append(".".join(labels[start:-suffix]) + ".*")
    return candidates


def _known_site(host: str) -> _Site | None:
    for index, key in enumerate(_site_candidates(host)):
        site = _KNOWN_SITES.get(key)
        # The first two candidates are the host itself (literal and wildcard).
        if site is not None and (site.subdomains or index < 2):
            return site
    return None


def _is_internal(host: str, site_hosts: frozenset[str]) -> bool:
    return any(host == site or host.endswith("." + site) for site in site_hosts)


def _referrer_origin(page_referrer: str | None, site_hosts: frozenset[str]) -> Origin | None:
    """The origin told by the referrer; None when it is the site itself."""
    parts = _split(page_referrer) if page_referrer else None
    if parts is None or not parts.hostname:  # hostname: lower case, no port nor credentials
        return _DIRECT
    host = parts.hostname
    if _is_internal(host, site_hosts):
        return None
    host = host.removeprefix("www.")
    site = _known_site(host)
    if site is None:
        return Origin(channel=CHANNEL_REFERRAL, source=host, referral_path=parts.path or "/")
    if site.channel == CHANNEL_SOCIAL:
        return Origin(channel=CHANNEL_SOCIAL, source=site.name, social_network=site.name)
    params = _parameters(parts.query)
    keywords = next((params[name] for name in _SEARCH_KEYWORD_PARAMETERS if name in params), None)
    return Origin(channel=CHANNEL_ORGANIC, source=site.name, keywords=keywords)


def may_declare_origin(page_location: str) -> bool:
    """False when ``_url_origin`` is certainly None: most page URLs, including those made
    distinct by ``fbclid``, product ids or search terms, then cost a few substring scans (in C,
    ~5× cheaper than one regex search for the same marks) rather than a parse and a cache entry.

    A landing URL declares an origin only through a parameter named ``utm_*``, ``gclid`` or
    ``xtor``, which must then appear literally in it, unless percent-escaped or split by the tab
    and newline characters ``urlsplit`` deletes: a URL holding none of these declares none."""
    return ("utm_" in page_location or "gclid" in page_location or "xtor" in page_location
            or "%" in page_location or "\t" in page_location or "\n" in page_location or "\r" in page_location)


def compute_origin(
    page_location: str | None, page_referrer: str | None, site_hosts: frozenset[str]
) -> Origin | None:
    """The origin of a page view; None for internal navigation (the session's origin goes on).

    ``site_hosts`` are the tracked site's hosts, lower case; their subdomains count as the site.
    """
    declared = _url_origin(page_location) if page_location and may_declare_origin(page_location) else None
    return declared or _referrer_origins(site_hosts)(page_referrer)


@lru_cache(maxsize=4)
def _referrer_origins(site_hosts: frozenset[str]) -> Callable[[str | None], Origin | None]:
    """``_referrer_origin`` for one site, cached on the referrer (one site per process, in practice)."""
    return bounded_cache(ORIGIN_CACHE_SIZE)(partial(_referrer_origin, site_hosts=site_hosts))


def traffic_fields(origin: Origin | None) -> tuple[str | None, str | None, str | None]:
    """pass Culture's (traffic_campaign, traffic_medium, traffic_source) for an origin."""
    if origin is None:
        return None, None, None
    return origin.campaign_name or origin.campaign_id, origin.channel, origin.source
