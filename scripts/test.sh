#!/usr/bin/env bash
# Set up everything the tests need on a fresh Debian machine, then run the whole suite (slow tests included).
# Arguments go to pytest (e.g. -k queue, or -m "not slow" for a quick pass).
APT_PACKAGES="redis-server espeak-ng fonts-dejavu-core fonts-noto-cjk" PIP_EXTRAS="[test]" source "$(dirname "$0")/setup.sh"
exec .venv/bin/python -m pytest "$@"
