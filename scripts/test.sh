#!/usr/bin/env bash
# Set up everything the tests need on a fresh Debian machine (chromium drives the /live page test through
# Playwright, which downloads no browser), then run the whole suite (slow tests included).
# Arguments go to pytest (e.g. -k queue, or -m "not slow" for a quick pass).
NODE_PACKAGES=""
command -v npx >/dev/null 2>&1 || NODE_PACKAGES="nodejs npm"  # serverless.yml is packaged with npx serverless@3
APT_PACKAGES="redis-server espeak-ng fonts-dejavu-core fonts-noto-cjk chromium $NODE_PACKAGES" PIP_EXTRAS="[test]" \
  source "$(dirname "$0")/setup.sh"
exec .venv/bin/python -m pytest "$@"
