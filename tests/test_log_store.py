"""The log viewer's reads: a 100 MB log opens at its tail, pages back line by line and is
searched from the start without being loaded whole."""

import re

import pytest

from influencegen_release.engine.execution import log_store
from influencegen_release.engine.execution.log_store import CHUNK_BYTES, LogStore

LINE = b"step %07d: compiling module influencegen_release ... ok\n"
LINE_BYTES = len(LINE % 0)
ERROR_AT = 1_234_567  # line number of the first error
TOTAL = 100 * CHUNK_BYTES  # about 100 MB


@pytest.fixture(scope="module")
def big_log(tmp_path_factory):
    """A 100 MB log written the way the scheduler writes it (appends, 1 MiB chunk files)."""
    store = LogStore(str(tmp_path_factory.mktemp("biglog")))
    lines, number, written = [], 0, 0
    while written < TOTAL:
        line = LINE % number if number != ERROR_AT else b"\x1b[31mERROR: module foo failed to install\x1b[0m\n"
        lines.append(line)
        written += len(line)
        number += 1
        if len(lines) == 20000:
            store.append(b"".join(lines))
            lines = []
    store.append(b"".join(lines) + b"last line of the log\n")
    return store, number


def test_a_100_mb_log_opens_at_its_tail_with_whole_lines(big_log):
    store, _count = big_log
    data, start, end, size = store.page(length=64 * 1024)
    assert size == store.size() > TOTAL
    assert end == size and start == size - len(data)
    assert 60 * 1024 < len(data) <= 64 * 1024
    assert data.endswith(b"last line of the log\n")
    assert re.match(rb"step \d{7}: compiling", data), "the first line of the page is whole"


def test_paging_back_gives_the_lines_before_without_gap_or_overlap(big_log):
    store, _count = big_log
    newest, start, _end, _size = store.page(length=64 * 1024)
    older, older_start, older_end, _size = store.page(end=start, length=64 * 1024)
    assert older_end == start and older_start < start
    assert store.read_range(older_start, len(older) + len(newest)) == older + newest
    number = int(re.search(rb"step (\d{7})", newest).group(1))
    assert older.endswith(LINE % (number - 1))


def test_a_page_from_an_offset_ends_on_a_whole_line(big_log):
    store, _count = big_log
    data, start, end, _size = store.page(start=LINE_BYTES * 10, length=1000)
    assert data.startswith(LINE % 10) and data.endswith(b"\n") and end == start + len(data)


def test_find_gives_the_start_of_the_first_matching_line(big_log):
    store, _count = big_log
    offset = store.find(re.compile(rb"(?i)error|failed"))
    assert offset == ERROR_AT * LINE_BYTES
    data, _start, _end, _size = store.page(start=offset, length=200)
    assert data.startswith(b"\x1b[31mERROR: module foo failed")
    next_line = offset + data.index(b"\n") + 1
    assert store.find(re.compile(rb"(?i)error"), start=next_line) == -1, "searching on finds no other error"
    assert store.find(re.compile(rb"last line")) == store.size() - len(b"last line of the log\n")


def test_find_sees_a_line_cut_across_two_chunk_files(tmp_path):
    store = LogStore(str(tmp_path / "cut"))
    store.append(b"x" * (CHUNK_BYTES - 3) + b"\nFAT")
    store.append(b"AL: disk full\nafter\n")
    assert len(store._chunks()) == 2
    assert store.find(re.compile(rb"FATAL")) == CHUNK_BYTES - 2
    assert store.find(re.compile(rb"nothing like this")) == -1


def test_truncate_cuts_back_to_the_recorded_size_across_chunks(tmp_path, monkeypatch):
    """What a killed server appended and never recorded is cut, whatever chunk it reached."""
    monkeypatch.setattr(log_store, "CHUNK_BYTES", 4)
    store = log_store.LogStore(str(tmp_path / "log"))
    store.append(b"abcd")
    store.append(b"efgh")
    store.append(b"ij")
    store.truncate(6)
    assert store.size() == 6 and store.read_range(0, 100) == b"abcdef"
    store.append(b"XY")
    assert store.read_range(0, 100) == b"abcdefXY"
    store.truncate(0)
    assert store.size() == 0
