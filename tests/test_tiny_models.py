"""The model zoo: tiny checkpoints of every adapted family build offline, save, and load back through the Auto
classes exactly as real checkpoints do (remote code only with ``trust_remote_code=True``)."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import textwrap

import pytest
import torch
from transformers import AutoConfig, AutoModel, AutoModelForMaskedLM, AutoTokenizer

from ctrlgen import tiny_models
from ctrlgen.tiny_models import PRINTABLE_ASCII

JSON_TEXT = ' {"name": "The Mill", "area": "riverside", "stars": 3, "tags": ["£20-25", "café"]}\n\tok? ~`^|\\'


@pytest.fixture(scope="module")
def texts():
    return tiny_models.corpus_texts(n=800, seed=0)


@pytest.fixture(scope="module")
def zoo(tmp_path_factory, texts):
    return tiny_models.build_zoo(tmp_path_factory.mktemp("zoo"), vocab_size=600, hidden=32, texts=texts)


def _load(family, path):
    remote = family in tiny_models.REMOTE_CODE_FAMILIES
    tokenizer = AutoTokenizer.from_pretrained(path, trust_remote_code=remote)
    if remote:
        model = AutoModel.from_pretrained(path, trust_remote_code=True)
    else:
        model = AutoModelForMaskedLM.from_pretrained(path)
    return tokenizer, model.eval()


# ---------------------------------------------------------------------------------------------- corpus


def test_corpus_is_deterministic_and_mixes_sentences_with_json():
    a, b = tiny_models.corpus_texts(n=300, seed=3), tiny_models.corpus_texts(n=300, seed=3)
    assert a == b and len(a) == 300
    assert a != tiny_models.corpus_texts(n=300, seed=4)
    n_json = sum(t.startswith("{") for t in a)
    assert 0 < n_json < len(a)
    for t in a:
        if t.startswith("{"):
            assert isinstance(json.loads(t), dict)


def test_corpus_falls_back_to_generated_text_without_the_data_folder(tmp_path):
    docs = tiny_models.corpus_texts(n=200, seed=0, data_dir=tmp_path / "absent")
    assert len(docs) == 200 and docs == tiny_models.corpus_texts(n=200, seed=0, data_dir=tmp_path / "absent")
    records = [json.loads(t) for t in docs if t.startswith("{")]
    assert len(records) == 50 and all("name" in r for r in records)


# ---------------------------------------------------------------------------------------------- tokenizers


def test_wordpiece_has_every_printable_character_and_its_continuation(texts):
    tok = tiny_models.train_wordpiece_tokenizer(texts, vocab_size=600)
    vocab = tok.get_vocab()
    assert len(tok) <= 600
    assert [tok.pad_token_id, tok.unk_token_id, tok.cls_token_id, tok.sep_token_id, tok.mask_token_id] == [
        0,
        1,
        2,
        3,
        4,
    ]
    missing = [c for c in PRINTABLE_ASCII if c not in vocab] + [c for c in PRINTABLE_ASCII if "##" + c not in vocab]
    assert not missing
    ids = tok.encode('{"a": "Bb"}', add_special_tokens=False)
    assert tok.unk_token_id not in ids
    assert tok.encode("x")[0] == tok.cls_token_id and tok.encode("x")[-1] == tok.sep_token_id
    # cased, accents kept (no lowercasing, no stripping)
    assert tok.decode(tok.encode("Café Sicilia", add_special_tokens=False)) == "Café Sicilia"


def test_unigram_round_trips_words_and_has_every_printable_character(texts):
    tok = tiny_models.train_unigram_tokenizer(texts, vocab_size=500)
    assert {tok.pad_token_id, tok.eos_token_id, tok.unk_token_id, tok.mask_token_id} == {0, 1, 2, 3}
    vocab = tok.get_vocab()
    assert all(c in vocab for c in PRINTABLE_ASCII) and "▁" in vocab
    s = '{"name": "The Mill", "stars": 3}'
    assert tok.decode(tok.encode(s, add_special_tokens=False)) == s
    assert tok.encode(s)[-1] == tok.eos_token_id
    assert tok.unk_token_id in tok.encode("ナ", add_special_tokens=False)


def test_unigram_byte_fallback_encodes_unknown_characters_as_bytes(texts):
    tok = tiny_models.train_unigram_tokenizer(texts, vocab_size=500, byte_fallback=True)
    ids = tok.encode("ナ café", add_special_tokens=False)
    assert tok.unk_token_id not in ids
    assert "<0xE3>" in tok.convert_ids_to_tokens(ids)
    assert tok.decode(ids) == "ナ café"


def test_bytelevel_bpe_round_trips_any_string(texts):
    tok = tiny_models.train_bytelevel_bpe_tokenizer(texts, vocab_size=600)
    ids = {tok.bos_token_id, tok.eos_token_id, tok.pad_token_id, tok.mask_token_id}
    assert len(ids) == 4 and None not in ids
    assert len(tok) <= 600
    for s in (JSON_TEXT, " leading and trailing ", "ナ\u00a0\x00"):
        assert tok.decode(tok.encode(s, add_special_tokens=False)) == s


def test_bytelevel_bpe_trailing_specials_come_after_the_learned_vocabulary(texts):
    tok = tiny_models.train_bytelevel_bpe_tokenizer(
        texts,
        vocab_size=400,
        special_tokens={"eos_token": "<e>", "pad_token": "<p>", "mask_token": "<m>"},
        trailing_special_tokens=["<m>"],
        extra_special_tokens=["<turn>"],
        chat_template="{% for m in messages %}<turn>{{ m['content'] }}{% endfor %}",
    )
    assert (tok.eos_token_id, tok.pad_token_id) == (0, 1)
    assert tok.mask_token_id == len(tok) - 1
    rendered = tok.apply_chat_template([{"role": "user", "content": "hi"}], tokenize=False)
    assert rendered == "<turn>hi"
    assert tok.convert_ids_to_tokens(tok.encode(rendered, add_special_tokens=False))[0] == "<turn>"


def test_tokenizer_training_is_deterministic_across_processes(texts):
    """Hash-ordered internals of the trainers (which differ from process to process) must not leak into the
    vocabulary: two fresh processes and this one train identical tokenizers of every kind."""
    families = ["bert", "bert-unigram", "roberta", "llada"]
    script = textwrap.dedent(
        f"""
        import hashlib, json
        from ctrlgen import tiny_models
        texts = tiny_models.corpus_texts(n=800)
        print(json.dumps({{
            f: hashlib.sha256(tiny_models.synthetic_vocab_tokenizer(f, 700, texts=texts)
                              .backend_tokenizer.to_str().encode()).hexdigest()
            for f in {families!r}
        }}))
        """
    )
    procs = [subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True) for _ in range(2)]
    runs = [json.loads(p.communicate(timeout=120)[0]) for p in procs]
    assert all(p.returncode == 0 for p in procs)
    here = {
        f: hashlib.sha256(
            tiny_models.synthetic_vocab_tokenizer(f, 700, texts=texts).backend_tokenizer.to_str().encode()
        ).hexdigest()
        for f in families
    }
    assert runs[0] == runs[1] == here


@pytest.mark.parametrize(("family", "size"), [("bert", 30522), ("roberta", 50265), ("unigram", 32000)])
def test_synthetic_vocabularies_reach_real_sizes(family, size, texts):
    tok = tiny_models.synthetic_vocab_tokenizer(family, size, texts=texts)
    assert len(tok) == size
    assert len(set(tok.get_vocab().values())) == size
    if family == "bert":
        vocab = tok.get_vocab()
        assert sum(t.startswith("##") for t in vocab) > size // 3
    if family == "roberta":
        assert tok.mask_token_id == size - 1
        assert tok.decode(tok.encode(JSON_TEXT, add_special_tokens=False)) == JSON_TEXT


# ---------------------------------------------------------------------------------------------- checkpoints


@pytest.mark.parametrize("family", tiny_models.FAMILIES)
def test_zoo_checkpoint_loads_back_and_runs(zoo, family):
    tokenizer, model = _load(family, zoo[family])
    info = tiny_models.read_zoo_info(zoo[family])
    assert info["family"] == family and info["tokenizer_size"] == len(tokenizer)
    assert sum(p.numel() for p in model.parameters()) == info["parameters"] < 1_000_000
    ids = torch.randint(0, len(tokenizer), (2, 16), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        logits = model(input_ids=ids, attention_mask=torch.ones_like(ids)).logits
    assert logits.shape == (2, 16, model.config.vocab_size) and torch.isfinite(logits).all()
    assert model.config.vocab_size == info["logits_size"] >= len(tokenizer)
    assert tokenizer.mask_token_id is not None and tokenizer.mask_token_id < len(tokenizer)
    assert tokenizer.pad_token_id == model.config.pad_token_id


@pytest.mark.parametrize("family", tiny_models.FAMILIES)
def test_special_token_ids_are_laid_out_as_designed(zoo, family):
    tokenizer, model = _load(family, zoo[family])
    named = {
        k: getattr(tokenizer, f"{k}_token_id")
        for k in ("bos", "eos", "pad", "mask", "unk", "cls", "sep")
        if getattr(tokenizer, f"{k}_token_id") is not None
    }
    n = len(tokenizer)
    if family == "bert":
        assert named == {"pad": 0, "unk": 1, "cls": 2, "sep": 3, "mask": 4}
    elif family == "bert-unigram":
        assert named == {"pad": 0, "eos": 1, "unk": 2, "mask": 3}
    elif family == "roberta":
        assert named == {"bos": 0, "cls": 0, "pad": 1, "eos": 2, "sep": 2, "unk": 3, "mask": n - 1}
    elif family == "modernbert":
        assert named == {"unk": n - 5, "cls": n - 4, "sep": n - 3, "pad": n - 2, "mask": n - 1}
        assert (model.config.cls_token_id, model.config.sep_token_id) == (n - 4, n - 3)
    elif family == "llada":
        # as in LLaDA-8B-Instruct: <|startoftext|>, <|endoftext|> (eos = pad), <|mdm_mask|>, then chat markers
        assert named == {"bos": n - 6, "eos": n - 5, "pad": n - 5, "mask": n - 4}
        assert tokenizer.convert_ids_to_tokens(list(range(n - 3, n))) == [
            "<|start_header_id|>",
            "<|end_header_id|>",
            "<|eot_id|>",
        ]
        assert model.config.mask_token_id == n - 4
    elif family == "dream":
        # as in Dream-v0-Instruct-7B: <|endoftext|> (eos = pad), <|im_start|>, <|im_end|>, <|beginoftext|>, <|mask|>
        assert named == {"eos": n - 5, "pad": n - 5, "bos": n - 2, "mask": n - 1}
        assert model.config.mask_token_id == n - 1
        assert model.config.bos_token_id == model.config.eos_token_id == n - 5  # the real config's quirk
    assert named["mask"] not in {v for k, v in named.items() if k != "mask"}


@pytest.mark.parametrize("family", ["roberta", "modernbert", "llada", "dream"])
def test_bytelevel_checkpoint_tokenizers_round_trip_json(zoo, family):
    tokenizer, _ = _load(family, zoo[family])
    assert tokenizer.decode(tokenizer.encode(JSON_TEXT, add_special_tokens=False)) == JSON_TEXT


def test_wordpiece_checkpoint_has_every_character_form(zoo):
    tokenizer, _ = _load("bert", zoo["bert"])
    vocab = tokenizer.get_vocab()
    assert all(c in vocab and "##" + c in vocab for c in PRINTABLE_ASCII)


@pytest.mark.parametrize("family", tiny_models.REMOTE_CODE_FAMILIES)
def test_remote_code_config_mirrors_the_real_checkpoints(zoo, family):
    cfg = json.loads((zoo[family] / "config.json").read_text())
    if family == "llada":
        assert cfg["model_type"] == "llada" and cfg["architectures"] == ["LLaDAModelLM"]
        assert cfg["auto_map"] == {
            "AutoConfig": "configuration_llada.LLaDAConfig",
            "AutoModel": "modeling_llada.LLaDAModelLM",
            "AutoModelForCausalLM": "modeling_llada.LLaDAModelLM",
        }
        assert {"d_model", "n_heads", "n_layers", "mlp_hidden_size", "embedding_size", "mask_token_id"} <= set(cfg)
    else:
        assert cfg["model_type"] == "Dream" and cfg["architectures"] == ["DreamModel"]
        assert cfg["auto_map"] == {
            "AutoConfig": "configuration_dream.DreamConfig",
            "AutoModel": "modeling_dream.DreamModel",
        }
        assert cfg["num_key_value_heads"] < cfg["num_attention_heads"]
    assert tiny_models.read_zoo_info(zoo[family])["logit_shift"] == (1 if family == "dream" else 0)
    for name in tiny_models.read_zoo_info(zoo[family])["remote_code_files"]:
        assert (zoo[family] / name).is_file()


@pytest.mark.parametrize("family", tiny_models.REMOTE_CODE_FAMILIES)
def test_remote_code_needs_trust_remote_code(zoo, family):
    with pytest.raises(ValueError, match="trust_remote_code"):
        AutoConfig.from_pretrained(zoo[family], trust_remote_code=False)
    with pytest.raises(ValueError, match="trust_remote_code"):
        AutoModel.from_pretrained(zoo[family], trust_remote_code=False)
    config = AutoConfig.from_pretrained(zoo[family], trust_remote_code=True)
    assert config.mask_token_id == tiny_models.read_zoo_info(zoo[family])["mask_token_id"]
    # the tokenizer itself is plain tokenizer.json: it loads without running any remote code
    tokenizer = AutoTokenizer.from_pretrained(zoo[family], trust_remote_code=False)
    assert tokenizer.mask_token_id == config.mask_token_id


def test_remote_code_in_a_fresh_process(zoo):
    """Nothing registers the classes globally: a new process refuses without consent and loads with it."""
    script = textwrap.dedent(
        f"""
        import torch
        from transformers import AutoModel
        for path in {[str(zoo["llada"]), str(zoo["dream"])]!r}:
            try:
                AutoModel.from_pretrained(path, trust_remote_code=False)
            except ValueError as e:
                assert "trust_remote_code" in str(e)
            else:
                raise SystemExit("loaded without trust_remote_code")
            model = AutoModel.from_pretrained(path, trust_remote_code=True)
            print(type(model).__name__, tuple(model(torch.zeros(1, 4, dtype=torch.long)).logits.shape))
        """
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    assert lines[0].startswith("LLaDAModelLM (1, 4, ") and lines[1].startswith("DreamModel (1, 4, ")


@pytest.mark.parametrize("family", tiny_models.REMOTE_CODE_FAMILIES)
def test_chat_template_renders(zoo, family):
    tokenizer, _ = _load(family, zoo[family])
    messages = [{"role": "user", "content": " Is it cheap? "}]
    text = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    if family == "llada":
        assert text == (
            "<|startoftext|><|start_header_id|>user<|end_header_id|>\n\nIs it cheap?<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\n"
        )
        markers = ["<|startoftext|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"]
    else:
        assert text == (
            "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
            "<|im_start|>user\n Is it cheap? <|im_end|>\n<|im_start|>assistant\n"
        )
        markers = ["<|im_start|>", "<|im_end|>"]
    tokens = tokenizer.convert_ids_to_tokens(tokenizer.encode(text, add_special_tokens=False))
    assert all(m in tokens for m in markers)  # chat markers stay single tokens
    assert tokenizer.encode("hi", add_special_tokens=True) == tokenizer.encode("hi", add_special_tokens=False)


@pytest.mark.parametrize("family", tiny_models.REMOTE_CODE_FAMILIES)
def test_remote_models_are_bidirectional_and_respect_padding(zoo, family):
    _, model = _load(family, zoo[family])
    ids = torch.randint(0, 200, (1, 12), generator=torch.Generator().manual_seed(1))
    changed = ids.clone()
    changed[0, -1] = (ids[0, -1] + 1) % 200
    with torch.no_grad():
        a, b = model(ids).logits, model(changed).logits
        # a later token changes the earlier positions' outputs: no causal mask
        assert not torch.allclose(a[0, 0], b[0, 0])
        # right padding behind an attention mask leaves the real positions' logits unchanged
        padded = torch.cat([ids, torch.zeros(1, 5, dtype=torch.long)], dim=1)
        mask = torch.cat([torch.ones(1, 12), torch.zeros(1, 5)], dim=1).long()
        assert torch.allclose(model(padded, attention_mask=mask).logits[:, :12], a, atol=1e-5)


def test_dream_loss_defines_the_shift_and_llada_loss_does_not_shift(zoo):
    torch.manual_seed(0)
    ids = torch.randint(0, 200, (2, 10))
    for family, shift in (("llada", 0), ("dream", 1)):
        _, model = _load(family, zoo[family])
        with torch.no_grad():
            out = model(ids, labels=ids)
            logits = out.logits
        pred = logits[:, : logits.shape[1] - shift].reshape(-1, logits.shape[-1])
        expected = torch.nn.functional.cross_entropy(pred, ids[:, shift:].reshape(-1))
        assert torch.allclose(out.loss, expected), family


def test_builds_are_deterministic_under_the_seed(tmp_path, texts):
    a = tiny_models.build_dream_style(tmp_path / "a", vocab_size=400, hidden=32, texts=texts, seed=5)
    b = tiny_models.build_dream_style(tmp_path / "b", vocab_size=400, hidden=32, texts=texts, seed=5)
    c = tiny_models.build_dream_style(tmp_path / "c", vocab_size=400, hidden=32, texts=texts, seed=6, verify=False)
    for name in ("model.safetensors", "tokenizer.json", "config.json"):
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    assert (a / "model.safetensors").read_bytes() != (c / "model.safetensors").read_bytes()
    m1 = tiny_models.build_masked_lm("roberta", tmp_path / "r1", vocab_size=400, hidden=32, texts=texts, seed=5)
    m2 = tiny_models.build_masked_lm("roberta", tmp_path / "r2", vocab_size=400, hidden=32, texts=texts, seed=5)
    assert (m1 / "model.safetensors").read_bytes() == (m2 / "model.safetensors").read_bytes()


def test_builds_leave_the_global_random_state_alone(tmp_path, texts):
    torch.manual_seed(7)
    expected = torch.rand(3)
    torch.manual_seed(7)
    tiny_models.build_masked_lm("bert", tmp_path / "bert", vocab_size=400, hidden=32, texts=texts, verify=False)
    assert torch.equal(torch.rand(3), expected)


def test_sizes_scale_up(tmp_path, texts):
    path = tiny_models.build_llada_style(
        tmp_path / "llada", vocab_size=5000, hidden=64, layers=3, texts=texts, synthetic_vocab=True, verify=False
    )
    info = tiny_models.read_zoo_info(path)
    assert info["tokenizer_size"] == 5000 and info["logits_size"] == 5056 and info["layers"] == 3
    small = tiny_models.build_masked_lm("bert", tmp_path / "bert", vocab_size=5000, texts=texts, verify=False)
    assert tiny_models.read_zoo_info(small)["tokenizer_size"] < 5000  # the corpus supports fewer; no padding


def test_rebuilding_into_the_same_and_other_directories(tmp_path, texts):
    """Remote code is cached by transformers per directory name and content: repeated builds must all load."""
    paths = [
        tiny_models.build_llada_style(tmp_path / d / "llada", vocab_size=400, hidden=32, texts=texts, seed=s)
        for d, s in (("one", 0), ("two", 1), ("one", 2))
    ]
    assert paths[0] == paths[2]
    weights = [AutoModel.from_pretrained(p, trust_remote_code=True).get_input_embeddings().weight for p in paths]
    assert not torch.equal(weights[0], weights[1])  # seed 0 was overwritten by seed 2 in the same directory
    assert torch.equal(weights[0], weights[2])


def test_unknown_family_is_rejected(tmp_path):
    with pytest.raises(ValueError, match="family"):
        tiny_models.build_masked_lm("gpt2", tmp_path)
    with pytest.raises(ValueError, match="families"):
        tiny_models.build_zoo(tmp_path, families=["bert", "t5"])
