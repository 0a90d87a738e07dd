"""Token vocabularies of WordPiece, SentencePiece (Unigram + Metaspace, with and without byte fallback) and
byte-level BPE tokenizers: decoding exactly as the tokenizer does, exact spellings, and exact automata.

Every tokenizer is trained here, in well under a second, on a small generated corpus, wrapped as a
``PreTrainedTokenizerFast``, saved and loaded back (what a user's tokenizer goes through).
"""

from __future__ import annotations

import json
import random
import re

import numpy as np
import pytest
from ctrlgen.constraints import JsonSchema, Length, Regex, UnsupportedTokenizerError
from ctrlgen.guidance.automaton import TokenAutomaton, from_transitions, product
from ctrlgen.guidance.compile import _without_sequence, compile_constraint, regex_automaton
from ctrlgen.guidance.vocabulary import (
    TokenVocabulary,
    outlines_vocabulary,
    token_bytes,
    token_vocabulary,
)
from hypothesis import given, settings
from hypothesis import strategies as st
from tokenizers import AddedToken, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

_NAMES = ["Aromi", "The Mill", "Blue Spice", "Zizzi", "Cotto", "The Eagle", "Café Brazil", "Loch Fyne"]
_FOODS = ["Chinese", "French", "Indian", "Italian", "English", "Japanese", "fast food"]
_AREAS = ["riverside", "city centre"]
_PRICES = ["cheap", "moderate", "expensive", "high"]
_SCHEMA = {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}
_SPECIAL_SP = ["<pad>", "</s>", "<unk>", "<mask>"]


