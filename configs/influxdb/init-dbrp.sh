#!/bin/bash
# Runs once, after the influxdb:2.7 image's first-start setup (DOCKER_INFLUXDB_INIT_MODE=setup): maps the
# InfluxQL database/retention policy "<bucket>/autogen" to the bucket, so the historian's and Grafana's
# InfluxQL reads (/query) find what the agents write to /api/v2/write. See docs/influxdb-layout.md.
set -euo pipefail
bucket_id="${DOCKER_INFLUXDB_INIT_BUCKET_ID:-$(influx bucket list --name "$DOCKER_INFLUXDB_INIT_BUCKET" --hide-headers | cut -f1)}"
influx v1 dbrp create --db "$DOCKER_INFLUXDB_INIT_BUCKET" --rp autogen --bucket-id "$bucket_id" --default \
  --org "$DOCKER_INFLUXDB_INIT_ORG"
