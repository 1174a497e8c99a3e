"""MinIO bucket notifications, ``POST /events/s3`` (``router``)."""
