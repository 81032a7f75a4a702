"""Partner file formats besides NDJSON: CSV with a header row, and a JSON array of records.

Both are streamed — a record at a time, never the whole object — and each record keeps its
exact bytes, the physical line it starts on and the byte offset just past it (where a
taking-over invocation resumes), like an NDJSON line does.

- **CSV** (RFC 4180, Python's ``csv`` module: quoting, doubled quotes, newlines inside quoted
  cells): the header names the fields; each cell is read as the contract's input schema types
  that field — an integer, a number, a boolean, JSON text for an object or an array (userpilot's
  ``metadata``), else the text itself. An empty cell is an absent field. A record that cannot
  be read (not UTF-8, an unbalanced quote, more cells than the header) costs that record.
- **JSON array**: the standard library's decoder finds where each element ends (``raw_decode``);
  the element's own bytes are then decoded exactly as an NDJSON line would be. An element that
  is not valid JSON cannot be skipped safely — nothing says where it ends — so it ends the file,
  recorded once at its line, after every element before it.
"""

from __future__ import annotations

import codecs
import csv
import json
import re
from typing import Any, Iterator, Mapping

import orjson

from ingest.errors import FailureKind, RecordError
from ingest.files import FileFormatError, Line, LineStream, ObjectMissing
from ingest.gzipstream import GzipError

_INTEGER = re.compile(r"-?(0|[1-9][0-9]*)")
_NUMBER = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?")
_TRUE, _FALSE = frozenset({"true", "TRUE", "True"}), frozenset({"false", "FALSE", "False"})


def cell_value(cell: str, types: frozenset[str]) -> Any:
    """A CSV cell as the schema types its field; the text itself when it is none of them, so the
    validator names the field that is wrong."""
    if "integer" in types and _INTEGER.fullmatch(cell):
        return int(cell)
    if "number" in types and _NUMBER.fullmatch(cell):
        number = float(cell)
        return int(number) if number.is_integer() and "." not in cell and "e" not in cell.lower() else number
    if "boolean" in types and (cell in _TRUE or cell in _FALSE):
        return cell in _TRUE
    if types & {"object", "array"} and cell[:1] in ("{", "["):
        try:
            return orjson.loads(cell)
        except orjson.JSONDecodeError:
            return cell
    return cell


class CsvRecords:
    """CSV records over a file's physical lines (blank ones included: they may sit inside quotes)."""

    def __init__(self, lines: LineStream, types: Mapping[str, frozenset[str]], header: list[str] | None,
                 max_record_bytes: int) -> None:
        self._lines = lines
        self._types = types
        self.header = header
        """The field names, from the first record (or carried over when resuming)."""
        self._max_record_bytes = max_record_bytes

    def __iter__(self) -> Iterator[Line]:
        taken: list[Line] = []
        problems: list[str] = []

        def text() -> Iterator[str]:
            for line in self._lines:
                taken.append(line)
                if line.broken is not None:
                    return
                if line.length > len(line.data):
                    problems.append(f"line {line.number} is {line.length} bytes, above MAX_RECORD_BYTES")
                try:
                    yield line.data.decode("utf-8") + "\n"
                except UnicodeDecodeError as error:
                    problems.append(f"line {line.number} is not UTF-8: {error}")
                    yield line.data.decode("utf-8", errors="replace") + "\n"

        reader = csv.reader(text(), strict=True)
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                break
            except csv.Error as error:
                problems.append(f"not valid CSV: {error}")
                cells = None
            lines, taken[:] = list(taken), []
            if not lines:
                break
            if cells == [] and not problems:  # a blank line between records
                continue
            if self.header is None and cells is not None and not problems:
                self.header = self._read_header(cells, lines[0])
                continue
            yield self._record(lines, cells, list(problems))
            problems.clear()
        if taken and taken[-1].broken is not None:
            yield taken[-1]

    def _read_header(self, cells: list[str], line: Line) -> list[str]:
        names = [cell.strip() for cell in cells]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if not all(names) or duplicates:
            raise FileFormatError(f"the header (line {line.number}) must name every column once"
                                  + (f"; repeated: {', '.join(duplicates)}" if duplicates else "; a name is empty"),
                                  line.number)
        return names

    def _record(self, lines: list[Line], cells: list[str] | None, problems: list[str]) -> Line:
        raw = b"\n".join(line.data for line in lines)
        first, last = lines[0], lines[-1]
        length = sum(line.length for line in lines) + len(lines) - 1
        assert self.header is not None
        if cells is not None and len(cells) > len(self.header):
            problems.append(f"{len(cells)} cells, the header names {len(self.header)}")
        if problems or cells is None:
            kind = FailureKind.OVERSIZED if any("MAX_RECORD_BYTES" in p for p in problems) else FailureKind.INVALID_CSV
            return Line(first.number, raw, length, last.end, decoded=True, last_line=last.number,
                        error=RecordError.at(kind, "$", "; ".join(problems)))
        value = {name: cell_value(cell, self._types.get(name, frozenset({"string"})))
                 for name, cell in zip(self.header, cells, strict=False) if cell != ""}
        return Line(first.number, raw, length, last.end, value=value, decoded=True, last_line=last.number)


