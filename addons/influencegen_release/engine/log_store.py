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