def corpus(n: int = 400, seed: int = 0) -> list[str]:
    """Restaurant descriptions and small JSON records, with punctuation, digits and a few accents."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        name, food, area, price = rng.choice(_NAMES), rng.choice(_FOODS), rng.choice(_AREAS), rng.choice(_PRICES)
        rating = rng.randint(1, 5)
        out.append(
            rng.choice(
                [
                    f"{name} serves {food} food in the {area}.",
                    f"{name} is a {price} {food} place near the {area}, rated {rating} out of 5!",
                    f"In the {area}, {name} is {price}; try the crème brûlée?",
                    json.dumps({"name": name, "area": area}),
                    json.dumps({"name": name, "food": food, "rating": rating}, separators=(",", ":")),
                ]
            )
        )
    return out


def _save_and_load(tok: PreTrainedTokenizerFast, path) -> PreTrainedTokenizerFast:
    tok.save_pretrained(path)
    return PreTrainedTokenizerFast.from_pretrained(path)


def _wordpiece() -> PreTrainedTokenizerFast:
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer()
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.train_from_iterator(
        corpus(), trainers.WordPieceTrainer(vocab_size=400, special_tokens=specials, show_progress=False)
    )
    vocab = tok.get_vocab()
    for c in map(chr, range(33, 127)):  # real BERT vocabularies spell every printable character both ways
        for piece in (c, "##" + c):
            vocab.setdefault(piece, len(vocab))
    full = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]"))
    full.normalizer = normalizers.BertNormalizer()
    full.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    full.decoder = decoders.WordPiece()
    full.add_special_tokens([AddedToken(s, special=True) for s in specials])
    names = dict(pad_token="[PAD]", unk_token="[UNK]", cls_token="[CLS]", sep_token="[SEP]", mask_token="[MASK]")
    return PreTrainedTokenizerFast(tokenizer_object=full, **names)


def _unigram(decoder, byte_fallback: bool) -> PreTrainedTokenizerFast:
    tok = Tokenizer(models.Unigram())
    tok.pre_tokenizer = pre_tokenizers.Metaspace(prepend_scheme="always")
    trainer = trainers.UnigramTrainer(
        vocab_size=300, special_tokens=_SPECIAL_SP, unk_token="<unk>", show_progress=False
    )
    tok.train_from_iterator(corpus(), trainer)
    pieces = [tuple(p) for p in json.loads(tok.to_str())["model"]["vocab"]]
    if byte_fallback:
        pieces += [(f"<0x{b:02X}>", -30.0) for b in range(256)]
    full = Tokenizer(models.Unigram(pieces, unk_id=_SPECIAL_SP.index("<unk>"), byte_fallback=byte_fallback))
    full.pre_tokenizer = pre_tokenizers.Metaspace(prepend_scheme="always")
    full.decoder = decoder
    full.add_special_tokens([AddedToken(s, special=True) for s in _SPECIAL_SP])
    return PreTrainedTokenizerFast(
        tokenizer_object=full, pad_token="<pad>", eos_token="</s>", unk_token="<unk>", mask_token="<mask>"
    )


def _byte_level() -> PreTrainedTokenizerFast:
    specials = ["<|endoftext|>", "<|pad|>", "<|mask|>"]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=500,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(corpus(), trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, eos_token="<|endoftext|>", pad_token="<|pad|>", mask_token="<|mask|>"
    )


#: family -> (builder, forced prefix, texts no token sequence can spell exactly, whether any text is spellable)
FAMILIES = {
    "wordpiece": (_wordpiece, b" ", ["a  b", " a", "a ", "né", "€"], False),
    "unigram": (lambda: _unigram(decoders.Metaspace(prepend_scheme="always"), False), b" ", ["€", "x▁y"], False),
    "unigram-bytes": (
        lambda: _unigram(decoders.Sequence([decoders.ByteFallback(), decoders.Metaspace()]), True),
        b" ",
        ["x▁y", "▁"],
        True,
    ),
    "llama": (
        lambda: _unigram(
            decoders.Sequence(
                [decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(), decoders.Strip(" ", 1, 0)]
            ),
            True,
        ),
        b" ",
        [],
        True,
    ),
    "byte-level": (_byte_level, b"", [], True),
}


@pytest.fixture(scope="module", params=list(FAMILIES))
def family(request, tmp_path_factory):
    build, prefix, impossible, any_text = FAMILIES[request.param]
    tokenizer = _save_and_load(build(), tmp_path_factory.mktemp(request.param))
    vocab = token_vocabulary(tokenizer)
    return request.param, tokenizer, vocab, prefix, impossible, any_text


def _hf_decode(tokenizer, ids) -> str:
    return tokenizer.decode(ids, skip_special_tokens=False, clean_up_tokenization_spaces=False)


def _content_ids(vocab: TokenVocabulary) -> list[int]:
    return [i for i, b in enumerate(vocab.token_bytes) if b]


def _alphabet(vocab: TokenVocabulary) -> str:
    """Characters any family member can spell both at the start of a text and after other text."""
    candidates = "abeilmnorstAZ09{}\":,.!?;'-éü€"
    return "".join(c for c in candidates if vocab.encode_exact(c, True) and vocab.encode_exact(c) is not None)


# -------------------------------------------------------------------------------------------------------
# The vocabulary itself
# -------------------------------------------------------------------------------------------------------


def test_family_prefix_ids_and_specials(family):
    name, tokenizer, vocab, prefix, _, _ = family
    assert vocab.prefix == prefix
    end = tokenizer.sep_token_id if name == "wordpiece" else tokenizer.eos_token_id
    assert vocab.end_ids == (end, tokenizer.pad_token_id) and vocab.end_id == end
    assert vocab.mask_id == tokenizer.mask_token_id
    assert len(vocab) == len(tokenizer)
    for i in tokenizer.all_special_ids:
        assert vocab.token_bytes[i] is None
    assert token_bytes(tokenizer) == list(vocab.token_bytes)
    assert token_vocabulary(tokenizer) is vocab  # cached
    other = token_vocabulary(tokenizer, pad_id=end)
    assert other.end_ids == (end,) and other.fingerprint != vocab.fingerprint
    padded = token_vocabulary(tokenizer, vocab_size=len(tokenizer) + 7)  # a model with padded embeddings
    assert len(padded) == len(tokenizer) + 7 and padded.token_bytes[-7:] == (None,) * 7
    assert compile_constraint(Regex("[a-z]+"), padded).automaton.vocab_size == len(padded)


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_decode_matches_the_tokenizer(family, data):
    _, tokenizer, vocab, *_ = family
    ids = data.draw(st.lists(st.sampled_from(_content_ids(vocab)), max_size=8))
    assert vocab.decode(ids) == _hf_decode(tokenizer, ids)


@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_decode_skips_specials_and_stops_at_either_end_token(family, data):
    _, tokenizer, vocab, *_ = family
    specials = [i for i in tokenizer.all_special_ids if i not in vocab.end_ids]
    ids = data.draw(st.lists(st.sampled_from(_content_ids(vocab) + specials), max_size=8))
    tail = data.draw(st.lists(st.sampled_from(_content_ids(vocab)), max_size=3))
    expected = tokenizer.decode(ids, skip_special_tokens=True, clean_up_tokenization_spaces=False)
    for end in vocab.end_ids:
        assert vocab.decode([*ids, end, *tail]) == expected


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_encode_exact_round_trips(family, data):
    _, tokenizer, vocab, _, _, any_text = family
    alphabet = _alphabet(vocab)
    words = data.draw(st.lists(st.text(alphabet, min_size=1, max_size=6), min_size=1, max_size=4))
    text = " ".join(words)
    ids = vocab.encode_exact(text, at_start=True)
    assert ids is not None, text
    assert vocab.decode(ids) == text == _hf_decode(tokenizer, ids)
    piece = vocab.encode_exact(text)  # in the middle of a text: its bytes, no forced prefix
    assert piece is not None and b"".join(vocab.token_bytes[i] for i in piece) == text.encode()
    assert vocab.decode(piece, at_start=False) == text
    free = data.draw(st.text(alphabet + "  ", max_size=12))
    ids = vocab.encode_exact(free, at_start=True)
    if any_text or name_allows_spaces(vocab):
        assert ids is not None, free
    if ids is not None:
        assert vocab.decode(ids) == free == _hf_decode(tokenizer, ids)


def name_allows_spaces(vocab: TokenVocabulary) -> bool:
    """Whether a lone space is a token (Metaspace's ``"▁"``), so any run of spaces is spellable."""
    return b" " in vocab.token_bytes


def test_encode_exact_prefers_the_tokenizers_own_encoding(family):
    _, tokenizer, vocab, *_ = family
    text = "The Mill serves Indian food in the riverside."
    own = tokenizer.encode(text, add_special_tokens=False)
    if vocab.decode(own) == text:
        assert vocab.encode_exact(text, at_start=True) == own


def test_encode_exact_is_none_for_impossible_text(family):
    _, _, vocab, _, impossible, _ = family
    for text in impossible:
        assert vocab.encode_exact(text, at_start=True) is None, text
    assert vocab.encode_exact("", at_start=True) == []


def test_outlines_vocabulary_leaves_out_every_end_token(family):
    _, tokenizer, vocab, *_ = family
    assert outlines_vocabulary(vocab) is outlines_vocabulary(vocab)
    assert outlines_vocabulary(tokenizer) is outlines_vocabulary(vocab)


# -------------------------------------------------------------------------------------------------------
# Automata over the vocabulary
# -------------------------------------------------------------------------------------------------------


def _steps_to_accept(automaton: TokenAutomaton) -> np.ndarray:
    """Fewest tokens from each state to an accepting state (a large number when none is reachable)."""
    far = automaton.num_states + 1
    dist = np.where(automaton.accept, 0, far)
    for _ in range(automaton.num_states):
        nxt = np.where(automaton.table >= 0, dist[np.maximum(automaton.table, 0)], far).min(axis=1) + 1
        new = np.minimum(dist, nxt)
        if np.array_equal(new, dist):
            break
        dist = new
    return dist


def _walk(automaton: TokenAutomaton, rng: random.Random, soft_max: int = 10) -> list[int]:
    """A random accepted content sequence: random live classes, random members, shorter once past soft_max."""
    dist = _steps_to_accept(automaton)
    end_classes = {int(automaton.token_class[e]) for e in automaton.end_tokens}
    members = {c: np.flatnonzero(automaton.token_class == c) for c in range(automaton.num_classes)}
    q, ids = automaton.start, []
    while True:
        if automaton.accept[q] and (len(ids) >= soft_max or rng.random() < 0.25):
            return ids
        row = automaton.table[q]
        options = [
            c
            for c in range(automaton.num_classes)
            if row[c] >= 0 and c not in end_classes and dist[row[c]] <= automaton.num_states
        ]
        if len(ids) >= soft_max:
            options = [c for c in options if dist[row[c]] < dist[q]]
        if not options:
            assert automaton.accept[q]
            return ids
        c = rng.choice(options)
        ids.append(int(rng.choice(list(members[c]))))
        q = int(row[c])


PATTERNS = [r"[a-z]+( [a-z]+)?", r"(The|A) [A-Za-z]{2,8}( [0-9])?", r"x?", r"[a-z ]{0,6}\.", r"[^x]{1,5}"]


@pytest.fixture(scope="module")
def compiled(family):
    _, _, vocab, *_ = family
    return {p: compile_constraint(Regex(p), vocab).automaton for p in PATTERNS}


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10**6))
def test_random_accepted_sequences_decode_to_matching_text(family, compiled, seed):
    _, tokenizer, vocab, *_ = family
    rng = random.Random(seed)
    for pattern, automaton in compiled.items():
        ids = _walk(automaton, rng)
        canvas = ids + [rng.choice(vocab.end_ids) for _ in range(rng.randint(0, 3))]
        assert automaton.accepts(canvas)
        text = vocab.decode(canvas)
        assert re.fullmatch(pattern, text), (pattern, text, tokenizer.convert_ids_to_tokens(ids))
        assert text == _hf_decode(tokenizer, ids)


