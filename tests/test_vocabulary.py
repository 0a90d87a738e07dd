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
from ctrlgen.guidance.automaton import TokenAutomaton, from_transitions
from ctrlgen.guidance.compile import compile_constraint, regex_automaton
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
