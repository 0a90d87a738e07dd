"""A zoo of tiny, randomly initialised checkpoints of every model family ctrlgen adapts.

ctrlgen plugs in diffusion-style checkpoints through adapters: Hugging Face masked LMs (BERT, RoBERTa,
ModernBERT, loaded with ``AutoModelForMaskedLM``), LLaDA-style checkpoints and Dream-style checkpoints (remote
code, loaded with ``AutoModel`` and ``trust_remote_code=True``). Tests and benchmarks need one checkpoint of each
that is built offline in seconds, saved with ``save_pretrained`` and loaded back *exactly as a real one would
be*: same loader, same files, same ``config.json`` fields, same tokenizer special tokens, same quirks. This
module builds them. Nothing is downloaded.

What each family mirrors of its real counterpart (details in the builders' docstrings):

* ``"bert"``: ``BertForMaskedLM`` + WordPiece (``[PAD] [UNK] [CLS] [SEP] [MASK]``, cased, ``[CLS] A [SEP]``).
* ``"roberta"``: ``RobertaForMaskedLM`` + byte-level BPE (``<s>=0 <pad>=1 </s>=2 <unk>=3``, ``<mask>`` last),
  ``max_position_embeddings = 512 + 2`` because RoBERTa's positions start after the padding id.
* ``"modernbert"``: ``ModernBertForMaskedLM`` + byte-level BPE with BERT-style specials placed after the
  learned vocabulary, and a logits dimension rounded up to a multiple of 64 (larger than the tokenizer).
* ``"bert-unigram"``: ``BertForMaskedLM`` + Unigram/Metaspace (``<pad> </s> <unk> <mask>``).
* ``"llada"``: remote code (``model_type="llada"``, ``LLaDAModelLM``, ``mask_token_id``), byte-level BPE with
  ``<|mdm_mask|>``, pad == eos, a Llama-3-style chat template; logits at position i predict token i.
* ``"dream"``: remote code (``model_type="Dream"``, ``DreamModel``), byte-level BPE with ``<|mask|>``, pad == eos,
  a ChatML chat template; logits at position i predict token i + 1 (Dream's sampler shifts them back).

The remote-code sources live in ``ctrlgen/_remote_code/<family>/`` and are copied into each checkpoint. In
transformers 5, ``AutoTokenizer.from_pretrained`` reads the model config first, so pass ``trust_remote_code``
(True or False) explicitly for the remote-code families, or it asks interactively.

Every build writes a ``ctrlgen_zoo.json`` next to the checkpoint (family, requested and actual vocabulary
sizes, logits dimension, logit shift, parameter count) so benchmarks can report what they really ran.
Everything is deterministic under ``seed``; the defaults give models well under a million parameters, and the
size arguments go up to the 30k-WordPiece and 50k-BPE vocabularies of real models
(:func:`synthetic_vocab_tokenizer` pads a trained vocabulary to an exact size).
"""

from __future__ import annotations

import contextlib
import csv
import json
import random
import shutil
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from tokenizers import AddedToken, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
from transformers import PreTrainedTokenizerFast

__all__ = [
    "MASKED_LM_FAMILIES",
    "REMOTE_CODE_FAMILIES",
    "FAMILIES",
    "PRINTABLE_ASCII",
    "LLADA_CHAT_TEMPLATE",
    "DREAM_CHAT_TEMPLATE",
    "ZOO_INFO_FILE",
    "corpus_texts",
    "train_wordpiece_tokenizer",
    "train_unigram_tokenizer",
    "train_bytelevel_bpe_tokenizer",
    "synthetic_vocab_tokenizer",
    "build_masked_lm",
    "build_llada_style",
    "build_dream_style",
    "build_zoo",
    "read_zoo_info",
]

#: masked-LM families built by :func:`build_masked_lm` (loaded with ``AutoModelForMaskedLM``)
MASKED_LM_FAMILIES = ("bert", "roberta", "modernbert", "bert-unigram")
#: remote-code families (loaded with ``AutoModel`` and ``trust_remote_code=True``)
REMOTE_CODE_FAMILIES = ("llada", "dream")
FAMILIES = MASKED_LM_FAMILIES + REMOTE_CODE_FAMILIES

#: the 94 printable, non-space ASCII characters: every tokenizer here has a token for each
PRINTABLE_ASCII = tuple(chr(i) for i in range(33, 127))

#: metadata file written next to every zoo checkpoint
ZOO_INFO_FILE = "ctrlgen_zoo.json"

#: Llama-3-style turns as in LLaDA-8B-Instruct: ``<|start_header_id|>role<|end_header_id|>\n\ncontent<|eot_id|>``,
#: the first turn preceded by the bos token. (Unlike the real template, the assistant header is only appended
#: when ``add_generation_prompt`` is set.)
LLADA_CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if loop.first %}{{ bos_token }}{% endif %}"
    "{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + message['content'] | trim"
    " + '<|eot_id|>' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}"
)

#: ChatML turns as in Dream-v0-Instruct-7B (Qwen2.5's format), with the default system turn when none is given.
DREAM_CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if loop.first and message['role'] != 'system' %}"
    "{{ '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}"
    "{% endif %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)

_REMOTE_CODE_DIR = Path(__file__).resolve().parent / "_remote_code"
_SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


