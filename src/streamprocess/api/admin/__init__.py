"""The admin API (``STREAMPROCESS_ADMIN_KEYS``): replays (``router``), their request and response models
(``protocol``)."""
