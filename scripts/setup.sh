# Sourced by scripts/up.sh and scripts/test.sh: installs Tesseract and the Debian packages in APT_PACKAGES (when missing)
# and a virtual environment in .venv with the project in it (PIP_EXTRAS selects extras, e.g. "[test]").
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

if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".${PIP_EXTRAS:-}"
