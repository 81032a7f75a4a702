"""``SourceRef.at`` (built without the generated ``__new__``) is ``_replace`` of the record's part."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.records import SourceRef

texts = st.none() | st.text(max_size=8)
numbers = st.none() | st.integers(0, 10**6)
sources = st.builds(SourceRef, st.sampled_from(["pubsub", "gcs"]), texts, texts, texts, numbers, texts, texts,
                    numbers, numbers)


@settings(max_examples=300, deadline=None)
@given(sources, numbers, numbers)
def test_at_replaces_only_the_record_position(source: SourceRef, index: int | None, line: int | None) -> None:
    pointed = source.at(record_index=index, line_number=line)
    assert type(pointed) is SourceRef
    assert pointed == source._replace(record_index=index, line_number=line)
    assert pointed.uri() == source._replace(record_index=index, line_number=line).uri()


@settings(max_examples=300, deadline=None)
@given(sources)
def test_uri_is_the_batch_uri_then_the_record_position(source: SourceRef) -> None:
    base = (f"pubsub://{source.topic or '?'}/{source.message_id or '?'}" if source.kind == "pubsub" else
            f"gs://{source.bucket or '?'}/{source.object or '?'}"
            + ("" if source.generation is None else f"#{source.generation}"))
    position = source.record_index if source.kind == "pubsub" else source.line_number
    assert source.batch_uri() == base
    assert source.uri() == base + ("" if position is None else ("#" if source.kind == "pubsub" else ":") + str(position))
