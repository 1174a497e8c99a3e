"""Live captioning: audio streams in, partial and final captions out, within a few hundred milliseconds.

One module per stage, transport-agnostic (the WebSocket and gRPC front doors only translate frames):

- :mod:`.protocol` — the stream config (first frame), its timeout, the protocol's errors.
- :mod:`.events` — the events sent back, one typed union, and their JSON form.
- :mod:`.pcm` — the sample encodings (s16le, f32le) and the WAV recording of a stream.
- :mod:`.audio` — PCM frames to 16 kHz float32, and a streaming Silero VAD.
- :mod:`.decoder` — Whisper on the mel of only the real audio (no 30 s padding), batched, with loop guards.
- :mod:`.scheduler` — gathers decode requests from every stream into batches (apart from model execution).
- :mod:`.agreement` — LocalAgreement-2: which words are committed.
- :mod:`.captioner` — one stream's policy: VAD, when to decode, commit, finalize, trim.
- :mod:`.session` — one stream as the transport sees it: intake and backpressure, the driver, events out.
- :mod:`.limits` — the numbers a stream and the pool run by, as values (built from the settings at the edge).
- :mod:`.archive` — what a finished stream hands over to be saved (implemented outside: ``streamprocess.live_archive``).
- :mod:`.pool` — the hot pool: model loaded and warmed at start-up, admission control, metrics.
- :mod:`.client` — a WebSocket client (tests, benchmark).

Nothing here reads configuration or touches storage, queues or jobs. The package itself imports only the protocol
(light); :mod:`.pool` brings in the model stack.
"""

from .protocol import PoolFull, ProtocolError, StreamConfig

__all__ = ["PoolFull", "ProtocolError", "StreamConfig"]
