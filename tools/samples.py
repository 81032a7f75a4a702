"""Sample traffic for the local run: realistic events, logs and partner files, some broken on purpose."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from typing import Any

USER_AGENTS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.6778.81 Mobile Safari/537.36",
    "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.6 Mobile/15E148 Safari/604.1",
]
PAGES = [
    "https://passculture.pro/accueil",
    "https://passculture.pro/offres?utm_source=brevo&utm_medium=email&utm_campaign=newsletter_novembre",
    "https://passculture.pro/offre/individuelle/A9KSA/recapitulatif",
    "https://passculture.pro/structures/AEWQ/lieux/BF9Q?xtor=EPR-14234",
    "https://passculture.pro/reservations?gclid=Cj0KCQiA",
    "https://passculture.pro/offres/collectives?page=2",
]
REFERRERS = [None, "https://www.google.fr/", "https://www.linkedin.com/feed/", "https://passculture.pro/accueil",
             "https://www.culture.gouv.fr/actualites"]
EVENT_NAMES = ["page_view", "hasClickedOffer", "hasClickedShowBooking", "screen_view", "hasDownloadedBookings"]


def event(rng: random.Random, moment: datetime, index: int) -> dict[str, Any]:
    consent = rng.choices(["Yes", "No", None], weights=[8, 1, 1])[0]
    session = 1763900000 + rng.randrange(50)
    record: dict[str, Any] = {
        "event_name": rng.choice(EVENT_NAMES),
        "event_timestamp": int(moment.timestamp() * 1_000_000) + index,
        "user_pseudo_id": f"{rng.randrange(10**9)}.{session}",
        "user_id": str(rng.randrange(1, 5000)) if rng.random() < 0.7 else None,
        "platform": "WEB",
        "user_agent": rng.choice(USER_AGENTS),
        "event_params": [
            {"key": "ga_session_id", "value": {"int_value": session}},
            {"key": "ga_session_number", "value": {"int_value": rng.randrange(1, 30)}},
            {"key": "page_location", "value": {"string_value": rng.choice(PAGES)}},
            {"key": "offerId", "value": {"int_value": rng.randrange(10**6)}},
            {"key": "venueId", "value": {"string_value": rng.choice(["BF9Q", "A9KSA", "CQ2E"])}},
            {"key": "firebase_screen", "value": {"string_value": rng.choice(["Home", "Offers", "Bookings"])}},
        ],
    }
    referrer = rng.choice(REFERRERS)
    if referrer:
        record["event_params"].append({"key": "page_referrer", "value": {"string_value": referrer}})
    if consent:
        record["privacy_info"] = {"analytics_storage": consent}
    return record


def events(count: int, seed: int = 7) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    start = datetime.now(timezone.utc) - timedelta(minutes=30)
    return [event(rng, start + timedelta(seconds=i), i) for i in range(count)]


def visits(users: int, seed: int = 17) -> list[dict[str, Any]]:
    """A few users browsing over the last two hours (landing page, then internal navigation, some
    coming back later), so that `make run` has activities of several events to show."""
    rng = random.Random(seed)
    start = datetime.now(timezone.utc) - timedelta(hours=2)
    out = []
    for user in range(users):
        moment = start + timedelta(minutes=rng.randrange(60))
        user_pseudo_id = f"visitor-{seed}-{user}"
        for _visit in range(rng.choice([1, 1, 2])):
            landing = rng.choice(PAGES)
            referrer = rng.choice(REFERRERS[:3] + REFERRERS[4:])
            for page in range(rng.randrange(2, 7)):
                record = event(rng, moment, page)
                record["user_pseudo_id"] = user_pseudo_id
                record["privacy_info"] = {"analytics_storage": "Yes"}
                record["event_params"] = [p for p in record["event_params"]
                                          if p["key"] not in ("page_location", "page_referrer")]
                record["page_location"] = landing if page == 0 else rng.choice(PAGES).split("?")[0]
                record["page_referrer"] = referrer if page == 0 else "https://passculture.pro/accueil"
                out.append(record)
                moment += timedelta(seconds=rng.randrange(20, 240))
            moment += timedelta(minutes=rng.randrange(35, 50))
    return out


def log_entries(count: int, seed: int = 11) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    now = datetime.now(timezone.utc)
    messages = ["Successfully updated stock", "Booking has been cancelled", "Offer has been created",
                "Stock update blocked because of price limitation", "Cookies consent", "Request completed"]
    out = []
    for i in range(count):
        message = messages[i % len(messages)]
        extra: dict[str, Any] = {"offer_id": rng.randrange(10**6), "venue_id": rng.randrange(10**5),
                                 "offerer_id": rng.randrange(10**5)}
        if "stock" in message.lower():
            extra |= {"stock_id": rng.randrange(10**6), "old_quantity": 10, "stock_quantity": 8,
                      "old_price": "12.50", "stock_price": "25.00"}
        if message == "Cookies consent":
            extra = {"analyticsSource": "app-pro", "deviceId": f"dev-{i}",
                     "choiceDatetime": now.isoformat().replace("+00:00", "Z"),
                     "consent": {"accepted": ["firebase"], "refused": ["hotjar"], "mandatory": ["session"]}}
        out.append({
            "insertId": f"local-{seed}-{i}",
            "timestamp": (now - timedelta(seconds=count - i)).isoformat().replace("+00:00", "Z"),
            "resource": {"type": "k8s_container", "labels": {"namespace_name": "production"}},
            "jsonPayload": {"message": message, "technical_message_id": message.lower().replace(" ", "_"),
                            "user_id": rng.randrange(1, 5000), "extra": extra},
        })
    return out


def userpilot_lines(count: int, seed: int = 13) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    now = datetime.now(timezone.utc)
    kinds = ["page_view", "interaction", "track", "session_start", "identify_user"]
    out = []
    for i in range(count):
        kind = kinds[i % len(kinds)]
        line: dict[str, Any] = {
            "app_token": "NX-local", "event_type": kind, "user_id": f"u-{rng.randrange(100)}", "source": "web-client",
            "inserted_at": (now - timedelta(minutes=i)).isoformat().replace("+00:00", "Z"),
            "hostname": "passculture.pro", "pathname": rng.choice(["/accueil", "/offres", "/reservations"]),
            "user_agent": rng.choice(USER_AGENTS), "country_code": "FR", "metadata": {},
        }
        if kind == "interaction":
            line["event_name"] = rng.choice(["checklist:2:SEEN", "experience:448:DISMISSED", "nps:1:SUBMITTED_SCORE"])
            line["metadata"] = {"interaction_id": "checklist_2", "status": "SEEN"}
        elif kind == "track":
            line["event_name"] = "clicked_create_offer"
        out.append(line)
    return out
