# Sourced by scripts/up.sh and scripts/test.sh (or run alone: bash scripts/setup.sh): installs Tesseract and the
# Debian packages in APT_PACKAGES (when missing) and a virtual environment in .venv with the project in it
# (PIP_EXTRAS selects extras, e.g. "[test]").
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
