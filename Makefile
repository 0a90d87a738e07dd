# The two commands a newcomer runs: `make demo` and `make test`. Both create .venv if it is missing,
# install torch==2.13.0 first (a CPU build; an unpinned torch would pull a multi-GB CUDA build), then the project.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.ctrlgen-installed

.PHONY: install demo test lint corpus default-model bench

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e ".[dev,notebooks]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	@echo "== schema-valid JSON restaurant records (examples/restaurant.schema.json)"
	$(VENV)/bin/ctrlgen generate --schema examples/restaurant.schema.json -n 5 --seed 0
	@echo "== unconstrained samples"
	$(VENV)/bin/ctrlgen generate -n 4 --length 64 --seed 0 --top-p 0.9

test: $(STAMP)
	$(PY) -m pytest -q --nbmake tests notebooks

lint: $(STAMP)
	$(VENV)/bin/ruff check ctrlgen constraints guidance tests benchmarks

# The shipped default model: corpus from ../shared/data, configs/default.json (unconditional), then
# configs/default-cfg.json (fine-tuned with sentiment labels and label dropout, for classifier-free guidance).
# Each stage resumes with RESUME=--resume. The result is runs/default-cfg; copy it to ctrlgen/default_model.
corpus: $(STAMP)
	$(VENV)/bin/ctrlgen corpus --data-dir ../shared/data --out runs/default-corpus.jsonl

default-model: corpus
	$(VENV)/bin/ctrlgen train --config configs/default.json $(RESUME)
	$(VENV)/bin/ctrlgen train --config configs/default-cfg.json --init-from runs/default $(RESUME)

bench: $(STAMP)
	$(PY) benchmarks/sampling_speed.py
