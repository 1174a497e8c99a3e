"""PP-OCR's models on a Triton Inference Server: remote sessions standing in for rapidocr's stage sessions.

rapidocr 3.x keeps pre- and post-processing in its stage objects (``TextDetector``, ``TextClassifier``,
``TextRecognizer``), each calling ``self.session(batch)``. :func:`attach` replaces those ``.session`` objects by
:class:`RemoteSession` / :class:`RemoteRecSession`, which send the batch to Triton (``tritonclient``, HTTP or gRPC)
and answer what the local session would have answered, so rapidocr's output is unchanged.

Recognition: the server answers the argmax and max over the class axis (``indices``, ``scores``), not the 18,710-wide
softmax. rapidocr's ``CTCLabelDecode`` only calls ``preds.argmax(axis=2)`` and ``preds.max(axis=2)``, so the remote
session returns :class:`ArgmaxPreds`, an object answering exactly those two calls from the server's tensors. Each
batch is padded on the right (zeros, rapidocr's own padding value) to a width bucket (:data:`WIDTH_BUCKETS`) so that
Triton's dynamic batcher can merge batches of many pages and requests, and the answer is cut back to the columns of
the unpadded batch (one per 8 pixels). The model mixes columns, so padding changes its scores a little, not the text
(tests/test_triton_engine.py: the same text and line boxes as the local engine on the test pages); a word's box may
move by a column or two (8 px of the 48-px crop each) and a line's confidence by a few thousandths.

Failures: transient ones (UNAVAILABLE, connection refused or reset, timeouts, 5xx, or any refusal from a server
that is not ready: one shutting down answers "unknown model") are retried with exponential
backoff (tenacity) per request, then raised as :class:`TritonUnavailable` (a transient error: the job is tried
again later); an error Triton answers about the request itself (invalid argument, unknown model) raises
:class:`TritonRequestError` (permanent), as does a dictionary that differs from the server's.
"""

from __future__ import annotations

import http.client
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit

import numpy as np
from prometheus_client import Counter
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt, wait_exponential

from ...errors import ErrorCode, PermanentError, TransientError
from ..engines.ppocr import BestClass
from .models import (
    CHARACTERS_PARAMETER,
    CLS_OUTPUT,
    DET_OUTPUT,
    INPUT,
    REC_INDICES,
    REC_SCORES,
    characters_sha256,
)
from .models import CLS as CLS_MODEL
from .models import DET as DET_MODEL
from .models import REC as REC_MODEL

log = logging.getLogger(__name__)

#: Widths (pixels, at height 48) recognition batches are padded to; wider ones go to the next multiple of the step.
WIDTH_BUCKETS = (320, 640, 960, 1280, 1920)
BUCKET_STEP = 640
#: The recognition model answers one column per this many pixels of width.
REC_STRIDE = 8

TRITON_RETRIES = Counter(
    "streamprocess_triton_retries_total", "Triton requests retried after a transient error.", ["model"]
)
TRITON_FAILURES = Counter(
    "streamprocess_triton_failures_total", "Triton requests that failed for good.", ["model", "kind"]
)

# gRPC status codes (as tritonclient spells them: "StatusCode.UNAVAILABLE") worth a retry.
_TRANSIENT_GRPC = {"UNAVAILABLE", "DEADLINE_EXCEEDED", "RESOURCE_EXHAUSTED", "ABORTED", "INTERNAL", "UNKNOWN"}
_TRANSIENT_HTTP = {408, 429, 500, 502, 503, 504}


class TritonUnavailable(TransientError):
    """Triton could not be reached or did not answer in time, after the retries: try the job again later."""

    code = ErrorCode.ENGINE_UNAVAILABLE


class TritonRequestError(PermanentError):
    """Triton refused the request itself (invalid argument, unknown model) or serves other models than ours."""

    code = ErrorCode.ENGINE_ERROR


@dataclass(frozen=True)
class TritonTarget:
    protocol: Literal["http", "grpc"]
    host: str
    port: int

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def __str__(self) -> str:
        return f"{self.protocol}://{self.address}"


