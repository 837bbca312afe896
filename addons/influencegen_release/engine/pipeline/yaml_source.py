"""Load YAML while remembering where every value came from.

PyYAML's ``safe_load`` forgets line numbers and silently keeps the last of two duplicate keys.
Pipeline errors must name the file, line and key, so we compose the node tree ourselves and
build plain dicts and lists that carry the line of each key and item.
"""

import yaml


class SourceError(Exception):
    """A YAML file that cannot be read or parsed; the message names the file and line."""


class LineDict(dict):
    """A dict that knows its own line and the line of each key (1-based)."""

    line = 0
    key_lines = None

    def line_of(self, key):
        return (self.key_lines or {}).get(key, self.line)


class LineList(list):
    """A list that knows its own line and the line of each item (1-based)."""

    line = 0
    item_lines = None

    def line_of(self, index):
        lines = self.item_lines or []
        return lines[index] if index < len(lines) else self.line


_constructor = yaml.constructor.SafeConstructor()


def _build(node, filename):
    line = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        result = LineDict()
        result.line, result.key_lines = line, {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise SourceError(f"{filename}:{key_node.start_mark.line + 1}: keys must be plain scalars")
            key = _constructor.construct_object(key_node)
            key_line = key_node.start_mark.line + 1
            if key in result:
                raise SourceError(
                    f"{filename}:{key_line}: duplicate key '{key}' (first defined on line {result.key_lines[key]})"
                )
            result[key] = _build(value_node, filename)
            result.key_lines[key] = key_line
        return result
    if isinstance(node, yaml.SequenceNode):
        result = LineList(_build(item, filename) for item in node.value)
        result.line = line
        result.item_lines = [item.start_mark.line + 1 for item in node.value]
        return result
    return _constructor.construct_object(node)


def load_yaml(text, filename="<string>"):
    """Parse ``text`` into LineDict/LineList/scalars; raise SourceError naming file and line."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{filename}:{mark.line + 1}" if mark else filename
        raise SourceError(f"{where}: invalid YAML: {exc.problem or exc.context}") from exc
    except yaml.YAMLError as exc:
        raise SourceError(f"{filename}: invalid YAML: {exc}") from exc
    if node is None:
        raise SourceError(f"{filename}:1: the file is empty")
    try:
        return _build(node, filename)
    except yaml.constructor.ConstructorError as exc:
        mark = exc.problem_mark
        raise SourceError(f"{filename}:{mark.line + 1 if mark else 0}: {exc.problem}") from exc
