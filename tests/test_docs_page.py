"""The OpenAPI docs offline, in real headless Chromium (Debian's, driven by Playwright) against `streamprocess up`:
/docs (Swagger UI) and /redoc render from assets the package serves (no request leaves the machine), the schema
declares Bearer auth so Swagger UI has an Authorize button, and a request made through it with a key succeeds."""

from __future__ import annotations

import json
import re
import urllib.request
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import pytest

from .helpers import SharedUp, launch_chromium

if TYPE_CHECKING:
    from playwright.sync_api import Locator

pytestmark = pytest.mark.slow
KEY = "docs-key"
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


@pytest.fixture(scope="module")
def base_url(shared_up: SharedUp) -> str:
    """The session's shared server (its keys include KEY)."""
    return shared_up.http


def get(url: str) -> tuple[int, str, bytes]:
    with urllib.request.urlopen(url, timeout=10) as r:
        return r.status, r.headers.get("content-type", ""), r.read()


def live_response(operation: Locator, column: str) -> Locator:
    """The cell of the response an operation's Execute got (not the table's header)."""
    return operation.locator(f".live-responses-table td.response-col_{column}:not(.col_header)")


def test_openapi_declares_bearer_auth_and_favicon_is_served(base_url: str) -> None:
    status, _, body = get(f"{base_url}/openapi.json")
    assert status == 200
    doc = json.loads(body)
    schemes = doc["components"]["securitySchemes"]
    assert schemes["ApiKey"]["type"] == "http" and schemes["ApiKey"]["scheme"] == "bearer"
    assert schemes["EventsToken"]["type"] == "http" and schemes["EventsToken"]["scheme"] == "bearer"
    for path, op in [
        ("/status/{job_id}", "get"),
        ("/uploads", "post"),
        ("/ready", "get"),
        ("/metrics", "get"),
        ("/v1/audio/transcriptions", "post"),
        ("/jobs/{job_id}/result", "get"),
    ]:
        assert doc["paths"][path][op]["security"] == [{"ApiKey": []}], path
    assert doc["paths"]["/events/s3"]["post"]["security"] == [{"EventsToken": []}]
    assert "security" not in doc["paths"]["/health"]["get"]
    status, ctype, icon = get(f"{base_url}/favicon.ico")
    assert status == 200 and ctype.startswith("image/") and icon


def test_docs_render_offline_and_try_it_out_sends_the_key(base_url: str) -> None:
    from playwright.sync_api import expect, sync_playwright

    requests: list[str] = []
    failed: list[str] = []
    blocked: list[str] = []  # by the pages' Content-Security-Policy, before they were sent
    with sync_playwright() as p:
        browser = launch_chromium(p)
        try:
            page = browser.new_page()
            page.on("request", lambda r: requests.append(r.url))
            page.on("requestfailed", lambda r: (blocked if r.failure == "csp" else failed).append(r.url))
            page.on("response", lambda r: r.status >= 400 and failed.append(f"{r.status} {r.url}"))
            page.set_default_timeout(15_000)
            page.goto(f"{base_url}/docs")
            expect(page.locator(".swagger-ui .info .title")).to_contain_text("StreamProcess", timeout=20_000)
            status_op = page.locator(".opblock").filter(has=page.locator('[data-path="/status/{job_id}"]'))
            expect(status_op).to_have_count(1)

            # Authorize with the API key.
            page.locator(".scheme-container button.authorize").click()
            auth = page.locator(".auth-container").filter(has_text="ApiKey")
            auth.locator("input").fill(KEY)
            auth.locator("button.authorize").click()
            auth.locator("button.btn-done").click()

            # GET /ready: 200 with the key (401 without it).
            ready_op = page.locator(".opblock").filter(has=page.locator('[data-path="/ready"]'))
            ready_op.locator(".opblock-summary").click()
            ready_op.locator("button.try-out__btn").click()
            ready_op.locator("button.execute").click()
            expect(live_response(ready_op, "status")).to_have_text(re.compile(r"^\s*200\b"))
            expect(live_response(ready_op, "description")).to_contain_text('"ready"')

            # GET /status/{unknown}: the job's 404 problem, not a 401 — the key went with it.
            status_op.locator(".opblock-summary").click()
            status_op.locator("button.try-out__btn").click()
            status_op.locator('input[placeholder="job_id"]').fill("0" * 32)
            status_op.locator("button.execute").click()
            expect(live_response(status_op, "status")).to_have_text(re.compile(r"^\s*404\b"))  # "404 Undocumented"
            expect(live_response(status_op, "description")).to_contain_text("job_not_found")

            page.goto(f"{base_url}/redoc")
            expect(page.locator("h1")).to_contain_text("StreamProcess")
            expect(page.get_by_text("/status/{job_id}").first).to_be_attached()
        finally:
            browser.close()
    offsite = [
        u
        for u in requests
        if urlsplit(u).scheme not in ("data", "blob", "about")
        and urlsplit(u).hostname not in LOOPBACK
        and u not in blocked
    ]
    assert not offsite, offsite  # ReDoc's sidebar asks for Redocly's logo on a CDN: the CSP stops it
    assert any(u.endswith(".js") for u in requests), requests  # the assets came from this server
    assert failed == [f"404 {base_url}/status/{'0' * 32}"], failed
