#!/usr/bin/env bash
# Set up everything the tests need on a fresh Debian machine (chromium drives the /live page test through
# Playwright, which downloads no browser), check the code (ruff, mypy, import-linter's layer contracts), then run the
# fast in-process tier (tests/fast, seconds) and after it the rest of the suite (slow tests included).
# Arguments go to pytest, in both runs (e.g. -k queue, or -m "not slow" for a quick pass).
# SKIP_GATES=1 skips the code checks (a quick local rerun); CI never sets it.
NODE_PACKAGES=""
command -v npx >/dev/null 2>&1 || NODE_PACKAGES="nodejs npm"  # serverless.yml is packaged with npx serverless@3
# open-jtalk speaks the Japanese of tests/test_multilingual.py (tests/speech_samples.py fetches its voice).
# NEED_KUBECTL: the k8s/ tests render the overlays with `kubectl kustomize` (setup.sh finds or installs a kubectl).
APT_PACKAGES="redis-server espeak-ng open-jtalk open-jtalk-mecab-naist-jdic fonts-dejavu-core fonts-noto-cjk chromium $NODE_PACKAGES" PIP_EXTRAS="[test]" \
  NEED_KUBECTL=1 source "$(dirname "$0")/setup.sh"

gate() {  # gate NAME COMMAND...: run one check; a failure ends the run with one line saying which
  local name="$1"
  shift
  echo "== $name"
  if ! "$@"; then
    echo "scripts/test.sh: FAILED: $name ($*): fix what it reports above" >&2
    exit 1
  fi
}

if [ -z "${SKIP_GATES:-}" ]; then
  gate "ruff check" .venv/bin/ruff check .
  gate "ruff format --check" .venv/bin/ruff format --check .
  gate "mypy src" .venv/bin/mypy src
  gate "lint-imports (the layer contracts in pyproject.toml)" .venv/bin/lint-imports --no-cache
fi

# pytest exits 5 when the arguments select no test of a tier (e.g. a path outside it): that tier is then empty.
echo "== fast tier (tests/fast)"
set +e
.venv/bin/python -m pytest --tier fast "$@"
fast=$?
if [ "$fast" -ne 0 ] && [ "$fast" -ne 5 ]; then
  echo "scripts/test.sh: FAILED: the fast tier (pytest --tier fast): the rest of the suite did not run" >&2
  exit "$fast"
fi
echo "== the rest of the suite"
.venv/bin/python -m pytest --tier rest "$@"
rest=$?
if [ "$rest" -eq 5 ] && [ "$fast" -eq 0 ]; then
  exit 0
fi
exit "$rest"
