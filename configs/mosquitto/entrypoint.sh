#!/bin/sh
# Builds mosquitto's password file (hashed) from the environment at every start, then runs the broker: the
# clear-text passwords live only in .env, and rotating one is an edit there and a restart.
set -eu
: "${MQTT_EDGE_PASSWORD:?set MQTT_EDGE_PASSWORD in .env}"
: "${MQTT_TWIN_PASSWORD:?set MQTT_TWIN_PASSWORD in .env}"
umask 077
passwd=/mosquitto/data/passwd
mosquitto_passwd -c -b "$passwd" edge "$MQTT_EDGE_PASSWORD"
mosquitto_passwd -b "$passwd" twin "$MQTT_TWIN_PASSWORD"
chown mosquitto:mosquitto "$passwd" 2>/dev/null || true
exec mosquitto -c /mosquitto/config/mosquitto.conf
