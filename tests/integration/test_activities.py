"""The analyst layer end to end: hand-written events published through Pub/Sub to the served
functions, then the deduplicated views, the bot rule, the user_activity build
(schemas/user_activity/build.sql, as the scheduled query runs it) and pro_event_attributed,
all on the BigQuery emulator.

Times are Europe/Paris in November (UTC+1). The build runs "as of" RUN_TIME, so the window
(3 days back) and the session status are fixed whatever the day the tests run.
"""

from __future__ import annotations

import random
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

import orjson
import pytest

from tests.integration.conftest import CFG, eventually
from tools.activities import build
from tools.catalog import SqlSettings

PARIS = timezone(timedelta(hours=1))  # Europe/Paris in November, no DST change in these dates
RUN_TIME = datetime(2026, 11, 12, 12, 0, tzinfo=timezone.utc)
DESKTOP = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
SITE = "https://passculture.pro"
EMAIL_LANDING = f"{SITE}/offres?utm_source=brevo&utm_medium=email&utm_campaign=relance"


def _paris(day: int, hour: int, minute: int, second: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, second, tzinfo=PARIS)


def _event(name: str, user: str, at: datetime, page: str | None = None, referrer: str | None = None,
           **extra: Any) -> dict[str, Any]:
    event = {"event_name": name, "event_timestamp": int(at.timestamp() * 1_000_000), "user_pseudo_id": user,
             "platform": "WEB", "user_agent": DESKTOP, "privacy_info": {"analytics_storage": "Yes"},
             "page_location": page, "page_referrer": referrer, "page_title": f"title {name}"}
    return {**event, **extra}


def sequence(m: str) -> list[dict[str, Any]]:
    """The hand-written sequence; every user id starts with the run's marker m."""
    a, b, c, bot, e, f = (f"{m}-{k}" for k in ("a", "b", "c", "bot", "e", "f"))
    events = [
        # a: lands from an email campaign, navigates inside the site, reloads a page with no
        # referrer (direct: no origin signal), comes back from Google mid-visit (origin change),
        # logs in, then returns after just over 30 minutes through an internal link.
        _event("a1", a, _paris(10, 10, 0), EMAIL_LANDING),
        _event("a2", a, _paris(10, 10, 5), f"{SITE}/offre/individuelle/A9KSA/recapitulatif", f"{SITE}/offres"),
        _event("a3", a, _paris(10, 10, 34, 59), f"{SITE}/offres/collectives", f"{SITE}/offre/individuelle/A9KSA"),
        _event("a4", a, _paris(10, 10, 40), f"{SITE}/offres/collectives"),
        _event("a5", a, _paris(10, 10, 45), f"{SITE}/accueil", "https://www.google.fr/"),
        _event("a6", a, _paris(10, 10, 50), f"{SITE}/reservations", f"{SITE}/accueil", user_id="4242"),
        _event("a7", a, _paris(10, 11, 20, 1), f"{SITE}/reservations/12345", f"{SITE}/reservations"),
        # b: a visit across midnight (Paris), from a referring site.
        _event("b1", b, _paris(10, 23, 50), f"{SITE}/accueil", "https://www.lemonde.fr/culture/article.html"),
        _event("b2", b, _paris(11, 0, 10), f"{SITE}/offres", f"{SITE}/accueil"),
        _event("b3", b, _paris(11, 0, 15), f"{SITE}/offres/collectives", f"{SITE}/offres"),
        # c: the iOS app, screens only.
        _event("c1", c, _paris(11, 14, 0), platform="IOS", firebase_screen="Home", page_title=None,
               user_agent=None),
        _event("c2", c, _paris(11, 14, 10), platform="IOS", firebase_screen="Offers", page_title=None,
               user_agent=None),
        # a crawler: kept in the raw table, never in activities.
        _event("bot1", bot, _paris(11, 9, 0), f"{SITE}/accueil", user_agent=GOOGLEBOT),
        # e: still browsing when the build runs (last event 10 minutes before RUN_TIME).
        _event("e1", e, RUN_TIME - timedelta(minutes=20), f"{SITE}/accueil", "https://www.qwant.com/"),
        _event("e2", e, RUN_TIME - timedelta(minutes=10), f"{SITE}/offres", f"{SITE}/accueil"),
    ]
    # f: one long visit whose serialized form exceeds seed 002's 8000 characters.
    events += [_event(f"f{i:02d}", f, _paris(11, 16, 0) + timedelta(seconds=20 * i),
                      f"{SITE}/offre/individuelle/{i}/informations", f"{SITE}/offres",
                      page_title="Une page au titre assez long pour remplir vite la liste des événements")
               for i in range(60)]
    return events


