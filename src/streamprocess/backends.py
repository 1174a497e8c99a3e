"""Can the configured queue and store be reached? The one home for that question, asked at two depths:

- :func:`reach`: before ``streamprocess up`` (:class:`~streamprocess.service.Service`) loads any model, through the
  runtime's own adapters (creating queues that are missing, as the service would); a failure is a
  :class:`~streamprocess.errors.StartupError` (one line, the README's exit code).
- :func:`probe_redis`, :func:`probe_s3`, :func:`probe_sqs`: what ``streamprocess doctor`` reports, without changing
  anything (one short request each, at most :data:`NET_TIMEOUT` seconds), as a :class:`Probe` with a concrete fix.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from .config import QueueBackend, Settings, StoreBackend
from .errors import ExitCode, StartupError
from .startup import one_line

if TYPE_CHECKING:
    from .runtime import Runtime

#: Seconds the queue and the store have to answer when a service starts.
BACKEND_TIMEOUT = 30.0
#: Seconds any one of doctor's network probes may take (connect and answer).
NET_TIMEOUT = 2.0


@dataclass(frozen=True)
class Probe:
    """One backend's answer: ``ok``, what was found, and how to fix it when not."""

    name: str  # Redis, S3 or SQS
    ok: bool
    detail: str
    fix: str = ""


async def reach(rt: Runtime) -> None:
    """The queue and the store answer before any model loads, or the service refuses to start (one line, its
    code)."""
    from .submit import PENDING_UPLOADS

    s = rt.settings

    def why(e: BaseException) -> str:
        if isinstance(e, TimeoutError):
            return f"no answer within {BACKEND_TIMEOUT:.0f} s"
        return f"{type(e).__name__}: {one_line(e)}"

    queue_hints = {
        "redis": "Start Redis there, or set STREAMPROCESS_REDIS_URL (or STREAMPROCESS_QUEUE=embedded).",
        "sqs": "Check STREAMPROCESS_SQS_ENDPOINT_URL, STREAMPROCESS_AWS_REGION and the AWS credentials.",
        "embedded": "Check STREAMPROCESS_DATA_DIR: the embedded queue's file lives there.",
    }
    try:
        await asyncio.wait_for(rt.ensure(), BACKEND_TIMEOUT)
    except Exception as e:
        raise StartupError(
            ExitCode.QUEUE_UNAVAILABLE,
            f"the {s.queue.value} queue cannot be used: {why(e)}",
            queue_hints.get(s.queue.value),
        ) from e

    async def first(prefix: str) -> None:  # as little as the upload sweep asks of the store, which runs next anyway
        async with contextlib.aclosing(rt.result_store.list(prefix)) as items:
            async for _ in items:
                break

    try:
        await asyncio.wait_for(first(f"{s.jobs_prefix}{PENDING_UPLOADS}"), BACKEND_TIMEOUT)
    except Exception as e:
        where = s.data_dir if rt.is_embedded_store else f"s3://{s.output_bucket}"
        raise StartupError(
            ExitCode.STORE_UNAVAILABLE,
            f"the {s.store.value} store ({where}) cannot be used: {why(e)}",
            "Check STREAMPROCESS_DATA_DIR."
            if rt.is_embedded_store
            else "Check STREAMPROCESS_BUCKET, STREAMPROCESS_S3_ENDPOINT_URL and the AWS credentials.",
        ) from e


def safe_url(url: str) -> str:
    """``url`` with any password replaced by ``***``."""
    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
        return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{host}{port}"))
    except ValueError:
        return "(unparsable URL)"


def probe_redis(settings: Settings) -> list[Probe]:
    if settings.queue is not QueueBackend.redis:
        return []
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    where = safe_url(settings.redis_url)
    start = (
        "start Redis (`sudo apt-get install redis-server`, or `docker run -d -p 6379:6379 redis:7`) or point "
        "STREAMPROCESS_REDIS_URL at it"
    )
    try:
        client = redis.Redis.from_url(
            settings.redis_url,
            socket_connect_timeout=NET_TIMEOUT,
            socket_timeout=NET_TIMEOUT,
            retry=Retry(NoBackoff(), 0),
        )
    except ValueError as e:
        return [
            Probe(
                "Redis",
                False,
                f"STREAMPROCESS_REDIS_URL is not a Redis URL: {e}",
                "set it like redis://host:6379/0 (rediss:// for TLS)",
            )
        ]
    try:
        version = str(client.info("server").get("redis_version", "?"))
    except redis.AuthenticationError as e:
        return [
            Probe(
                "Redis",
                False,
                f"{where} refused the credentials: {e}",
                "fix the user/password in STREAMPROCESS_REDIS_URL",
            )
        ]
    except (redis.ConnectionError, redis.TimeoutError, OSError) as e:
        return [Probe("Redis", False, f"cannot reach {where} within {NET_TIMEOUT:g} s: {e}", start)]
    except redis.RedisError as e:
        return [Probe("Redis", False, f"{where}: {type(e).__name__}: {e}", start)]
    finally:
        client.close()
    numbers = tuple(int(p) for p in re.findall(r"\d+", version)[:2])
    if numbers and numbers < (6, 2):
        return [
            Probe(
                "Redis",
                False,
                f"Redis {version} at {where} is too old: the queue needs XPENDING IDLE (Redis 6.2+; KEDA lagCount: 7+)",
                "upgrade Redis to 6.2 or newer",
            )
        ]
    return [Probe("Redis", True, f"Redis {version} at {where}")]


