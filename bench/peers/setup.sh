#!/usr/bin/env bash
# Creates the peers' virtualenvs for bench/peers.py, apart from the service's .venv (the peers are a bench-only
# extra): .venv-peers/whisperlive (collabora WhisperLive) and .venv-peers/whisperlivekit (WhisperLiveKit), from
# PyPI only, pinned (requirements-*.txt; constraints-*.txt hold every package as measured).
#
#   bash bench/peers/setup.sh [--fresh] [whisperlive|whisperlivekit ...]    (default: both)
#
# Each peer package goes in with --no-deps and its runtime imports from requirements-<peer>-deps.txt: the
# packages' declared dependencies cannot all be installed here or pull in what their CPU faster-whisper servers
# never import (see the comments in requirements-<peer>.txt). An import check ends each install.
# PYTHON: the interpreter to build them with (default python3; measured with 3.11).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
python="${PYTHON:-python3}"
fresh=0
peers=()
for arg in "$@"; do
  case "$arg" in
    --fresh) fresh=1 ;;
    whisperlive | whisperlivekit) peers+=("$arg") ;;
    *) echo "usage: $0 [--fresh] [whisperlive|whisperlivekit ...]" >&2 && exit 2 ;;
  esac
done
[ ${#peers[@]} -eq 0 ] && peers=(whisperlive whisperlivekit)

declare -A check=(
  [whisperlive]="import whisper_live.server, whisper_live.backend.faster_whisper_backend"
  [whisperlivekit]="import librosa, whisperlivekit.core, whisperlivekit.local_agreement.backends, faster_whisper"
)

for peer in "${peers[@]}"; do
  venv="$root/.venv-peers/$peer"
  started=$(date +%s)
  [ "$fresh" = 1 ] && rm -rf "$venv"
  [ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
  "$venv/bin/pip" install --disable-pip-version-check -q -r "$here/requirements-$peer-deps.txt" \
    -c "$here/constraints-$peer.txt"
  "$venv/bin/pip" install --disable-pip-version-check -q --no-deps -r "$here/requirements-$peer.txt"
  "$venv/bin/python" -c "${check[$peer]}"
  echo "$peer: $venv ready in $(($(date +%s) - started)) s, $(du -sh "$venv" | cut -f1)"
done
