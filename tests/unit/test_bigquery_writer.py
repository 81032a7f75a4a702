"""The insertAll request bodies (the emulator round trip is in tests/integration)."""

from types import SimpleNamespace

import orjson
import pytest
from google.api_core import exceptions as gexc

from ingest.errors import TransientError
from ingest.sinks.bigquery import BigQueryWriter


class _Client:
    project = "p"

    def __init__(self, responses):
        self.calls = []
        self.responses = list(responses)

    def _call_api(self, retry, **kwargs):
        self.calls.append(SimpleNamespace(**kwargs))
        response = self.responses.pop(0)
        if isinstance(response, Exception):
            raise response
        return response


def _writer(client, max_rows=500, max_bytes=10**6):
    return BigQueryWriter(client, "ds", max_rows, max_bytes, timeout_s=1)


ROWS = [(f"id{i}", orjson.dumps({"n": i, "s": "é" * 10})) for i in range(5)]


def test_rows_are_batched_by_count_and_bytes_with_their_insert_ids():
    client = _Client([{}, {}, {}])
    assert _writer(client, max_rows=2).insert("t", ROWS) == []
    bodies = [orjson.loads(call.data) for call in client.calls]
    assert [[r["insertId"] for r in b["rows"]] for b in bodies] == [["id0", "id1"], ["id2", "id3"], ["id4"]]
    assert bodies[0]["rows"][1]["json"] == {"n": 1, "s": "é" * 10} and bodies[0]["skipInvalidRows"] is True
    assert client.calls[0].path == "/projects/p/datasets/ds/tables/t/insertAll"
    client = _Client([{}] * 5)
    _writer(client, max_bytes=60).insert("t", ROWS)
    assert len(client.calls) == 5


def test_per_row_errors_name_the_row_and_the_rest_is_accepted():
    client = _Client([{"insertErrors": [{"index": 1, "errors": [
        {"reason": "invalid", "location": "n", "message": "Cannot convert value to integer"}]}]}])
    [rejection] = _writer(client).insert("t", ROWS[:3])
    assert rejection.insert_id == "id1" and rejection.reasons[0].path == "$.n"


@pytest.mark.parametrize("error", [gexc.ServiceUnavailable("down"), gexc.NotFound("no table")])
def test_failures_raise_transient_so_nothing_is_acked(error):
    with pytest.raises(TransientError):
        _writer(_Client([error])).insert("t", ROWS)
