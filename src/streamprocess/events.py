"""Bucket events: the AWS S3 event notification, and every envelope it arrives in.

:func:`parse_records` accepts, and flattens to a list of :class:`S3EventRecord`:

- an S3 event notification (``{"Records": [...]}``), as S3 sends it to SQS/SNS/Lambda;
- MinIO's webhook body (``{"EventName": ..., "Key": ..., "Records": [...]}``; event names with an ``s3:`` prefix);
- an SQS message or a Lambda SQS event (``{"Records": [{"eventSource": "aws:sqs", "body": "..."}]}``);
- an SNS notification (``{"Type": "Notification", "Message": "..."}``), raw or inside SQS;
- an EventBridge "Object Created" event.

``s3:TestEvent`` messages (sent when a notification is configured) yield no records. Object keys in S3 records
are URL-encoded with ``+`` for spaces; :attr:`S3EventRecord.key` is the decoded key.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote_plus, unquote_plus

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .errors import InvalidEvent
from .timestamps import UTCDateTime


class _Model(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="allow")


class S3Bucket(_Model):
    name: str
    arn: str | None = None


class S3Object(_Model):
    key: str  # URL-encoded, as on the wire
    size: int | None = None
    e_tag: str | None = Field(None, alias="eTag")
    version_id: str | None = Field(None, alias="versionId")
    sequencer: str | None = None
    content_type: str | None = Field(None, alias="contentType")  # MinIO
    user_metadata: dict[str, str] | None = Field(None, alias="userMetadata")  # MinIO


class S3Entity(_Model):
    s3_schema_version: str = Field("1.0", alias="s3SchemaVersion")
    configuration_id: str | None = Field(None, alias="configurationId")
    bucket: S3Bucket
    object: S3Object


class S3EventRecord(_Model):
    event_version: str = Field("2.1", alias="eventVersion")
    event_source: str = Field("aws:s3", alias="eventSource")
    aws_region: str | None = Field(None, alias="awsRegion")
    event_time: UTCDateTime = Field(alias="eventTime")
    event_name: str = Field(alias="eventName")
    s3: S3Entity

    @property
    def bucket(self) -> str:
        return self.s3.bucket.name

    @property
    def key(self) -> str:
        return unquote_plus(self.s3.object.key)

    @property
    def etag(self) -> str | None:
        tag = self.s3.object.e_tag
        return tag.strip('"') if tag else None

    @property
    def version_id(self) -> str | None:
        return self.s3.object.version_id or None

    @property
    def is_object_created(self) -> bool:
        return self.event_name.removeprefix("s3:").startswith("ObjectCreated:")


class S3Event(_Model):
    records: list[S3EventRecord] = Field(alias="Records")


def make_object_created_event(
    *,
    bucket: str,
    key: str,
    size: int,
    etag: str,
    version_id: str | None = None,
    region: str = "local",
    event_name: str = "ObjectCreated:Put",
    when: datetime | None = None,
) -> dict[str, Any]:
    """An S3 event notification for one object, in the exact shape S3 sends (used by the local store)."""
    obj: dict[str, Any] = {
        "key": quote_plus(key, safe="/"),
        "size": size,
        "eTag": etag,
        "sequencer": f"{time.time_ns():016X}",
    }
    if version_id:
        obj["versionId"] = version_id
    when = when or datetime.now(UTC)
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": region,
                "eventTime": when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z",
                "eventName": event_name,
                "userIdentity": {"principalId": "streamprocess"},
                "requestParameters": {"sourceIPAddress": "127.0.0.1"},
                "responseElements": {},
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "configurationId": "streamprocess-local",
                    "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
                    "object": obj,
                },
            }
        ]
    }


_MAX_DEPTH = 4  # SQS inside SNS inside SQS is as deep as real deployments nest


def parse_records(payload: str | bytes | dict[str, Any], *, _depth: int = 0) -> list[S3EventRecord]:
    """All S3 records in ``payload``, whatever envelope carries them. Raises :class:`InvalidEvent`."""
    if _depth > _MAX_DEPTH:
        raise InvalidEvent("event envelopes nested too deeply")
    if isinstance(payload, (str, bytes)):
        try:
            payload = json.loads(payload)
        except (ValueError, UnicodeDecodeError) as e:
            raise InvalidEvent(f"event is not JSON: {e}") from None
    if not isinstance(payload, dict):
        raise InvalidEvent(f"event must be a JSON object, got {type(payload).__name__}")

    if payload.get("Event") == "s3:TestEvent":
        return []
    if payload.get("Type") == "Notification" and "Message" in payload:  # SNS
        return parse_records(payload["Message"], _depth=_depth + 1)
    if payload.get("source") == "aws.s3" and "detail" in payload:  # EventBridge
        return [_from_eventbridge(payload)]

    records = payload.get("Records")
    if not isinstance(records, list):
        raise InvalidEvent("event has no Records list (not an S3, SQS, SNS or MinIO notification)")
    out: list[S3EventRecord] = []
    for raw in records:
        if not isinstance(raw, dict):
            raise InvalidEvent("event record is not an object")
        source = raw.get("eventSource") or raw.get("EventSource")
        if source == "aws:sqs":
            out.extend(parse_records(raw.get("body", ""), _depth=_depth + 1))
        elif source == "aws:sns":
            out.extend(parse_records(raw.get("Sns", {}), _depth=_depth + 1))
        else:
            try:
                out.append(S3EventRecord.model_validate(raw))
            except ValidationError as e:
                raise InvalidEvent(
                    f"malformed S3 event record: {e.errors()[0]['msg']} at {'.'.join(map(str, e.errors()[0]['loc']))}"
                ) from None
    return out


def _from_eventbridge(payload: dict[str, Any]) -> S3EventRecord:
    detail = payload["detail"]
    name = {"Object Created": "ObjectCreated:Put"}.get(payload.get("detail-type", ""), payload.get("detail-type", ""))
    obj = detail.get("object", {})
    try:
        return S3EventRecord.model_validate(
            {
                "eventSource": "aws:s3",
                "awsRegion": payload.get("region"),
                "eventTime": payload.get("time"),
                "eventName": name,
                "s3": {
                    "bucket": {"name": detail["bucket"]["name"]},
                    "object": {
                        # EventBridge keys are not URL-encoded; encode so .key decodes uniformly.
                        "key": quote_plus(obj["key"], safe="/"),
                        "size": obj.get("size"),
                        "eTag": obj.get("etag"),
                        "versionId": obj.get("version-id"),
                        "sequencer": obj.get("sequencer"),
                    },
                },
            }
        )
    except (KeyError, TypeError, ValidationError) as e:
        raise InvalidEvent(f"malformed EventBridge S3 event: {e}") from None
