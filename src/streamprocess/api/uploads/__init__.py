"""Presigned uploads and the embedded store's signed PUT (``router``), their request and response models
(``protocol``)."""