# --------------------------------------------------------------------------------------------------------------
# Corpus
# --------------------------------------------------------------------------------------------------------------

_NAMES = ["The Mill", "Blue Spice", "The Eagle", "Zizzi", "Cotto", "Aromi", "The Phoenix", "Giraffe", "Wildwood"]
_EAT_TYPES = ["restaurant", "pub", "coffee shop"]
_FOODS = ["Chinese", "French", "Indian", "Italian", "English", "Japanese", "Fast food"]
_PRICES = ["cheap", "moderate", "high", "less than £20", "£20-25", "more than £30"]
_RATINGS = ["low", "average", "high", "1 out of 5", "3 out of 5", "5 out of 5"]
_AREAS = ["city centre", "riverside"]
_NEAR = ["Café Sicilia", "Burger King", "The Portland Arms", "Raja Indian Cuisine", "Express by Holiday Inn"]


def _generated_record(rng: random.Random) -> dict[str, str]:
    record = {"name": rng.choice(_NAMES), "eatType": rng.choice(_EAT_TYPES)}
    for key, values in (("food", _FOODS), ("priceRange", _PRICES), ("customer rating", _RATINGS)):
        if rng.random() < 0.7:
            record[key] = rng.choice(values)
    if rng.random() < 0.7:
        record["area"] = rng.choice(_AREAS)
    if rng.random() < 0.5:
        record["familyFriendly"] = rng.choice(["yes", "no"])
    if rng.random() < 0.4:
        record["near"] = rng.choice(_NEAR)
    return record


def _generated_sentence(record: Mapping[str, str], rng: random.Random) -> str:
    parts = [f"{record['name']} is a {record.get('priceRange', 'moderate')}-priced {record['eatType']}"]
    if "food" in record:
        food = record["food"]
        parts.append(f"serving {food}" if food.endswith("food") else f"serving {food} food")
    if "area" in record:
        parts.append(f"in the {record['area']}")
    sentence = " ".join(parts)
    if "near" in record:
        sentence += rng.choice([f", near {record['near']}", f" close to {record['near']}"])
    sentence += "."
    if "customer rating" in record:
        sentence += f" Customers rate it {record['customer rating']}."
    if "familyFriendly" in record:
        sentence += " It is " + ("" if record["familyFriendly"] == "yes" else "not ") + "family-friendly."
    return sentence