@pytest.mark.parametrize("text", ["the mill", "The Aromi 5", "", "x", "cafe.", "Zizzi"])
def test_exact_spellings_of_matching_text_are_accepted(family, compiled, text):
    _, _, vocab, *_ = family
    ids = vocab.encode_exact(text, at_start=True)
    assert ids is not None
    for pattern, automaton in compiled.items():
        assert automaton.accepts(ids + [vocab.end_ids[-1]]) == bool(re.fullmatch(pattern, text)), (pattern, text)


def test_end_pad_mask_and_special_tokens(family, compiled):
    _, tokenizer, vocab, *_ = family
    for automaton in compiled.values():
        classes = {int(automaton.token_class[e]) for e in vocab.end_ids}
        assert len(classes) == 1 and classes != {-1}
        assert automaton.end_token == vocab.end_id and automaton.end_tokens == vocab.end_ids
        never = [i for i, b in enumerate(vocab.token_bytes) if b is None and i not in vocab.end_ids]
        assert vocab.mask_id in never and set(tokenizer.all_special_ids) - set(vocab.end_ids) <= set(never)
        assert (automaton.token_class[never] == -1).all()
    ids = vocab.encode_exact("the mill", at_start=True)
    automaton = compiled[PATTERNS[0]]
    for end in vocab.end_ids:
        assert automaton.accepts([*ids, end, end])
        assert not automaton.accepts([*ids, end, ids[-1]])  # nothing after the end
    assert automaton.accepts(ids)  # content that fills the canvas exactly
    assert compiled["x?"].accepts([vocab.end_ids[-1]] * 3)  # the empty text, all padding
    assert not automaton.accepts([vocab.end_id])


