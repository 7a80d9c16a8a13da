#!/usr/bin/env bash
# Start PostgreSQL and RabbitMQ on this machine if they are down, and wait until they answer.
# Idempotent: a service that is already up is left alone.
set -euo pipefail

wait_for() {  # name, seconds, command...
  local name=$1 seconds=$2; shift 2
  for _ in $(seq "$seconds"); do
    if "$@" >/dev/null 2>&1; then echo "$name: up"; return 0; fi
    sleep 1
  done
  echo "$name: did not come up within ${seconds}s" >&2
  return 1
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

if ! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
  echo "PostgreSQL: starting"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -n 1)" main start || true
fi
wait_for PostgreSQL 60 pg_isready -h 127.0.0.1 -p 5432 -q

if ! port_open 5672; then
  echo "RabbitMQ: starting"
  rabbitmq-server -detached || true
fi
wait_for RabbitMQ 90 port_open 5672
