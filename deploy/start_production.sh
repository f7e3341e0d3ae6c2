#!/bin/sh
# deploy/start_production.sh — the seed's production start-up script, now a
# thin wrapper: `ark start` with the production env file does every step
# (validate the configuration, start the watchdog with the agents, the metrics
# server, the API and the mirror, health checks, the 300 s synthetic
# validation loop, the status dashboard) and stops what it started when a
# step fails. Options are passed on (ark start --help).
#
#   ./deploy/start_production.sh                       # .env.production here
#   ARK_ENV_FILE=/etc/ark/ark.env ./deploy/start_production.sh --synth-duration 60
set -eu
ARK=${ARK:-ark}
export ARK_ENV="${ARK_ENV:-prod}"
env_file=${ARK_ENV_FILE:-.env.production}
if [ ! -r "$env_file" ]; then
  echo "start_production.sh: $env_file not found: copy deploy/.env.production.template to it and fill it in" >&2
  exit 1
fi
exec "$ARK" start --env-file "$env_file" "$@"