def test_json_schema_accepts_an_exact_tokenization_and_only_valid_documents(family):
    _, tokenizer, vocab, *_ = family
    constraint = JsonSchema(_SCHEMA)
    result = compile_constraint(constraint, vocab)
    for doc in ['{"name": "Aromi"}', '{"name":"The Mill"}']:
        ids = vocab.encode_exact(doc, at_start=True)
        assert ids is not None
        pad, end = vocab.end_ids[-1], vocab.end_id
        assert result.automaton.accepts([*ids, pad, end, pad])
        assert not result.automaton.accepts(ids[:-1] + [pad])
    rng = random.Random(0)
    for _ in range(20):
        ids = _walk(result.automaton, rng, soft_max=25)
        text = vocab.decode(ids)
        assert text == _hf_decode(tokenizer, ids)
        assert all(check(text) is None for check in result.validators), text


def test_length_in_tokens_and_words(family):
    _, _, vocab, *_ = family
    tokens = compile_constraint(Length(min=2, max=3), vocab).automaton
    ids = _content_ids(vocab)[:3]
    assert tokens.accepts(ids[:2] + [vocab.end_ids[-1]]) and tokens.accepts(ids)
    assert not tokens.accepts(ids[:1] + [vocab.end_id]) and not tokens.accepts([vocab.mask_id, *ids[:2]])
    words = compile_constraint(Length(words=(0, 2)), vocab).automaton
    assert words.accepts([vocab.end_id])
    assert words.accepts(vocab.encode_exact("the mill", at_start=True) + [vocab.end_id])
    assert not words.accepts(vocab.encode_exact("the mill is", at_start=True) + [vocab.end_id])


def test_compile_accepts_a_tokenizer_and_the_disk_cache_keys_on_the_ids(family):
    _, tokenizer, vocab, *_ = family
    direct = regex_automaton("[a-z]{1,3}", tokenizer)
    again = regex_automaton("[a-z]{1,3}", vocab)  # read back from the disk cache
    assert np.array_equal(direct.table, again.table) and direct.end_tokens == again.end_tokens == vocab.end_ids
    single = regex_automaton("[a-z]{1,3}", token_vocabulary(tokenizer, pad_id=vocab.end_id))
    assert single.end_tokens == (vocab.end_id,)
    assert single.token_class[vocab.end_ids[1]] == -1  # the pad token is a plain special token there


# -------------------------------------------------------------------------------------------------------
# Decoders, one step at a time, on a hand-made vocabulary with awkward tokens
# -------------------------------------------------------------------------------------------------------

_AWKWARD = [
    "▁a",
    "▁b",
    "a",
    "b",
    "▁",
    "▁▁",
    "a▁",
    "▁a▁b",
    "##a",
    "##b",
    ".",
    "##.",
    "'",
    "s",
    "n't",
    "<0x20>",
    "<0x61>",
    "<0xC3>",
    "<0xA9>",
    "<0xE2>",
    "<0x96>",
    "<0x81>",
    "<0xFF>",
    "Ġa",
    "Ġ",
    "é",
]

LAYOUTS = {
    "metaspace": decoders.Metaspace(),
    "metaspace-never": decoders.Metaspace(prepend_scheme="never"),
    "metaspace-first": decoders.Metaspace(prepend_scheme="first"),
    "metaspace-then-bytes": decoders.Sequence([decoders.Metaspace(), decoders.ByteFallback()]),
    "bytes-then-metaspace": decoders.Sequence([decoders.ByteFallback(), decoders.Metaspace()]),
    "llama": decoders.Sequence(
        [decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(), decoders.Strip(" ", 1, 0)]
    ),
    "gemma": decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse()]),
    "bytes-fuse-replace-strip": decoders.Sequence(
        [decoders.ByteFallback(), decoders.Fuse(), decoders.Replace("▁", " "), decoders.Strip(" ", 1, 0)]
    ),
    "wordpiece": decoders.WordPiece(),
    "wordpiece-no-cleanup": decoders.WordPiece(cleanup=False),
    "byte-level": decoders.ByteLevel(),
    "fuse-only": decoders.Fuse(),
}


def _awkward_tokenizer(decoder) -> PreTrainedTokenizerFast:
    vocab = {tok: i for i, tok in enumerate(["<unk>", "<pad>", "<eos>", "<mask>", *_AWKWARD])}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    if decoder is not None:
        tok.decoder = decoder
    tok.add_special_tokens([AddedToken(s, special=True) for s in ["<unk>", "<pad>", "<eos>", "<mask>"]])
    tok.add_tokens(["hello world", "Ā"])  # added, not special: decoded like any other token
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, unk_token="<unk>", pad_token="<pad>", eos_token="<eos>", mask_token="<mask>"
    )


@pytest.fixture(scope="module", params=list(LAYOUTS))
def layout(request):
    tokenizer = _awkward_tokenizer(LAYOUTS[request.param])
    return request.param, tokenizer, token_vocabulary(tokenizer)


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_decoder_layouts_decode_exactly(layout, data):
    _, tokenizer, vocab = layout
    ids = data.draw(st.lists(st.sampled_from(_content_ids(vocab)), max_size=6))
    assert vocab.decode(ids) == _hf_decode(tokenizer, ids)


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 10**6))
def test_decoder_layouts_give_exact_automata(layout, seed):
    name, tokenizer, vocab = layout
    rng = random.Random(seed)
    # (?s:.) reaches half characters that only some layouts can finish (outlines-core would refuse them)
    for pattern in [r"[ab ▁]{1,4}", r" ?a+", r"(a|é| )*", r"(?s:.){0,3}"]:
        automaton = regex_automaton(pattern, vocab)
        for _ in range(5):
            ids = _walk(automaton, rng, soft_max=5)
            text = _hf_decode(tokenizer, ids)
            assert re.fullmatch(pattern, text), (name, pattern, tokenizer.convert_ids_to_tokens(ids), text)
            assert vocab.decode(ids) == text


