"""The gRPC front door on grpc.aio: ``streamprocess.v1.OCRService`` (ProcessDocument, BatchProcess; :mod:`.ocr`),
``streamprocess.v1.STTService`` (StreamingRecognize; :mod:`.stt`) and the standard ``grpc.health.v1.Health``
(:mod:`.health`). Authentication and refusals are in :mod:`.refusals`, the status of each error code in
:mod:`.status`."""

from __future__ import annotations

from typing import TYPE_CHECKING

import grpc

from ..errors import ExitCode, StartupError
from ..submit import Submissions
from ..tenants import Credentials
from ..v1 import ocr_pb2_grpc, stt_pb2_grpc
from .health import Health
from .ocr import OCRService
from .stt import STTService

if TYPE_CHECKING:
    from ..live.pool import LivePool


async def start(
    submissions: Submissions,
    credentials: Credentials,
    host: str,
    port: int,
    live: LivePool | None = None,
    health: Health | None = None,
) -> grpc.aio.Server:
    """Serves both services and the health service on ``host:port``; raises :class:`StartupError` (PORT_IN_USE)
    when it cannot bind. ``health``: the statuses the caller turns to serving once everything listens (and to not
    serving when it drains); without one, the health service reports serving as soon as the server starts."""
    limit = submissions.settings.upload_max_size + (1 << 20)
    # grpc sets SO_REUSEPORT by default: a second server on the same port would bind too and take half the calls.
    server = grpc.aio.server(
        options=[
            ("grpc.max_receive_message_length", limit),
            ("grpc.max_send_message_length", 64 << 20),
            ("grpc.so_reuseport", 0),
        ]
    )
    ocr_pb2_grpc.add_OCRServiceServicer_to_server(OCRService(submissions, credentials), server)
    stt_pb2_grpc.add_STTServiceServicer_to_server(STTService(live, credentials), server)
    own_health = health is None
    health = health if health is not None else Health(live is not None)
    await health.attach(server)
    address = f"[{host}]:{port}" if ":" in host and not host.startswith("[") else f"{host}:{port}"
    try:
        bound = server.add_insecure_port(address)  # grpcio raises RuntimeError (older ones returned 0)
    except RuntimeError:
        bound = 0
    if not bound:  # one line: grpc's core has logged another saying why
        raise StartupError(
            ExitCode.PORT_IN_USE,
            f"gRPC port {port} on {host} is in use (or cannot be listened on); "
            "set STREAMPROCESS_GRPC_PORT to a free port (0 turns gRPC off).",
        )
    await server.start()
    if own_health:
        await health.serving()
    return server
