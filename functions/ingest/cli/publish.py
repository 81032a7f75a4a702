"""``ingest publish``: a file of events to a Pub/Sub topic, batched and gzipped as the functions
read them best (ingest.publish). NDJSON or a JSON array, plain or gzip, or ``-`` for stdin."""

from __future__ import annotations

import gzip
import sys
from collections.abc import Iterator
from typing import IO

import click
import orjson

from ingest.cli.files import settings_or_exit
from ingest.gzipstream import is_gzip
from ingest.publish import DEFAULT_RECORDS, EventTooLarge, Publisher, PublishFailed

PROGRESS_EVERY = 100_000


def _lines(stream: IO[bytes]) -> Iterator[tuple[int, bytes]]:
    """(line number, JSON document): NDJSON lines, or the elements of a JSON array."""
    head = stream.peek(2)[:2] if hasattr(stream, "peek") else b""
    if is_gzip(head):
        stream = gzip.GzipFile(fileobj=stream)  # type: ignore[assignment]
    first = b""
    for number, line in enumerate(stream, 1):
        if not first and line.strip():
            first = line.lstrip()
            if first.startswith(b"["):  # a JSON array: read whole
                rest = line + stream.read()
                for index, element in enumerate(orjson.loads(rest), 1):
                    yield index, orjson.dumps(element)
                return
        if line.strip():
            yield number, line


@click.command("publish")
@click.argument("file", type=click.File("rb"))
@click.option("--topic", required=True, help="Topic name (in the settings' project) or projects/P/topics/T.")
@click.option("--batch", "max_records", default=DEFAULT_RECORDS, show_default=True, help="Events per message at most.")
@click.option("--max-latency", default=0.5, show_default=True, help="Seconds an event may wait for its message.")
@click.option("--gzip/--no-gzip", "use_gzip", default=True, show_default=True, help="gzip each message.")
def publish_command(file: IO[bytes], topic: str, max_records: int, max_latency: float, use_gzip: bool) -> None:
    """Publish the events of FILE to TOPIC, many per message. Exit 1 when some lines could not be
    published (each is named on stderr), 2 on a usage or configuration error."""
    settings = settings_or_exit()
    path = topic if topic.startswith("projects/") else f"projects/{settings.project}/topics/{topic}"
    try:
        publisher = Publisher(path, settings=settings, max_records=max_records, max_latency=max_latency,
                              gzip=use_gzip)
    except ValueError as error:
        click.echo(f"error: {error}", err=True)
        sys.exit(2)
    problems = 0
    stream = file.buffer if hasattr(file, "buffer") else file  # type: ignore[union-attr]
    try:
        for count, (number, line) in enumerate(_lines(stream), 1):
            try:
                orjson.loads(line)  # a line that is not JSON is the file's problem, named here
                publisher.add(line)
            except (EventTooLarge, orjson.JSONDecodeError) as error:
                problems += 1
                click.echo(f"line {number}: {error}", err=True)
            if count % PROGRESS_EVERY == 0:
                click.echo(f"{count} lines read, {publisher.summary.messages} messages sent", err=True)
        summary = publisher.flush()
    except orjson.JSONDecodeError as error:
        click.echo(f"error: not a valid JSON array: {error}", err=True)
        sys.exit(1)
    except (OSError, EOFError) as error:
        click.echo(f"error: {error}", err=True)
        sys.exit(1)
    except PublishFailed as error:
        click.echo(f"error: {error}", err=True)
        sys.exit(1)
    click.echo(f"published {summary.events} events in {summary.messages} messages: {summary.bytes_in} bytes, "
               f"{summary.bytes_out} after gzip" if use_gzip else
               f"published {summary.events} events in {summary.messages} messages: {summary.bytes_out} bytes")
    if problems:
        click.echo(f"{problems} lines not published", err=True)
        sys.exit(1)