def test_first_position_rules(layout):
    name, tokenizer, vocab = layout
    if name in ("metaspace", "metaspace-first", "bytes-then-metaspace"):
        assert {tokenizer.convert_tokens_to_ids(t) for t in ["▁▁", "▁a▁b"]} <= vocab.not_first
    if name == "bytes-then-metaspace":
        assert tokenizer.convert_tokens_to_ids("<0x20>") in vocab.not_first
        assert vocab.forbidden_sequences == ("▁".encode(),)
        # bytes spelling "▁" decode to a space: the text is "a a", which "a▁a" must not accept
        ids = tokenizer.convert_tokens_to_ids(["▁a", "<0xE2>", "<0x96>", "<0x81>", "a"])
        assert _hf_decode(tokenizer, ids) == vocab.decode(ids) == "a a"
        assert not regex_automaton("a▁a", vocab).accepts(ids)
        assert regex_automaton("a a", vocab).accepts(tokenizer.convert_tokens_to_ids(["▁a", "▁a"]))
    if name in ("llama", "gemma", "byte-level", "metaspace-never"):
        assert not vocab.not_first


@pytest.mark.parametrize(
    "decoder, named",
    [
        (decoders.CTC(), "CTC"),
        (decoders.BPEDecoder(), "BPEDecoder"),
        (None, "none"),
        (decoders.Sequence([decoders.ByteFallback(), decoders.ByteLevel()]), "ByteLevel"),
        (decoders.Sequence([decoders.Strip(" ", 1, 0), decoders.Fuse()]), "Strip"),
        (decoders.Sequence([decoders.Fuse(), decoders.Replace("▁▁", " ")]), "Replace"),
    ],
)
def test_uninterpretable_decoders_raise_a_typed_error(decoder, named):
    tokenizer = _awkward_tokenizer(decoder)
    with pytest.raises(UnsupportedTokenizerError, match=named) as info:
        token_vocabulary(tokenizer)
    assert info.value.model == "WordLevel" and named in info.value.decoder
    with pytest.raises(UnsupportedTokenizerError):
        compile_constraint(Regex("a"), tokenizer)


def test_from_transitions_keeps_the_single_end_token_form():
    automaton = from_transitions({0: {2: 1}, 1: {2: 1}}, 0, [1], 4, 0, (3,))
    assert automaton.end_tokens == (0,) and automaton.accepts([2, 2, 0])
    both = from_transitions({0: {2: 1}, 1: {2: 1}}, 0, [1], 5, (0, 4), (3,))
    assert both.accepts([2, 4, 0, 4]) and both.token_class[0] == both.token_class[4]
    assert not both.accepts([2, 4, 2])


def test_not_first_tokens_stay_allowed_when_the_start_is_entered_again():
    # 0 -a-> 1 -a-> 0 (accepting 0): token 2 is "a", token 3 "a" too but never first
    automaton = from_transitions({0: {2: 1, 3: 1}, 1: {2: 0, 3: 0}}, 0, [0], 5, 0, (4,), not_first={3})
    assert automaton.accepts([2, 3, 3, 2, 0]) and not automaton.accepts([3, 2, 0])


# -------------------------------------------------------------------------------------------------------
# The array-based automaton builder against a plain reference, state by state and token by token
# -------------------------------------------------------------------------------------------------------


def _reference_automaton(transitions, initial, finals, vocab_size, ends, forbidden=(), not_first=()):
    """``from_transitions`` by its definition, with Python sets and a dense ``state x token`` table: the first
    position without ``not_first`` tokens (on a fresh copy of the start when it can be entered again), the
    states on a path from the start to a final state, end tokens from every final state to an absorbing end
    state, and tokens grouped by identical columns."""
    ends = tuple(dict.fromkeys(ends))
    drop = set(forbidden) | set(ends)
    transitions, finals = dict(transitions), set(finals)
    moves = transitions.get(initial, {})
    if any(t in not_first for t in moves):
        kept = {t: d for t, d in moves.items() if t not in not_first}
        if any(d == initial for m in transitions.values() for d in m.values()):
            fresh = ("fresh start",)
            transitions[fresh] = kept
            finals |= {fresh} if initial in finals else set()
            initial = fresh
        else:
            transitions[initial] = kept
    edges = {q: {t: d for t, d in m.items() if t not in drop} for q, m in transitions.items()}
    reach, todo = {initial}, [initial]
    while todo:
        for d in edges.get(todo.pop(), {}).values():
            if d not in reach:
                reach.add(d)
                todo.append(d)
    alive = {q for q in reach if q in finals}
    changed = True
    while changed:
        grown = {q for q in reach if any(d in alive for d in edges.get(q, {}).values())}
        changed = not grown <= alive
        alive |= grown
    states = [initial, *sorted(alive - {initial}, key=repr)]
    index = {q: i for i, q in enumerate(states)}
    end_state = len(states)
    dense = np.full((end_state + 1, vocab_size), -1, dtype=np.int64)
    for q in states:
        for t, d in edges.get(q, {}).items():
            if d in index:
                dense[index[q], t] = index[d]
    accept = np.zeros(end_state + 1, dtype=bool)
    accept[[index[q] for q in states if q in finals]] = True
    accept[end_state] = True
    dense[np.ix_(np.flatnonzero(accept), list(ends))] = end_state
    columns, token_class = {}, np.full(vocab_size, -1, dtype=np.int32)
    for t in range(vocab_size):
        if (dense[:, t] >= 0).any():
            token_class[t] = columns.setdefault(dense[:, t].tobytes(), len(columns))
    table = np.full((end_state + 1, len(columns)), -1, dtype=np.int32)
    for t in range(vocab_size):
        if token_class[t] >= 0:
            table[:, token_class[t]] = dense[:, t]
    return TokenAutomaton(table, token_class, accept, 0, end_state, ends[0], ends)


