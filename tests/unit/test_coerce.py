import pytest

from ingest.contracts import Column, TableSchema
from ingest.errors import RecordError
from ingest.transform.coerce import RowBuilder, coerce
from ingest.transform.pro_event import flatten_params


@pytest.mark.parametrize("type_,value,expected", [
    ("STRING", 123, "123"), ("STRING", 12.0, "12"), ("STRING", True, "true"),
    ("INT64", "42", 42), ("INT64", 7.0, 7), ("FLOAT64", "1.5", 1.5),
    ("NUMERIC", "12.50", "12.50"), ("NUMERIC", 3, "3"),
    ("BOOL", "true", True), ("BOOL", "0", False), ("BOOL", 1, True), ("JSON", {"a": [1]}, '{"a":[1]}'),
])
def test_values_take_their_column_type(type_, value, expected):
    assert coerce(Column("c", type_, "NULLABLE"), value) == expected


@pytest.mark.parametrize("type_,value", [("INT64", "abc"), ("INT64", True), ("INT64", 1.5), ("BOOL", "maybe"),
                                         ("NUMERIC", "NaN"), ("FLOAT64", "x")])
def test_bad_values_are_refused(type_, value):
    with pytest.raises(ValueError):
        coerce(Column("c", type_, "NULLABLE"), value)


def test_row_builder_collects_every_reason_with_its_path():
    table = TableSchema("t", {}, {"n": Column("n", "INT64", "NULLABLE"), "b": Column("b", "BOOL", "NULLABLE"),
                                  "l": Column("l", "STRING", "REPEATED")}, [])
    row = RowBuilder(table)
    row.set("n", "x", "$.extra.n")
    row.set("b", "perhaps", "$.extra.b")
    row.set("l", ["1", 2])
    with pytest.raises(RecordError) as caught:
        row.build()
    assert [r.path for r in caught.value.reasons] == ["$.extra.n", "$.extra.b"]
    assert caught.value.kind == "invalid_value"


def test_empty_values_become_null():
    table = TableSchema("t", {}, {"s": Column("s", "STRING", "NULLABLE")}, [])
    row = RowBuilder(table)
    row.set("s", "")
    assert row.build() == {}


def test_ga4_parameters_take_their_one_typed_value_whatever_the_export_spells_out():
    params = [
        {"key": "a", "value": {"int_value": 0}},
        {"key": "b", "value": {"string_value": None, "int_value": 7, "double_value": None, "float_value": None}},
        {"key": "c", "value": {"string_value": "x", "int_value": 1}},  # string first when two are filled
        {"key": "d", "value": {}},
        {"key": "e", "value": {"double_value": None, "float_value": 2.5}},
    ]
    assert flatten_params(params) == {"a": 0, "b": 7, "c": "x", "d": None, "e": 2.5}
    assert flatten_params({"flat": 1}) == {"flat": 1}
