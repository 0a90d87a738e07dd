"""Training the zoo's tokenizers: BERT-style WordPiece, SentencePiece-style Unigram, GPT-2-style byte-level BPE.

The ``tokenizers`` trainers are not deterministic on their own (ties broken in hash order, scores with
summation noise), and a small corpus leaves out characters a constraint may need; each ``_*_core`` works around
both, so a tokenizer is a function of its corpus, size and layout. :func:`_finish` then adds the family's
trailing special tokens and templates (:mod:`.families`) and wraps the result for transformers.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence

from tokenizers import AddedToken, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
from transformers import PreTrainedTokenizerFast

from .families import _BPE_ROLES, _UNIGRAM_ROLES, _UNIGRAM_TEMPLATE, PRINTABLE_ASCII, _family_spec, _TokSpec


def _wordpiece_core(texts: list[str], vocab_size: int, specials: list[str], min_frequency: int) -> Tokenizer:
    """Train WordPiece, then add every printable ASCII character in its plain and ``##`` forms.

    Real BERT vocabularies hold both forms of every character, so any string of them tokenises without
    ``[UNK]``: JSON such as ``{"a"`` needs ``{``, ``"`` and ``##a``-style continuations that a small corpus may
    never produce. The trained part is shrunk so that, with the additions, the total stays within
    ``vocab_size`` whenever that is possible.
    """

    def pipeline(vocab: dict[str, int] | None = None) -> Tokenizer:
        tok = Tokenizer(
            models.WordPiece(unk_token="[UNK]", continuing_subword_prefix="##", max_input_chars_per_word=100)
            if vocab is None
            else models.WordPiece(
                vocab=vocab, unk_token="[UNK]", continuing_subword_prefix="##", max_input_chars_per_word=100
            )
        )
        tok.normalizer = normalizers.BertNormalizer(
            clean_text=True, handle_chinese_chars=True, strip_accents=False, lowercase=False
        )
        tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
        tok.decoder = decoders.WordPiece(prefix="##")
        return tok

    # The trainer numbers the "##c" continuation characters in hash order, which breaks ties between equally
    # frequent merges differently from run to run. Handing it every "##c" up front (as special tokens, so they
    # get fixed ids first) makes training deterministic; the final tokenizer is rebuilt without them as specials.
    normalizer = pipeline().normalizer
    chars = sorted({c for t in texts for c in normalizer.normalize_str(t) if not c.isspace()} | set(PRINTABLE_ASCII))
    continuations = ["##" + c for c in chars]
    target = vocab_size
    for _ in range(3):
        tok = pipeline()
        trainer = trainers.WordPieceTrainer(
            vocab_size=max(target, len(specials) + 2 * len(chars)),
            min_frequency=min_frequency,
            special_tokens=specials + continuations,
            initial_alphabet=chars,
            continuing_subword_prefix="##",
            show_progress=False,
        )
        tok.train_from_iterator(texts, trainer=trainer)
        vocab = tok.get_vocab()
        overshoot = len(vocab) - vocab_size
        if overshoot <= 0 or target - overshoot < len(specials) + 2 * len(chars):
            break
        target -= overshoot
    tok = pipeline(dict(sorted(vocab.items(), key=lambda kv: kv[1])))
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in specials])
    return tok


def _unigram_core(texts: list[str], vocab_size: int, specials: list[str], unk: str) -> Tokenizer:
    tok = Tokenizer(models.Unigram())
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    trainer = trainers.UnigramTrainer(
        vocab_size=max(vocab_size, len(specials) + len(PRINTABLE_ASCII) + 2),
        special_tokens=specials,
        unk_token=unk,
        max_piece_length=16,
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    # The trainer's scores carry floating-point noise (~1e-14) from summation order, which reorders nearly
    # equal pieces between runs. Rounding and a stable (score, piece) order make the result deterministic.
    spec = json.loads(tok.to_str())
    pieces = spec["model"]["vocab"]
    head = [p for p in pieces if p[0] in specials]
    rest = [[piece, round(score, 8)] for piece, score in pieces if piece not in specials]
    # Characters kept only because every character must be a piece get the lowest learned score plus
    # 1e-4, 2e-4, ... handed out in hash order; characters the corpus lacks are not pieces at all. Both become a
    # fallback block below every learned piece, in code-point order (this is also how every printable ASCII
    # character gets in).
    low = min((score for _, score in rest), default=0.0)
    band = low + 1e-4 * sum(len(piece) == 1 for piece, _ in rest) + 1e-9
    fallback = {piece for piece, score in rest if len(piece) == 1 and score <= band}
    fallback |= {c for c in ("▁", *PRINTABLE_ASCII)} - {piece for piece, _ in rest}
    rest = sorted((p for p in rest if p[0] not in fallback), key=_piece_order)
    rest += [[c, round(low - 1.0 - 0.001 * i, 8)] for i, c in enumerate(sorted(fallback))]
    spec["model"]["vocab"] = head + rest
    spec["model"]["unk_id"] = [p[0] for p in head].index(unk)
    return Tokenizer.from_str(json.dumps(spec))


def _piece_order(item: list) -> tuple[float, str]:
    return (-item[1], item[0])


def _add_byte_fallback(tok: Tokenizer) -> Tokenizer:
    """Give a Unigram tokenizer the 256 ``<0xXX>`` byte pieces and turn byte fallback on (as Llama/T5-style
    SentencePiece models do): a character outside the vocabulary becomes its UTF-8 bytes instead of ``<unk>``."""
    spec = json.loads(tok.to_str())
    vocab = spec["model"]["vocab"]
    have = {piece for piece, _ in vocab}
    floor = min(score for _, score in vocab) - 1.0
    vocab.extend([f"<0x{b:02X}>", floor] for b in range(256) if f"<0x{b:02X}>" not in have)
    spec["model"]["byte_fallback"] = True
    spec["decoder"] = {
        "type": "Sequence",
        "decoders": [{"type": "ByteFallback"}, spec["decoder"]],
    }
    return Tokenizer.from_str(json.dumps(spec))


def _bytelevel_core(texts: list[str], vocab_size: int, specials: list[str], min_frequency: int) -> Tokenizer:
    tok = Tokenizer(models.BPE())
    # add_prefix_space=False: a leading space is text like any other, so decode(encode(s)) == s exactly.
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=max(vocab_size, len(specials) + 256),
        min_frequency=min_frequency,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    return tok


def _train_core(spec: _TokSpec, texts: Iterable[str], model_vocab_size: int, min_frequency: int) -> Tokenizer:
    texts = list(texts)
    leading = spec.leading()
    if spec.kind == "wordpiece":
        return _wordpiece_core(texts, model_vocab_size, leading, min_frequency)
    if spec.kind == "unigram":
        tok = _unigram_core(texts, model_vocab_size, leading, spec.roles.get("unk_token", "<unk>"))
        return _add_byte_fallback(tok) if spec.byte_fallback else tok
    if spec.kind == "bytelevel_bpe":
        return _bytelevel_core(texts, model_vocab_size, leading, min_frequency)
    raise ValueError(f"unknown tokenizer kind {spec.kind!r}")


def _finish(spec: _TokSpec, tok: Tokenizer) -> PreTrainedTokenizerFast:
    """Append the trailing special tokens, set the post-processor, wrap as a transformers tokenizer."""
    trailing = spec.trailing_in_order()
    if trailing:
        tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in trailing])
    if spec.template is not None:
        single, pair = spec.template
        names = {p for p in (single + " " + pair).split() if not p.startswith("$")}
        names = {p.split(":")[0] for p in names}
        tok.post_processor = processors.TemplateProcessing(
            single=single, pair=pair, special_tokens=[(t, tok.token_to_id(t)) for t in sorted(names)]
        )
    extra = [t for t in spec.extra if t not in spec.roles.values()]
    wrapped = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        clean_up_tokenization_spaces=False,
        model_max_length=spec.model_max_length,
        **dict(spec.roles),
        **({"additional_special_tokens": extra} if extra else {}),
    )
    if spec.chat_template is not None:
        wrapped.chat_template = spec.chat_template
    return wrapped


def train_wordpiece_tokenizer(
    texts: Iterable[str], vocab_size: int = 1000, *, min_frequency: int = 2
) -> PreTrainedTokenizerFast:
    """Train a cased BERT-style WordPiece tokenizer: ``[PAD] [UNK] [CLS] [SEP] [MASK]`` (ids 0-4).

    Normalisation is ``BertNormalizer(lowercase=False)`` (no accent stripping), pre-tokenisation
    ``BertPreTokenizer`` (whitespace and punctuation), decoding the ``WordPiece`` decoder; encoding with special
    tokens gives ``[CLS] ... [SEP]``. Every printable ASCII character is a token both plain and as a ``##``
    continuation, as in real BERT vocabularies.

    Parameters
    ----------
    texts:
        Training documents.
    vocab_size:
        Upper bound on the vocabulary. A corpus that supports fewer tokens gives fewer (``len(tokenizer)`` is
        the real size); below ``5 + 2 * 94`` the special and character tokens alone exceed it.
    min_frequency:
        Pairs seen fewer times are not merged.
    """
    return _finish(_family_spec("bert"), _train_core(_family_spec("bert"), texts, vocab_size, min_frequency))


def train_unigram_tokenizer(
    texts: Iterable[str], vocab_size: int = 1000, byte_fallback: bool = False
) -> PreTrainedTokenizerFast:
    """Train a SentencePiece-style Unigram tokenizer: ``<pad> </s> <unk> <mask>`` (ids 0-3).

    Pre-tokenisation is ``Metaspace`` with ``prepend_scheme="always"`` (a word-initial space is part of the
    piece, written ``▁``); encoding with special tokens appends ``</s>``. Every printable ASCII character is a
    piece. With ``byte_fallback`` the 256 ``<0xXX>`` byte pieces are added and characters outside the vocabulary
    are encoded as their UTF-8 bytes (as Llama's tokenizer does) instead of ``<unk>``.

    Parameters
    ----------
    texts:
        Training documents.
    vocab_size:
        Target number of pieces (plus the 256 byte pieces with ``byte_fallback``). The trainer may stop
        short of a target the corpus cannot support; ``len(tokenizer)`` is the real size.
    byte_fallback:
        Whether to add byte pieces and encode unknown characters as bytes.
    """
    spec = _TokSpec("unigram", _UNIGRAM_ROLES, template=_UNIGRAM_TEMPLATE, byte_fallback=byte_fallback)
    return _finish(spec, _train_core(spec, texts, vocab_size, 2))


def train_bytelevel_bpe_tokenizer(
    texts: Iterable[str],
    vocab_size: int = 1000,
    *,
    special_tokens: Mapping[str, str] | None = None,
    extra_special_tokens: Sequence[str] = (),
    trailing_special_tokens: Sequence[str] = (),
    template: tuple[str, str] | None = None,
    chat_template: str | None = None,
    min_frequency: int = 2,
) -> PreTrainedTokenizerFast:
    """Train a GPT-2-style byte-level BPE tokenizer; every string round-trips through it exactly.

    The base alphabet is the 256 bytes (so every printable ASCII character, and every string, has tokens),
    pre-tokenisation and decoding are ``ByteLevel(add_prefix_space=False)``, so
    ``decode(encode(s, add_special_tokens=False)) == s`` for any ``s``.

    Parameters
    ----------
    texts:
        Training documents.
    vocab_size:
        Upper bound on the vocabulary including special tokens; a corpus that supports fewer merges gives
        fewer tokens (``len(tokenizer)`` is the real size).
    special_tokens:
        Role -> token string (``bos_token``, ``eos_token``, ``pad_token``, ``mask_token``, ...). Default:
        ``<|startoftext|>``, ``<|endoftext|>``, a distinct ``<|pad|>`` and ``<|mask|>``.
    extra_special_tokens:
        Further special tokens (chat markers), kept atomic and skipped by ``skip_special_tokens``.
    trailing_special_tokens:
        Special tokens to number *after* the learned vocabulary (real checkpoints put their mask token there);
        the others take the first ids.
    template:
        ``(single, pair)`` post-processor templates, e.g. ``("<s> $A </s>", "<s> $A </s> </s> $B </s>")``; by
        default nothing is added around the text.
    chat_template:
        A Jinja chat template stored on the tokenizer.
    min_frequency:
        Pairs seen fewer times are not merged.
    """
    spec = _TokSpec(
        "bytelevel_bpe",
        dict(special_tokens) if special_tokens is not None else _BPE_ROLES,
        extra=tuple(extra_special_tokens),
        trailing=tuple(trailing_special_tokens),
        template=template,
        chat_template=chat_template,
    )
    n_trailing = len(spec.trailing_in_order())
    return _finish(spec, _train_core(spec, texts, vocab_size - n_trailing, min_frequency))