def _canonical(automaton: TokenAutomaton) -> tuple:
    """The automaton with classes numbered by their first token and states by a breadth-first walk from the
    start (then from the end state): equal for two automata exactly when they are the same up to renumbering."""
    first = {}
    for c in automaton.token_class.tolist():
        if c >= 0:
            first.setdefault(c, len(first))
    classes = sorted(first, key=first.get)
    order: dict[int, int] = {}
    for root in (automaton.start, automaton.end_state):
        if root in order:
            continue
        order[root] = len(order)
        queue = [root]
        while queue:
            q = queue.pop(0)
            for c in classes:
                d = int(automaton.table[q, c])
                if d >= 0 and d not in order:
                    order[d] = len(order)
                    queue.append(d)
    assert len(order) == automaton.num_states, "a state no walk reaches"
    table = [[order.get(int(automaton.table[q, c]), -1) for c in classes] for q in sorted(order, key=order.get)]
    token_class = [first[c] if c >= 0 else -1 for c in automaton.token_class.tolist()]
    accept = [bool(automaton.accept[q]) for q in sorted(order, key=order.get)]
    return table, token_class, accept, order[automaton.end_state], automaton.end_tokens


@st.composite
def sparse_transitions(draw):
    """A random DFA over tokens 0..7 with scattered state ids (some states only ever entered, never left)."""
    ids = draw(st.lists(st.integers(0, 10**9), min_size=1, max_size=7, unique=True))
    ends = draw(st.sampled_from([(0,), (0, 1), (1, 0)]))
    transitions = {}
    for q in ids:
        if draw(st.integers(0, 5)) == 0:
            continue
        moves = {t: draw(st.sampled_from(ids)) for t in draw(st.sets(st.integers(0, 7), max_size=5))}
        transitions[q] = moves
    initial = draw(st.sampled_from(ids))
    finals = draw(st.sets(st.sampled_from(ids)))
    not_first = draw(st.sets(st.integers(2, 7), max_size=2))
    return transitions, initial, finals, ends, not_first


@settings(max_examples=300, deadline=None)
@given(case=sparse_transitions(), forbidden=st.sampled_from([(), (7,), (2, 7)]))
def test_from_transitions_builds_the_reference_automaton(case, forbidden):
    transitions, initial, finals, ends, not_first = case
    ours = from_transitions(transitions, initial, finals, 8, ends, forbidden, not_first=not_first)
    reference = _reference_automaton(transitions, initial, finals, 8, ends, forbidden, not_first)
    assert _canonical(ours) == _canonical(reference)


@settings(max_examples=100, deadline=None)
@given(case=sparse_transitions(), dead=st.sets(st.integers(0, 40)))
def test_transition_arrays_into_dead_states_are_dropped(case, dead):
    from ctrlgen.guidance.automaton import TransitionArrays, _dict_arrays

    transitions, initial, finals, ends, _ = case
    arrays, start, final = _dict_arrays(transitions, initial, finals)
    dst = arrays.dst.copy()
    gone = sorted(k for k in dead if k < dst.shape[0])
    dst[gone] = -1  # outlines-core's states with no way on, as the index reader marks them
    ours = from_transitions(
        TransitionArrays(arrays.src, arrays.tok, dst, arrays.num_states, arrays.rank), start, final, 8, ends
    )
    pairs = [(q, t, d) for q, m in transitions.items() for t, d in m.items()]
    kept: dict = {}
    for k, (q, t, d) in enumerate(pairs):
        if k not in gone:
            kept.setdefault(q, {})[t] = d
    assert _canonical(ours) == _canonical(_reference_automaton(kept, initial, finals, 8, ends))


def test_from_transitions_refuses_what_does_not_fit():
    with pytest.raises(ValueError):
        from_transitions({0: {9: 1}}, 0, [1], 8, 0)  # a token outside the vocabulary
    with pytest.raises(ValueError):
        from_transitions({0: {2: -1}}, 0, [0], 8, 0)  # a negative state id


