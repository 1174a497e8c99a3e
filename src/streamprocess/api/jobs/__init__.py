"""Jobs: direct submissions, a job's status and its results (``router``), their response models (``protocol``)."""
