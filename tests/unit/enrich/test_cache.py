"""``bounded_cache``: the function's own value always, computed once per kept key, never more than
``maxsize`` keys of at most ``max_key_chars`` kept."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from ingest.enrich.cache import bounded_cache


@given(st.lists(st.one_of(st.none(), st.text(max_size=8)), max_size=60))
def test_a_cache_gives_the_function_s_values_and_stays_within_its_bounds(keys: list[str | None]) -> None:
    calls: list[str | None] = []

    @bounded_cache(4, max_key_chars=5)
    def shout(key: str | None) -> str:
        calls.append(key)
        return f"{key}!"

    for key in keys:
        assert shout(key) == f"{key}!"
        assert len(shout) <= 4  # type: ignore[arg-type]
        assert all(k is None or len(k) <= 5 for k in shout)  # type: ignore[attr-defined]
    assert shout.cache_info().misses == len(calls)  # type: ignore[attr-defined]


def test_a_kept_key_is_computed_once_until_the_cache_is_full() -> None:
    calls: list[str] = []
    double = bounded_cache(2)(lambda key: calls.append(key) or key * 2)
    assert [double("a"), double("a"), double("b"), double("a")] == ["aa", "aa", "bb", "aa"]
    assert calls == ["a", "b"]
    double("c")  # full: emptied, then "c" kept
    assert double("c") == "cc" and calls == ["a", "b", "c"]
    assert double("a") == "aa" and calls == ["a", "b", "c", "a"]