def _reference_regex_automaton(
    pattern: str, vocab: TokenVocabulary, at_start: bool = True, exclude: bool = True
) -> TokenAutomaton:
    """``regex_automaton`` by its definition, over outlines-core's ``get_transitions()`` dictionaries
    (``exclude=False``: without taking the sentinel out of the content's classes)."""
    from ctrlgen.guidance.compile import _literal
    from ctrlgen.guidance.regex_exclude import exclude_character
    from outlines_core import Index

    full = f"{_literal(vocab.prefix)}(?:{pattern})" if at_start and vocab.prefix else pattern
    full = exclude_character(full, vocab.probe[0]) if exclude else full
    mark = _literal(vocab.probe[0].encode())
    regex = f"{mark}(?:{full}){mark}"
    try:
        index = Index(regex, vocab.probe[3])
    except Exception:
        index = Index(regex, vocab.probe_with_bytes)
    transitions = index.get_transitions()
    start = transitions[index.get_initial_state()][vocab.probe[1]]  # past the opening mark
    return _reference_from_probe(transitions, start, index.get_final_states(), vocab, at_start)


def _reference_from_probe(transitions, initial, matched, vocab: TokenVocabulary, at_start: bool) -> TokenAutomaton:
    """The automaton of outlines-core's transitions over the probe vocabulary: final where the sentinel
    token leads to a match, the initial state final too (on a copy when it can be entered again) when the
    prefix token leads to a final state, probe tokens dropped."""
    from ctrlgen.guidance.automaton import product
    from ctrlgen.guidance.compile import _without_sequences

    _, sentinel_id, prefix_id, _ = vocab.probe

    def complete(state):
        return state is not None and transitions.get(state, {}).get(sentinel_id) in matched

    finals = {q for q in transitions if complete(q)}
    kept = {q: {t: d for t, d in moves.items() if t < len(vocab)} for q, moves in transitions.items()}
    if at_start and prefix_id is not None and complete(transitions.get(initial, {}).get(prefix_id)):
        if any(d == initial for moves in kept.values() for d in moves.values()):
            fresh = ("empty text",)
            kept[fresh], initial = dict(kept.get(initial, {})), fresh
        finals.add(initial)
    forbidden = () if vocab.mask_id is None else (vocab.mask_id,)
    not_first = vocab.not_first if at_start else ()
    automaton = _reference_automaton(kept, initial, finals, len(vocab), vocab.end_ids, forbidden, not_first)
    if vocab.forbidden_sequences:
        automaton = product(automaton, _without_sequences(vocab))
    return automaton


class _FakeIndex:
    """An outlines-core ``Index`` as ``get_transitions()`` and friends (no serialised form)."""

    def __init__(self, transitions: dict, initial: int, finals: set):
        self.transitions, self.initial, self.finals = transitions, initial, finals

    def get_transitions(self):
        return self.transitions

    def get_initial_state(self):
        return self.initial

    def get_final_states(self):
        return self.finals


def test_the_empty_text_after_a_prefix_goes_on_a_copy_of_a_start_entered_again(tmp_path, monkeypatch):
    from ctrlgen.guidance import compile as compile_module

    monkeypatch.setenv("CTRLGEN_CACHE", str(tmp_path))
    vocab = TokenVocabulary.build([b" ", b"a", b"b", None], [3], prefix=b" ")
    _, sentinel, prefix, _ = vocab.probe
    # 7 -prefix-> 9, which is complete (the sentinel leads to the match 11), and 9 -a-> 7 enters the start again
    transitions = {7: {0: 9, prefix: 9, 2: 13}, 9: {sentinel: 11, 1: 7}, 13: {sentinel: 11, 0: 9}}
    fake = _FakeIndex({5: {sentinel: 7}, **transitions}, 5, {11})  # 5: before the opening mark
    read = compile_module._read_index
    monkeypatch.setattr(compile_module, "_read_index", lambda index, *a: read(fake, *a))
    ours = regex_automaton("a", vocab)
    assert _canonical(ours) == _canonical(_reference_from_probe(transitions, 7, {11}, vocab, True))
    end = vocab.end_id
    assert ours.accepts([end]) and ours.accepts([0, end]) and ours.accepts([0, 1, 0, end])
    assert not ours.accepts([0, 1, end])  # back at the start after text: not the empty text


EQUIVALENCE_PATTERNS = [*PATTERNS, r'\{"name": ?"[^"]{0,6}"\}', r"(a|é| )*", r"(?s:.){0,3}", r"[0-9]{2,4}( [a-z]+)*"]


@pytest.mark.parametrize("at_start", [True, False])
def test_regex_automaton_builds_the_reference_automaton(family, at_start, tmp_path, monkeypatch):
    _, _, vocab, *_ = family
    monkeypatch.setenv("CTRLGEN_CACHE", str(tmp_path))
    for pattern in EQUIVALENCE_PATTERNS:
        ours = regex_automaton(pattern, vocab, at_start=at_start)
        assert _canonical(ours) == _canonical(_reference_regex_automaton(pattern, vocab, at_start)), pattern
        # the same language as without the exclusion, less the texts holding the reserved sentinel (which byte
        # tokens can spell)
        unexcluded = _reference_regex_automaton(pattern, vocab, at_start, exclude=False)
        assert _same_language(ours, product(unexcluded, _without_sequence(vocab, vocab.probe[0].encode()))), pattern


