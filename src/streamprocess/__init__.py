"""StreamProcess: an event-driven pipeline that turns media into text (speech-to-text and OCR)."""

__version__ = "0.1.0"
