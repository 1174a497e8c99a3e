"""AWS Lambda: the HTTP API behind API Gateway (HTTP API, payload v2) through mangum.

Configured by the environment like every other entry point (STREAMPROCESS_STORE=s3, STREAMPROCESS_QUEUE=sqs, the
bucket, STREAMPROCESS_API_KEYS, …; see serverless.yml). The app is built once per execution environment.
"""

from __future__ import annotations

from mangum import Mangum

from streamprocess.api import create_app
from streamprocess.config import get_settings
from streamprocess.runtime import Runtime

app = create_app(Runtime(get_settings()))
handler = Mangum(app, lifespan="off")
