"""Live captioning: audio streams in, partial and final captions out, within a few hundred milliseconds.

One module per stage, transport-agnostic (the WebSocket and gRPC front doors only translate frames):

- :mod:`.protocol` — the stream config (first frame) and the events sent back.
- :mod:`.audio` — PCM frames to 16 kHz float32, and a streaming Silero VAD.
- :mod:`.decoder` — Whisper on the mel of only the real audio (no 30 s padding), batched, with loop guards.
- :mod:`.scheduler` — gathers decode requests from every stream into batches (apart from model execution).
- :mod:`.agreement` — LocalAgreement-2: which words are committed.
- :mod:`.session` — one stream's policy: VAD, when to decode, commit, finalize, trim, backpressure.
- :mod:`.pool` — the hot pool: model loaded and warmed at start-up, admission control, metrics.

The package itself imports only the protocol (light); :mod:`.pool` brings in the model stack.
"""

from .protocol import PoolFull, ProtocolError, StreamConfig

__all__ = ["PoolFull", "ProtocolError", "StreamConfig"]
