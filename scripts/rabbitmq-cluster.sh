#!/usr/bin/env bash
# A RabbitMQ cluster of N nodes on this machine, beside (never touching) the system node on 5672:
# for tests of quorum queues and failover, and for trying Q3 on a cluster by hand.
#
#   scripts/rabbitmq-cluster.sh start [N]      # N nodes (3), clustered; prints their AMQP URLs
#   scripts/rabbitmq-cluster.sh status         # each node: up or down, and who is clustered
#                                              # (exit status 1 if a node is not up)
#   scripts/rabbitmq-cluster.sh urls           # the AMQP URLs again (comma-separated)
#   scripts/rabbitmq-cluster.sh kill I         # SIGKILL node I (fault tests); data kept
#   scripts/rabbitmq-cluster.sh stop-node I    # stop node I cleanly; data kept
#   scripts/rabbitmq-cluster.sh start-node I   # start node I again; it rejoins the cluster
#   scripts/rabbitmq-cluster.sh stop           # stop every node, remove their data
#
# Environment: RABBITMQ_CLUSTER_DIR (/tmp/rabbitmq-cluster), RABBITMQ_CLUSTER_PORT (5701: node I
# listens for AMQP on PORT+I-1, on 127.0.0.1), RABBITMQ_CLUSTER_DIST_PORT (PORT+20000, likewise),
# RABBITMQ_CLUSTER_PREFIX (votes: nodes votes-1@localhost, ...), RABBITMQ_CLUSTER_TIMEOUT (120 s
# for each wait). Node I keeps everything in DIR/node-I (config, data, log/, startup.log).
#
# `start` is idempotent: nodes already up are left alone, missing ones are started and joined.
# It returns once every node is in the cluster and answers AMQP, and prints only the URLs on
# stdout (usable as AMQP_URL once Q3 takes a list; guest/guest, which RabbitMQ allows from
# loopback only). `stop` also finds nodes of DIR left by a crashed run without their pid files.
# Run as root (or the rabbitmq user): the nodes run as rabbitmq with the system Erlang cookie,
# so `rabbitmqctl -n votes-1@localhost ...` works as usual.
set -euo pipefail

RMQ_BIN=/usr/lib/rabbitmq/bin
RMQ_HOME=/var/lib/rabbitmq   # the rabbitmq user's home: its .erlang.cookie is the system one

die() { echo "rabbitmq-cluster: $*" >&2; exit 1; }
say() { echo "rabbitmq-cluster: $*" >&2; }
usage() { sed -n '2,/^set /{/^#/p}' "$0" >&2; exit 2; }

base=$(realpath -m "${RABBITMQ_CLUSTER_DIR:-/tmp/rabbitmq-cluster}")
port0=${RABBITMQ_CLUSTER_PORT:-5701}
dist0=${RABBITMQ_CLUSTER_DIST_PORT:-$((port0 + 20000))}
prefix=${RABBITMQ_CLUSTER_PREFIX:-votes}
timeout=${RABBITMQ_CLUSTER_TIMEOUT:-120}

[[ $base != / && $base =~ ^/[A-Za-z0-9_./-]+$ ]] || die "RABBITMQ_CLUSTER_DIR must be a plain path, not '$base'"
[[ $prefix =~ ^[A-Za-z0-9_-]{1,40}$ ]] || die "RABBITMQ_CLUSTER_PREFIX must be 1-40 of A-Za-z0-9_-"
[[ $port0 =~ ^[0-9]+$ && $dist0 =~ ^[0-9]+$ && $timeout =~ ^[0-9]+$ ]] \
  || die "RABBITMQ_CLUSTER_PORT, _DIST_PORT and _TIMEOUT must be numbers"
[[ -x $RMQ_BIN/rabbitmq-server ]] || die "RabbitMQ is not installed ($RMQ_BIN/rabbitmq-server missing)"

me=$(id -un)
[[ $me == root || $me == rabbitmq ]] || die "run as root or rabbitmq (the nodes run as rabbitmq), not $me"

# The rabbitmq user, whose home holds the system Erlang cookie; from its home, which it can read.
as_rabbitmq() {
  if [[ $me == rabbitmq ]]; then
    (cd "$RMQ_HOME" && env HOME="$RMQ_HOME" "$@")
  else
    (cd "$RMQ_HOME" && runuser -u rabbitmq -- env HOME="$RMQ_HOME" "$@")
  fi
}
ctl() { as_rabbitmq "$RMQ_BIN/rabbitmqctl" "$@"; }

