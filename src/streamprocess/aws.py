"""One lazily opened aiobotocore client, shared by the S3 store and the SQS queue adapters."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from typing import Any

from aiobotocore.session import get_session
from botocore.config import Config


class LazyClient:
    """Opens the client on first use (inside the running event loop) and closes it on :meth:`close`."""

    def __init__(self, service: str, *, endpoint_url: str | None, region: str, **config: Any) -> None:
        self.service = service
        self.endpoint_url = endpoint_url
        self.region = region
        self.config = Config(max_pool_connections=32, retries={"max_attempts": 5, "mode": "standard"}, **config)
        self._stack: AsyncExitStack | None = None
        self._client: Any = None
        self._lock = asyncio.Lock()

    async def get(self) -> Any:
        if self._client is None:
            async with self._lock:
                if self._client is None:
                    stack = AsyncExitStack()
                    self._client = await stack.enter_async_context(
                        get_session().create_client(
                            self.service, endpoint_url=self.endpoint_url, region_name=self.region, config=self.config
                        )
                    )
                    self._stack = stack
        return self._client

    async def close(self) -> None:
        if self._stack is not None:
            await self._stack.aclose()
        self._stack, self._client = None, None
