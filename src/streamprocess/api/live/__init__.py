"""Live captions over WebSocket and the browser page (``router``), and the close code of each way a stream
ends (``closes``)."""
