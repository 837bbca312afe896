"""The checks of what a task passes on: ``outputs`` (workspace paths later tasks of the run
get) and ``cache`` (workspace paths later runs get back, keyed by a file's checksum)."""

import posixpath

from .check_values import ValueChecker


class FileChecker(ValueChecker):
    """``outputs`` and ``cache`` of a task (a mixin of the stage checker)."""

    def outputs(self, obj, path, mode):
        paths = self.paths(obj, "outputs", path, "relative to /workspace")
        if paths and mode != "run":
            self.error(obj.line_of("outputs"), f"{path}.outputs", "'outputs' only applies to a task with 'run'")
        return paths

    def cache(self, obj, path, mode):
        value = obj.get("cache")
        if value is None:
            return None
        cpath, line = f"{path}.cache", obj.line_of("cache")
        if self.mapping(value, cpath, line, {"key_file", "paths"}, ("key_file", "paths")) is None:
            return None
        if mode != "run":
            self.error(line, cpath, "'cache' only applies to a task with 'run'")
        key_file = self.string(value, "key_file", cpath) or ""
        if key_file and not _relative(key_file):
            self.error(value.line_of("key_file"), f"{cpath}.key_file", "must be a file of the repository, relative to its root, without '..'")
        paths = self.paths(value, "paths", cpath, "relative to /workspace")
        if not (key_file and paths):
            return None
        return {"key_file": posixpath.normpath(key_file), "paths": paths}

    def paths(self, obj, key, path, where):
        """A list of relative paths (normalised), each checked: not absolute, no '..'."""
        result = []
        for index, item in enumerate(self.strings(obj, key, path)):
            if not _relative(item):
                line = obj[key].line_of(index) if hasattr(obj[key], "line_of") else obj.line_of(key)
                self.error(line, f"{path}.{key}[{index}]", f"'{item}' must be {where}, without '..'")
                continue
            result.append(posixpath.normpath(item))
        return result


def _relative(value):
    clean = posixpath.normpath(value)
    return bool(value) and not value.startswith("/") and clean != "." and ".." not in clean.split("/")