node_dir() { echo "$base/node-$1"; }
node_var() { sed -n "s/^$2=//p" "$(node_dir "$1")/node.env" 2>/dev/null; }  # as it was started
node_name() { local n; n=$(node_var "$1" NAME); echo "${n:-$prefix-$1@localhost}"; }
amqp_port() { local p; p=$(node_var "$1" PORT); echo "${p:-$((port0 + $1 - 1))}"; }
dist_port() { local p; p=$(node_var "$1" DIST_PORT); echo "${p:-$((dist0 + $1 - 1))}"; }
node_log() { echo "$(node_dir "$1")/log/$(node_name "$1").log"; }
url() { echo "amqp://guest:guest@127.0.0.1:$(amqp_port "$1")/%2F"; }

# Node numbers with a directory under $base, in order.
known_nodes() {
  local d
  for d in "$base"/node-*; do
    if [[ -d $d && ${d##*/node-} =~ ^[0-9]+$ ]]; then echo "${d##*/node-}"; fi
  done | sort -n
}

# The Erlang VMs started by this script for directory $1 (a node's, or $base/node- for all):
# each carries RABBITMQ_CLUSTER_NODE=<its node dir> in its environment. Found this way rather
# than by pid file, so a node that crashed mid-start or lost its files is found too.
beam_pids() {
  local pid marker
  for pid in $(pgrep -x beam.smp || true); do
    marker=$(tr '\0' '\n' 2>/dev/null <"/proc/$pid/environ" | sed -n 's/^RABBITMQ_CLUSTER_NODE=//p')
    if [[ $1 == */node- && $marker == "$1"* ]] || [[ -n $marker && $marker == "$1" ]]; then
      echo "$pid"
    fi
  done
}
node_pid() { beam_pids "$(node_dir "$1")" | sed -n 1p; }  # sed reads all: no SIGPIPE under pipefail

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# An AMQP 0-9-1 server answers the protocol header with a Connection.Start frame (type 1).
amqp_answers() {
  (
    exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
    printf 'AMQP\x00\x00\x09\x01' >&3
    IFS= read -r -N 1 -t 5 frame <&3 || exit 1
    [[ $frame == $'\x01' ]]
  ) 2>/dev/null
}

deadline() { echo $((SECONDS + timeout)); }

launch() {  # node number [, seed node name]: start its VM in the background (does not wait)
  local i=$1 seed=${2:-} dir name port dport
  dir=$(node_dir "$i")
  name=$(node_name "$i"); port=$(amqp_port "$i"); dport=$(dist_port "$i")
  port_open "$port" && die "node $i: port $port is taken by something else (RABBITMQ_CLUSTER_PORT)"
  port_open "$dport" && die "node $i: port $dport is taken by something else (RABBITMQ_CLUSTER_DIST_PORT)"
  mkdir -p "$dir/mnesia" "$dir/log" "$dir/conf.d"
  printf 'NAME=%s\nPORT=%s\nDIST_PORT=%s\n' "$name" "$port" "$dport" >"$dir/node.env"
  cat >"$dir/rabbitmq.conf" <<EOF
# written by scripts/rabbitmq-cluster.sh; the system file pins 5672, so each node has its own
listeners.tcp.local = 127.0.0.1:$port
EOF
  # A blank node joins the seed's cluster as it boots (peer discovery; a node with data ignores it).
  [[ -n $seed ]] && cat >>"$dir/rabbitmq.conf" <<EOF
cluster_formation.peer_discovery_backend = classic_config
cluster_formation.classic_config.nodes.1 = $seed
cluster_formation.discovery_retry_limit = 120
cluster_formation.discovery_retry_interval = 500
EOF
  echo '[].' >"$dir/enabled_plugins"
  # The system env file names the system node; ours keeps only what makes a node loopback-only.
  cat >"$dir/rabbitmq-env.conf" <<'EOF'
ERL_EPMD_ADDRESS=127.0.0.1
export ERL_FLAGS="-kernel inet_dist_use_interface {127,0,0,1}"
EOF
  chown -R rabbitmq:rabbitmq "$dir" 2>/dev/null || [[ $me == rabbitmq ]] \
    || die "node $i: cannot give $dir to the rabbitmq user"
  as_rabbitmq test -w "$dir/mnesia" || die "node $i: the rabbitmq user cannot write to $dir (is a parent folder closed to it?)"
  : >"$dir/startup.log"
  # Not -detached: the start script's own output (a bad config, say) lands in startup.log. In a
  # session of its own (setsid), the node outlives this script and the caller's process group.
  local run_as=(runuser -u rabbitmq --)
  [[ $me == rabbitmq ]] && run_as=()
  (
    cd "$dir"
    exec setsid -w "${run_as[@]}" env HOME="$RMQ_HOME" \
      ERL_CRASH_DUMP="$dir/log/erl_crash.dump" \
      RABBITMQ_CLUSTER_NODE="$dir" \
      RABBITMQ_CONF_ENV_FILE="$dir/rabbitmq-env.conf" \
      RABBITMQ_NODENAME="$name" \
      RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 \
      RABBITMQ_NODE_PORT="$port" \
      RABBITMQ_DIST_PORT="$dport" \
      RABBITMQ_CONFIG_FILE="$dir/rabbitmq.conf" \
      RABBITMQ_CONFIG_FILES="$dir/conf.d" \
      RABBITMQ_ADVANCED_CONFIG_FILE="$dir/advanced.config" \
      RABBITMQ_ENABLED_PLUGINS_FILE="$dir/enabled_plugins" \
      RABBITMQ_MNESIA_BASE="$dir/mnesia" \
      RABBITMQ_LOG_BASE="$dir/log" \
      RABBITMQ_PID_FILE="$dir/pid" \
      "$RMQ_BIN/rabbitmq-server"
  ) >>"$dir/startup.log" 2>&1 </dev/null &
  launcher[$i]=$!
}

# Wait until node $1's VM is booted and answers AMQP. Returns 1, with the reason in $why, if the
# VM exits while starting; dies, naming its log, if it hangs.
await_node() {
  local i=$1 until
  until=$(deadline)
  why=
  while ((SECONDS < until)); do
    # The AMQP listener opens as the last step of the boot.
    if [[ -n $(node_pid "$i") ]] && amqp_answers "$(amqp_port "$i")"; then return 0; fi
    if ! kill -0 "${launcher[$i]}" 2>/dev/null; then
      why=$( { grep -m 1 '^Kernel pid terminated' "$(node_dir "$i")/startup.log" \
        || grep -m 1 -i 'error' "$(node_dir "$i")/startup.log"; } | cut -c 1-240 || true)
      return 1
    fi
    sleep 0.5
  done
  die "node $i ($(node_name "$i")) did not start within ${timeout}s; see $(node_log "$i")"
}

died() { die "node $1 ($(node_name "$1")) exited while starting${why:+ ($why)}; see $(node_log "$1") and $(node_dir "$1")/startup.log"; }

# Launch nodes $2... (seed node name $1; a node that is the seed boots without peer discovery) and
# wait for each. A node that was blank and dies while booting is wiped and launched again, twice
# at most: a blank node that syncs its schema from a seed still finishing its own boot can fail
# its schema check (seen here: table_attributes_mismatch on rabbit_user); a second try syncs the
# settled schema. A node that had data is never wiped.
boot() {
  local seed=$1 i tries
  shift
  declare -A blank=()
  for i in "$@"; do
    [[ -z $(ls -A "$(node_dir "$i")/mnesia" 2>/dev/null) ]] && blank[$i]=1
    say "node $i: starting $(node_name "$i") on 127.0.0.1:$(amqp_port "$i")"
    if [[ $seed == "$(node_name "$i")" ]]; then launch "$i"; else launch "$i" "$seed"; fi
  done
  for i in "$@"; do
    tries=0
    until await_node "$i"; do
      [[ -n ${blank[$i]:-} && $tries -lt 2 && $seed != "$(node_name "$i")" ]] || died "$i"
      tries=$((tries + 1))
      say "node $i: failed to boot${why:+ ($why)}; wiping its fresh data, starting it again"
      mv -f "$(node_dir "$i")/startup.log" "$(node_dir "$i")/startup-failed-$tries.log"
      ctl -q -n "$seed" forget_cluster_node "$(node_name "$i")" >/dev/null 2>&1 || true
      rm -rf "$(node_dir "$i")/mnesia"
      launch "$i" "$seed"
    done
  done
}

# The nodes named in cluster_status's "$2" list (running_nodes, disk_nodes) of JSON $1.
json_nodes() {
  sed -n "s/.*\"$2\":\[\([^]]*\)\].*/\1/p" <<<"$1" | tr -d '"' | tr ',' '\n'
}
cluster_json() { ctl -n "$1" cluster_status --formatter json 2>/dev/null || true; }

has_all() {  # lines $1 include every word of $2
  local n
  for n in $2; do grep -qx "$n" <<<"$1" || return 1; done
}

# Wait until node $1 sees every node in $2 (space-separated names) running in its cluster.
await_cluster() {
  local seed=$1 want=$2 until have n missing
  until=$(deadline)
  while ((SECONDS < until)); do
    have=$(json_nodes "$(cluster_json "$seed")" running_nodes)
    missing=
    for n in $want; do grep -qx "$n" <<<"$have" || missing+=" $n"; done
    [[ -z $missing ]] && return 0
    sleep 1
  done
  die "the cluster of $seed still lacks$missing after ${timeout}s; see their logs under $base"
}

join() {  # node number, seed node name: the node (re)sets itself and joins the seed's cluster
  local name
  name=$(node_name "$1")
  say "node $1: joining $2"
  { ctl -q -n "$name" stop_app && ctl -q -n "$name" reset && ctl -q -n "$name" join_cluster "$2" \
    && ctl -q -n "$name" start_app; } >>"$(node_dir "$1")/startup.log" 2>&1 \
    || die "node $1 ($name) could not join $2; see $(node_dir "$1")/startup.log and $(node_log "$1")"
}

# Start the nodes $@ that are not up, wait for them, and make every one of them a running member
# of the cluster. The cluster is that of the first node already up (any node under $base), else
# of the first one started with its data, else the first one. The seed boots first, the others
# then at once; a blank node joins the seed as it boots (peer discovery), which is quicker than
# join_cluster afterwards (stop_app, reset, join, start_app: that is only the fallback).
bring_up() {
  local i seed='' with_data='' todo=() want='' json
  declare -gA launcher=()
  mkdir -p "$base"
  [[ -f $base/.rabbitmq-cluster ]] || : >"$base/.rabbitmq-cluster"   # `stop` only clears such a dir
  chmod 755 "$base"
  for i in $(known_nodes); do
    if [[ -z $seed && -n $(node_pid "$i") ]]; then seed=$(node_name "$i"); want+=" $seed"; fi
  done
  for i in "$@"; do
    want+=" $(node_name "$i")"
    [[ -n $(node_pid "$i") ]] && continue
    [[ -z $with_data && -n $(ls -A "$(node_dir "$i")/mnesia" 2>/dev/null) ]] && with_data=$(node_name "$i")
    todo+=("$i")
  done
  seed=${seed:-${with_data:-$(node_name "$1")}}
  # A blank seed boots alone first: blank nodes booted beside it sometimes synced a half-made
  # schema from it and died (RabbitMQ 3.10). Then the rest, at once. Nodes with data all start
  # at once, as each may wait for the tables of another (the last one stopped).
  local rest=()
  for i in "${todo[@]}"; do
    if [[ -z $with_data && $seed == "$(node_name "$i")" ]]; then boot "$seed" "$i"; else rest+=("$i"); fi
  done
  ((${#rest[@]} == 0)) || boot "$seed" "${rest[@]}"
  # A node the seed does not count as a member (its peer discovery failed, or a failed run left
  # it standalone) joins now; a member still booting rejoins by itself.
  json=$(cluster_json "$seed")
  [[ -n $json ]] || die "cannot read the cluster status of $seed; see $base/node-*/log/"
  if ! has_all "$(json_nodes "$json" running_nodes)" "$want"; then
    for i in "$@"; do
      json_nodes "$json" disk_nodes | grep -qx "$(node_name "$i")" || join "$i" "$seed"
    done
    await_cluster "$seed" "$want"
  fi
  for i in "$@"; do
    amqp_answers "$(amqp_port "$i")" || die "node $i does not answer AMQP on $(amqp_port "$i"); see $(node_log "$i")"
  done
}

urls() {
  local i out=()
  for i in "$@"; do out+=("$(url "$i")"); done
  (IFS=,; echo "${out[*]}")
}

need_node() {
  [[ ${1:-} =~ ^[1-9][0-9]*$ ]] || usage
  [[ -d $(node_dir "$1") ]] || die "node $1 has no directory under $base (start the cluster first)"
}

stop_node() {  # node number: a clean stop, then SIGKILL if it does not go within the timeout
  local i=$1 pid until
  pid=$(node_pid "$i")
  [[ -z $pid ]] && return 0
  ctl -q -n "$(node_name "$i")" stop >/dev/null 2>&1 || true
  until=$(deadline)
  while [[ -n $(node_pid "$i") ]] && ((SECONDS < until)); do sleep 0.5; done
  if [[ -n $(node_pid "$i") ]]; then
    say "node $i: did not stop within ${timeout}s, killing it"
    kill -KILL "$(node_pid "$i")" 2>/dev/null || true
  fi
}

kill_node() {
  local i=$1 pid until
  pid=$(node_pid "$i")
  [[ -n $pid ]] || die "node $i ($(node_name "$i")) is not running"
  kill -KILL "$pid"
  until=$((SECONDS + 30))
  while kill -0 "$pid" 2>/dev/null && ((SECONDS < until)); do sleep 0.2; done
  kill -0 "$pid" 2>/dev/null && die "node $i (pid $pid) survived SIGKILL"
  say "node $i ($(node_name "$i")): killed pid $pid"
}

stop_all() {
  local i pid pids until
  # (A folder removed by hand while its nodes ran: they are still found, and killed, below.)
  if [[ -d $base && ! -f $base/.rabbitmq-cluster ]]; then
    die "$base was not made by this script; not touching it"
  fi
  for i in $(known_nodes); do
    if [[ -n $(node_pid "$i") ]]; then say "node $i: stopping $(node_name "$i")"; fi
  done
  # SIGTERM, which a node takes as `rabbitmqctl stop` (without the CLI's own Erlang VM to boot
  # per node: the data goes anyway); what is left after 30 s, pid file or not, is killed.
  pids=$(beam_pids "$base/node-")
  for pid in $pids; do kill -TERM "$pid" 2>/dev/null || true; done
  until=$((SECONDS + 30))
  while [[ -n $(beam_pids "$base/node-") ]] && ((SECONDS < until)); do sleep 0.2; done
  pids=$(beam_pids "$base/node-")
  if [[ -n $pids ]]; then
    say "killing leftover nodes: $(echo "$pids" | tr '\n' ' ')"
    for pid in $pids; do kill -KILL "$pid" 2>/dev/null || true; done
    until=$((SECONDS + 30))
    while [[ -n $(beam_pids "$base/node-") ]] && ((SECONDS < until)); do sleep 0.2; done
    [[ -z $(beam_pids "$base/node-") ]] || die "nodes of $base survived SIGKILL: $(beam_pids "$base/node-" | tr '\n' ' ')"
  fi
  rm -rf "${base:?}"/node-*
  rm -f "$base/.rabbitmq-cluster"
  rmdir "$base" 2>/dev/null || true
}

status() {
  local i name pid state seed='' ok=0 nodes
  nodes=$(known_nodes)
  [[ -n $nodes ]] || { echo "no nodes under $base"; return 1; }
  for i in $nodes; do
    name=$(node_name "$i"); pid=$(node_pid "$i")
    if [[ -z $pid ]]; then state=down; ok=1
    elif amqp_answers "$(amqp_port "$i")"; then state=up; if [[ -z $seed ]]; then seed=$name; fi
    else state=starting; ok=1; fi
    printf '%s %s amqp=127.0.0.1:%s pid=%s %s\n' "$i" "$name" "$(amqp_port "$i")" "${pid:--}" "$state"
  done
  if [[ -n $seed ]]; then
    echo "running in the cluster, as $seed sees it: $(json_nodes "$(cluster_json "$seed")" running_nodes | tr '\n' ' ')"
  fi
  return $ok
}

cmd=${1:-}
case $cmd in
  start)
    n=${2:-3}
    [[ $n =~ ^[1-9][0-9]*$ ]] || usage
    t0=$SECONDS
    bring_up $(seq "$n")
    say "$n node(s) clustered and answering AMQP ($((SECONDS - t0)) s)"
    urls $(seq "$n")
    ;;
  start-node) need_node "${2:-}"; bring_up "$2"; say "node $2 is up and in the cluster" ;;
  stop-node) need_node "${2:-}"; stop_node "$2"; say "node $2 ($(node_name "$2")) stopped" ;;
  kill) need_node "${2:-}"; kill_node "$2" ;;
  stop) stop_all ;;
  status) status ;;
  urls)
    mapfile -t nodes < <(known_nodes)
    ((${#nodes[@]})) || die "no nodes under $base"
    urls "${nodes[@]}"
    ;;
  *) usage ;;
esac
