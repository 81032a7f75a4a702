"""User agent string → ``user_device_*`` and ``user_web_browser*`` columns.

Parsing is done by ``ua-parser`` (uap-core regexes) on its ua-parser-rs backend: ~30 µs a string,
so results are kept in an LRU cache keyed on the string; real traffic repeats a few thousand
agents, and a hit costs well under a microsecond.

Names are ua-parser's, unchanged ("Mac OS X", "Chrome Mobile", "Mobile Safari", "Samsung
Internet"...): they are documented by uap-core and stay stable across upgrades, whereas a
renaming table of ours would drift. docs/enrichment.md lists where they differ from GA4's.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Literal

import ua_parser

# Needs ua-parser-rs (pinned in functions/requirements.txt): the pure-Python one is ~40x slower.
from ua_parser.regex import Resolver

from ingest.enrich.cache import bounded_cache

UA_CACHE_SIZE = 8192
"""Parsed agents kept in memory; above the few thousand distinct agents of real traffic."""

DeviceCategory = Literal["desktop", "mobile", "tablet", "bot"]

_UNKNOWN_FAMILY = "Other"
"""The family of a default ua-parser result, i.e. when no regex matched."""

_AUTOMATION = re.compile(
    r"HeadlessChrome|Lighthouse|PhantomJS|Bytespider"
    r"|^(?:curl|Wget|python-|Go-http-client|Java/|okhttp|Apache-HttpClient|node-fetch|axios)",
    re.IGNORECASE,
)
"""Automated clients that uap-core does not put in its "Spider" device family."""

_TABLET_DEVICE_FAMILIES = frozenset({"iPad", "Generic Tablet"})
_TABLET_DEVICE_BRANDS = frozenset({"Generic_Android_Tablet"})
_PHONE_DEVICE_FAMILIES = frozenset(
    {"iPhone", "iPod", "Generic Smartphone", "Generic Feature Phone"}
)


@dataclass(frozen=True, slots=True)
class Device:
    """What the analyst columns need from a user agent; every field is None when unknown."""

    category: DeviceCategory | None
    operating_system: str | None
    operating_system_version: str | None
    browser: str | None
    browser_version: str | None


_NO_DEVICE = Device(None, None, None, None, None)


@cache
def _parser() -> ua_parser.Parser:
    """Built on first use (~0.2 s), not at import, so cold starts that parse nothing don't pay."""
    return ua_parser.Parser(Resolver(ua_parser.load_lazy_builtins()))


def _version(major: str | None, minor: str | None, patch: str | None) -> str | None:
    """Joins "major.minor.patch" up to the first missing part; patch_minor is dropped."""
    parts: list[str] = []
    for part in (major, minor, patch):
        if not part:
            break
        parts.append(part)
    return ".".join(parts) or None


def _family(family: str) -> str | None:
    return None if family == _UNKNOWN_FAMILY else family


def _category(ua: str, result: ua_parser.DefaultedResult) -> DeviceCategory:
    """Bot, then tablet, then phone, else desktop (consoles and TVs included)."""
    device, os = result.device, result.os
    if device.family == "Spider" or _AUTOMATION.search(ua):
        return "bot"
    if (
        device.family in _TABLET_DEVICE_FAMILIES
        or device.brand in _TABLET_DEVICE_BRANDS
        or device.family.startswith("Kindle")
        or "Silk/" in ua
        # Google's guidance: Android browsers send "Mobile" on phones only.
        or (os.family == "Android" and "Mobi" not in ua)
    ):
        return "tablet"
    # "Mobi" is the token MDN recommends for phones (Mobile, Opera Mobi...).
    if "Mobi" in ua or device.family in _PHONE_DEVICE_FAMILIES:
        return "mobile"
    return "desktop"


def parse_user_agent_uncached(ua: str | None) -> Device:
    """Device category, OS and browser of a user agent; all None for a missing or blank one."""
    if not ua or ua.isspace():
        return _NO_DEVICE
    result = _parser().parse(ua).with_defaults()
    browser, os = result.user_agent, result.os
    return Device(
        category=_category(ua, result),
        operating_system=_family(os.family),
        operating_system_version=_version(os.major, os.minor, os.patch),
        browser=_family(browser.family),
        browser_version=_version(browser.major, browser.minor, browser.patch),
    )


def make_user_agent_parser(
    cache_size: int | None = UA_CACHE_SIZE,
) -> Callable[[str | None], Device]:
    """A ``parse_user_agent`` with its own LRU cache of ``cache_size`` agents (None: unbounded), of
    at most ``cache.MAX_KEY_CHARS`` characters each."""
    if cache_size is None:
        return lru_cache(maxsize=None)(parse_user_agent_uncached)
    return bounded_cache(cache_size)(parse_user_agent_uncached)


parse_user_agent = make_user_agent_parser()
"""The process-wide cached parser the pipeline uses."""