def _publish(publisher: Any, events: list[dict[str, Any]]) -> None:
    topic = publisher.topic_path(CFG.project, "tracking-events")
    futures = [publisher.publish(topic, orjson.dumps(event)) for event in events]
    for future in futures:
        future.result()


@pytest.fixture(scope="module")
def landed(functions: Any, publisher: Any, bq: Any, names: Any) -> dict[str, Any]:
    """The sequence published out of order, one message per event, a2 published twice; then a
    copy of a1's row written again, as a redelivery past BigQuery's insertId window would."""
    m = f"act-{uuid.uuid4().hex[:6]}"
    events = sequence(m)
    long_visit = [e for e in events if e["event_name"].startswith("f")]
    others = [e for e in events if not e["event_name"].startswith("f")]
    random.Random(10).shuffle(others)
    a2 = next(e for e in events if e["event_name"] == "a2")
    _publish(publisher, others + [a2])
    topic = publisher.topic_path(CFG.project, "tracking-events")
    publisher.publish(topic, orjson.dumps(long_visit)).result()

    table = f"{CFG.project}.{names.dataset}"

    def rows() -> list[dict[str, Any]]:
        return [dict(r) for r in bq.query(
            f"SELECT * FROM `{table}.pro_event` WHERE event_date >= '2026-11-01' "
            f"AND STARTS_WITH(user_pseudo_id, '{m}')").result()]

    landed_rows = eventually(lambda: (r := rows()) and len({x["row_id"] for x in r}) == len(events) and r, timeout=90)
    a1 = next(r for r in landed_rows if r["event_name"] == "a1")
    copy = {k: v for k, v in a1.items() if v is not None}
    copy |= {"ingested_at": (a1["ingested_at"] + timedelta(hours=2)).isoformat(),
             "ingestion_source": "pubsub://tracking-events/redelivered"}
    copy = orjson.loads(orjson.dumps(copy, default=str))
    assert bq.insert_rows_json(f"{table}.pro_event", [copy]) == []
    return {"m": m, "table": table, "events": events, "a1": a1}


def _activities(bq: Any, table: str, m: str) -> list[dict[str, Any]]:
    query = (f"SELECT * FROM `{table}.user_activity` WHERE STARTS_WITH(user_pseudo_id, '{m}') "
             f"ORDER BY user_pseudo_id, start_timestamp")
    return [dict(r) for r in bq.query(query).result()]


def _summary(activity: dict[str, Any], m: str) -> tuple:
    origin = activity["origin"]
    return (activity["user_pseudo_id"].removeprefix(f"{m}-"), activity["type"], activity["channel_id"],
            str(activity["activity_date"]), activity["start_timestamp"].astimezone(PARIS).strftime("%d %H:%M:%S"),
            activity["event_count"], activity["session_duration"], activity["session_status"],
            origin and (origin["channel"], origin["source"]), activity["user_id"],
            [e["event_name"] for e in activity["events"]][:4])


def test_deduplicated_view_keeps_the_first_copy_of_each_row(landed, bq):
    table, m = landed["table"], landed["m"]
    query = (f"SELECT row_id, COUNT(*) AS n, MIN(ingested_at) AS first FROM `{table}.{{}}` "
             f"WHERE event_date >= '2026-11-01' AND STARTS_WITH(user_pseudo_id, '{m}') GROUP BY row_id")
    raw = {r["row_id"]: r["n"] for r in bq.query(query.format("pro_event")).result()}
    assert raw[landed["a1"]["row_id"]] == 2, "the redelivered copy is in the raw table"
    deduplicated = list(bq.query(query.format("pro_event_deduplicated")).result())
    assert len(deduplicated) == len(landed["events"]) and {r["n"] for r in deduplicated} == {1}
    [a1] = bq.query(f"SELECT ingested_at, ingestion_source FROM `{table}.pro_event_deduplicated` "
                    f"WHERE event_date = '2026-11-10' AND row_id = '{landed['a1']['row_id']}'").result()
    assert a1["ingested_at"] == landed["a1"]["ingested_at"] and a1["ingestion_source"] != "pubsub://tracking-events/redelivered"


def test_bots_stay_in_the_table_and_out_of_the_humans_view(landed, bq):
    table, m = landed["table"], landed["m"]
    count = "SELECT COUNT(*) AS n FROM `{}` WHERE event_date >= '2026-11-01' AND user_pseudo_id = '" + f"{m}-bot'"
    assert next(iter(bq.query(count.format(f"{table}.pro_event_deduplicated")).result()))["n"] == 1
    assert next(iter(bq.query(count.format(f"{table}.pro_event_humans")).result()))["n"] == 0


