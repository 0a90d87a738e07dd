# The two commands a newcomer runs: `make demo` and `make test`. Both create .venv if it is missing,
# install torch==2.13.0 first (a CPU build; an unpinned torch would pull a multi-GB CUDA build), then the project.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.ctrlgen-installed

.PHONY: install demo test lint corpus default-model autoregressive embedding-model embedding-small bench

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e ".[dev,notebooks]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	@echo "== JSON records extracted from restaurant descriptions (examples/e2e_record.schema.json): every line valid"
	$(VENV)/bin/ctrlgen generate --prompt-file examples/extraction_prompts.txt --schema examples/e2e_record.schema.json -n 1 --seed 0
	@echo "== a description of a record in exactly 12 words"
	$(VENV)/bin/ctrlgen generate --prompt 'Describe this restaurant: {"name": "Aromi", "eatType": "coffee shop", "area": "riverside", "familyFriendly": "yes"}' --words 12 -n 2 --seed 0
	@echo "== a template with fixed-length slots ({N} = N tokens)"
	$(VENV)/bin/ctrlgen fill "{3} is a {2} near {3}. It serves {2} food." -n 3 --seed 0
	@echo "== a negative review rewritten towards positive"
	$(VENV)/bin/ctrlgen rewrite "the food was cold and the waiter ignored us ." --style sentiment=positive -n 3 --seed 0

test: $(STAMP)
	$(PY) -m pytest -q --nbmake tests notebooks

lint: $(STAMP)
	$(VENV)/bin/ruff check ctrlgen constraints guidance tests benchmarks

# The shipped default model and its same-size autoregressive baseline: corpus from ../shared/data (prompted
# E2E pairs in both directions, E2E texts, labelled reviews; the held-out E2E MRs and reviews left out), then
# configs/default.json and configs/autoregressive.json: the same data, shape, steps and optimiser. Each resumes
# with RESUME=--resume. Copy runs/default to ctrlgen/default_model (see its README).
corpus: $(STAMP)
	$(VENV)/bin/ctrlgen corpus --data-dir ../shared/data --out runs/default-corpus.jsonl

default-model: corpus
	$(VENV)/bin/ctrlgen train --config configs/default.json $(RESUME)

autoregressive: corpus
	$(VENV)/bin/ctrlgen train --config configs/autoregressive.json $(RESUME)

# The same shape, data and steps with Gaussian noise on embeddings (the embedding process, Diffusion-LM)
embedding-model: corpus
	$(VENV)/bin/ctrlgen train --config configs/embedding.json $(RESUME)

# A small embedding-process model (about 1M parameters, minutes on a CPU) on the same corpus and the shipped
# model's tokenizer, so the shipped sentiment classifier guides it: runs/emb
embedding-small: corpus
	$(VENV)/bin/ctrlgen train --config configs/embedding-small.json $(RESUME)

bench: $(STAMP)
	$(PY) benchmarks/sampling_speed.py
