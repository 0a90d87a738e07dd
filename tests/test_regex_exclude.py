"""The sentinel exclusion rewrite (guidance/regex_exclude.py): the same strings, minus the sentinel, in linear size."""

import pytest
from ctrlgen.guidance.regex_exclude import exclude_character
from hypothesis import given, settings
from hypothesis import strategies as st

SENTINEL = "\U000f0000"
ALPHABET = ["a", "b", "c", "\n", "é", "中", ".", "]", SENTINEL]

_ALPHABET_BYTES = {b for ch in ALPHABET for b in ch.encode()}

ATOMS = [
    "a", "b", ".", r"\.", "[a-c]", "[^a]", "[^]a]", "[]a]", r"[^\n]", r"[\]b]", "[[a-b]--b]", "[^[a-b]&&[b-c]]",
    r"\p{L}", r"\P{L}", r"\pL", r"\x{e9}", r"\x61", "中", r"[\x{0}-\x{10ffff}]", "[[:alpha:]]", r"\n",
]  # fmt: skip


@st.composite
def regexes(draw, depth=0):
    parts = []
    for _ in range(draw(st.integers(1, 3))):
        if depth < 2 and draw(st.integers(0, 4)) == 0:
            opener = draw(st.sampled_from(["(", "(?:", "(?s:", "(?-s:", "(?i:"]))
            atom = f"{opener}{draw(regexes(depth + 1))})"
        else:
            atom = draw(st.sampled_from(ATOMS))
        parts.append(atom + draw(st.sampled_from(["", "", "*", "?", "{2}", "{0,2}"])))
    text = "".join(parts)
    if draw(st.booleans()) and depth == 0:
        text = draw(st.sampled_from(["(?s)", "(?s-i)", ""])) + text
    if draw(st.integers(0, 4)) == 0:
        text = f"{text}|{draw(regexes(depth + 1))}"
    return text


_END = "\U0010fffd"  # the harness's own end marker (plane 16): outlines-core drops a token that leaves a final
#: state when the text before its last byte already matched, so "complete" is read as "the marker leads on"
_END_BYTES = _END.encode()


class _Language:
    """A regex as outlines-core compiles it, over a vocabulary of every single byte: full-match tests and random
    members (random walks that stop where the text is complete)."""

    def __init__(self, pattern: str) -> None:
        from outlines_core import Index, Vocabulary

        self.index = Index(f"(?:{pattern})\\x{{10fffd}}", Vocabulary(256, {bytes([b]): [b] for b in range(256)}))

    def _moves(self, state) -> list[int]:
        return [t for t in self.index.get_allowed_tokens(state) or [] if t < 256]

    def _walk(self, state, data: bytes):
        for b in data:
            if b not in self._moves(state):
                return None
            state = self.index.get_next_state(state, b)
        return state

    def _complete(self, state) -> bool:
        end = self._walk(state, _END_BYTES)
        return end is not None and self.index.is_final_state(end)

    def matches(self, text: str) -> bool:
        state = self._walk(self.index.get_initial_state(), text.encode())
        return state is not None and self._complete(state)

    def members(self, rng, count: int, longest: int = 12) -> list[str]:
        found = []
        for _ in range(count):
            state, data = self.index.get_initial_state(), bytearray()
            for _ in range(longest):
                moves = [m for m in self._moves(state) if m != _END_BYTES[0]]
                if self._complete(state) and (not moves or rng.random() < 0.3):
                    found.append(data.decode())
                    break
                if not moves:
                    break
                near = [m for m in moves if m in _ALPHABET_BYTES]  # mostly the interesting characters
                b = rng.choice(near if near and rng.random() < 0.8 else moves)
                data.append(b)
                state = self.index.get_next_state(state, b)
        return found


@settings(max_examples=150, deadline=None)
@given(regexes(), st.randoms(use_true_random=False), st.lists(st.lists(st.sampled_from(ALPHABET), max_size=5)))
def test_the_rewrite_matches_the_same_strings_but_never_the_sentinel(pattern, rng, extra):
    before, after = _Language(pattern), _Language(exclude_character(pattern, SENTINEL))
    members = before.members(rng, 15) + after.members(rng, 15)
    for text in members + ["".join(x) for x in extra]:
        if SENTINEL in text:
            assert not after.matches(text), (pattern, text)
        else:
            assert after.matches(text) == before.matches(text), (pattern, text)
    for text in members:  # the sentinel anywhere in a member makes it a non-member
        at = rng.randint(0, len(text))
        assert not after.matches(text[:at] + SENTINEL + text[at:]), (pattern, text, at)


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        (".", r"[^\n\x{f0000}]"),
        ("(?s:.).", r"(?s:[^\x{f0000}])[^\n\x{f0000}]"),
        ("(?s).", r"(?s)[^\x{f0000}]"),
        ("[^]a]x", r"[[^]a]--\x{f0000}]x"),
        (r"\.\p{L}", r"\.[\p{L}--\x{f0000}]"),
        ("(?P<name>.)(?s-i:.)", r"(?P<name>[^\n\x{f0000}])(?s-i:[^\x{f0000}])"),
    ],
)
def test_the_rewrite_of_each_construct(pattern, expected):
    assert exclude_character(pattern, SENTINEL) == expected


def test_counted_any_character_compiles_without_a_subset_blowup(default_tokenizer):
    """``(?s:.){20}`` took a minute in outlines-core before the rewrite (2^20 unanchored DFA states); the budget
    turns a regression into a CompileTimeoutError instead of a hang."""
    from ctrlgen.guidance.compile import regex_automaton

    import ctrlgen

    with ctrlgen.compile_budget(60):
        automaton = regex_automaton("(?s:.){24}", default_tokenizer)
    assert automaton.shortest_accepted() is not None
