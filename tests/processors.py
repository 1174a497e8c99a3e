"""A scripted processor for fault tests, selected with STREAMPROCESS_STT_PROCESSOR=tests.processors:Scripted.

The input is a PNG or WAV header followed by ``CMD:<commands>``, commands separated by ``;``:
``sleep=S`` (seconds, reporting progress), ``fail=permanent``, ``fail=transient-until=N`` (fail while this job has
run fewer than N times), ``crash`` (the process dies at once, as a segfaulting decoder would). Every run appends
a line to ``$SP_TEST_STATE/<job_id>.runs``, so tests can count how often a job really ran.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from streamprocess.errors import PermanentError, TransientError
from streamprocess.processors import JobContext, ProcessResult

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 17
WAV = b"RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00\x80>\x00\x00\x00}\x00\x00\x02\x00\x10\x00"


def scripted_input(commands: str = "", header: bytes = WAV) -> bytes:
    return header + b"\nCMD:" + commands.encode() + b"\n"


class Scripted:
    name = "scripted"

    def process(self, ctx: JobContext) -> ProcessResult:
        state = Path(os.environ["SP_TEST_STATE"])
        runs_file = state / f"{ctx.job_id}.runs"
        with open(runs_file, "a") as f:
            f.write(f"{os.getpid()}\n")
        runs = len(runs_file.read_text().splitlines())
        data = ctx.input_path.read_bytes()
        commands = data.split(b"CMD:", 1)[1].strip().decode() if b"CMD:" in data else ""
        for cmd in filter(None, commands.split(";")):
            name, _, arg = cmd.partition("=")
            if name == "sleep":
                total = float(arg)
                start = time.monotonic()
                while (done := time.monotonic() - start) < total:
                    ctx.report_progress(done, total)
                    time.sleep(0.05)
                ctx.report_progress(total, total)
            elif name == "crash":
                os._exit(3)
            elif cmd == "fail=permanent":
                raise PermanentError("the input is corrupt (scripted)", code="corrupt_media")
            elif name == "fail" and arg.startswith("transient-until="):
                if runs < int(arg.split("=")[1]):
                    raise TransientError(f"scripted transient failure on run {runs}", code="engine_busy")
        out = ctx.output("result.txt")
        out.write_text(f"run {runs} of {ctx.job_id}\n")
        return ProcessResult(outputs={"result.txt": out}, summary={"runs": runs})


class Echo:
    """Writes the result files the API serves (``transcript.*`` for speech, ``ocr.*`` for documents) at once, without
    an engine; the text names the input's size and SHA-256, so a test can tell which bytes a job ran on."""

    name = "echo"

    def process(self, ctx: JobContext) -> ProcessResult:
        import hashlib

        from streamprocess.ocr.types import Block, Document, Line, Page
        from streamprocess.stt.types import Transcript

        data = ctx.input_path.read_bytes()
        text = f"{ctx.kind} of {len(data)} bytes, sha256 {hashlib.sha256(data).hexdigest()[:16]}"
        if ctx.kind == "stt":  # a valid transcript.json: the doors read it back as a Transcript
            transcript = Transcript(text=text, language="en", language_probability=1.0, duration=0.0, model="echo")
            files = {"transcript.json": transcript.model_dump_json(), "transcript.txt": text + "\n"}
        else:  # one page holding one line of the text
            line = Line(text=text, bbox=(0, 0, 1, 1), confidence=1.0)
            page = Page(
                index=1, width=1, height=1, dpi=72, engine="echo", blocks=[Block(bbox=(0, 0, 1, 1), lines=[line])]
            )
            files = {"ocr.json": Document(pages=[page], engine="echo").model_dump_json(), "ocr.txt": text + "\n"}
        outputs = {}
        for name, body in files.items():
            outputs[name] = ctx.output(name)
            outputs[name].write_text(body)
        return ProcessResult(outputs=outputs, summary={"bytes": len(data)})
