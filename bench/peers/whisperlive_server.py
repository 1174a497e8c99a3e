"""Starts collabora WhisperLive's WebSocket server (PyPI ``whisper-live``) the way its ``run_server.py`` does, for
bench/peers.py. Runs under ``.venv-peers/whisperlive``, never the service's venv.

The wheel ships no ``run_server.py`` (it lives in the repository), so this is its faster-whisper branch: set
``OMP_NUM_THREADS`` from ``--omp_num_threads`` (default 1, as upstream) before anything loads a thread pool, then
``TranscriptionServer().run(...)`` with a custom model folder (which upstream turns into single-model mode: one
model shared by all connections behind a lock). Bound to the host given (upstream: 0.0.0.0).
"""

import argparse
import os

parser = argparse.ArgumentParser()
parser.add_argument("--host", default="127.0.0.1")
parser.add_argument("--port", type=int, default=9090)
parser.add_argument("--faster_whisper_custom_model_path", required=True)
parser.add_argument("--omp_num_threads", type=int, default=1)
parser.add_argument("--max_clients", type=int, default=4)
parser.add_argument("--max_connection_time", type=int, default=300)
args = parser.parse_args()

if "OMP_NUM_THREADS" not in os.environ:
    os.environ["OMP_NUM_THREADS"] = str(args.omp_num_threads)

from whisper_live.server import TranscriptionServer  # noqa: E402  (after OMP_NUM_THREADS, as upstream)

TranscriptionServer().run(
    args.host,
    port=args.port,
    backend="faster_whisper",
    faster_whisper_custom_model_path=args.faster_whisper_custom_model_path,
    single_model=True,
    max_clients=args.max_clients,
    max_connection_time=args.max_connection_time,
)
