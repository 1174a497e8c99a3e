"""Wire an S3 (or MinIO-compatible) drop folder to SQS: bucket, queues + DLQs + redrive, queue policy, notification.

Idempotent: each step reads what is there and changes only what differs, so a second run reports no change. The
notification filters on the inbox prefix only, never on the results or job-record prefixes (the recursion guard).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from .aws import LazyClient
from .config import Settings
from .kinds import EVENTS_QUEUE, QUEUE_ROLES
from .queues import max_receives
from .queues.sqs import SQSQueue

NOTIFICATION_ID = "streamprocess-inbox"


@dataclass
class Step:
    what: str
    changed: bool
    detail: str


async def setup_s3(settings: Settings) -> list[Step]:
    s3 = LazyClient(
        "s3", endpoint_url=settings.s3_endpoint_url, region=settings.aws_region, s3={"addressing_style": "path"}
    )
    steps: list[Step] = []
    try:
        client = await s3.get()
        steps.append(await _bucket(client, settings))
        queues = {
            role: SQSQueue(
                settings.queue_name(role),
                endpoint_url=settings.sqs_endpoint_url,
                region=settings.aws_region,
                visibility_timeout=settings.visibility_timeout,
                max_receives=max_receives(settings),
            )
            for role in QUEUE_ROLES
        }
        try:
            for q in queues.values():
                steps.append(await _queue(q))
            events = queues[EVENTS_QUEUE]
            sqs = await events.client()
            arn = (await sqs.get_queue_attributes(QueueUrl=await events.url(), AttributeNames=["QueueArn"]))[
                "Attributes"
            ]["QueueArn"]
            steps.append(await _policy(sqs, await events.url(), arn, settings.bucket))
            steps.append(await _notification(client, settings, arn))
        finally:
            for q in queues.values():
                await q.close()
    finally:
        await s3.close()
    return steps


async def _bucket(client: Any, settings: Settings) -> Step:
    try:
        await client.head_bucket(Bucket=settings.bucket)
        return Step(f"bucket {settings.bucket}", False, "exists")
    except ClientError as e:
        if e.response["Error"]["Code"] not in ("404", "NoSuchBucket", "NotFound"):
            raise
    kwargs: dict[str, Any] = {"Bucket": settings.bucket}
    if settings.aws_region != "us-east-1":
        kwargs["CreateBucketConfiguration"] = {"LocationConstraint": settings.aws_region}
    await client.create_bucket(**kwargs)
    return Step(f"bucket {settings.bucket}", True, "created")


async def _queue(queue: SQSQueue) -> Step:
    client = await queue.client()
    wanted = await queue.wanted_attributes()
    try:
        url = (await client.get_queue_url(QueueName=queue.name))["QueueUrl"]
    except ClientError:
        await queue.ensure()
        return Step(f"queue {queue.name}", True, "created with its dead-letter queue and redrive policy")
    have = (await client.get_queue_attributes(QueueUrl=url, AttributeNames=list(wanted))).get("Attributes", {})
    differs = {k for k, v in wanted.items() if _norm(have.get(k)) != _norm(v)}
    if not differs:
        return Step(f"queue {queue.name}", False, "exists with its dead-letter queue and redrive policy")
    await queue.ensure()
    return Step(f"queue {queue.name}", True, f"updated {', '.join(sorted(differs))}")


def _norm(value: Any) -> Any:
    if isinstance(value, str) and value.startswith("{"):
        return {k: str(v) for k, v in json.loads(value).items()}
    return value


async def _policy(sqs: Any, url: str, arn: str, bucket: str) -> Step:
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "streamprocess-s3-notifications",
                "Effect": "Allow",
                "Principal": {"Service": "s3.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": arn,
                "Condition": {"ArnLike": {"aws:SourceArn": f"arn:aws:s3:::{bucket}"}},
            }
        ],
    }
    have = (await sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"])).get("Attributes", {}).get("Policy")
    if have and json.loads(have) == policy:
        return Step("queue policy (S3 may send to the events queue)", False, "in place")
    await sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(policy)})
    return Step("queue policy (S3 may send to the events queue)", True, "set")


async def _notification(client: Any, settings: Settings, arn: str) -> Step:
    current = await client.get_bucket_notification_configuration(Bucket=settings.bucket)
    current.pop("ResponseMetadata", None)
    wanted_rule = {
        "Id": NOTIFICATION_ID,
        "QueueArn": arn,
        "Events": ["s3:ObjectCreated:*"],
        "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": settings.inbox_prefix}]}},
    }
    others = [c for c in current.get("QueueConfigurations", []) if c.get("Id") != NOTIFICATION_ID]
    mine = [c for c in current.get("QueueConfigurations", []) if c.get("Id") == NOTIFICATION_ID]
    what = f"bucket notification ObjectCreated under {settings.inbox_prefix!r} → {settings.queue_name('events')}"
    if mine and _same_rule(mine[0], wanted_rule):
        return Step(what, False, "in place")
    config = {
        k: v
        for k, v in current.items()
        if k in ("TopicConfigurations", "LambdaFunctionConfigurations", "EventBridgeConfiguration")
    }
    config["QueueConfigurations"] = [*others, wanted_rule]
    await client.put_bucket_notification_configuration(Bucket=settings.bucket, NotificationConfiguration=config)
    return Step(what, True, "set")


def _same_rule(have: dict[str, Any], want: dict[str, Any]) -> bool:
    def rules(c: dict[str, Any]) -> list[tuple[str, str]]:
        return sorted(
            (r["Name"].lower(), r["Value"]) for r in c.get("Filter", {}).get("Key", {}).get("FilterRules", [])
        )

    return (
        have.get("QueueArn") == want["QueueArn"]
        and sorted(have.get("Events", [])) == sorted(want["Events"])
        and rules(have) == rules(want)
    )
