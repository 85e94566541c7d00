# Every target builds (or reuses) its own environment, so a fresh machine needs only
# python3 >= 3.10 and the package registries. The virtual environment lives outside the
# checkout, keyed by a hash of requirements/lock.txt: CI clones reuse it instead of
# building a new 6 GB venv per run, and stale ones (other hashes) are removed.
SHELL := /bin/bash
LOCK := requirements/lock.txt
HASH := $(shell sha256sum $(LOCK) | cut -c1-12)
VENV_ROOT ?= $(HOME)/.cache/imagenet-rib
VENV := $(VENV_ROOT)/venv-$(HASH)
PY := $(VENV)/bin/python
export HF_HUB_OFFLINE := 1
export HF_EVALUATE_OFFLINE := 1
export HF_DATASETS_OFFLINE := 1
export TRANSFORMERS_NO_ADVISORY_WARNINGS := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: demo demo-readme test test-all lint docs env install clean-env

# No prerequisite on purpose: the hash in the folder name already encodes the lock file's
# content, and a fresh clone's newer file times must not trigger a reinstall.
$(VENV)/.complete:
	@mkdir -p $(VENV_ROOT)
	@for old in $(VENV_ROOT)/venv-*; do \
	  [ -e "$$old" ] && [ "$$old" != "$(VENV)" ] && echo "removing stale environment $$old" && rm -rf "$$old"; true; done
	rm -rf $(VENV)
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r $(LOCK)
	touch $@

env: $(VENV)/.complete

install: env
	@$(PY) -m pip install --quiet --no-deps --no-build-isolation -e . >/dev/null

demo: install
	$(VENV)/bin/rib demo

# re-run the demo from an empty cache in an empty folder (as after a fresh clone), store its
# stdout in docs/demo_output.txt and copy it into README.md's demo block
demo-readme: install
	$(PY) scripts/readme_demo.py --run --fresh-cache

test: install
	$(PY) -m pytest -m "not gpu" -q --durations=25

test-all: install
	$(PY) -m pytest -q

lint: install
	$(VENV)/bin/ruff check src tests scripts
	$(VENV)/bin/ruff format --check src tests scripts

docs: install
	$(PY) scripts/gen_cli_reference.py

clean-env:
	rm -rf $(VENV)
