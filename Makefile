# smets-emu: `make demo` runs the main job, `make test` the whole test suite. Both set up
# everything first: the Debian packages they need (scripts/install-system-deps) and .venv.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
RTDS   ?= ../shared/rtds

.PHONY: demo test bench docker venv clean

$(STAMP): pyproject.toml
	scripts/install-system-deps base
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,hil]'
	touch $@

venv: $(STAMP)

# One premises on an embedded broker, driven through real use cases and a mains outage.
demo: $(STAMP)
	$(BIN)/smets-emu demo

test: $(STAMP)
	scripts/install-system-deps test
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/smets-emu bench codec --corpus $(RTDS)

# The container files: compose config always; image build and run where a Docker daemon answers.
docker:
	scripts/check-docker

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis build *.egg-info
