#!/bin/sh
# Run once by docker-compose.yml's `minio-init` service (the MinIO client image, `mc`): creates the drop bucket and
# its notification rule, so that objects created under the inbox prefix (never results/ or jobs/) are posted to the
# webhook target MinIO was started with (MINIO_NOTIFY_WEBHOOK_*: the API's POST /events/s3 with the events token).
# Safe to run again: an existing bucket and an existing rule are kept.
#   MC_HOST_local  http://USER:PASSWORD@minio:9000 (mc's alias `local`)
#   BUCKET         the drop bucket (STREAMPROCESS_BUCKET)
#   INBOX_PREFIX   the drop prefix (STREAMPROCESS_INBOX_PREFIX)
#   WEBHOOK_ARN    arn:minio:sqs::_:webhook, the webhook target configured without an identifier
set -eu

mc ready local
mc mb --ignore-existing "local/${BUCKET}"
mc event add --ignore-existing "local/${BUCKET}" "${WEBHOOK_ARN}" --event put --prefix "${INBOX_PREFIX}"
mc event ls "local/${BUCKET}"
