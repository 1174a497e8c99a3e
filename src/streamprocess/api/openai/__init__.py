"""The OpenAI-compatible ``/v1/audio/transcriptions`` (``router``), OpenAI's response models (``protocol``)
and a transcript as ``verbose_json`` (``service``)."""
