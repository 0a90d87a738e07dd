"""Regular-expression constraints, and the check every user pattern passes before it is compiled."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .base import Constraint
from .errors import InvalidConstraintError

try:  # Python >= 3.11
    from re import _constants as _sre
    from re import _parser as _sre_parse
except ImportError:  # pragma: no cover
    import sre_constants as _sre  # type: ignore[no-redef]
    import sre_parse as _sre_parse  # type: ignore[no-redef]

__all__ = ["Regex", "UnsupportedPatternError", "check_pattern", "strip_outer_anchors"]


class UnsupportedPatternError(InvalidConstraintError):
    """A valid Python regular expression using a feature no finite automaton over tokens expresses exactly
    (look-around, backreferences, word boundaries, atomic groups...). ``feature`` names it."""

    def __init__(self, message: str, feature: str) -> None:
        super().__init__(message)
        self.feature = feature


#: Syntax-tree nodes no regular automaton expresses, with what to tell the user.
_UNSUPPORTED = {
    _sre.ASSERT: "look-ahead/look-behind ((?=...), (?!...), (?<=...), (?<!...))",
    _sre.ASSERT_NOT: "look-ahead/look-behind ((?=...), (?!...), (?<=...), (?<!...))",
    _sre.GROUPREF: "a backreference (\\1, (?P=name))",
    _sre.GROUPREF_EXISTS: "a conditional group ((?(1)...|...))",
}
_NEWER = (("ATOMIC_GROUP", "an atomic group ((?>...))"), ("POSSESSIVE_REPEAT", "a possessive repeat (*+, ++, ?+)"))
for _name, _what in _NEWER:
    if hasattr(_sre, _name):
        _UNSUPPORTED[getattr(_sre, _name)] = _what


def strip_outer_anchors(pattern: str) -> tuple[str, int]:
    """``pattern`` without a leading ``^``/``\\A`` and a trailing ``$``/``\\Z`` (in a full match they hold
    anyway: ``$`` also before a final newline, but a full match must consume that newline too), and how many
    characters were cut from the front."""
    cut = 1 if pattern.startswith("^") else 2 if pattern.startswith("\\A") else 0
    pattern = pattern[cut:]
    for end in ("$", "\\Z"):
        if pattern.endswith(end) and not _escaped(pattern, len(pattern) - len(end)):
            return pattern[: -len(end)], cut
    return pattern, cut


def _escaped(pattern: str, at: int) -> bool:
    """Whether the character at ``at`` is escaped (an odd run of backslashes before it)."""
    n = 0
    while at - n - 1 >= 0 and pattern[at - n - 1] == "\\":
        n += 1
    return n % 2 == 1


def _walk(items, where: str, pattern: str) -> None:
    for op, arg in items:
        if op in _UNSUPPORTED:
            what = _UNSUPPORTED[op]
            raise UnsupportedPatternError(f"{where}: {pattern!r} uses {what}, which no automaton expresses", what)
        if op == _sre.AT:
            raise UnsupportedPatternError(
                f"{where}: {pattern!r} uses an anchor or word boundary ({str(arg).lower()}) inside the pattern; "
                "the whole text is matched already (a leading ^ and a trailing $ are accepted), and word "
                "boundaries are not supported",
                "anchor",
            )
        if op in (_sre.MAX_REPEAT, _sre.MIN_REPEAT):
            _walk(arg[2], where, pattern)
        elif op == _sre.SUBPATTERN:
            _walk(arg[-1], where, pattern)
        elif op == _sre.BRANCH:
            for branch in arg[1]:
                _walk(branch, where, pattern)


def check_pattern(pattern: object, where: str) -> str:
    """``pattern`` checked as a Python regular expression (the semantics ``re.fullmatch`` gives it), with outer
    anchors removed; raises :class:`InvalidConstraintError` naming what is wrong and where, or
    :class:`UnsupportedPatternError` naming the feature no automaton expresses."""
    if not isinstance(pattern, str):
        raise InvalidConstraintError(f"{where}: a pattern must be a string, got {type(pattern).__name__}")
    inner, cut = strip_outer_anchors(pattern)
    try:
        parsed = _sre_parse.parse(inner)
    except re.error as e:
        at = "" if e.pos is None else f" at position {e.pos + cut}"
        raise InvalidConstraintError(f"{where}: invalid regular expression {pattern!r}: {e.msg}{at}") from None
    except (OverflowError, RecursionError) as e:
        raise InvalidConstraintError(f"{where}: regular expression {pattern!r} is too large to read ({e})") from None
    _walk(parsed, where, pattern)
    return inner


@dataclass(frozen=True)
class Regex(Constraint):
    """The whole generated text matches ``pattern`` (full match, as ``re.fullmatch`` reads it).

    The pattern is checked when the constraint is made: a syntax error is reported with its position, and
    features no automaton expresses (look-around, backreferences, word boundaries) by name."""

    pattern: str

    def __post_init__(self) -> None:
        check_pattern(self.pattern, "Regex")

    @property
    def body(self) -> str:
        """The pattern as compiled: outer anchors, which a full match implies, removed."""
        return strip_outer_anchors(self.pattern)[0]

    def describe(self) -> str:
        return f"Regex({self.pattern!r})"