def _same_language(a: TokenAutomaton, b: TokenAutomaton) -> bool:
    """Whether two token automata accept the same canvases: no reachable pair of states disagrees on acceptance
    (a dead transition goes to a rejecting sink, ``-1``)."""
    tokens = range(a.vocab_size)

    def step(automaton, q, t):
        c = automaton.token_class[t] if q >= 0 else -1
        return -1 if c < 0 else int(automaton.table[q, c])

    seen, queue = {(a.start, b.start)}, [(a.start, b.start)]
    while queue:
        qa, qb = queue.pop()
        if (qa >= 0 and bool(a.accept[qa])) != (qb >= 0 and bool(b.accept[qb])):
            return False
        for t in tokens:
            pair = (step(a, qa, t), step(b, qb, t))
            if pair not in seen and pair != (-1, -1):
                seen.add(pair)
                queue.append(pair)
    return True


def test_regex_automaton_builds_the_reference_automaton_for_every_decoder_layout(layout, tmp_path, monkeypatch):
    _, _, vocab = layout
    monkeypatch.setenv("CTRLGEN_CACHE", str(tmp_path))
    for pattern in [r"[ab ▁]{1,4}", r" ?a+", r"(a|é| )*", r"(?s:.){0,3}", r"x?"]:
        ours = regex_automaton(pattern, vocab)
        assert _canonical(ours) == _canonical(_reference_regex_automaton(pattern, vocab)), pattern


def _index_for(vocab: TokenVocabulary, pattern: str):
    from ctrlgen.guidance.compile import _literal
    from outlines_core import Index

    mark = _literal(vocab.probe[0].encode())
    return Index(f"{mark}(?:{pattern}){mark}", vocab.probe[3])


def _probe_ids(vocab: TokenVocabulary) -> tuple[int, int, int]:
    _, sentinel, prefix, _ = vocab.probe
    return len(vocab), sentinel, -1 if prefix is None else prefix


def _in_outlines_ids(probed) -> tuple:
    """A reading of an index (``_read_index``) in outlines-core's own state ids."""
    arrays, states = probed.arrays, probed.arrays.rank
    moves: dict[int, dict[int, int]] = {}
    for q, t, d in zip(states[arrays.src].tolist(), arrays.tok.tolist(), states[arrays.dst].tolist()):
        moves.setdefault(q, {})[t] = d
    prefix = None if probed.prefix_dst < 0 else int(states[probed.prefix_dst])
    return int(states[probed.start]), set(states[probed.final].tolist()), moves, prefix


def test_the_serialised_index_reads_as_get_transitions(family, monkeypatch):
    import outlines_core
    from ctrlgen.guidance import compile as compile_module

    _, _, vocab, *_ = family
    real, sentinel, prefix = _probe_ids(vocab)
    index = _index_for(vocab, r'\{"name": ?"[^"]{0,6}"\}')
    transitions, matched = index.get_transitions(), index.get_final_states()
    initial = transitions[index.get_initial_state()][sentinel]  # past the opening mark
    expected = (
        initial,
        {q for q, m in transitions.items() if m.get(sentinel) in matched},
        {q: kept for q, m in transitions.items() if (kept := {t: d for t, d in m.items() if t < real})},
        transitions[initial].get(prefix),
    )
    assert compile_module._serialised(index) is not None
    assert _in_outlines_ids(compile_module._read_index(index, real, sentinel, prefix)) == expected
    # a timing wrapper in place of outlines_core.Index (what profilers do) neither breaks the reading nor stays
    wrapper = lambda *a, **k: outlines_core.Index(*a, **k)  # noqa: E731
    monkeypatch.setattr(outlines_core, "Index", wrapper)
    assert compile_module._serialised(index) is not None and outlines_core.Index is wrapper
    # without the serialised form, the same pass reads the integers of get_transitions()
    monkeypatch.setattr(compile_module, "_serialised", lambda index: None)
    assert _in_outlines_ids(compile_module._read_index(index, real, sentinel, prefix)) == expected


def test_other_layouts_of_the_serialised_index_are_refused(family):
    from ctrlgen.guidance import compile as compile_module

    _, _, vocab, *_ = family
    ids = _probe_ids(vocab)
    index = _index_for(vocab, r"[a-z]+( [a-z]+)?")
    blob = np.frombuffer(compile_module._serialised(index), dtype=np.uint8)

    def read(data) -> list | None:
        """The index's contents as read from ``data``, None when refused."""
        ok, *contents, eos = compile_module._parse_index(np.ascontiguousarray(data, dtype=np.uint8))
        if not ok:
            return None
        probed = compile_module._probed(contents, *ids)
        if probed is None:
            return None
        return contents if compile_module._agrees(index, contents, eos, probed, *ids[1:]) else None

    assert read(blob) is not None
    for cut in [0, 1, 2, blob.size // 3, blob.size - 1]:  # truncated
        assert read(blob[:cut]) is None
    assert read(np.concatenate([blob, [0]])) is None  # a field more at the end
    assert read(np.concatenate([[1], blob])) is None  # a field more at the start (a format version, say)
    wide = np.concatenate([[b, 0, 0, 0] for b in blob[:8]] + [blob[8:]])  # fixed-width integers
    assert read(wide) is None
    rng = np.random.default_rng(0)
    _, _, keys, lens, _, _ = read(blob)
    for _ in range(200):  # any damage is read without a crash, and never as another layout
        damaged = blob.copy()
        damaged[rng.integers(blob.size)] ^= np.uint8(rng.integers(1, 256))
        contents = read(damaged)
        if contents is not None:
            assert np.array_equal(contents[2], keys) and np.array_equal(contents[3], lens)