def _aws_client(service: str, settings: Settings, endpoint: str | None) -> tuple[Any, Any]:
    from botocore.config import Config
    from botocore.session import get_session

    session = get_session()
    extra = {"s3": {"addressing_style": "path"}} if service == "s3" else {}
    config = Config(connect_timeout=NET_TIMEOUT, read_timeout=NET_TIMEOUT, retries={"total_max_attempts": 1}, **extra)
    return session, session.create_client(
        service, endpoint_url=endpoint, region_name=settings.aws_region, config=config
    )


_NO_CREDENTIALS = "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE, or run where an IAM role applies)"


def _aws_problem(e: Exception, name: str, where: str, setting: str) -> Probe:
    from botocore.exceptions import ClientError, NoCredentialsError

    if isinstance(e, NoCredentialsError):
        return Probe(name, False, "no AWS credentials found", _NO_CREDENTIALS)
    if isinstance(e, ClientError):
        code = e.response.get("Error", {}).get("Code", "?")
        if code in (
            "403",
            "AccessDenied",
            "InvalidAccessKeyId",
            "SignatureDoesNotMatch",
            "AccessDeniedException",
            "InvalidClientTokenId",
            "UnrecognizedClientException",
        ):
            return Probe(
                name,
                False,
                f"{where} refused these credentials ({code})",
                "check the AWS credentials and that their policy allows this service",
            )
        return Probe(name, False, f"{where}: {code}: {e}", f"check {setting} and the AWS region")
    return Probe(
        name,
        False,
        f"cannot reach {where} within {NET_TIMEOUT:g} s: {type(e).__name__}: {e}",
        f"start the service or fix {setting} (and the network)",
    )


def probe_s3(settings: Settings) -> list[Probe]:
    if settings.store is not StoreBackend.s3:
        return []
    from botocore.exceptions import BotoCoreError, ClientError

    where = settings.s3_endpoint_url or f"AWS S3 ({settings.aws_region})"
    session, client = _aws_client("s3", settings, settings.s3_endpoint_url)
    checks = []
    try:
        if session.get_credentials() is None:
            return [Probe("S3", False, "no AWS credentials found", _NO_CREDENTIALS)]
        for bucket in dict.fromkeys([settings.bucket, settings.output_bucket]):
            try:
                client.head_bucket(Bucket=bucket)
            except ClientError as e:
                code = e.response.get("Error", {}).get("Code", "?")
                if code in ("404", "NoSuchBucket", "NotFound"):
                    checks.append(
                        Probe(
                            "S3",
                            False,
                            f"bucket {bucket} does not exist at {where}",
                            "create it: `streamprocess setup s3` (with STREAMPROCESS_QUEUE=sqs) or "
                            f"`aws s3 mb s3://{bucket}`; or fix STREAMPROCESS_BUCKET",
                        )
                    )
                else:
                    checks.append(_aws_problem(e, "S3", f"bucket {bucket} at {where}", "STREAMPROCESS_S3_ENDPOINT_URL"))
                continue
            checks.append(Probe("S3", True, f"bucket {bucket} at {where}"))
    except (BotoCoreError, OSError) as e:
        checks.append(_aws_problem(e, "S3", where, "STREAMPROCESS_S3_ENDPOINT_URL"))
    finally:
        client.close()
    return checks


def probe_sqs(settings: Settings) -> list[Probe]:
    if settings.queue is not QueueBackend.sqs:
        return []
    from botocore.exceptions import BotoCoreError, ClientError

    from .kinds import QUEUE_ROLES

    where = settings.sqs_endpoint_url or f"AWS SQS ({settings.aws_region})"
    session, client = _aws_client("sqs", settings, settings.sqs_endpoint_url)
    try:
        if session.get_credentials() is None:
            return [Probe("SQS", False, "no AWS credentials found", _NO_CREDENTIALS)]
        urls = client.list_queues(QueueNamePrefix=settings.queue_prefix).get("QueueUrls", [])
    except (BotoCoreError, ClientError, OSError) as e:
        return [_aws_problem(e, "SQS", where, "STREAMPROCESS_SQS_ENDPOINT_URL")]
    finally:
        client.close()
    names = {url.rstrip("/").rsplit("/", 1)[-1] for url in urls}
    absent = [settings.queue_name(role) for role in QUEUE_ROLES if settings.queue_name(role) not in names]
    if absent:
        return [
            Probe(
                "SQS",
                True,
                f"{where} answers; {', '.join(absent)} will be created at start (or by `streamprocess setup s3`)",
            )
        ]
    return [Probe("SQS", True, f"{where}: queues {settings.queue_prefix}{{{','.join(QUEUE_ROLES)}}} exist")]
