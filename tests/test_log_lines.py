"""The log viewer's line numbers, links to a line and backward search: a log of a few
MiB, read block by block, with lines cut by the block boundaries."""

import re

import pytest

from influencegen_release.engine.execution.log_store import CHUNK_BYTES, LogStore

LINE = b"step %07d: compiling module influencegen_release ... ok\n"
LINE_BYTES = len(LINE % 0)
COUNT = 3 * CHUNK_BYTES // LINE_BYTES + 1000  # a bit more than three blocks
WARNINGS = (5, 40_000, COUNT - 3)  # 0-based indexes of the lines that say WARNING


def line(index):
    return b"WARNING: module %07d is deprecated\n" % index if index in WARNINGS else LINE % index


@pytest.fixture(scope="module")
def log(tmp_path_factory):
    store = LogStore(str(tmp_path_factory.mktemp("lines")))
    offsets, position, batch = [], 0, []
    for index in range(COUNT):
        offsets.append(position)
        batch.append(line(index))
        position += len(batch[-1])
        if len(batch) == 7000:
            store.append(b"".join(batch))
            batch = []
    store.append(b"".join(batch))
    return store, offsets


def test_line_numbers_count_from_one_across_blocks(log):
    store, offsets = log
    for index in (0, 1, 19_000, COUNT // 2, COUNT - 1):
        assert store.line_number(offsets[index]) == index + 1


def test_a_line_number_gives_the_offset_of_its_line(log):
    store, offsets = log
    for index in (0, 1, 18_970, 18_971, COUNT // 2, COUNT - 1):
        assert store.line_offset(index + 1) == offsets[index]
        assert store.line_number(store.line_offset(index + 1)) == index + 1


def test_a_line_number_beyond_the_log_gives_its_last_line(log):
    store, offsets = log
    assert store.line_offset(COUNT + 50) == offsets[-1]
    assert store.line_offset(0) == 0


def test_rfind_gives_the_last_matching_line_before_an_offset(log):
    store, offsets = log
    warning = re.compile(rb"warning", re.IGNORECASE)
    assert store.rfind(warning) == offsets[WARNINGS[2]], "from the end of the log"
    assert store.rfind(warning, offsets[WARNINGS[2]]) == offsets[WARNINGS[1]], "the line at the offset is not searched"
    assert store.rfind(warning, offsets[WARNINGS[1]]) == offsets[WARNINGS[0]], "across two blocks"
    assert store.rfind(warning, offsets[WARNINGS[0]]) == -1
    assert store.rfind(re.compile(rb"step 0000000"), offsets[1]) == 0


def test_rfind_finds_a_line_cut_by_a_block_boundary(log):
    store, offsets = log
    # The line that straddles the first block boundary, found from the end of the log.
    cut = next(i for i, offset in enumerate(offsets) if offset + LINE_BYTES > CHUNK_BYTES)
    assert offsets[cut] < CHUNK_BYTES < offsets[cut] + LINE_BYTES
    assert store.rfind(re.compile(rb"step %07d:" % cut)) == offsets[cut]
    assert store.find(re.compile(rb"step %07d:" % cut)) == offsets[cut]


def test_an_empty_log_has_one_line_and_no_match(tmp_path):
    store = LogStore(str(tmp_path / "none"))
    assert store.line_number(0) == 1 and store.line_offset(10) == 0
    assert store.rfind(re.compile(rb"x")) == -1
