#!/usr/bin/env bash
# Broker users for the vote counter: one per kiosk, allowed to publish to the votes exchange and
# nothing else; one for the worker. Run where rabbitmqctl can reach the broker (as root or the
# rabbitmq user). Secrets are generated here and printed once, inside the AMQP URL to give the
# process (AMQP_URL); nothing is stored in the repository.
#
#   scripts/rabbitmq-users.sh add-kiosk  NAME   # e.g. kiosk-42: write to the exchange only
#   scripts/rabbitmq-users.sh add-worker NAME   # declare, consume, dead-letter: its names only
#   scripts/rabbitmq-users.sh rotate     NAME   # a new secret; the old one stops working at once
#   scripts/rabbitmq-users.sh remove     NAME
#
# Environment: VOTES_QUEUE (votes), RABBITMQ_VHOST (/), AMQP_HOST (127.0.0.1:5672) for the URL;
# for a cluster, AMQP_HOST=rmq-1:5672,rmq-2:5672,... prints the URL of each node, comma-separated
# (users and permissions are cluster-wide: run this once, on any member).
#
# Rotating a kiosk's secret: run `rotate`, put the printed URL in the kiosk's AMQP_URL and restart
# the kiosk. Votes it accepted before are safe (already confirmed by the broker); while it restarts
# it answers nothing, and its screen retries with the same vote id.
set -euo pipefail

queue=${VOTES_QUEUE:-votes}
vhost=${RABBITMQ_VHOST:-/}
host=${AMQP_HOST:-127.0.0.1:5672}
action=${1:-}
name=${2:-}

usage() { sed -n '2,15p' "$0" >&2; exit 2; }
[[ -n $action && -n $name ]] || usage
[[ $name =~ ^[A-Za-z0-9_.@-]{1,64}$ ]] || { echo "user name must be 1-64 of A-Za-z0-9_.@-" >&2; exit 2; }
[[ $queue =~ ^[A-Za-z0-9_.-]{1,200}$ ]] || { echo "VOTES_QUEUE must be 1-200 of A-Za-z0-9._-" >&2; exit 2; }

secret() { head -c 24 /dev/urandom | base64 | tr '+/' '~_' | tr -d '='; }  # never a leading '-': rabbitmqctl would read an option
vhost_path() { [[ $vhost == / ]] && echo "%2F" || echo "${vhost//\//%2F}"; }
url() {  # one URL per host of AMQP_HOST (a cluster's nodes, comma-separated), as AMQP_URL takes them
  local h out=()
  IFS=, read -ra hosts <<<"$host"
  for h in "${hosts[@]}"; do out+=("amqp://$name:$1@$h/$(vhost_path)"); done
  (IFS=,; echo "${out[*]}")
}
q=${queue//./\\.}

case $action in
  add-kiosk)
    pass=$(secret)
    rabbitmqctl -q add_user "$name" "$pass" >/dev/null
    # configure: nothing; write: the votes exchange only; read: nothing
    rabbitmqctl -q set_permissions -p "$vhost" "$name" '^$' "^$q\$" '^$' >/dev/null
    url "$pass"
    ;;
  add-worker)
    pass=$(secret)
    rabbitmqctl -q add_user "$name" "$pass" >/dev/null
    # its exchanges and queues (VOTES_QUEUE, VOTES_QUEUE.dead, the stream VOTES_QUEUE.replay)
    # and nothing else: dead letters and replay markers go through exchanges of their own, never
    # the default exchange (which reaches every queue); write on VOTES_QUEUE is what binding the
    # votes queue needs
    rabbitmqctl -q set_permissions -p "$vhost" "$name" \
      "^$q(\\.dead|\\.replay)?\$" "^$q(\\.dead|\\.replay)?\$" "^$q(\\.dead|\\.replay)?\$" \
      >/dev/null
    url "$pass"
    ;;
  rotate)
    pass=$(secret)
    rabbitmqctl -q change_password "$name" "$pass" >/dev/null
    url "$pass"
    ;;
  remove)
    rabbitmqctl -q delete_user "$name" >/dev/null
    ;;
  *) usage ;;
esac
