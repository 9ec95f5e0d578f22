#!/bin/sh
# Prometheus reads bearer tokens from files, not the environment: write the twin's viewer key to one, then
# run Prometheus with the stack's configuration.
set -eu
: "${FT_VIEWER_KEY:?set FT_VIEWER_KEY in .env}"
umask 077
printf '%s' "$FT_VIEWER_KEY" > /prometheus/viewer-key
exec /bin/prometheus --config.file=/etc/prometheus/prometheus.yml --storage.tsdb.path=/prometheus \
  --storage.tsdb.retention.time=30d "$@"
