"""Amazon SQS (aiobotocore): long polling, ChangeMessageVisibility heartbeats, batch delete, redrive policy.

The dead-letter queue ``<name>-dlq`` and the redrive policy (``maxReceiveCount = max_receives``) are created by
:meth:`SQSQueue.ensure`; SQS itself moves a message there after too many receives.
"""

from __future__ import annotations

import json
import math
from typing import Any

from botocore.exceptions import ClientError

from ..aws import LazyClient
from .base import Message, MessageLost, Queue, QueueDepth, dlq_name

_LOST = {
    "ReceiptHandleIsInvalid",
    "MessageNotInflight",
    "AWS.SimpleQueueService.MessageNotInflight",
    "InvalidParameterValue",
}


class SQSQueue(Queue):
    def __init__(
        self,
        name: str,
        *,
        endpoint_url: str | None = None,
        region: str = "us-east-1",
        visibility_timeout: float = 60.0,
        max_receives: int | None = 5,
        _client: LazyClient | None = None,
    ) -> None:
        self.name = name
        self.endpoint_url = endpoint_url
        self.region = region
        self.visibility_timeout = visibility_timeout
        self.max_receives = max_receives
        # A DLQ shares its parent's client (and connection pool).
        self._client = _client or LazyClient("sqs", endpoint_url=endpoint_url, region=region)
        self._owns_client = _client is None
        self._url: str | None = None
        self._dlq: SQSQueue | None = None

    async def client(self) -> Any:
        return await self._client.get()

    async def close(self) -> None:
        if self._owns_client:
            await self._client.close()

    async def url(self) -> str:
        if self._url is None:
            client = await self.client()
            self._url = (await client.get_queue_url(QueueName=self.name))["QueueUrl"]
        return self._url

    async def _dlq_arn(self, *, create: bool) -> str | None:
        client = await self.client()
        name = dlq_name(self.name)
        try:
            if create:
                url = (await client.create_queue(QueueName=name, Attributes={"MessageRetentionPeriod": "1209600"}))[
                    "QueueUrl"
                ]
            else:
                url = (await client.get_queue_url(QueueName=name))["QueueUrl"]
        except ClientError:
            if create:
                raise
            return None
        return (await client.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"]))["Attributes"]["QueueArn"]

    async def wanted_attributes(self, *, create_dlq: bool = False) -> dict[str, str]:
        """The attributes this queue should have: visibility timeout and the redrive policy to its DLQ."""
        attrs = {"VisibilityTimeout": str(int(self.visibility_timeout))}
        if self.max_receives is not None:
            arn = await self._dlq_arn(create=create_dlq)
            attrs["RedrivePolicy"] = json.dumps(
                {"deadLetterTargetArn": arn or "(no dead-letter queue yet)", "maxReceiveCount": str(self.max_receives)}
            )
        return attrs

    async def ensure(self) -> None:
        client = await self.client()
        attrs = await self.wanted_attributes(create_dlq=True)
        try:
            self._url = (await client.create_queue(QueueName=self.name, Attributes=attrs))["QueueUrl"]
        except ClientError as e:  # exists with other attributes: bring them in line
            if e.response["Error"]["Code"] not in ("QueueAlreadyExists", "QueueNameExists"):
                raise
            await client.set_queue_attributes(QueueUrl=await self.url(), Attributes=attrs)

    async def send(self, body: str, *, delay: float = 0) -> str:
        client = await self.client()
        resp = await client.send_message(
            QueueUrl=await self.url(), MessageBody=body, DelaySeconds=min(900, math.ceil(max(0.0, delay)))
        )
        return resp["MessageId"]

    async def receive(
        self, max_messages: int = 1, *, wait: float = 0, visibility_timeout: float | None = None
    ) -> list[Message]:
        client = await self.client()
        vt = self.visibility_timeout if visibility_timeout is None else visibility_timeout
        resp = await client.receive_message(
            QueueUrl=await self.url(),
            MaxNumberOfMessages=max(1, min(10, max_messages)),
            WaitTimeSeconds=min(20, math.ceil(max(0.0, wait))),
            VisibilityTimeout=max(0, math.ceil(vt)),
            MessageSystemAttributeNames=["ApproximateReceiveCount", "SentTimestamp"],
            MessageAttributeNames=["reason", "source"],
        )
        out = []
        for m in resp.get("Messages", []):
            attrs = dict(m.get("Attributes", {}))
            attrs.update({k: v["StringValue"] for k, v in m.get("MessageAttributes", {}).items() if "StringValue" in v})
            out.append(
                Message(
                    id=m["MessageId"],
                    body=m["Body"],
                    receive_count=int(attrs.get("ApproximateReceiveCount", 1)),
                    receipt=m["ReceiptHandle"],
                    sent_at=int(attrs["SentTimestamp"]) / 1000 if "SentTimestamp" in attrs else None,
                    attributes=attrs,
                )
            )
        return out

    async def peek(self, max_messages: int = 10) -> list[Message]:
        return await self.receive(max_messages, wait=0, visibility_timeout=0)

    async def ack(self, message: Message) -> None:
        client = await self.client()
        await client.delete_message(QueueUrl=await self.url(), ReceiptHandle=message.receipt)

    async def ack_many(self, messages: list[Message]) -> None:
        client = await self.client()
        for i in range(0, len(messages), 10):
            batch = messages[i : i + 10]
            resp = await client.delete_message_batch(
                QueueUrl=await self.url(),
                Entries=[{"Id": str(n), "ReceiptHandle": m.receipt} for n, m in enumerate(batch)],
            )
            if resp.get("Failed"):
                raise MessageLost(f"batch delete failed for {len(resp['Failed'])} message(s): {resp['Failed']}")

    async def _change_visibility(self, message: Message, seconds: float) -> None:
        client = await self.client()
        try:
            await client.change_message_visibility(
                QueueUrl=await self.url(),
                ReceiptHandle=message.receipt,
                VisibilityTimeout=max(0, min(43200, math.ceil(seconds))),
            )
        except ClientError as e:
            if e.response["Error"]["Code"] in _LOST:
                raise MessageLost(f"message {message.id} on {self.name}: {e.response['Error']['Message']}") from None
            raise

    async def nack(self, message: Message, *, delay: float = 0) -> None:
        await self._change_visibility(message, delay)

    async def extend(self, message: Message, visibility_timeout: float) -> None:
        await self._change_visibility(message, visibility_timeout)

    async def dead_letter(self, message: Message, reason: str) -> None:
        dlq = self.dlq
        await (await dlq.client()).send_message(
            QueueUrl=await dlq.url(),
            MessageBody=message.body,
            MessageAttributes={
                "reason": {"DataType": "String", "StringValue": reason[:1000] or "-"},
                "source": {"DataType": "String", "StringValue": self.name},
            },
        )
        await self.ack(message)

    async def depth(self) -> QueueDepth:
        client = await self.client()
        attrs = (
            await client.get_queue_attributes(
                QueueUrl=await self.url(),
                AttributeNames=[
                    "ApproximateNumberOfMessages",
                    "ApproximateNumberOfMessagesNotVisible",
                    "ApproximateNumberOfMessagesDelayed",
                ],
            )
        )["Attributes"]
        return QueueDepth(
            available=int(attrs.get("ApproximateNumberOfMessages", 0)),
            in_flight=int(attrs.get("ApproximateNumberOfMessagesNotVisible", 0)),
            delayed=int(attrs.get("ApproximateNumberOfMessagesDelayed", 0)),
        )

    @property
    def dlq(self) -> SQSQueue:
        if self._dlq is None:
            self._dlq = SQSQueue(
                dlq_name(self.name),
                endpoint_url=self.endpoint_url,
                region=self.region,
                visibility_timeout=self.visibility_timeout,
                max_receives=None,
                _client=self._client,
            )
        return self._dlq
