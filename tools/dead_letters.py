"""Look at and replay the messages no invocation could finish, locally and in production.

  show SUBSCRIPTION            one JSON line per message held in a dead-letter hold subscription
                               (``<source>-dead-letter-hold``); the messages stay held
  replay SUBSCRIPTION --topic  publish each held message again (data and attributes as sent), and
                               acknowledge it in the hold subscription only once the topic took it
  discard SUBSCRIPTION         acknowledge what is held, printing it (after a re-run of its files)

The Pub/Sub client finds its endpoint as usual: PUBSUB_EMULATOR_HOST on the local stack,
Application Default Credentials in a project. (Files are re-run with ``ingest replay --force``.) The
project is --project, else GCP_PROJECT / GOOGLE_CLOUD_PROJECT. docs/runbook.md says when to use
which; replaying is safe because rows carry deterministic insertIds, but replay only once the cause
is fixed, or the messages come back to the hold subscription after every attempt.
"""

from __future__ import annotations

import argparse
import base64
import os
import sys
from datetime import datetime, timezone
from typing import Any, Iterator

import orjson
from google.api_core import exceptions as gexc
from google.cloud import pubsub_v1

DEAD_LETTER_ATTRIBUTES = "CloudPubSubDeadLetter"
"""Prefix of the attributes Pub/Sub adds when it forwards a message to a dead-letter topic."""
FIRST_PULL_S = 5.0
"""How long the first pull waits for a held message (a pull on an empty subscription waits this long)."""
NEXT_PULL_S = 2.0


def _project(explicit: str | None) -> str:
    project = explicit or os.environ.get("GCP_PROJECT") or os.environ.get("GOOGLE_CLOUD_PROJECT")
    if not project:
        raise SystemExit("error: no project: pass --project or set GCP_PROJECT")
    return project


def _held(subscriber: pubsub_v1.SubscriberClient, subscription: str, limit: int) -> Iterator[Any]:
    """Up to ``limit`` held messages, pulled (and so leased) until acknowledged or released."""
    remaining, timeout = limit, FIRST_PULL_S
    while remaining > 0:
        try:
            response = subscriber.pull(request={"subscription": subscription, "max_messages": min(remaining, 100)},
                                       timeout=timeout)
        except gexc.DeadlineExceeded:
            return
        if not response.received_messages:
            return
        remaining -= len(response.received_messages)
        timeout = NEXT_PULL_S
        yield from response.received_messages


def describe(received: Any) -> dict[str, Any]:
    """What an operator needs of one held message: where it failed, how often, and its bytes."""
    message = received.message
    attributes = dict(message.attributes)
    data = bytes(message.data)
    try:
        text, encoding = data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        text, encoding = base64.b64encode(data).decode("ascii"), "base64"
    return {
        "held_message_id": message.message_id,
        "source_subscription": attributes.get(f"{DEAD_LETTER_ATTRIBUTES}SourceSubscription"),
        "delivery_attempts": attributes.get(f"{DEAD_LETTER_ATTRIBUTES}SourceDeliveryCount"),
        "published_at": attributes.get(f"{DEAD_LETTER_ATTRIBUTES}SourceTopicPublishTime"),
        "attributes": {k: v for k, v in attributes.items() if not k.startswith(DEAD_LETTER_ATTRIBUTES)},
        "bytes": len(data),
        "data": text,
        "data_encoding": encoding,
    }


def show(project: str, subscription: str, limit: int) -> int:
    subscriber = pubsub_v1.SubscriberClient()
    path = subscriber.subscription_path(project, subscription)
    leased = []
    for received in _held(subscriber, path, limit):
        print(orjson.dumps(describe(received)).decode())
        leased.append(received.ack_id)
    if leased:  # release at once, so the next show or replay sees them again
        subscriber.modify_ack_deadline(request={"subscription": path, "ack_ids": leased, "ack_deadline_seconds": 0})
    print(f"{len(leased)} message(s) held in {subscription}", file=sys.stderr)
    return 0


def replay(project: str, subscription: str, topic: str, limit: int) -> int:
    """Only messages held before the replay started: one that fails again comes back to the hold
    subscription while this runs, and must wait for the next replay, not loop."""
    subscriber = pubsub_v1.SubscriberClient()
    publisher = pubsub_v1.PublisherClient()
    path, topic_path = subscriber.subscription_path(project, subscription), publisher.topic_path(project, topic)
    started = datetime.now(timezone.utc)
    replayed, newer = 0, []
    for received in _held(subscriber, path, limit):
        if received.message.publish_time >= started:
            newer.append(received.ack_id)
            continue
        attributes = {k: v for k, v in received.message.attributes.items() if not k.startswith(DEAD_LETTER_ATTRIBUTES)}
        new_id = publisher.publish(topic_path, bytes(received.message.data), **attributes).result()
        subscriber.acknowledge(request={"subscription": path, "ack_ids": [received.ack_id]})
        print(orjson.dumps({"held_message_id": received.message.message_id, "replayed_as": new_id,
                            "topic": topic}).decode())
        replayed += 1
    if newer:
        subscriber.modify_ack_deadline(request={"subscription": path, "ack_ids": newer, "ack_deadline_seconds": 0})
    print(f"{replayed} message(s) replayed from {subscription} to {topic}"
          + (f"; {len(newer)} dead-lettered again meanwhile, left held" if newer else ""), file=sys.stderr)
    return 0


def discard(project: str, subscription: str, limit: int) -> int:
    """Acknowledge what is held (once its content is safe elsewhere: a re-run file, a replay)."""
    subscriber = pubsub_v1.SubscriberClient()
    path = subscriber.subscription_path(project, subscription)
    started = datetime.now(timezone.utc)
    discarded, newer = 0, []
    for received in _held(subscriber, path, limit):
        if received.message.publish_time >= started:
            newer.append(received.ack_id)
            continue
        print(orjson.dumps(describe(received)).decode())
        subscriber.acknowledge(request={"subscription": path, "ack_ids": [received.ack_id]})
        discarded += 1
    if newer:
        subscriber.modify_ack_deadline(request={"subscription": path, "ack_ids": newer, "ack_deadline_seconds": 0})
    print(f"{discarded} message(s) discarded from {subscription}", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.dead_letters", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--project", help="default: GCP_PROJECT or GOOGLE_CLOUD_PROJECT")
    commands = parser.add_subparsers(dest="command", required=True)
    for name in ("show", "replay", "discard"):
        command = commands.add_parser(name)
        command.add_argument("subscription", help="a hold subscription, e.g. tracking-events-dead-letter-hold")
        command.add_argument("--limit", type=int, default=100)
        if name == "replay":
            command.add_argument("--topic", required=True, help="where the function reads, e.g. tracking-events")
    args = parser.parse_args(argv)
    project = _project(args.project)
    if args.command == "show":
        return show(project, args.subscription, args.limit)
    if args.command == "replay":
        return replay(project, args.subscription, args.topic, args.limit)
    return discard(project, args.subscription, args.limit)


if __name__ == "__main__":
    sys.exit(main())