@pytest.fixture(scope="module")
def built(landed, bq, names) -> list[dict[str, Any]]:
    build(bq, SqlSettings(project=CFG.project, dataset=names.dataset), RUN_TIME)
    return _activities(bq, landed["table"], landed["m"])


def test_activities_of_the_sequence_are_exactly_these(built, landed):
    assert [_summary(a, landed["m"]) for a in built] == [
        # email landing, internal navigation, a gap of 29:59, a reload without referrer: one visit
        ("a", "SITE_VISIT", "web", "2026-11-10", "10 10:00:00", 4, 2400, "CLOSED_SESSION", ("email", "brevo"), None,
         ["a1", "a2", "a3", "a4"]),
        # back from Google 5 minutes later: another origin, another activity; the login is kept
        ("a", "SITE_VISIT", "web", "2026-11-10", "10 10:45:00", 2, 300, "CLOSED_SESSION", ("organic", "google"),
         "4242", ["a5", "a6"]),
        # 30:01 without an event, then an internal link: a new activity with no origin
        ("a", "SITE_VISIT", "web", "2026-11-10", "10 11:20:01", 1, 0, "CLOSED_SESSION", None, None, ["a7"]),
        # across midnight in Paris: one activity, dated the day it started
        ("b", "SITE_VISIT", "web", "2026-11-10", "10 23:50:00", 3, 1500, "CLOSED_SESSION", ("referral", "lemonde.fr"),
         None, ["b1", "b2", "b3"]),
        ("c", "APP_VISIT", "ios", "2026-11-11", "11 14:00:00", 2, 600, "CLOSED_SESSION", ("direct", "(direct)"), None,
         ["c1", "c2"]),
        # the last event is 10 minutes before the run: the session is still open
        ("e", "SITE_VISIT", "web", "2026-11-12", "12 12:40:00", 2, 600, "IN_SESSION", ("organic", "qwant"), None,
         ["e1", "e2"]),
        ("f", "SITE_VISIT", "web", "2026-11-11", "11 16:00:00", 60, 1180, "CLOSED_SESSION", None, None,
         ["f00", "f01", "f02", "f03"]),
    ]
    assert sum(len(a["event_row_ids"]) for a in built) == len(landed["events"]) - 1, "every event but the bot's, once"


def test_an_activity_over_8000_characters_keeps_its_counts_and_a_truncated_event_list(built, bq, landed):
    [long_visit] = [a for a in built if a["user_pseudo_id"].endswith("-f")]
    kept = len(long_visit["events"])
    assert long_visit["events_truncated"] is True and 0 < kept < 60
    assert long_visit["event_count"] == 60 and len(long_visit["event_row_ids"]) == 60
    assert [e["event_name"] for e in long_visit["events"]] == [f"f{i:02d}" for i in range(kept)]
    assert 8000 - 250 < long_visit["serialized_length"] <= 8000, "as many events as fit"
    others = [a for a in built if a is not long_visit]
    assert not any(a["events_truncated"] for a in others)
    # serialized_length is what the activity's JSON measures (the fields the build serializes)
    [measured] = bq.query(
        f"SELECT LENGTH(TO_JSON_STRING(STRUCT(ts AS ts, type AS type, channel_id AS channel_id, "
        f"user_pseudo_id AS user_pseudo_id, user_id AS user_id, session_duration AS session_duration, "
        f"session_status AS session_status, origin AS origin, unique_key AS unique_key, events AS events))) AS n, "
        f"serialized_length FROM `{landed['table']}.user_activity` WHERE unique_key = '{long_visit['unique_key']}'"
    ).result()
    assert measured["n"] == measured["serialized_length"]


