"""OpenAI's Realtime API for live transcription (``/v1/realtime?intent=transcription``) on the live pool."""
