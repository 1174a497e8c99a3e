"""The /live page in real headless Chromium (Debian's, driven by Playwright): a fake microphone plays jfk.flac,
the page's AudioWorklet sends 16 kHz PCM over the WebSocket, and captions with the speech's words appear."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from streamprocess.stt.audio import load_audio

from .helpers import SharedUp, launch_chromium, shared, write_wav

pytestmark = pytest.mark.slow
KEY = "page-key"


@pytest.fixture(scope="module")
def base_url(shared_up: SharedUp) -> str:
    """The session's shared server (its keys include KEY)."""
    return shared_up.http


def test_live_page_captions_the_microphone(base_url: str, tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    audio = load_audio(shared("jfk.flac"))
    wav = write_wav(
        tmp_path / "jfk.wav", np.concatenate([np.zeros(16000, np.float32), audio, np.zeros(32000, np.float32)])
    )
    with sync_playwright() as p:
        browser = launch_chromium(
            p,
            "--use-fake-ui-for-media-stream",
            "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-audio-capture={wav}",
            "--autoplay-policy=no-user-gesture-required",
        )
        try:
            page = browser.new_page()
            page.goto(f"{base_url}/live?token={KEY}")
            page.click("#toggle")
            expect(page.locator("#status")).to_contain_text("Listening", timeout=15_000)
            for word in ("fellow", "country"):  # words of the reference, in black (final) captions
                expect(page.locator("#finals")).to_contain_text(word, timeout=30_000, ignore_case=True)
            page.click("#toggle")  # stop: the server finalizes and closes the stream
            expect(page.locator("#status")).to_contain_text("Closed", timeout=15_000)
            expect(page.locator("#toggle")).to_have_text("Start")
        finally:
            browser.close()


def test_live_page_without_a_key_says_so(base_url: str) -> None:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser = launch_chromium(
            p,
            "--use-fake-ui-for-media-stream",
            "--use-fake-device-for-media-stream",
        )
        try:
            page = browser.new_page()
            page.goto(f"{base_url}/live?token=wrong")
            page.click("#toggle")
            expect(page.locator("#status")).to_contain_text("unknown API key", timeout=15_000)
        finally:
            browser.close()
