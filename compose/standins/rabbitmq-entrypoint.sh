#!/bin/sh
# Writes the default user from the environment into rabbitmq.conf (as the official image does), then runs CMD.
set -eu
conf=/etc/rabbitmq/rabbitmq.conf
: >"$conf"
if [ -n "${RABBITMQ_DEFAULT_USER:-}" ]; then echo "default_user = $RABBITMQ_DEFAULT_USER" >>"$conf"; fi
if [ -n "${RABBITMQ_DEFAULT_PASS:-}" ]; then echo "default_pass = $RABBITMQ_DEFAULT_PASS" >>"$conf"; fi
echo "loopback_users = none" >>"$conf"
exec "$@"
