"""GA4-like pro_event events whose page URLs are mostly distinct (click ids, product ids, search
queries, distinct referrers), so that URL caches are not what a benchmark measures.
Deterministic by seed; built on tools.samples.event (the project's own generator)."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from typing import Any

from tools import samples

CLICK_IDS = ("gclid", "fbclid", "msclkid")
SEARCH_TERMS = ("theatre", "concert", "atelier", "musee", "cinema", "livre", "danse", "expo")
START = datetime(2026, 12, 1, tzinfo=timezone.utc)


def _click_id(rng: random.Random) -> str:
    return "".join(rng.choices("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-", k=48))


def page_location(rng: random.Random) -> str:
    """A pro-portal URL: a third carry a click id, many a product id or a search query."""
    kind = rng.random()
    if kind < 0.5:
        path = f"/offre/individuelle/{rng.randrange(10**7)}/recapitulatif"
    elif kind < 0.8:
        path = f"/offres?q={rng.choice(SEARCH_TERMS)}+{rng.randrange(10**5)}&page={rng.randrange(1, 9)}"
    else:
        path = rng.choice(samples.PAGES).removeprefix("https://passculture.pro")
    url = f"https://passculture.pro{path}"
    if rng.random() < 0.35:
        url += ("&" if "?" in url else "?") + f"{rng.choice(CLICK_IDS)}={_click_id(rng)}"
    return url


def event(rng: random.Random, index: int) -> dict[str, Any]:
    record = samples.event(rng, START + timedelta(milliseconds=137 * index), index)
    record["privacy_info"] = {"analytics_storage": "Yes"}  # every event pays for the full path
    params = [p for p in record["event_params"] if p["key"] not in ("page_location", "page_referrer")]
    params.append({"key": "page_location", "value": {"string_value": page_location(rng)}})
    referrer = rng.choice([None, f"https://www.google.fr/search?q={rng.randrange(10**6)}",
                           f"https://passculture.pro/offres?page={rng.randrange(200)}", "https://l.facebook.com/"])
    if referrer:
        params.append({"key": "page_referrer", "value": {"string_value": referrer}})
    params += [
        {"key": "page_title", "value": {"string_value": f"Offre {rng.randrange(10**6)} - pass Culture Pro"}},
        {"key": "engagement_time_msec", "value": {"int_value": rng.randrange(100, 90_000)}},
        {"key": "offerType", "value": {"string_value": rng.choice(["individual", "collective", "template"])}},
        {"key": "from", "value": {"string_value": rng.choice(["home", "offers", "bookings", "search"])}},
        {"key": "stockId", "value": {"int_value": rng.randrange(10**8)}},
        {"key": "price", "value": {"double_value": round(rng.uniform(0, 300), 2)}},
        {"key": "isEdition", "value": {"string_value": rng.choice(["true", "false"])}},
        {"key": "session_engaged", "value": {"string_value": "1"}},
        {"key": "offererId", "value": {"string_value": f"O{rng.randrange(10**6)}"}},
        {"key": "searchFilters", "value": {"string_value": "|".join(rng.sample(SEARCH_TERMS, 3))}},
        {"key": "batch_ordering_id", "value": {"int_value": rng.randrange(10**9)}},
        {"key": "batch_page_id", "value": {"int_value": rng.randrange(10**9)}},
        {"key": "venueName", "value": {"string_value": f"Librairie du quartier {rng.randrange(10**4)}"}},
        {"key": "collectiveOfferTemplateId", "value": {"int_value": rng.randrange(10**6)}},
        {"key": "bookingStatus", "value": {"string_value": rng.choice(["CONFIRMED", "USED", "CANCELLED"])}},
        {"key": "filterStatus", "value": {"string_value": rng.choice(["active", "expired", "draft", "all"])}},
    ]
    record["event_params"] = params
    return record


def events(count: int, seed: int = 12) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    return [event(rng, i) for i in range(count)]


def page_locations(values: list[dict[str, Any]]) -> list[str]:
    return [p["value"]["string_value"] for e in values for p in e["event_params"] if p["key"] == "page_location"]


def distinct_share(values: list[dict[str, Any]]) -> float:
    """Share of distinct page_location values: near 1 means URL caches mostly miss."""
    urls = page_locations(values)
    return len(set(urls)) / len(urls)
