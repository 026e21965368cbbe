# The two commands of the README:
#   make up     install everything inside the repository, then start the whole stack
#   make test   install everything inside the repository, then run the whole test suite

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: up down status test lint bench install

up: install
	$(BIN)/pdfchat up

down:
	$(BIN)/pdfchat down

status:
	$(BIN)/pdfchat status

test: install
	$(BIN)/ruff check .
	$(BIN)/pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .

bench: install
	$(BIN)/python ops/bench/ingest.py

# Kafka's jars are fetched by `pdfchat up` (and the test stack) on first start: cli/kafka.py.
install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@
