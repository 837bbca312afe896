"""Whole job logs stored as numbered chunk files, never as one growing database field.

Writing appends to the current chunk and starts a new one past ``CHUNK_BYTES``; memory use
does not depend on the log's size. Reading the tail touches only the last chunks.
"""

import os

CHUNK_BYTES = 1 << 20
CHUNK_NAME = "{:06d}.log"


class LogStore:
    def __init__(self, directory):
        self.directory = directory

    def _chunks(self):
        if not os.path.isdir(self.directory):
            return []
        return sorted(n for n in os.listdir(self.directory) if n.endswith(".log"))

    def append(self, data):
        """Append bytes; return the number of bytes written."""
        if not data:
            return 0
        os.makedirs(self.directory, exist_ok=True)
        chunks = self._chunks()
        index = int(chunks[-1][:-4]) if chunks else 1
        path = os.path.join(self.directory, CHUNK_NAME.format(index))
        if os.path.exists(path) and os.path.getsize(path) >= CHUNK_BYTES:
            path = os.path.join(self.directory, CHUNK_NAME.format(index + 1))
        with open(path, "ab") as handle:
            handle.write(data)
        return len(data)

    def size(self):
        return sum(os.path.getsize(os.path.join(self.directory, n)) for n in self._chunks())

    def truncate(self, size):
        """Cut the log back to ``size`` bytes: what a writer appended and never recorded (its
        transaction died with its server) is written again from the recorded position."""
        kept = 0
        for name in self._chunks():
            path = os.path.join(self.directory, name)
            length = os.path.getsize(path)
            if kept + length > size:
                if kept >= size:
                    os.remove(path)
                else:
                    os.truncate(path, size - kept)
            kept += length

    def tail(self, lines=200, max_bytes=256 * 1024):
        """The last ``lines`` lines (reading at most ``max_bytes`` from the end)."""
        collected = b""
        for name in reversed(self._chunks()):
            with open(os.path.join(self.directory, name), "rb") as handle:
                collected = handle.read() + collected
            if collected.count(b"\n") > lines or len(collected) >= max_bytes:
                break
        text = collected[-max_bytes:].decode("utf-8", "replace")
        return "\n".join(text.splitlines()[-lines:])

    def read_range(self, offset=0, length=CHUNK_BYTES):
        """``length`` bytes from ``offset`` of the whole log (for paging and download)."""
        result = b""
        position = 0
        for name in self._chunks():
            path = os.path.join(self.directory, name)
            size = os.path.getsize(path)
            if position + size > offset and len(result) < length:
                with open(path, "rb") as handle:
                    handle.seek(max(0, offset - position))
                    result += handle.read(length - len(result))
            position += size
        return result

    def iter_bytes(self):
        for name in self._chunks():
            with open(os.path.join(self.directory, name), "rb") as handle:
                while block := handle.read(CHUNK_BYTES):
                    yield block

    def page(self, start=None, end=None, length=256 * 1024):
        """At most ``length`` bytes of whole lines, for a viewer that pages through a big log.

        With ``start``: the lines from there on. Otherwise the lines that end at ``end`` (the
        log's end when None), so a 100 MB log opens at its tail after reading one page.
        Returns ``(data, start, end, size)`` with the byte range the data covers."""
        size = self.size()
        if start is not None:
            start = max(0, min(int(start), size))
            data = self.read_range(start, length)
            if start + len(data) < size and b"\n" in data:
                data = data[: data.rindex(b"\n") + 1]  # a cut line comes whole with the next page
            return data, start, start + len(data), size
        end = size if end is None else max(0, min(int(end), size))
        first = max(0, end - length)
        data = self.read_range(first, end - first)
        if first > 0 and b"\n" in data[:-1]:
            cut = data.index(b"\n") + 1  # a cut line comes whole with the previous page
            data, first = data[cut:], first + cut
        return data, first, end, size

    def find(self, pattern, start=0):
        """Byte offset of the first line at or after ``start`` that ``pattern`` (a compiled
        bytes regex) matches, or -1; reads the log block by block, whatever its size."""
        position, carry = int(start), b""
        for block in self._blocks(position):
            data = carry + block
            complete = data.rfind(b"\n") + 1
            lines, carry = data[:complete], data[complete:]
            match = pattern.search(lines)
            if match:
                return position + lines.rfind(b"\n", 0, match.start()) + 1
            position += len(lines)
        match = pattern.search(carry)
        return position + carry.rfind(b"\n", 0, match.start()) + 1 if match else -1

    def _blocks(self, offset):
        while block := self.read_range(offset, CHUNK_BYTES):
            yield block
            offset += len(block)

    # -- line numbers and backward search (the log viewer) ---------------------------------
    def line_number(self, offset):
        """Number (from 1) of the line that starts at byte ``offset``: one more than the
        newlines before it, counted block by block."""
        offset, count = max(0, int(offset)), 0
        for block in self._blocks(0):
            if offset <= 0:
                break
            count += block.count(b"\n", 0, offset)
            offset -= len(block)
        return count + 1

    def line_offset(self, number):
        """Byte offset of line ``number`` (from 1); the last line's when the log is shorter."""
        wanted, position, start = max(1, int(number)) - 1, 0, 0
        for block in self._blocks(0):
            if not wanted:
                break
            newlines = block.count(b"\n")
            if newlines < wanted:  # the line is further: skip the block whole
                wanted -= newlines
                start = position + block.rfind(b"\n") + 1 if newlines else start
            else:
                index = -1
                for _line in range(wanted):
                    index = block.find(b"\n", index + 1)
                wanted, start = 0, position + index + 1
            position += len(block)
        size = self.size()
        if start >= size > 0:  # after the log's last newline: its last line instead
            first = max(0, size - CHUNK_BYTES)
            return first + self.read_range(first, size - first).rfind(b"\n", 0, size - first - 1) + 1
        return start

    def rfind(self, pattern, end=None):
        """Byte offset of the last line starting before ``end`` (a line's start; the log's
        end when None) that ``pattern`` matches, or -1; reads the log backwards block by
        block, whatever its size."""
        position = self.size() if end is None else max(0, min(int(end), self.size()))
        carry = b""  # the start of a line cut by the block read before, which is later
        while position > 0:
            first = max(0, position - CHUNK_BYTES)
            data = self.read_range(first, position - first) + carry
            cut = data.find(b"\n") + 1 if first > 0 else 0  # bytes of a line that starts earlier
            if first > 0 and cut == 0:
                carry, position = data, first
                continue
            last = None
            for match in pattern.finditer(data, cut):
                last = match
            if last:
                return first + data.rfind(b"\n", 0, last.start()) + 1
            carry, position = data[:cut], first
        return -1
