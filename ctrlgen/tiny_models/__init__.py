"""A zoo of tiny, randomly initialised checkpoints of every model family ctrlgen adapts.

ctrlgen plugs in diffusion-style checkpoints through adapters: Hugging Face masked LMs (BERT, RoBERTa,
ModernBERT, loaded with ``AutoModelForMaskedLM``), LLaDA-style checkpoints and Dream-style checkpoints (remote
code, loaded with ``AutoModel`` and ``trust_remote_code=True``). Tests and benchmarks need one checkpoint of each
that is built offline in seconds, saved with ``save_pretrained`` and loaded back *exactly as a real one would
be*: same loader, same files, same ``config.json`` fields, same tokenizer special tokens, same quirks. This
package builds them. Nothing is downloaded.

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

The modules, in the order a build uses them: :mod:`.corpus` (the training documents), :mod:`.families` (each
family's special tokens and layout), :mod:`.tokenizers` (training), :mod:`.synthetic` (padding a vocabulary to
an exact size), :mod:`.checkpoints` (masked LMs), :mod:`.remote` (LLaDA- and Dream-style remote-code
checkpoints) and :mod:`.zoo` (one of each); ``_saving`` holds what every checkpoint build shares.
"""

from ._saving import ZOO_INFO_FILE, read_zoo_info
from .checkpoints import build_masked_lm
from .corpus import corpus_texts
from .families import (
    DREAM_CHAT_TEMPLATE,
    FAMILIES,
    LLADA_CHAT_TEMPLATE,
    MASKED_LM_FAMILIES,
    PRINTABLE_ASCII,
    REMOTE_CODE_FAMILIES,
)
from .remote import build_dream_style, build_llada_style
from .synthetic import synthetic_vocab_tokenizer
from .tokenizers import train_bytelevel_bpe_tokenizer, train_unigram_tokenizer, train_wordpiece_tokenizer
from .untrained import untrained_lm
from .zoo import build_zoo

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
    "untrained_lm",
]
