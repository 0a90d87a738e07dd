"""Take one character out of everything a regex (Rust ``regex-syntax`` dialect) can match at a position.

Why: the compiler brackets every regex with a sentinel character that no token contains (see
:func:`ctrlgen.guidance.compile._regex_transitions`). outlines-core also builds the regex's DFA for an
unanchored search, and there every sentinel that the *content* could match starts a new candidate match: a
counted repetition of ``.`` or of a negated class (``.{20}``, ``[^"]{10}``) then needs a DFA state per subset
of positions, 2^20 of them (a minute for ``(?s:.){20}``). Taking the sentinel out of every class leaves one
candidate, in linear size. The token automaton is the same, less the texts that contain the sentinel: no token
contains it, but byte tokens could spell it. The sentinel is a plane-15 private-use code point (U+F0000 or the
next one no token holds), reserved: generated text never contains it.

The rewrite is purely textual and touches three constructs, outside and inside groups alike:

* ``.`` becomes ``[^\\n<c>]`` (or ``[^<c>]`` where the ``s`` flag is on, tracked through ``(?s)``,
  ``(?s:...)``, ``(?-s)`` and groups);
* a bracketed class ``[...]`` becomes ``[[...]--<c>]`` (class difference, nested classes included);
* ``\\p{..}``, ``\\P{..}``, ``\\pL`` outside a class become ``[\\p{..}--<c>]``.

Literal characters, escapes and the other shorthands match only what they name and are left alone (the
shorthands ``\\d\\w\\s`` are spelled out as classes before this runs, see :mod:`.regex_classes`).
"""

from __future__ import annotations

__all__ = ["exclude_character"]


def _class_end(pattern: str, i: int) -> int:
    """Index just past the bracketed class opening at ``pattern[i] == "["`` (nested classes counted)."""
    n, depth = len(pattern), 0
    while i < n:
        ch = pattern[i]
        if ch == "\\":
            i += 2
            continue
        if ch == "[":
            if pattern.startswith("[:", i) and (close := pattern.find(":]", i + 2)) > 0:
                i = close + 2  # an ASCII class such as [:alpha:]
                continue
            depth += 1
            i += 1
            if i < n and pattern[i] == "^":
                i += 1
            if i < n and pattern[i] == "]":
                i += 1  # a "]" first in a class is a literal
            continue
        if ch == "]":
            depth -= 1
            i += 1
            if depth == 0:
                return i
            continue
        i += 1
    raise ValueError(f"unterminated character class in {pattern!r}")


def _escape_end(pattern: str, i: int) -> int:
    """Index just past the escape opening at ``pattern[i] == "\\\\"``."""
    if i + 1 >= len(pattern):
        return i + 1
    if pattern[i + 1] in "pPxuU" and i + 2 < len(pattern) and pattern[i + 2] == "{":
        close = pattern.find("}", i + 3)
        return len(pattern) if close < 0 else close + 1
    if pattern[i + 1] in "pP":
        return i + 3  # \pL
    if pattern[i + 1] == "x":
        return i + 4  # \x41
    if pattern[i + 1] == "u":
        return i + 6  # \u0041
    if pattern[i + 1] == "U":
        return i + 10
    return i + 2


def _flag_group(pattern: str, i: int) -> tuple[str, bool, int] | None:
    """For ``(?flags)`` or ``(?flags:`` at ``i``: (flags text, whether it opens a group, index past it)."""
    if not pattern.startswith("(?", i):
        return None
    j = i + 2
    while j < len(pattern) and (pattern[j].isalpha() or pattern[j] == "-"):
        j += 1
    if j == i + 2 or j >= len(pattern) or pattern[j] not in ":)":
        return None
    return pattern[i + 2 : j], pattern[j] == ":", j + 1


def _apply(flags: str, dotall: bool) -> bool:
    on = True
    for ch in flags:
        if ch == "-":
            on = False
        elif ch == "s":
            dotall = on
    return dotall


def exclude_character(pattern: str, char: str) -> str:
    """``pattern`` matching exactly the same strings without ``char``, and no string containing it.

    ``char`` must be a single character the pattern does not name literally (the compiler's sentinel).
    """
    c = f"\\x{{{ord(char):x}}}"
    out: list[str] = []
    stack: list[bool] = []  # the dotall flag outside each open group
    dotall = False
    i, n = 0, len(pattern)
    while i < n:
        ch = pattern[i]
        if ch == "\\":
            end = _escape_end(pattern, i)
            piece = pattern[i:end]
            out.append(f"[{piece}--{c}]" if piece[1:2] in ("p", "P") else piece)
            i = end
        elif ch == "[":
            end = _class_end(pattern, i)
            out.append(f"[{pattern[i:end]}--{c}]")
            i = end
        elif ch == ".":
            out.append(f"[^{c}]" if dotall else f"[^\\n{c}]")
            i += 1
        elif ch == "(":
            flagged = _flag_group(pattern, i)
            if flagged is not None and not flagged[1]:  # (?s): for the rest of the enclosing group
                dotall = _apply(flagged[0], dotall)
                out.append(pattern[i : flagged[2]])
                i = flagged[2]
                continue
            stack.append(dotall)
            if flagged is not None:
                dotall = _apply(flagged[0], dotall)
                out.append(pattern[i : flagged[2]])
                i = flagged[2]
            else:
                out.append(ch)
                i += 1
        elif ch == ")":
            dotall = stack.pop() if stack else dotall
            out.append(ch)
            i += 1
        else:
            out.append(ch)
            i += 1
    return "".join(out)
