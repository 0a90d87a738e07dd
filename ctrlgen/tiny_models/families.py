"""Each zoo family's tokenizer layout: its special tokens, which ids they take, templates and chat format.

The real checkpoints differ most in their special tokens: which roles exist, whether pad is eos, whether the
mask token comes first or after the learned vocabulary. Loaders and adapters key on exactly these, so every
family's layout is written down here once (:func:`_family_spec`) and both the tokenizer trainers and the
checkpoint builders read it from here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

#: masked-LM families built by :func:`build_masked_lm` (loaded with ``AutoModelForMaskedLM``)
MASKED_LM_FAMILIES = ("bert", "roberta", "modernbert", "bert-unigram")
#: remote-code families (loaded with ``AutoModel`` and ``trust_remote_code=True``)
REMOTE_CODE_FAMILIES = ("llada", "dream")
FAMILIES = MASKED_LM_FAMILIES + REMOTE_CODE_FAMILIES

#: the 94 printable, non-space ASCII characters: every tokenizer here has a token for each
PRINTABLE_ASCII = tuple(chr(i) for i in range(33, 127))

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


def _resolve_family(family: str) -> str:
    aliases = {"wordpiece": "bert", "bpe": "roberta", "bytelevel_bpe": "roberta", "unigram": "bert-unigram"}
    family = aliases.get(family, family)
    if family not in FAMILIES:
        raise ValueError(f"unknown family {family!r}; expected one of {FAMILIES} or {tuple(aliases)}")
    return family
