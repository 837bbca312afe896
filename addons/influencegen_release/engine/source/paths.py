"""Path filters of push triggers (``paths:``), with GitHub Actions' filter pattern semantics.

* ``*`` matches any characters except ``/``; ``**`` matches any characters, ``/`` included
  (``**/`` also matches nothing, so ``**/Dockerfile`` matches a ``Dockerfile`` at the root);
* ``?`` makes the character before it optional and ``+`` repeats it (``docs?/`` is ``doc/``
  or ``docs/``), ``[a-z0-9]`` matches one character of the class, ``\\`` escapes the next one;
* a pattern starting with ``!`` excludes what earlier patterns matched; the last pattern that
  matches a file decides, so ``["addons/**", "!addons/**/*.md"]`` ignores Markdown files.

A file matches the whole pattern (``addons/**`` matches ``addons/a/b.py``, ``*.py`` only
files at the root).
"""

import re

_CLASS_RE = re.compile(r"\[(?:[a-zA-Z0-9](?:-[a-zA-Z0-9])?)+\]")


class PatternError(ValueError):
    """A path pattern that cannot be read; the message says why."""


def _translate(pattern):
    """The regular expression of one pattern (without its leading ``!``)."""
    out, index = [], 0
    while index < len(pattern):
        char = pattern[index]
        if pattern.startswith("**/", index):
            out.append("(?:.*/)?")
            index += 3
            continue
        if pattern.startswith("**", index):
            out.append(".*")
            index += 2
            continue
        if char == "*":
            out.append("[^/]*")
        elif char in "?+":
            if not out or out[-1].endswith(("?", "+", "*")):
                raise PatternError(f"'{char}' in {pattern!r} follows no character it could repeat")
            out[-1] = f"(?:{out[-1]}){char}"
        elif char == "[":
            match = _CLASS_RE.match(pattern, index)
            if not match:
                raise PatternError(f"{pattern!r}: '[' opens no class of letters, digits and ranges closed by ']'")
            out.append(match.group(0))
            index = match.end()
            continue
        elif char == "\\":
            if index + 1 == len(pattern):
                raise PatternError(f"{pattern!r} ends with an escape character")
            index += 1
            out.append(re.escape(pattern[index]))
        else:
            out.append(re.escape(char))
        index += 1
    return "".join(out)


def compile_patterns(patterns):
    """``[(include, regex)]`` of a ``paths`` list; raises PatternError on a bad pattern."""
    compiled = []
    for pattern in patterns:
        include = not pattern.startswith("!")
        body = pattern if include else pattern[1:]
        if not body:
            raise PatternError(f"{pattern!r} is an empty pattern")
        compiled.append((include, re.compile(_translate(body) + r"\Z")))
    return compiled


def path_matches(patterns, path):
    """True when ``path`` (relative to the repository root) is selected by ``patterns``."""
    return bool(matching_paths(patterns, [path]))


def matching_paths(patterns, paths):
    """The paths of ``paths`` the patterns select, in their order."""
    compiled = compile_patterns(patterns)
    chosen = []
    for path in paths:
        selected = False
        for include, regex in compiled:
            if regex.match(path):
                selected = include
        if selected:
            chosen.append(path)
    return chosen
