"""Streaming writes with insertAll: deterministic insertIds, batched requests, per-row errors.

Not the default: the Storage Write API (``sinks/storage_write.py``) is, being cheaper per GB and
one long-lived connection per instance. This sink stays selectable (``BIGQUERY_WRITE_PATH=insert_all``)
behind the same interface for a project where the Write API cannot be used; its insertIds keep a
redelivery out of the raw tables within BigQuery's dedupe window, which nothing relies on (analysts
read the deduplicated views). See docs/write-path.md.

Rows arrive already serialized (``prepare`` encodes each row inside its per-record guard, so a
value that cannot be written costs that record, not the request), and are framed here into
insertAll bodies instead of by ``Client.insert_rows_json`` (stdlib json: ~24 µs per row, as much
as the rest of the record path together); they are sent through the client's own authenticated,
retrying call, so credentials, endpoint and retry behave exactly as the public method's. The
integration tests exercise this against the emulator, which answers in BigQuery's own wording.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterator, Sequence

import orjson
import requests
from google.api_core import exceptions as gexc
from google.api_core.retry import Retry, if_exception_type
from google.cloud import bigquery

from ingest.errors import Reason, TransientError

_RETRYABLE = (gexc.InternalServerError, gexc.BadGateway, gexc.ServiceUnavailable, gexc.GatewayTimeout,
              gexc.TooManyRequests, requests.ConnectionError, requests.Timeout)


RowEncoder = Callable[[dict[str, Any], dict[str, Any], bytes], bytes]
"""(row, the columns its id left out, the row's canonical JSON) -> the bytes the sink sends.
``prepare`` calls it inside the per-record guard, so a value the sink cannot encode costs its record."""


def json_row(row: dict[str, Any], left_out: dict[str, Any], canonical: bytes) -> bytes:
    """insertAll's JSON: the canonical JSON is reused, only the left-out columns are encoded."""
    head = orjson.dumps(left_out)
    return head if canonical == b"{}" else head[:-1] + b"," + canonical[1:]


@dataclass(frozen=True)
class Rejection:
    """A row BigQuery refused; the rest of its batch landed."""

    insert_id: str
    reasons: list[Reason]


class BigQueryWriter:
    def __init__(self, client: bigquery.Client, dataset: str, max_rows: int, max_bytes: int,
                 timeout_s: float) -> None:
        self._client = client
        self._project = client.project
        self._dataset_id = dataset
        self._max_rows = max_rows
        self._max_bytes = max_bytes
        self._timeout_s = timeout_s
        self._retry = Retry(predicate=if_exception_type(*_RETRYABLE), initial=0.2, maximum=5.0,
                            timeout=timeout_s)

    def insert(self, table: str, rows: Sequence[tuple[str, bytes]]) -> list[Rejection]:
        """Write ``(insertId, JSON row)`` pairs; transient failures raise ``TransientError``."""
        rejections: list[Rejection] = []
        path = f"/projects/{self._project}/datasets/{self._dataset_id}/tables/{table}/insertAll"
        for ids, body in self.request_bodies(rows):
            try:
                response = self._client._call_api(
                    self._retry, span_name="BigQuery.insertRowsJson", span_attributes={"path": path},
                    method="POST", path=path, data=body, content_type="application/json",
                    timeout=self._timeout_s,
                )
            except (gexc.GoogleAPIError, requests.RequestException) as error:
                # Retryable errors exhausted the client's own retries; anything else (a
                # missing table, a permission) is an operator problem. Either way nothing of
                # this input may be acked: the message is retried, then lands in the
                # subscription's dead-letter topic where it can be replayed.
                raise TransientError(f"insert into {table} failed: {error}") from error
            for error in response.get("insertErrors", ()):
                reasons = [Reason(f"$.{e.get('location') or ''}".rstrip("."), e.get("message", ""))
                           for e in error.get("errors", []) if e.get("reason") != "stopped"]
                if reasons:
                    rejections.append(Rejection(ids[int(error["index"])], reasons))
        return rejections

    def request_bodies(self, rows: Sequence[tuple[str, bytes]]) -> Iterator[tuple[list[str], bytes]]:
        """insertAll bodies of at most ``max_rows`` rows and ``max_bytes`` bytes."""
        ids: list[str] = []
        parts: list[bytes] = []
        size = 0
        for insert_id, row in rows:
            part = b'{"insertId":"%b","json":%b}' % (insert_id.encode(), row)
            if parts and (len(parts) >= self._max_rows or size + len(part) > self._max_bytes):
                yield ids, _body(parts)
                ids, parts, size = [], [], 0
            ids.append(insert_id)
            parts.append(part)
            size += len(part) + 1
        if parts:
            yield ids, _body(parts)


def _body(parts: list[bytes]) -> bytes:
    return b'{"skipInvalidRows":true,"rows":[' + b",".join(parts) + b"]}"
