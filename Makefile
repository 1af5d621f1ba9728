# smets-emu: `make demo` runs the main job, `make test` the whole test suite. Both set up
# everything first: the Debian packages they need (scripts/install-system-deps) and .venv.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
RTDS   ?= ../shared/rtds

# A sample of the reference corpus, one of each form: a signed and MACed command with its
# signed response, its unsigned pre-command, a MACed response with an encrypted component,
# and a signed alert (the ≥ 3-minute outage restoration alert).
DEMO_FILES := \
	$(RTDS)/messages/7.1_ECS42/ECS42_7.1_SUCCESS_PRECOMMAND_GBCS.HEX \
	$(RTDS)/messages/7.1_ECS42/ECS42_7.1_SUCCESS_COMMAND_GBCS.HEX \
	$(RTDS)/messages/7.1_ECS42/ECS42_7.1_SUCCESS_RESPONSE_GBCS.HEX \
	$(RTDS)/messages/4.1.1_GCS13a/GCS13a_4.1.1_SUCCESS_RELIABLE_GSME_RESPONSE_GBCS.HEX \
	$(RTDS)/messages/NA_ECS80/ECS80_NA_8F36_ALERT_GBCS.HEX

.PHONY: demo test bench venv clean

$(STAMP): pyproject.toml
	scripts/install-system-deps base
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/smets-emu decode --check --keystore $(RTDS)/keystore $(DEMO_FILES)

test: $(STAMP)
	scripts/install-system-deps test
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/smets-emu bench codec --corpus $(RTDS)

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis build *.egg-info
