"""Bucket events in every envelope, from the samples in events/."""

from __future__ import annotations

import json

import pytest

from streamprocess.errors import InvalidEvent
from streamprocess.events import make_object_created_event, parse_records

from .helpers import ROOT

EVENTS = ROOT / "events"
KEY = "inbox/Team Meeting (final)+notes ü.wav"


def load(name: str) -> str:
    return (EVENTS / name).read_text()


@pytest.mark.parametrize(
    "name",
    [
        "s3-object-created.json",
        "sqs-lambda-event.json",
        "sns-notification.json",
        "sqs-sns-s3.json",
        "eventbridge-object-created.json",
    ],
)
def test_every_envelope_yields_the_same_record(name: str) -> None:
    [record] = parse_records(load(name))
    assert record.is_object_created
    assert record.bucket == "media-drop"
    assert record.key == KEY  # '+' decodes to a space, '%2B' to '+', UTF-8 percent-escapes to 'ü'
    assert record.s3.object.size == 1152693
    assert record.etag == "e3538eb321a0ac488a428468a5e16ce1"
    assert record.version_id == "096fKKXTRTtl3on89fVO.nfljtsv6qko"


def test_minio_webhook() -> None:
    [record] = parse_records(load("minio-webhook.json"))
    assert record.is_object_created  # MinIO spells it "s3:ObjectCreated:Put"
    assert record.key == "inbox/scan 01.png"
    assert record.s3.object.content_type == "image/png"
    assert record.s3.object.user_metadata == {"content-type": "image/png", "X-Amz-Meta-Language": "en"}


def test_test_event_and_removals_start_nothing() -> None:
    assert parse_records(load("s3-test-event.json")) == []
    [removed] = parse_records(load("s3-object-removed.json"))
    assert not removed.is_object_created


@pytest.mark.parametrize(
    "payload, fragment",
    [
        ("not json {", "not JSON"),
        ("[1, 2]", "JSON object"),
        ('{"hello": "world"}', "no Records"),
        ('{"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put"}]}', "malformed"),
        ('{"Records": [7]}', "not an object"),
    ],
)
def test_bad_payloads_are_clear_errors(payload: str, fragment: str) -> None:
    with pytest.raises(InvalidEvent, match=fragment):
        parse_records(payload)


def test_envelopes_cannot_nest_forever() -> None:
    payload: dict = json.loads(load("s3-object-created.json"))
    for _ in range(10):
        payload = {"Type": "Notification", "Message": json.dumps(payload)}
    with pytest.raises(InvalidEvent, match="nested"):
        parse_records(payload)


def test_local_events_have_the_s3_shape() -> None:
    key = "inbox/a b+c%d/ü.wav"
    event = make_object_created_event(bucket="local", key=key, size=3, etag="abc")
    aws = json.loads(load("s3-object-created.json"))
    assert set(event["Records"][0]) >= set(aws["Records"][0]) - {"glacierEventData"}
    assert set(event["Records"][0]["s3"]["object"]) >= {"key", "size", "eTag", "sequencer"}
    assert event["Records"][0]["s3"]["object"]["key"] == "inbox/a+b%2Bc%25d/%C3%BC.wav"
    [record] = parse_records(json.dumps(event))
    assert record.key == key and record.etag == "abc" and record.is_object_created
