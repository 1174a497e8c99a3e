"""The standard gRPC health service, ``grpc.health.v1.Health`` (grpcio-health-checking), on the gRPC port: what
Kubernetes' native gRPC probe (``grpc: {port: 50051, service: …}``) and ``grpc-health-probe`` call.

- ``""`` (the server as a whole) and ``streamprocess.v1.OCRService``: ``SERVING`` once everything the process runs
  listens (HTTP, gRPC, the live pool loaded), ``NOT_SERVING`` before that;
- ``streamprocess.v1.STTService``: ``SERVING`` only while a live pool is loaded (``STREAMPROCESS_LIVE_MAX_STREAMS``
  above 0 and its model loaded): without one every ``StreamingRecognize`` is refused (``live_disabled``), so a
  probe on the live-captioning pool fails where it cannot caption;
- all of them ``NOT_SERVING`` for good once the process drains (SIGTERM), before the port closes;
- any other name: ``NOT_FOUND``, as the reference implementation answers.
"""

from __future__ import annotations

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from ..v1 import ocr_pb2, stt_pb2

OVERALL = ""
OCR_SERVICE: str = ocr_pb2.DESCRIPTOR.services_by_name["OCRService"].full_name
STT_SERVICE: str = stt_pb2.DESCRIPTOR.services_by_name["STTService"].full_name
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


class Health:
    """The statuses one gRPC server reports; ``live``: whether STTService has a live pool behind it."""

    def __init__(self, live: bool) -> None:
        self.live = live
        self.servicer = health.aio.HealthServicer()
        self._draining = False

    async def attach(self, server: grpc.aio.Server) -> None:
        """Adds the service to ``server`` (before it starts), every name ``NOT_SERVING`` until :meth:`serving`."""
        for name in (OVERALL, OCR_SERVICE, STT_SERVICE):
            await self.servicer.set(name, NOT_SERVING)
        health_pb2_grpc.add_HealthServicer_to_server(self.servicer, server)

    async def serving(self) -> None:
        """Everything listens: the server and OCRService serve; STTService when the live pool is loaded."""
        if self._draining:
            return
        await self.servicer.set(OVERALL, SERVING)
        await self.servicer.set(OCR_SERVICE, SERVING)
        await self.servicer.set(STT_SERVICE, SERVING if self.live else NOT_SERVING)

    async def draining(self) -> None:
        """Every name ``NOT_SERVING`` from now on (later :meth:`serving` calls are ignored)."""
        self._draining = True
        await self.servicer.enter_graceful_shutdown()