def _e2e_documents(data_dir: Path) -> tuple[list[str], list[str]] | None:
    """Unique E2E descriptions and the meaning representations as JSON objects, sorted; None if absent."""
    from .corpus import mr_to_record

    files = [data_dir / "e2e" / "devset.csv", data_dir / "e2e" / "devel-fixed.no-ol.csv"]
    files = [f for f in files if f.is_file()]
    if not files:
        return None
    sentences: set[str] = set()
    records: set[str] = set()
    for path in files:
        with path.open(newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                ref = " ".join((row.get("ref") or "").split())
                if ref:
                    sentences.add(ref)
                record = mr_to_record(row.get("mr") or "")
                if record:
                    records.add(json.dumps(record, ensure_ascii=False))
    if not sentences:
        return None
    return sorted(sentences), sorted(records)


def corpus_texts(n: int = 2000, seed: int = 0, data_dir: str | Path | None = None) -> list[str]:
    """About ``n`` short documents to train the zoo's tokenizers on: restaurant descriptions and JSON records.

    The E2E restaurant descriptions and their meaning representations rendered as JSON objects are read from
    ``../shared/data/e2e`` (relative to the repository) when that folder exists, so the vocabularies look like
    the text ctrlgen generates and constrains; otherwise a small grammar generates sentences and JSON objects
    of the same kind, so the zoo never needs the data folder. About a quarter of the documents are JSON.

    Parameters
    ----------
    n:
        Number of documents. With the data folder present, at most all of its unique documents (about 14k)
        are returned; the generated fallback always returns ``n``.
    seed:
        Which documents are drawn and in which order.
    data_dir:
        The data folder (default ``../shared/data`` next to the repository).
    """
    if n <= 0:
        return []
    rng = random.Random(seed)
    n_json = n // 4
    found = _e2e_documents(Path(data_dir) if data_dir is not None else _SHARED_DATA)
    if found is not None:
        sentences, records = found
        rng.shuffle(sentences)
        rng.shuffle(records)
        docs = sentences[: n - min(n_json, len(records))] + records[:n_json]
    else:
        docs = []
        for i in range(n):
            record = _generated_record(rng)
            if i < n_json:
                docs.append(json.dumps(record, ensure_ascii=False))
            else:
                docs.append(_generated_sentence(record, rng))
    rng.shuffle(docs)
    return docs


# --------------------------------------------------------------------------------------------------------------
# Tokenizers
# --------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _TokSpec:
    """How a family's tokenizer is laid out.

    ``roles`` maps ``bos_token``/``eos_token``/... to token strings; ``extra`` are further special tokens
    (chat markers). Tokens in ``trailing`` get the ids after the learned vocabulary (as the real checkpoints'
    mask tokens do); the others get the first ids, in order of first mention in ``roles`` then ``extra``.
    """

    kind: str  # "wordpiece" | "unigram" | "bytelevel_bpe"
    roles: Mapping[str, str]
    extra: tuple[str, ...] = ()
    trailing: tuple[str, ...] = ()
    template: tuple[str, str] | None = None  # post-processor (single, pair)
    chat_template: str | None = None
    model_max_length: int = 512
    byte_fallback: bool = False

    def specials(self) -> list[str]:
        seen: list[str] = []
        for tok in [*self.roles.values(), *self.extra]:
            if tok not in seen:
                seen.append(tok)
        return seen

    def leading(self) -> list[str]:
        return [t for t in self.specials() if t not in self.trailing]

    def trailing_in_order(self) -> list[str]:
        return [t for t in self.trailing if t in self.specials()]


_BERT_ROLES = {
    "pad_token": "[PAD]",
    "unk_token": "[UNK]",
    "cls_token": "[CLS]",
    "sep_token": "[SEP]",
    "mask_token": "[MASK]",
}
_BERT_TEMPLATE = ("[CLS] $A [SEP]", "[CLS] $A [SEP] $B:1 [SEP]:1")
_UNIGRAM_ROLES = {"pad_token": "<pad>", "eos_token": "</s>", "unk_token": "<unk>", "mask_token": "<mask>"}
_UNIGRAM_TEMPLATE = ("$A </s>", "$A </s> $B:1 </s>:1")
_BPE_ROLES = {
    "bos_token": "<|startoftext|>",
    "eos_token": "<|endoftext|>",
    "pad_token": "<|pad|>",
    "mask_token": "<|mask|>",
}
_ROBERTA_ROLES = {
    "bos_token": "<s>",
    "pad_token": "<pad>",
    "eos_token": "</s>",
    "unk_token": "<unk>",
    "mask_token": "<mask>",
    "cls_token": "<s>",
    "sep_token": "</s>",
}
_LLADA_ROLES = {
    "bos_token": "<|startoftext|>",
    "eos_token": "<|endoftext|>",
    "pad_token": "<|endoftext|>",
    "mask_token": "<|mdm_mask|>",
}
_LLADA_EXTRA = ("<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>")
_DREAM_ROLES = {
    "eos_token": "<|endoftext|>",
    "pad_token": "<|endoftext|>",
    "bos_token": "<|beginoftext|>",
    "mask_token": "<|mask|>",
}
_DREAM_EXTRA = ("<|im_start|>", "<|im_end|>")


def _family_spec(family: str, separate_pad: bool = False) -> _TokSpec:
    if family == "bert":
        return _TokSpec("wordpiece", _BERT_ROLES, template=_BERT_TEMPLATE)
    if family == "bert-unigram":
        return _TokSpec("unigram", _UNIGRAM_ROLES, template=_UNIGRAM_TEMPLATE)
    if family == "roberta":
        return _TokSpec(
            "bytelevel_bpe", _ROBERTA_ROLES, trailing=("<mask>",), template=("<s> $A </s>", "<s> $A </s> </s> $B </s>")
        )
    if family == "modernbert":
        return _TokSpec(
            "bytelevel_bpe",
            _BERT_ROLES,
            trailing=("[UNK]", "[CLS]", "[SEP]", "[PAD]", "[MASK]"),
            template=_BERT_TEMPLATE,
            model_max_length=8192,
        )
    if family == "llada":
        roles = dict(_LLADA_ROLES, pad_token="<|pad|>") if separate_pad else _LLADA_ROLES
        return _TokSpec(
            "bytelevel_bpe",
            roles,
            extra=_LLADA_EXTRA,
            trailing=("<|startoftext|>", "<|endoftext|>", "<|pad|>", "<|mdm_mask|>", *_LLADA_EXTRA),
            chat_template=LLADA_CHAT_TEMPLATE,
            model_max_length=4096,
        )
    if family == "dream":
        roles = dict(_DREAM_ROLES, pad_token="<|pad|>") if separate_pad else _DREAM_ROLES
        return _TokSpec(
            "bytelevel_bpe",
            roles,
            extra=_DREAM_EXTRA,
            trailing=("<|endoftext|>", "<|pad|>", "<|im_start|>", "<|im_end|>", "<|beginoftext|>", "<|mask|>"),
            chat_template=DREAM_CHAT_TEMPLATE,
            model_max_length=2048,
        )
    raise ValueError(f"unknown family {family!r}; expected one of {FAMILIES}")


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


# --------------------------------------------------------------------------------------------------------------
# Synthetic vocabularies
# --------------------------------------------------------------------------------------------------------------

_ONSETS = ["", "b", "c", "d", "f", "g", "h", "k", "l", "m", "n", "p", "r", "s", "t", "v", "w", "br", "ch", "cr"]
_ONSETS += ["dr", "fl", "gr", "pl", "pr", "sh", "sl", "sp", "st", "th", "tr", "wh"]
_VOWELS = ["a", "e", "i", "o", "u", "ai", "ea", "ee", "io", "oo", "ou", "y"]
_CODAS = ["", "", "", "n", "r", "s", "t", "l", "m", "nd", "ng", "nt", "rd", "st", "ck", "x"]


def _random_word(rng: random.Random) -> str:
    """A pronounceable nonsense word of one to three syllables ("brontel", "ouwhee", "stick")."""
    return "".join(rng.choice(_ONSETS) + rng.choice(_VOWELS) + rng.choice(_CODAS) for _ in range(rng.randint(1, 3)))


def _pad_core(tok: Tokenizer, kind: str, size: int, seed: int) -> Tokenizer:
    """Grow the model vocabulary of ``tok`` to ``size`` entries with plausible random subwords.

    WordPiece gets words and their ``##`` continuations; byte-level BPE gets words (half with the ``Ġ`` space
    marker) through chains of merges ``(w[:k-1], w[k-1])``, so the new tokens are ones encoding can produce;
    Unigram gets ``▁``-words with scores below every trained piece. Deterministic under ``seed``.
    """
    spec = json.loads(tok.to_str())
    model = spec["model"]
    rng = random.Random(seed)
    if kind == "wordpiece":
        vocab: dict[str, int] = model["vocab"]
        while len(vocab) < size:
            word = _random_word(rng)
            for cand in (word, "##" + word):
                if len(vocab) < size and cand not in vocab:
                    vocab[cand] = len(vocab)
    elif kind == "bytelevel_bpe":
        vocab = model["vocab"]
        merges = model["merges"]
        as_strings = bool(merges) and isinstance(merges[0], str)
        while len(vocab) < size:
            word = _random_word(rng)
            if rng.random() < 0.5:
                word = "Ġ" + word
            for k in range(2, len(word) + 1):
                if len(vocab) >= size:
                    break
                if word[:k] not in vocab:
                    vocab[word[:k]] = len(vocab)
                    merges.append(f"{word[: k - 1]} {word[k - 1]}" if as_strings else [word[: k - 1], word[k - 1]])
    elif kind == "unigram":
        pieces: list = model["vocab"]
        have = {p for p, _ in pieces}
        floor = min(score for _, score in pieces) - 1.0
        while len(pieces) < size:
            word = _random_word(rng)
            cand = "▁" + word if rng.random() < 0.7 else word
            if cand not in have:
                have.add(cand)
                pieces.append([cand, floor - rng.random()])
    else:
        raise ValueError(f"unknown tokenizer kind {kind!r}")
    return Tokenizer.from_str(json.dumps(spec))


def _resolve_family(family: str) -> str:
    aliases = {"wordpiece": "bert", "bpe": "roberta", "bytelevel_bpe": "roberta", "unigram": "bert-unigram"}
    family = aliases.get(family, family)
    if family not in FAMILIES:
        raise ValueError(f"unknown family {family!r}; expected one of {FAMILIES} or {tuple(aliases)}")
    return family


def _family_tokenizer(
    family: str,
    vocab_size: int,
    texts: Iterable[str] | None,
    seed: int,
    synthetic: bool,
    separate_pad: bool = False,
    min_frequency: int = 2,
) -> PreTrainedTokenizerFast:
    spec = _family_spec(family, separate_pad)
    if texts is None:
        texts = corpus_texts(n=max(2000, min(vocab_size, 20000)), seed=seed)
    model_size = vocab_size - len(spec.trailing_in_order())
    core = _train_core(spec, texts, model_size, min_frequency)
    if synthetic and core.get_vocab_size(with_added_tokens=True) < model_size:
        core = _pad_core(core, spec.kind, model_size, seed)
    return _finish(spec, core)


def synthetic_vocab_tokenizer(
    family: str, vocab_size: int, *, texts: Iterable[str] | None = None, seed: int = 0
) -> PreTrainedTokenizerFast:
    """A ``family`` tokenizer with exactly ``vocab_size`` tokens, however small the training corpus.

    The tokenizer is trained on ``texts`` (default: :func:`corpus_texts`) and its vocabulary is then padded
    with plausible random subwords (letter strings, their ``##`` forms for WordPiece, space-marked forms for
    BPE and Unigram) up to the requested size, so benchmarks can measure what a 30k-WordPiece or a 50k-BPE
    vocabulary costs without a large corpus. The special tokens keep the family's layout.

    Parameters
    ----------
    family:
        A zoo family (``"bert"``, ``"roberta"``, ``"modernbert"``, ``"bert-unigram"``, ``"llada"``,
        ``"dream"``) or a tokenizer kind (``"wordpiece"``, ``"bpe"``/``"bytelevel_bpe"``, ``"unigram"``).
    vocab_size:
        The exact ``len(tokenizer)`` wanted (unless the trained vocabulary alone is already larger).
    texts:
        Training documents.
    seed:
        Seeds the corpus draw and the padding words.
    """
    return _family_tokenizer(_resolve_family(family), vocab_size, texts, seed, synthetic=True)


# --------------------------------------------------------------------------------------------------------------
# Checkpoints
# --------------------------------------------------------------------------------------------------------------


@contextlib.contextmanager
def _quiet_and_seeded(seed: int) -> Iterator[None]:
    """Seed torch for a build without disturbing the caller's random state, and hide progress bars."""
    from transformers.utils import logging as hf_logging

    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            yield
    finally:
        if bars:
            hf_logging.enable_progress_bar()


def _round_up(n: int, multiple: int) -> int:
    return -(-n // multiple) * multiple


def _save_tokenizer(tokenizer: PreTrainedTokenizerFast, out_dir: Path) -> None:
    """Save, then write ``tokenizer_config.json`` the way the real checkpoints' files read.

    transformers 5 writes its internal backend name as the class, the extra special tokens under a key
    transformers 4 reads differently, and the chat template to a separate ``chat_template.jinja``. The
    checkpoints this zoo imitates name the class ``PreTrainedTokenizerFast``, list ``additional_special_tokens``
    and keep ``chat_template`` in ``tokenizer_config.json`` (LLaDA-8B-Instruct's file does all three); both
    major versions of transformers load that layout.
    """
    tokenizer.save_pretrained(out_dir)
    path = out_dir / "tokenizer_config.json"
    cfg = json.loads(path.read_text(encoding="utf-8"))
    cfg["tokenizer_class"] = "PreTrainedTokenizerFast"
    extra = cfg.pop("extra_special_tokens", None)
    if isinstance(extra, list) and extra:
        cfg["additional_special_tokens"] = extra
    jinja = out_dir / "chat_template.jinja"
    if tokenizer.chat_template is not None:
        cfg["chat_template"] = tokenizer.chat_template
        jinja.unlink(missing_ok=True)
    path.write_text(json.dumps(cfg, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _probe_ids(tokenizer: PreTrainedTokenizerFast, length: int = 16) -> torch.Tensor:
    ids = tokenizer.encode('The Mill is a cheap {"food": "Italian"} place near the river.', add_special_tokens=False)
    ids = (ids * length)[:length]
    return torch.tensor([ids, ids[::-1]], dtype=torch.long)


def _write_info(out_dir: Path, info: dict[str, Any]) -> None:
    (out_dir / ZOO_INFO_FILE).write_text(json.dumps(info, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def read_zoo_info(path: str | Path) -> dict[str, Any]:
    """The ``ctrlgen_zoo.json`` metadata of a zoo checkpoint: family, ``requested_vocab_size``,
    ``tokenizer_size`` (``len(tokenizer)``), ``logits_size`` (last dimension of the logits), ``logit_shift``
    (0: position i predicts token i; 1: it predicts token i + 1), ``parameters``, ``seed``, ..."""
    return json.loads((Path(path) / ZOO_INFO_FILE).read_text(encoding="utf-8"))


def _verify_masked_lm(out_dir: Path, model: torch.nn.Module, tokenizer: PreTrainedTokenizerFast) -> None:
    from transformers import AutoModelForMaskedLM, AutoTokenizer

    loaded_tok = AutoTokenizer.from_pretrained(out_dir)
    loaded = AutoModelForMaskedLM.from_pretrained(out_dir).eval()
    if len(loaded_tok) != len(tokenizer) or loaded_tok.mask_token_id != tokenizer.mask_token_id:
        raise RuntimeError(f"tokenizer saved in {out_dir} does not load back identically")
    probe = _probe_ids(tokenizer)
    with torch.no_grad():
        if not torch.equal(model.eval()(probe).logits, loaded(probe).logits):
            raise RuntimeError(f"model saved in {out_dir} does not load back identically")


def build_masked_lm(
    family: str,
    out_dir: str | Path,
    vocab_size: int = 1000,
    hidden: int = 64,
    layers: int = 2,
    seed: int = 0,
    *,
    heads: int | None = None,
    texts: Iterable[str] | None = None,
    synthetic_vocab: bool = False,
    max_position_embeddings: int = 512,
    verify: bool = True,
) -> Path:
    """Build a tiny masked LM of ``family`` with its tokenizer into ``out_dir`` and return the directory.

    The model is the family's own transformers class (``BertForMaskedLM``, ``RobertaForMaskedLM``,
    ``ModernBertForMaskedLM``), randomly initialised under ``seed``, saved with ``save_pretrained`` next to its
    tokenizer, so ``AutoModelForMaskedLM.from_pretrained(out_dir)`` and ``AutoTokenizer.from_pretrained(out_dir)``
    load it like a hub checkpoint. The config's pad/bos/eos/cls/sep ids are the tokenizer's.

    Parameters
    ----------
    family:
        ``"bert"`` (WordPiece), ``"roberta"`` (byte-level BPE, ``<mask>`` last), ``"modernbert"`` (byte-level
        BPE, specials after the learned vocabulary, logits rounded up to a multiple of 64 as in the real model)
        or ``"bert-unigram"`` (``BertForMaskedLM`` with the Unigram tokenizer).
    out_dir:
        Created if needed; existing files of the same names are overwritten.
    vocab_size:
        Tokenizer size to aim for (an upper bound when trained on a small corpus, exact with
        ``synthetic_vocab``); ``ctrlgen_zoo.json`` records the real size.
    hidden, layers, heads:
        Width, depth and attention heads (default ``hidden // 16``); the feed-forward width is ``2 * hidden``.
    seed:
        Seeds the corpus draw, the synthetic vocabulary and the weights.
    texts:
        Tokenizer training documents (default :func:`corpus_texts`).
    synthetic_vocab:
        Pad the vocabulary to exactly ``vocab_size`` (see :func:`synthetic_vocab_tokenizer`).
    max_position_embeddings:
        Longest input (RoBERTa's table gets 2 more rows for its position offset).
    verify:
        Load the directory back with the Auto classes and check the logits match the built model exactly.
    """
    from transformers import AutoModelForMaskedLM, BertConfig, ModernBertConfig, RobertaConfig

    if family not in MASKED_LM_FAMILIES:
        raise ValueError(f"unknown masked-LM family {family!r}; expected one of {MASKED_LM_FAMILIES}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    heads = heads or max(1, hidden // 16)
    tokenizer = _family_tokenizer(family, vocab_size, texts, seed, synthetic_vocab)
    tokenizer.model_max_length = max_position_embeddings
    n_tokens = len(tokenizer)
    common = dict(hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=heads, intermediate_size=2 * hidden)
    if family in ("bert", "bert-unigram"):
        config = BertConfig(
            vocab_size=n_tokens,
            max_position_embeddings=max_position_embeddings,
            pad_token_id=tokenizer.pad_token_id,
            eos_token_id=tokenizer.eos_token_id,  # None for WordPiece, as in bert-base; </s> for Unigram
            **common,
        )
    elif family == "roberta":
        config = RobertaConfig(
            vocab_size=n_tokens,
            max_position_embeddings=max_position_embeddings + tokenizer.pad_token_id + 1,
            type_vocab_size=1,
            pad_token_id=tokenizer.pad_token_id,
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
            **common,
        )
    else:
        config = ModernBertConfig(
            vocab_size=_round_up(n_tokens, 64),
            max_position_embeddings=max_position_embeddings,
            pad_token_id=tokenizer.pad_token_id,
            bos_token_id=tokenizer.cls_token_id,
            eos_token_id=tokenizer.sep_token_id,
            cls_token_id=tokenizer.cls_token_id,
            sep_token_id=tokenizer.sep_token_id,
            local_attention=min(128, max_position_embeddings),
            **common,
        )
    with _quiet_and_seeded(seed):
        model = AutoModelForMaskedLM.from_config(config)
        model.save_pretrained(out)
        _save_tokenizer(tokenizer, out)
        if verify:
            _verify_masked_lm(out, model, tokenizer)
    _write_info(
        out,
        {
            "family": family,
            "loader": "AutoModelForMaskedLM",
            "trust_remote_code": False,
            "tokenizer": _family_spec(family).kind,
            "requested_vocab_size": vocab_size,
            "tokenizer_size": n_tokens,
            "logits_size": int(config.vocab_size),
            "logit_shift": 0,
            "mask_token_id": tokenizer.mask_token_id,
            "parameters": sum(p.numel() for p in model.parameters()),
            "hidden": hidden,
            "layers": layers,
            "heads": heads,
            "seed": seed,
            "synthetic_vocab": synthetic_vocab,
        },
    )
    return out


def _copy_remote_code(family: str, out: Path) -> list[str]:
    src = _REMOTE_CODE_DIR / family
    files = sorted(p for p in src.glob("*.py")) if src.is_dir() else []
    if not files:
        raise FileNotFoundError(
            f"remote-code sources for {family!r} not found in {src}; they ship as package data of ctrlgen"
        )
    for path in files:
        shutil.copyfile(path, out / path.name)
    return [p.name for p in files]


def _verify_remote(out: Path, model: torch.nn.Module, tokenizer: PreTrainedTokenizerFast) -> None:
    from transformers import AutoConfig, AutoModel, AutoTokenizer

    try:
        AutoConfig.from_pretrained(out, trust_remote_code=False)
    except ValueError:
        pass
    else:  # pragma: no cover - would mean a class got registered globally
        raise RuntimeError(f"{out} loaded without trust_remote_code; remote code must be required")
    # transformers 5's AutoTokenizer reads the model config first: without an explicit trust_remote_code it
    # would ask interactively whether to run configuration_*.py.
    loaded_tok = AutoTokenizer.from_pretrained(out, trust_remote_code=True)
    loaded = AutoModel.from_pretrained(out, trust_remote_code=True).eval()
    if len(loaded_tok) != len(tokenizer) or loaded_tok.mask_token_id != tokenizer.mask_token_id:
        raise RuntimeError(f"tokenizer saved in {out} does not load back identically")
    probe = _probe_ids(tokenizer)
    with torch.no_grad():
        if not torch.equal(model.eval()(probe).logits, loaded(probe).logits):
            raise RuntimeError(f"model saved in {out} does not load back identically")


def _build_remote(
    family: str,
    out: Path,
    config_fields: dict[str, Any],
    auto_map: dict[str, str],
    architectures: list[str],
    tokenizer: PreTrainedTokenizerFast,
    info: dict[str, Any],
    seed: int,
    verify: bool,
) -> Path:
    """Write remote code + config.json, build the model through the Auto classes, save, check, describe."""
    from transformers import AutoConfig, AutoModel

    out.mkdir(parents=True, exist_ok=True)
    code_files = _copy_remote_code(family, out)
    config_json = {"architectures": architectures, "auto_map": auto_map, **config_fields}
    (out / "config.json").write_text(json.dumps(config_json, indent=2) + "\n", encoding="utf-8")
    with _quiet_and_seeded(seed):
        config = AutoConfig.from_pretrained(out, trust_remote_code=True)
        model = AutoModel.from_config(config, trust_remote_code=True)
        model.save_pretrained(out)
        # save_pretrained rewrites config.json; pin the fields a loader keys on to the real checkpoints' values.
        saved = json.loads((out / "config.json").read_text(encoding="utf-8"))
        saved.update(architectures=architectures, auto_map=auto_map, model_type=config_fields["model_type"])
        (out / "config.json").write_text(json.dumps(saved, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        _copy_remote_code(family, out)  # save_pretrained may have copied its cached copies; keep the originals
        _save_tokenizer(tokenizer, out)
        if verify:
            _verify_remote(out, model, tokenizer)
    info = dict(info, parameters=sum(p.numel() for p in model.parameters()), remote_code_files=code_files)
    _write_info(out, info)
    return out


def _default_heads(hidden: int, heads: int | None) -> int:
    heads = heads or max(1, hidden // 16)
    if hidden % heads or (hidden // heads) % 2:
        raise ValueError(f"hidden={hidden} must split into {heads} heads of even size (rotary embeddings)")
    return heads


def build_llada_style(
    out_dir: str | Path,
    vocab_size: int = 1000,
    hidden: int = 64,
    layers: int = 2,
    seed: int = 0,
    *,
    heads: int | None = None,
    texts: Iterable[str] | None = None,
    synthetic_vocab: bool = False,
    separate_pad: bool = False,
    verify: bool = True,
) -> Path:
    """Build a tiny LLaDA-style checkpoint (remote code) into ``out_dir`` and return the directory.

    Mirrors ``GSAI-ML/LLaDA-8B-Instruct``: ``config.json`` has ``model_type="llada"``,
    ``architectures=["LLaDAModelLM"]``, ``auto_map`` for ``AutoConfig``, ``AutoModel`` and
    ``AutoModelForCausalLM`` pointing at ``configuration_llada.py`` / ``modeling_llada.py`` (copied into the
    directory), the LLaDA field names (``d_model``, ``n_heads``, ``n_layers``, ``mlp_hidden_size``,
    ``embedding_size``, ...) and ``mask_token_id``; ``vocab_size``/``embedding_size`` are rounded up to a
    multiple of 64, so the logits are wider than the tokenizer as in the real model. The model is bidirectional
    and its logits at position i predict token i. ``AutoModel.from_pretrained(out_dir, trust_remote_code=True)``
    loads it; without ``trust_remote_code`` loading raises ``ValueError``.

    The tokenizer is byte-level BPE with the real special tokens, all numbered after the learned vocabulary:
    ``<|startoftext|>`` (bos), ``<|endoftext|>`` (eos, and pad as in the real checkpoint unless
    ``separate_pad``), ``<|mdm_mask|>`` (mask), ``<|start_header_id|>``, ``<|end_header_id|>``, ``<|eot_id|>``,
    with a Llama-3-style chat template (:data:`LLADA_CHAT_TEMPLATE`). Encoding adds no special tokens; the chat
    template writes the bos token.

    Parameters
    ----------
    out_dir:
        Created if needed; existing files of the same names are overwritten. Building into many directories
        in one process is fine: transformers caches the remote code per directory name and content hash.
    vocab_size, hidden, layers, heads, seed, texts, synthetic_vocab, verify:
        As for :func:`build_masked_lm` (feed-forward width ``2 * hidden``).
    separate_pad:
        Give the tokenizer a distinct ``<|pad|>`` token instead of padding with eos.
    """
    out = Path(out_dir)
    heads = _default_heads(hidden, heads)
    tokenizer = _family_tokenizer("llada", vocab_size, texts, seed, synthetic_vocab, separate_pad)
    n_tokens = len(tokenizer)
    rows = _round_up(n_tokens, 64)
    fields = {
        "model_type": "llada",
        "d_model": hidden,
        "n_heads": heads,
        "n_kv_heads": heads,
        "n_layers": layers,
        "mlp_hidden_size": 2 * hidden,
        "mlp_ratio": 2,
        "vocab_size": rows,
        "embedding_size": rows,
        "max_sequence_length": tokenizer.model_max_length,
        "rope_theta": 500000.0,
        "rms_norm_eps": 1e-5,
        "init_std": 0.02,
        "include_bias": False,
        "weight_tying": False,
        "mask_token_id": tokenizer.mask_token_id,
        "pad_token_id": tokenizer.pad_token_id,
        "eos_token_id": tokenizer.eos_token_id,
        "bos_token_id": tokenizer.bos_token_id,
        "use_cache": False,
    }
    auto_map = {
        "AutoConfig": "configuration_llada.LLaDAConfig",
        "AutoModel": "modeling_llada.LLaDAModelLM",
        "AutoModelForCausalLM": "modeling_llada.LLaDAModelLM",
    }
    info = {
        "family": "llada",
        "loader": "AutoModel",
        "trust_remote_code": True,
        "tokenizer": "bytelevel_bpe",
        "requested_vocab_size": vocab_size,
        "tokenizer_size": n_tokens,
        "logits_size": rows,
        "logit_shift": 0,
        "mask_token_id": tokenizer.mask_token_id,
        "hidden": hidden,
        "layers": layers,
        "heads": heads,
        "seed": seed,
        "synthetic_vocab": synthetic_vocab,
    }
    return _build_remote("llada", out, fields, auto_map, ["LLaDAModelLM"], tokenizer, info, seed, verify)


def build_dream_style(
    out_dir: str | Path,
    vocab_size: int = 1000,
    hidden: int = 64,
    layers: int = 2,
    seed: int = 0,
    *,
    heads: int | None = None,
    kv_heads: int | None = None,
    texts: Iterable[str] | None = None,
    synthetic_vocab: bool = False,
    separate_pad: bool = False,
    verify: bool = True,
) -> Path:
    """Build a tiny Dream-style checkpoint (remote code) into ``out_dir`` and return the directory.

    Mirrors ``Dream-org/Dream-v0-Instruct-7B``: ``config.json`` has ``model_type="Dream"``,
    ``architectures=["DreamModel"]``, ``auto_map`` for ``AutoConfig`` and ``AutoModel`` pointing at
    ``configuration_dream.py`` / ``modeling_dream.py`` (copied into the directory), Qwen2-style field names,
    grouped key/value heads (``kv_heads``, default half the heads), ``mask_token_id``, and - as in the real
    config - ``bos_token_id == eos_token_id == pad_token_id`` (the ``<|endoftext|>`` id) even though the
    tokenizer's bos token is ``<|beginoftext|>``. ``vocab_size`` is rounded up to a multiple of 64 (logits wider
    than the tokenizer). The model is bidirectional and its **logits are shifted**: position i predicts token
    i + 1 (Dream's sampler realigns them with ``cat([logits[:, :1], logits[:, :-1]], 1)``).

    The tokenizer is byte-level BPE with the special tokens numbered after the learned vocabulary in the real
    order: ``<|endoftext|>`` (eos, and pad unless ``separate_pad``), ``<|im_start|>``, ``<|im_end|>``,
    ``<|beginoftext|>`` (bos), ``<|mask|>`` (mask), and a ChatML chat template (:data:`DREAM_CHAT_TEMPLATE`).

    Parameters
    ----------
    out_dir:
        Created if needed; existing files of the same names are overwritten.
    vocab_size, hidden, layers, heads, seed, texts, synthetic_vocab, verify:
        As for :func:`build_masked_lm` (feed-forward width ``2 * hidden``).
    kv_heads:
        Key/value heads (must divide ``heads``).
    separate_pad:
        Give the tokenizer a distinct ``<|pad|>`` token instead of padding with eos.
    """
    out = Path(out_dir)
    heads = _default_heads(hidden, heads)
    if kv_heads is None:
        kv_heads = heads // 2 if heads % 2 == 0 else heads
    if heads % kv_heads:
        raise ValueError(f"kv_heads={kv_heads} must divide heads={heads}")
    tokenizer = _family_tokenizer("dream", vocab_size, texts, seed, synthetic_vocab, separate_pad)
    n_tokens = len(tokenizer)
    rows = _round_up(n_tokens, 64)
    eos = tokenizer.eos_token_id
    fields = {
        "model_type": "Dream",
        "vocab_size": rows,
        "hidden_size": hidden,
        "intermediate_size": 2 * hidden,
        "num_hidden_layers": layers,
        "num_attention_heads": heads,
        "num_key_value_heads": kv_heads,
        "hidden_act": "silu",
        "max_position_embeddings": tokenizer.model_max_length,
        "initializer_range": 0.02,
        "rms_norm_eps": 1e-6,
        "rope_theta": 1000000.0,
        "attention_dropout": 0.0,
        "tie_word_embeddings": False,
        "use_cache": False,
        "mask_token_id": tokenizer.mask_token_id,
        "pad_token_id": tokenizer.pad_token_id,
        "bos_token_id": eos,
        "eos_token_id": eos,
    }
    auto_map = {"AutoConfig": "configuration_dream.DreamConfig", "AutoModel": "modeling_dream.DreamModel"}
    info = {
        "family": "dream",
        "loader": "AutoModel",
        "trust_remote_code": True,
        "tokenizer": "bytelevel_bpe",
        "requested_vocab_size": vocab_size,
        "tokenizer_size": n_tokens,
        "logits_size": rows,
        "logit_shift": 1,
        "mask_token_id": tokenizer.mask_token_id,
        "hidden": hidden,
        "layers": layers,
        "heads": heads,
        "kv_heads": kv_heads,
        "seed": seed,
        "synthetic_vocab": synthetic_vocab,
    }
    return _build_remote("dream", out, fields, auto_map, ["DreamModel"], tokenizer, info, seed, verify)


def build_zoo(root: str | Path, families: Sequence[str] | None = None, **kwargs: Any) -> dict[str, Path]:
    """Build one tiny checkpoint per family under ``root/<family>`` and return ``{family: directory}``.

    Parameters
    ----------
    root:
        Parent directory (created if needed).
    families:
        Which of :data:`FAMILIES` to build (default all).
    **kwargs:
        Passed to every builder (``vocab_size``, ``hidden``, ``layers``, ``seed``, ``texts``, ``verify``, ...).
        The tokenizer training corpus is drawn once and shared unless ``texts`` is given.
    """
    root = Path(root)
    families = list(FAMILIES if families is None else families)
    unknown = [f for f in families if f not in FAMILIES]
    if unknown:
        raise ValueError(f"unknown families {unknown}; expected some of {FAMILIES}")
    if kwargs.get("texts") is None:
        size = int(kwargs.get("vocab_size", 1000))
        kwargs["texts"] = corpus_texts(n=max(2000, min(size, 20000)), seed=int(kwargs.get("seed", 0)))
    else:
        kwargs["texts"] = list(kwargs["texts"])
    built: dict[str, Path] = {}
    for family in families:
        out = root / family
        if family == "llada":
            built[family] = build_llada_style(out, **kwargs)
        elif family == "dream":
            built[family] = build_dream_style(out, **kwargs)
        else:
            built[family] = build_masked_lm(family, out, **kwargs)
    return built
