"""The live archive: a finished live stream that asked to be saved becomes an ordinary, succeeded STT job.

Its transcript files (every STT result format, named as the kinds registry says) and, when asked, ``audio.wav``
go under the job's results folder, with a job record, so the REST API serves it like any other job (to the
stream's tenant). Live captioning defines the contract (:class:`streamprocess.live.archive.Archive`) and knows
nothing of storage or jobs; this is the deployment's implementation, wired in by ``Runtime.live_pool``.
"""

from __future__ import annotations

from .jobs import JobRecord, JobState, JobStore, SourceRef
from .kinds import STT, result_key
from .live.archive import FinishedStream
from .storage import ObjectStore
from .stt.formats import render
from .stt.types import Segment, Transcript
from .timestamps import now_utc

AUDIO_FILE = "audio.wav"


def transcript_of(stream: FinishedStream) -> Transcript:
    """The stream's finals as a transcript (one segment per final)."""
    segments = [
        Segment(
            id=f.id,
            start=f.start,
            end=f.end,
            text=" " + f.text,
            avg_logprob=0.0,
            no_speech_prob=0.0,
            words=list(f.words),
        )
        for f in stream.finals
    ]
    return Transcript(
        text=" ".join(f.text for f in stream.finals),
        language=stream.language or "en",
        # as the last final heard it (a stream that decoded nothing: 1.0, faster-whisper's value for a given language)
        language_probability=next(
            (f.language_probability for f in reversed(stream.finals) if f.language_probability is not None), 1.0
        ),
        duration=stream.audio_seconds,
        model=stream.model,
        options={"live": True, **stream.config.model_dump(exclude={"save", "save_audio"})},
        segments=segments,
    )


class JobArchive:
    """Saves each finished stream as a job: ``<results_prefix><id>/transcript.*`` (and ``audio.wav``)."""

    def __init__(self, store: ObjectStore, jobs: JobStore, bucket: str, results_prefix: str) -> None:
        self.store, self.jobs, self.bucket, self.prefix = store, jobs, bucket, results_prefix

    async def __call__(self, stream: FinishedStream, *, tenant: str | None) -> str:
        job_id = stream.session_id
        transcript = transcript_of(stream)
        results: dict[str, str] = {}
        for file in STT.results:
            key = result_key(self.prefix, job_id, file.name)
            await self.store.put(key, render(transcript, file.format).encode(), content_type=file.media_type)
            results[file.name] = key
        if stream.recording is not None:
            key = result_key(self.prefix, job_id, AUDIO_FILE)
            await self.store.put(key, stream.recording.read(), content_type="audio/wav")
            results[AUDIO_FILE] = key
        record = JobRecord(
            job_id=job_id,
            kind=STT.name,
            state=JobState.succeeded,
            media_type="audio/pcm",
            tenant=tenant,
            source=SourceRef(bucket=self.bucket, key=f"live/{job_id}"),
            options=transcript.options,
            started_at=stream.started_at,
            finished_at=now_utc(),
            results=results,
            attempts=1,
            summary={
                "live": True,
                "language": transcript.language,
                "duration": transcript.duration,
                "segments": len(transcript.segments),
                "model": stream.model,
            },
        )
        await self.jobs.create(record)
        return job_id