def parse_triton_url(url: str) -> TritonTarget:
    """``http://host:port`` or ``grpc://host:port`` (nothing after the port); ValueError saying why not."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "grpc"):
        raise ValueError(f"Triton URL {url!r} must start with http:// or grpc://")
    try:
        port = parts.port
    except ValueError:
        port = None
    if not parts.hostname or port is None or parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError(f"Triton URL {url!r} must be http://host:port or grpc://host:port")
    return TritonTarget("http" if parts.scheme == "http" else "grpc", parts.hostname, port)


@dataclass(frozen=True)
class TritonOptions:
    """How to reach Triton: passed in by whoever builds the engine (the engine reads no settings)."""

    url: str
    timeout: float = 30.0  # seconds per request
    attempts: int = 5  # per request, the first included
    backoff: float = 0.5  # seconds before the first retry, doubling, at most max_backoff
    max_backoff: float = 8.0
    buckets: tuple[int, ...] = field(default=WIDTH_BUCKETS)

    @property
    def target(self) -> TritonTarget:
        return parse_triton_url(self.url)


def bucket_width(width: int, buckets: Sequence[int] = WIDTH_BUCKETS, step: int = BUCKET_STEP) -> int:
    """The smallest bucket at least ``width`` wide; past the largest, the next multiple of ``step``."""
    for b in buckets:
        if width <= b:
            return b
    return -(-width // step) * step


def is_transient(error: BaseException) -> bool:
    """Whether retrying the same request may succeed: the server or the network, not the request."""
    from tritonclient.utils import InferenceServerException

    if isinstance(error, InferenceServerException):
        status = str(error.status() or "")
        if status.startswith("StatusCode."):
            return status.removeprefix("StatusCode.") in _TRANSIENT_GRPC
        if status.isdigit():
            return int(status) in _TRANSIENT_HTTP
        # No status: raised by the client itself (a broken connection, an unparsable answer).
        return True
    # Sockets; HTTP connections closed or cut mid-answer (geventhttpclient's HTTPConnectionClosed is an
    # http.client.HTTPException); gevent's Timeout.
    return isinstance(error, (OSError, TimeoutError, http.client.HTTPException)) or any(
        c.__name__ == "Timeout" for c in type(error).__mro__
    )


class TritonConnection:
    """One Triton server: a client per thread (tritonclient's are not thread-safe), readiness, model parameters,
    and :meth:`infer` with retries."""

    def __init__(self, options: TritonOptions) -> None:
        self.options = options
        self.target = options.target
        self._local = threading.local()
        self.retries = 0  # requests retried, all models together (also in TRITON_RETRIES)

    def _client(self) -> Any:
        client = getattr(self._local, "client", None)
        if client is None:
            if self.target.protocol == "grpc":
                import tritonclient.grpc as grpcclient

                client = grpcclient.InferenceServerClient(self.target.address)
            else:
                import tritonclient.http as httpclient

                client = httpclient.InferenceServerClient(
                    self.target.address,
                    connection_timeout=self.options.timeout,
                    network_timeout=self.options.timeout,
                )
            self._local.client = client
        return client

    def _reset_client(self) -> None:
        client = getattr(self._local, "client", None)
        self._local.client = None
        if client is not None:
            try:
                client.close()
            except Exception:  # a client on a dead connection may fail to close: it is dropped all the same
                pass

    def is_ready(self) -> bool:
        """Server ready and every PP-OCR model loaded; False (never an exception) when it cannot say."""
        kw = {"client_timeout": self.options.timeout} if self.target.protocol == "grpc" else {}
        try:
            client = self._client()
            return bool(client.is_server_ready(**kw)) and all(
                client.is_model_ready(m, **kw) for m in (DET_MODEL, CLS_MODEL, REC_MODEL)
            )
        except Exception as e:
            log.debug("Triton readiness check at %s failed: %s", self.target, e)
            self._reset_client()
            return False

    def model_parameters(self, model: str) -> dict[str, str]:
        """The string parameters of ``model``'s configuration (``characters_sha256``)."""
        config = self._call(model, lambda c: c.get_model_config(model, **self._as_json()))
        config = config.get("config", config)  # gRPC answers {"config": {...}}, HTTP the config itself
        params = config.get("parameters") or {}
        return {k: str((v or {}).get("string_value", "")) for k, v in params.items()}

    def _as_json(self) -> dict[str, Any]:
        return {"as_json": True} if self.target.protocol == "grpc" else {}

    def infer(self, model: str, inputs: dict[str, np.ndarray], outputs: Sequence[str]) -> dict[str, np.ndarray]:
        """One inference request, retried on transient errors; the named outputs as arrays."""
        if self.target.protocol == "grpc":
            import tritonclient.grpc as mod
        else:
            import tritonclient.http as mod  # the same interface over HTTP
        from tritonclient.utils import np_to_triton_dtype

        def request(client: Any) -> dict[str, np.ndarray]:
            tensors = []
            for name, array in inputs.items():
                t = mod.InferInput(name, list(array.shape), np_to_triton_dtype(array.dtype))
                t.set_data_from_numpy(array)
                tensors.append(t)
            wanted = [mod.InferRequestedOutput(o) for o in outputs]
            kw = {"client_timeout": self.options.timeout} if self.target.protocol == "grpc" else {}
            result = client.infer(model, tensors, outputs=wanted, **kw)
            return {o: result.as_numpy(o) for o in outputs}

        return self._call(model, request)

    def _call(self, model: str, fn: Callable[[Any], Any]) -> Any:
        o = self.options

        def before_sleep(state: RetryCallState) -> None:
            self.retries += 1
            TRITON_RETRIES.labels(model).inc()
            error = state.outcome.exception() if state.outcome else None
            log.warning(
                "Triton %s (%s): %s; retry %d of %d", self.target, model, error, state.attempt_number, o.attempts - 1
            )
            self._reset_client()

        retrying = Retrying(
            stop=stop_after_attempt(max(1, o.attempts)),
            wait=wait_exponential(multiplier=o.backoff, max=o.max_backoff),
            retry=retry_if_exception(self._retryable),
            before_sleep=before_sleep,
            reraise=True,
        )
        try:
            return retrying(lambda: fn(self._client()))
        except Exception as e:
            if self._retryable(e):
                TRITON_FAILURES.labels(model, "transient").inc()
                raise TritonUnavailable(
                    f"Triton at {self.target} did not answer {model} after {o.attempts} attempts: {e}"
                ) from e
            TRITON_FAILURES.labels(model, "permanent").inc()
            from tritonclient.utils import InferenceServerException

            if isinstance(e, InferenceServerException):
                raise TritonRequestError(f"Triton at {self.target} refused the {model} request: {e}") from e
            raise

    def _retryable(self, error: BaseException) -> bool:
        """Transient (:func:`is_transient`), or refused by a server that is not ready: one shutting down or still
        loading answers "unknown model" for what a ready one serves. A ready server's refusal is final."""
        from tritonclient.utils import InferenceServerException

        if is_transient(error):
            return True
        if not isinstance(error, InferenceServerException):
            return False
        try:
            return not self._client().is_server_ready()
        except Exception:
            self._reset_client()
            return True


class ArgmaxPreds(BestClass):
    """Recognition's softmax stand-in (:class:`~..engines.ppocr.BestClass`) from the server's ``indices`` and
    ``scores``: the server reduces the class axis, so only ``argmax(axis=2)`` and ``max(axis=2)`` are answered."""

    def __init__(self, indices: np.ndarray, scores: np.ndarray) -> None:
        if indices.shape != scores.shape or indices.ndim != 2:
            raise ValueError(f"indices {indices.shape} and scores {scores.shape} must be the same [N, T]")
        super().__init__(indices, scores)


class RemoteSession:
    """A stage's session (detection, classification): the batch in, the model's one output back."""

    def __init__(self, connection: TritonConnection, model: str, output: str) -> None:
        self.connection, self.model, self.output = connection, model, output

    def __call__(self, input_content: np.ndarray) -> np.ndarray:
        batch = np.ascontiguousarray(input_content, dtype=np.float32)
        return self.connection.infer(self.model, {INPUT: batch}, [self.output])[self.output]

    def have_key(self, key: str = "character") -> bool:
        return False

    def get_character_list(self, key: str = "character") -> list[str]:
        raise KeyError(key)


class RemoteRecSession(RemoteSession):
    """Recognition: pads the batch to its width bucket, answers :class:`ArgmaxPreds` cut to the unpadded width, and
    holds the dictionary (checked against the server's at :func:`attach`)."""

    def __init__(self, connection: TritonConnection, characters: list[str], buckets: Sequence[int]) -> None:
        super().__init__(connection, REC_MODEL, REC_INDICES)
        self.characters, self.buckets = characters, tuple(buckets)

    def __call__(self, input_content: np.ndarray) -> ArgmaxPreds:  # type: ignore[override]  # see ArgmaxPreds
        n, c, h, w = input_content.shape
        padded = np.zeros((n, c, h, bucket_width(w, self.buckets)), dtype=np.float32)
        padded[..., :w] = input_content
        out = self.connection.infer(self.model, {INPUT: padded}, [REC_INDICES, REC_SCORES])
        columns = (w + 3) // REC_STRIDE  # the model answers (w + 3) // 8 steps (measured over widths 96-1999)
        return ArgmaxPreds(out[REC_INDICES][:, :columns], out[REC_SCORES][:, :columns])

    def have_key(self, key: str = "character") -> bool:
        return key == "character"

    def get_character_list(self, key: str = "character") -> list[str]:
        if key != "character":
            raise KeyError(key)
        return list(self.characters)


def wait_until_ready(
    options: TritonOptions, *, first: float = 1.0, most: float = 30.0, sleep: Callable[[float], None] = time.sleep
) -> None:
    """Block until the server and the PP-OCR models are ready, saying so and waiting ``first`` seconds, doubling up
    to ``most``, between checks (a worker calls it before it takes jobs: it neither crashes nor takes jobs it cannot
    do)."""
    connection = TritonConnection(options)
    delay = first
    while not connection.is_ready():
        log.warning(
            "Triton at %s is not ready (server or models %s, %s, %s): checking again in %.0f s",
            connection.target,
            DET_MODEL,
            CLS_MODEL,
            REC_MODEL,
            delay,
        )
        sleep(delay)
        delay = min(most, delay * 2)
    log.info("Triton at %s is ready", connection.target)


def check_dictionary(connection: TritonConnection, characters: Sequence[str]) -> None:
    """The server's recognition model must decode to our dictionary: compare digests (permanent error if not)."""
    theirs = connection.model_parameters(REC_MODEL).get(CHARACTERS_PARAMETER, "")
    ours = characters_sha256(list(characters))
    if theirs != ours:
        raise TritonRequestError(
            f"Triton at {connection.target} serves a {REC_MODEL} whose dictionary (characters_sha256="
            f"{theirs or 'missing'}) is not the local one ({ours}, {len(characters)} characters): "
            "serve the same PP-OCR models as this worker's rapidocr (`streamprocess triton repo`)"
        )


def attach(ocr: Any, connection: TritonConnection) -> None:
    """Load ``ocr``'s (a ``rapidocr.RapidOCR``) stages and swap their sessions for remote ones, after checking the
    server's dictionary against the local recognition model's. The local sessions are dropped."""
    det, cls, rec = ocr._load_det_model(), ocr._load_cls_model(), ocr._load_rec_model()
    characters = rec.session.get_character_list()
    check_dictionary(connection, characters)
    det.session = RemoteSession(connection, DET_MODEL, DET_OUTPUT)
    cls.session = RemoteSession(connection, CLS_MODEL, CLS_OUTPUT)
    rec.session = RemoteRecSession(connection, characters, connection.options.buckets)