class JsonArrayElements:
    """The elements of one JSON array, each as a ``Line`` holding its exact bytes (decoded later,
    by the same code as an NDJSON line)."""

    def __init__(self, lines: LineStream, *, first_line: int, resumed: bool, max_record_bytes: int) -> None:
        self._stream = lines
        self._chunks = lines.chunks()
        self._state = "after" if resumed else "start"
        self._line = first_line if resumed else 1
        self._max_record_bytes = max_record_bytes
        self._decoder = json.JSONDecoder()
        self._utf8 = codecs.getincrementaldecoder("utf-8")()
        self._text = ""
        self._pos = 0
        self._byte: int | None = None
        """Byte offset, in the file's (inflated) stream, of ``_text[_pos]``."""
        self._eof = False

    def __iter__(self) -> Iterator[Line]:
        try:
            yield from self._elements()
        except (GzipError, ObjectMissing) as error:  # the stream itself broke: recorded where it did
            yield Line(self._line, b"", 0, self._byte or 0, broken=error)

    def _elements(self) -> Iterator[Line]:
        while True:
            char = self._next_char()
            state = self._state
            if char is None:
                if state == "end" or (state == "start" and self._byte is None):
                    return
                raise FileFormatError(f"the array is not closed (line {self._line})", self._line)
            if state == "start":
                if char != "[":
                    raise FileFormatError(f"a .json file holds one JSON array or NDJSON; line {self._line} "
                                          f"starts with {char!r}", self._line)
                self._advance(self._pos + 1)
                self._state = "first"
            elif state == "after":
                if char not in ",]":
                    raise FileFormatError(f"expected ',' or ']' after the element ending on line {self._line}",
                                          self._line)
                self._advance(self._pos + 1)
                self._state = "next" if char == "," else "end"
            elif state == "end":
                raise FileFormatError(f"data after the end of the array, on line {self._line}", self._line)
            elif state == "first" and char == "]":
                self._advance(self._pos + 1)
                self._state = "end"
            else:
                start = self._line
                end = self._element_end()
                element = self._text[self._pos:end]
                self._line += element.count("\n")
                self._advance(end)
                raw = element.encode()
                assert self._byte is not None
                yield Line(start, raw, len(raw), self._byte, last_line=self._line)
                self._state = "after"

    def _next_char(self) -> str | None:
        """The next character that is not white space (lines counted), or None at the end."""
        while True:
            rest = self._text[self._pos:]
            skipped = len(rest) - len(rest.lstrip())
            if skipped:
                self._line += rest.count("\n", 0, skipped)
                self._advance(self._pos + skipped)
            if self._pos < len(self._text):
                return self._text[self._pos]
            if not self._more():
                return None

    def _more(self) -> bool:
        if self._eof:
            return False
        if self._pos > (1 << 16):  # keep the buffer to what is still unread
            self._text, self._pos = self._text[self._pos:], 0
        chunk = next(self._chunks, None)
        if self._byte is None:
            self._byte = self._stream.position
        if chunk is None:
            self._eof = True
            self._text += self._utf8.decode(b"", final=True)
            return False
        try:
            self._text += self._utf8.decode(chunk)
        except UnicodeDecodeError as error:
            raise FileFormatError(f"not UTF-8 after line {self._line}: {error}", self._line) from None
        return True

    def _advance(self, position: int) -> None:
        assert self._byte is not None
        self._byte += len(self._text[self._pos:position].encode())
        self._pos = position

    def _element_end(self) -> int:
        while True:
            try:
                return self._decoder.raw_decode(self._text, self._pos)[1]
            except json.JSONDecodeError as error:
                if len(self._text) - self._pos > self._max_record_bytes:
                    raise FileFormatError(f"the element starting on line {self._line} is not valid JSON, or is "
                                          f"above MAX_RECORD_BYTES: {error.msg}", self._line) from None
                if not self._more():
                    raise FileFormatError(f"the element starting on line {self._line} is not valid JSON: "
                                          f"{error.msg}", self._line) from None
