#!/usr/bin/env bash
# Set up (the first run takes long and needs the network; later ones install nothing unless pyproject.toml's
# requirements change: scripts/setup.sh) and run StreamProcess on the embedded default: local store + embedded
# queue. Only the service is installed: the README names the extra each other example needs.
# Arguments go to `streamprocess up` (e.g. --port 8080).
APT_PACKAGES="" PIP_EXTRAS="" source "$(dirname "$0")/setup.sh"
exec .venv/bin/streamprocess up "$@"
