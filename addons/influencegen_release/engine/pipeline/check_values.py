"""The generic part of the pipeline checker: typed reads of YAML values that record an error
(``file:line: path: message``) and go on, instead of stopping at the first problem."""

import re

from .schema import CREDENTIAL_REF, DURATION_RE, KEY_RE, SIZE_RE
from .yaml_source import LineList


def slug(name):
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_") or "item"


class ValueChecker:
    """Walks the parsed YAML; records errors instead of stopping at the first one."""

    def __init__(self, filename):
        self.filename = filename
        self.errors = []

    def error(self, line, path, message):
        self.errors.append(f"{self.filename}:{line}: {path}: {message}")

    def mapping(self, value, path, line, allowed, required=()):
        if not isinstance(value, dict):
            self.error(line, path, f"expected a mapping, got {type(value).__name__}")
            return None
        for key in value:
            if key not in allowed:
                self.error(
                    value.line_of(key),
                    f"{path}.{key}",
                    f"unknown key '{key}' (allowed: {', '.join(sorted(allowed))})",
                )
        for key in required:
            if key not in value or value[key] in (None, "", [], {}):
                self.error(value.line, f"{path}.{key}", f"missing required key '{key}'")
        return value

    def items(self, value, path, line, required=False):
        """Yield (index, item, item_path, item_line) for a list value."""
        if value is None:
            if required:
                self.error(line, path, "must be a non-empty list")
            return
        if not isinstance(value, list):
            self.error(line, path, f"expected a list, got {type(value).__name__}")
            return
        if required and not value:
            self.error(line, path, "must be a non-empty list")
        for index, item in enumerate(value):
            yield index, item, f"{path}[{index}]", value.line_of(index) if isinstance(value, LineList) else line

    def string(self, obj, key, path, default=None, pattern=None, choices=None):
        if key not in obj or obj[key] is None:
            return default
        value, line = obj[key], obj.line_of(key)
        if isinstance(value, (bool, dict, list)):
            self.error(line, f"{path}.{key}", f"expected text, got {type(value).__name__}")
            return default
        value = str(value).strip()
        if choices and value not in choices:
            self.error(line, f"{path}.{key}", f"'{value}' is not one of: {', '.join(choices)}")
        elif pattern and not pattern.match(value):
            self.error(line, f"{path}.{key}", f"'{value}' does not match {pattern.pattern}")
        return value

    def strings(self, obj, key, path, choices=None, pattern=None):
        if key not in obj or obj[key] is None:
            return []
        value, line = obj[key], obj.line_of(key)
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list):
            self.error(line, f"{path}.{key}", "expected a list of text values")
            return []
        result = []
        for index, item in enumerate(value):
            item_line = value.line_of(index) if isinstance(value, LineList) else line
            if isinstance(item, (dict, list)) or item is None:
                self.error(item_line, f"{path}.{key}[{index}]", "expected text")
                continue
            item = str(item).strip()
            if choices and item not in choices:
                self.error(item_line, f"{path}.{key}[{index}]", f"'{item}' is not one of: {', '.join(choices)}")
            elif pattern and not pattern.match(item):
                self.error(item_line, f"{path}.{key}[{index}]", f"'{item}' does not match {pattern.pattern}")
            result.append(item)
        return result

    def boolean(self, obj, key, path, default=False):
        if key not in obj or obj[key] is None:
            return default
        if not isinstance(obj[key], bool):
            self.error(obj.line_of(key), f"{path}.{key}", "expected true or false")
            return default
        return obj[key]

    def integer(self, obj, key, path, default=None, minimum=0):
        if key not in obj or obj[key] is None:
            return default
        value = obj[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            self.error(obj.line_of(key), f"{path}.{key}", f"expected a whole number >= {minimum}")
            return default
        return value

    def number(self, obj, key, path, default=None):
        if key not in obj or obj[key] is None:
            return default
        value = obj[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
            self.error(obj.line_of(key), f"{path}.{key}", "expected a positive number")
            return default
        return float(value)

    def duration(self, obj, key, path, default=None):
        """Seconds from ``90``, ``90s``, ``15m`` or ``2h``."""
        measure = self._measure(obj, key, path, DURATION_RE, "a duration such as 600, 90s, 15m or 2h")
        if measure is None:
            return default
        return measure[0] * {"": 1, "s": 1, "m": 60, "h": 3600}[measure[1]]

    def size(self, obj, key, path, default=None):
        """MiB from ``512``, ``512m`` or ``2g``."""
        measure = self._measure(obj, key, path, SIZE_RE, "a memory size in MiB such as 512, 512m or 2g")
        if measure is None:
            return default
        return measure[0] * (1024 if measure[1].lower() == "g" else 1)

    def _measure(self, obj, key, path, pattern, expected):
        """``(number, unit)`` of a value such as ``15m``; None when it is absent or wrong (recorded)."""
        if key not in obj or obj[key] is None:
            return None
        match = pattern.match(str(obj[key]).strip()) if not isinstance(obj[key], bool) else None
        if not match or int(match.group(1)) <= 0:
            self.error(obj.line_of(key), f"{path}.{key}", f"expected {expected}")
            return None
        return int(match.group(1)), match.group(2)

    def reference(self, obj, key, path, hint=""):
        """A credential reference (``env:NAME``, ``file:/path``, ``param:key``), never the secret."""
        value = self.string(obj, key, path)
        if value and not CREDENTIAL_REF.match(value):
            self.error(
                obj.line_of(key), f"{path}.{key}", f"must be a reference (env:NAME, file:/path or param:key){hint}"
            )
        return value

    def key_of(self, obj, path, name):
        return self.string(obj, "key", path, pattern=KEY_RE) or slug(name or "")