def test_unique_keys_are_version_1_uuids_of_the_activity_start(built):
    for activity in built:
        key = uuid.UUID(activity["unique_key"])
        assert key.version == 1 and key.variant == uuid.RFC_4122
        started = datetime(1582, 10, 15, tzinfo=timezone.utc) + timedelta(microseconds=key.time // 10)
        assert started == activity["start_timestamp"] and activity["ts"] == int(started.timestamp() * 1000)
    assert len({a["unique_key"] for a in built}) == len(built)


def test_rerunning_the_build_changes_nothing(built, bq, names, landed):
    settings = SqlSettings(project=CFG.project, dataset=names.dataset)
    for _ in range(2):
        build(bq, settings, RUN_TIME)
        assert _activities(bq, landed["table"], landed["m"]) == built


def test_events_carry_their_activity_and_its_origin(built, bq, landed):
    rows = list(bq.query(
        f"SELECT event_name, activity_unique_key, activity_type, activity_origin.source AS session_source, "
        f"traffic_source FROM `{landed['table']}.pro_event_attributed` "
        f"WHERE event_date >= '2026-11-01' AND STARTS_WITH(user_pseudo_id, '{landed['m']}-a')").result())
    by_name = {r["event_name"]: r for r in rows}
    assert len(rows) == 7, "one row per event: the duplicates are gone"
    first, second, third = (a["unique_key"] for a in built[:3])
    assert {n: by_name[n]["activity_unique_key"] for n in by_name} == {
        "a1": first, "a2": first, "a3": first, "a4": first, "a5": second, "a6": second, "a7": third}
    # the session's source is the email for the internal page view a2, whose own traffic_source is NULL
    assert (by_name["a2"]["session_source"], by_name["a2"]["traffic_source"]) == ("brevo", None)
    assert by_name["a4"]["traffic_source"] == "(direct)" and by_name["a4"]["session_source"] == "brevo"
    assert {r["activity_type"] for r in rows} == {"SITE_VISIT"}


def test_a_late_event_replaces_the_activity_it_belongs_to(functions, publisher, bq, names):
    m = f"late-{uuid.uuid4().hex[:6]}"
    table = f"{CFG.project}.{names.dataset}"
    settings = SqlSettings(project=CFG.project, dataset=names.dataset)
    first = [_event("g2", f"{m}-g", _paris(11, 9, 10), f"{SITE}/offres", "https://www.bing.com/"),
             _event("g3", f"{m}-g", _paris(11, 9, 20), f"{SITE}/offres/collectives", f"{SITE}/offres")]
    _publish(publisher, first)

    def landed(n: int) -> bool:
        query = (f"SELECT COUNT(*) AS n FROM `{table}.pro_event_deduplicated` WHERE event_date >= '2026-11-01' "
                 f"AND STARTS_WITH(user_pseudo_id, '{m}')")
        return next(iter(bq.query(query).result()))["n"] == n

    eventually(lambda: landed(2))
    build(bq, settings, RUN_TIME)
    [before] = _activities(bq, table, m)
    # g1 happened before g2 (same origin) but arrives after the build: the activity starts earlier
    _publish(publisher, [_event("g1", f"{m}-g", _paris(11, 9, 0), f"{SITE}/offres", "https://www.bing.com/")])
    eventually(lambda: landed(3))
    build(bq, settings, RUN_TIME)
    [after] = _activities(bq, table, m)
    assert [e["event_name"] for e in after["events"]] == ["g1", "g2", "g3"] and after["event_count"] == 3
    assert after["unique_key"] != before["unique_key"], "a new start is a new identity; the old row is gone"
    build(bq, settings, RUN_TIME)
    assert _activities(bq, table, m) == [after]


def test_a_late_event_extending_an_activity_into_the_window_replaces_it(functions, publisher, bq, names):
    """The window of RUN_TIME starts on the 9th at 00:00 (Paris). h's visit ended at 23:50 on the
    8th and was built by the previous day's run; a late event at 00:10 on the 9th extends it."""
    m = f"edge-{uuid.uuid4().hex[:6]}"
    table = f"{CFG.project}.{names.dataset}"
    settings = SqlSettings(project=CFG.project, dataset=names.dataset)

    def count(n: int) -> bool:
        query = (f"SELECT COUNT(*) AS n FROM `{table}.pro_event_deduplicated` WHERE event_date >= '2026-11-01' "
                 f"AND STARTS_WITH(user_pseudo_id, '{m}')")
        return next(iter(bq.query(query).result()))["n"] == n

    _publish(publisher, [_event("h1", f"{m}-h", _paris(8, 23, 40), f"{SITE}/offres", "https://www.bing.com/"),
                         _event("h2", f"{m}-h", _paris(8, 23, 50), f"{SITE}/accueil", f"{SITE}/offres")])
    eventually(lambda: count(2))
    build(bq, settings, RUN_TIME - timedelta(days=1))
    [before] = _activities(bq, table, m)
    _publish(publisher, [_event("h3", f"{m}-h", _paris(9, 0, 10), f"{SITE}/reservations", f"{SITE}/accueil")])
    eventually(lambda: count(3))
    build(bq, settings, RUN_TIME)
    [after] = _activities(bq, table, m)
    assert after["unique_key"] == before["unique_key"] and after["event_count"] == 3
    assert str(after["activity_date"]) == "2026-11-08" and after["session_duration"] == 1800
