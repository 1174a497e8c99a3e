#!/usr/bin/env bash
# Set up (first run only takes long) and run StreamProcess on the embedded default: local store + embedded queue.
# Arguments go to `streamprocess up` (e.g. --port 8080).
APT_PACKAGES="" PIP_EXTRAS="" source "$(dirname "$0")/setup.sh"
exec .venv/bin/streamprocess up "$@"
