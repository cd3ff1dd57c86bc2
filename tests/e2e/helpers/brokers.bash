# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash
# Brokers other than mosquitto for the e2e suites (sourced by common.bash): RabbitMQ 3.10 with its
# MQTT plugin (Debian's rabbitmq-server) as a throwaway node, alone or as a 2-node cluster, and
# aedes (npm, in-memory persistence) run by tests/fixtures/aedes/server.js.
#
# Like broker_start: free 127.0.0.1 ports, everything under the scope's tmpdir, processes
# stopped by pid in cleanup_all. A RabbitMQ node starts in ~5 s on an idle machine and 15 s on
# a loaded one: start it in setup_file, once per file.

DTBUS_RABBITMQ_BIN=${DTBUS_RABBITMQ_BIN:-/usr/lib/rabbitmq/bin}
# Seconds a RabbitMQ node may take to boot (the MQTT port listening).
DTBUS_RABBITMQ_BOOT_TIMEOUT=${DTBUS_RABBITMQ_BOOT_TIMEOUT:-90}

# rabbitmq_available / aedes_available — false (with the reason on stderr) when the broker cannot
# run here; suites skip then.
rabbitmq_available() {
  [[ -x $DTBUS_RABBITMQ_BIN/rabbitmq-server ]] && command -v epmd >/dev/null 2>&1 ||
    _dtbus_fail "rabbitmq-server is not installed (scripts/install-deps)"
}
aedes_available() {
  command -v node >/dev/null 2>&1 && [[ -d $DTBUS_SOURCE_DIR/tests/fixtures/aedes/node_modules/aedes ]] ||
    _dtbus_fail "aedes is not installed (scripts/install-deps runs npm ci in tests/fixtures/aedes)"
}

# True once something accepts TCP connections on 127.0.0.1:PORT.
port_listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# _dtbus_wait_port PORT PID TIMEOUT LOG — until PORT listens; fails when PID exits first.
_dtbus_wait_port() {
  local port=$1 pid=$2 log=$4 deadline
  _dtbus_deadline "$3" || return 1
  deadline=$_dtbus_dl
  until port_listening "$port"; do
    if ! _dtbus_pid_alive "$pid"; then
      _dtbus_fail "process $pid exited before listening on port $port" "$(_dtbus_tail "$log")"
      return 1
    fi
    if _dtbus_past "$deadline"; then
      _dtbus_fail "nothing listens on port $port after $3 s" "$(_dtbus_tail "$log")"
      return 1
    fi
    sleep 0.1
  done
}

# --- RabbitMQ ----------------------------------------------------------------------------------

# _dtbus_read_pid VAR FILE — like _dtbus_read, also for a file without a final newline (RabbitMQ's
# pid file).
_dtbus_read_pid() {
  local -n _dtbus_pid_out=$1
  _dtbus_pid_out=
  [[ -r $2 ]] || return 0
  IFS= read -r _dtbus_pid_out <"$2" || true
}

# The scope's epmd (Erlang's port mapper; one per scope so nodes of a cluster find each other),
# started in the foreground so it is stopped by pid. Sets _dtbus_epmd_port.
_dtbus_epmd() {
  local pid
  _dtbus_scope_dir
  _dtbus_read _dtbus_epmd_port "$_dtbus_scope/.epmd-port"
  if [[ -n $_dtbus_epmd_port ]] && port_listening "$_dtbus_epmd_port"; then return 0; fi
  _dtbus_epmd_port=$(free_port)
  epmd -port "$_dtbus_epmd_port" -address 127.0.0.1 </dev/null >"$_dtbus_scope/epmd.log" 2>&1 3>&- &
  pid=$!
  _dtbus_track_pid "$pid"
  _dtbus_wait_port "$_dtbus_epmd_port" "$pid" 10 "$_dtbus_scope/epmd.log" || return 1
  printf '%s\n' "$_dtbus_epmd_port" >"$_dtbus_scope/.epmd-port"
}

# The environment of node NAME's scripts (rabbitmq-server, rabbitmqctl): its dir's env file.
_dtbus_rabbit_env() {
  local dir
  _dtbus_broker_key "$1"
  dir=RABBIT_${_dtbus_bkey}_DIR
  _dtbus_rdir=${!dir:-}
  [[ -n $_dtbus_rdir && -f $_dtbus_rdir/env ]] || _dtbus_fail "no RabbitMQ node named '$1'"
}

# rabbitmq_start NAME [--join OTHER] — a fresh RabbitMQ node with the MQTT plugin in
# <scope>/rabbit-NAME/ (own data, log, cookie, config) on free 127.0.0.1 ports; --join OTHER
# makes it join OTHER's cluster at boot (classic peer discovery). Waits until MQTT listens.
# Exports RABBIT_<NAME>_{PORT,NODE,DIR,LOG,PID}. The first node of a scope also sets
# RABBIT_PORT. The start time is appended to <scope>/rabbit-start-times.
rabbitmq_start() {
  local name=${1:?rabbitmq_start NAME [--join OTHER]} join= dir key started
  shift
  [[ ${1:-} == --join ]] && join=${2:?--join OTHER}
  _dtbus_epmd || return 1
  _dtbus_scope_dir
  _dtbus_broker_key "$name"
  key=$_dtbus_bkey
  dir=$_dtbus_scope/rabbit-$name
  rm -rf "$dir"
  mkdir -p "$dir/home" "$dir/data" "$dir/log"
  local mqtt_port amqp_port dist_port node
  mqtt_port=$(free_port)
  amqp_port=$(free_port)
  dist_port=$(free_port)
  node="dtbus-$name-$$@localhost"
  # Nodes of one cluster share the cookie: one per scope.
  [[ -f $_dtbus_scope/.erlang-cookie ]] ||
    printf 'dtbus%s%s\n' "$RANDOM$RANDOM" "$RANDOM$RANDOM" >"$_dtbus_scope/.erlang-cookie"
  cp "$_dtbus_scope/.erlang-cookie" "$dir/home/.erlang.cookie"
  chmod 400 "$dir/home/.erlang.cookie"
  printf '[rabbitmq_mqtt].\n' >"$dir/enabled_plugins"
  {
    printf 'listeners.tcp.default = 127.0.0.1:%s\n' "$amqp_port"
    printf 'mqtt.listeners.tcp.default = 127.0.0.1:%s\n' "$mqtt_port"
    printf 'distribution.listener.interface = 127.0.0.1\n'
    printf 'log.console = false\nlog.file.level = info\n'
    # A durable MQTT session outlives the test that made it only as long as the node does.
    printf 'mqtt.allow_anonymous = true\n'
    if [[ -n $join ]]; then
      _dtbus_broker_key "$join"
      local other=RABBIT_${_dtbus_bkey}_NODE
      printf 'cluster_formation.peer_discovery_backend = classic_config\n'
      printf 'cluster_formation.classic_config.nodes.1 = %s\n' "${!other:?no RabbitMQ node $join}"
    fi
  } >"$dir/rabbitmq.conf"
  {
    printf 'export HOME=%q\n' "$dir/home"
    printf 'export ERL_EPMD_PORT=%q\n' "$_dtbus_epmd_port"
    printf 'export RABBITMQ_NODENAME=%q\n' "$node"
    printf 'export RABBITMQ_DIST_PORT=%q\n' "$dist_port"
    printf 'export RABBITMQ_CONFIG_FILE=%q\n' "$dir/rabbitmq.conf"
    printf 'export RABBITMQ_ADVANCED_CONFIG_FILE=%q\n' "$dir/advanced.config"
    printf 'export RABBITMQ_CONF_ENV_FILE=%q\n' "$dir/rabbitmq-env.conf"
    printf 'export RABBITMQ_ENABLED_PLUGINS_FILE=%q\n' "$dir/enabled_plugins"
    printf 'export RABBITMQ_MNESIA_BASE=%q\n' "$dir/data"
    printf 'export RABBITMQ_LOG_BASE=%q\n' "$dir/log"
    printf 'export RABBITMQ_PID_FILE=%q\n' "$dir/beam.pid"
  } >"$dir/env"
  : >"$dir/rabbitmq-env.conf"
  export "RABBIT_${key}_PORT=$mqtt_port" "RABBIT_${key}_NODE=$node" "RABBIT_${key}_DIR=$dir"
  export "RABBIT_${key}_LOG=$dir/log/$node.log"
  [[ -n ${RABBIT_PORT:-} ]] || export RABBIT_PORT=$mqtt_port
  started=$EPOCHREALTIME
  _dtbus_rabbit_launch "$name" || return 1
  printf '%s %s\n' "$name" "$(awk -v a="$started" -v b="$EPOCHREALTIME" 'BEGIN{printf "%.1f", b-a}')" \
    >>"$_dtbus_scope/rabbit-start-times"
}

# Starts node NAME on its existing dir and waits for its MQTT port.
_dtbus_rabbit_launch() {
  local name=$1 wrapper beam port_var pid_var
  _dtbus_rabbit_env "$name" || return 1
  _dtbus_broker_key "$name"
  port_var=RABBIT_${_dtbus_bkey}_PORT
  pid_var=RABBIT_${_dtbus_bkey}_PID
  rm -f "$_dtbus_rdir/beam.pid"
  (
    # shellcheck disable=SC1091
    source "$_dtbus_rdir/env"
    cd "$_dtbus_rdir" && exec "$DTBUS_RABBITMQ_BIN/rabbitmq-server"
  ) </dev/null >>"$_dtbus_rdir/server.out" 2>&1 3>&- &
  wrapper=$!
  _dtbus_track_pid "$wrapper"
  printf '%s\n' "$wrapper" >"$_dtbus_rdir/wrapper.pid"
  _dtbus_wait_port "${!port_var}" "$wrapper" "$DTBUS_RABBITMQ_BOOT_TIMEOUT" \
    "$_dtbus_rdir/server.out" || return 1
  _dtbus_read_pid beam "$_dtbus_rdir/beam.pid"
  [[ -n $beam ]] || _dtbus_fail "RabbitMQ node $name wrote no pid file" || return 1
  _dtbus_track_pid "$beam"
  export "$pid_var=$beam"
}

# rabbitmq_stop NAME [--kill] — SIGTERM (an orderly stop, ~2 s) or SIGKILL (a crash) to the
# node's VM; waits for it and its start script to go.
rabbitmq_stop() {
  local name=${1:?rabbitmq_stop NAME [--kill]} sig=TERM beam wrapper
  [[ ${2:-} == --kill ]] && sig=KILL
  _dtbus_rabbit_env "$name" || return 1
  _dtbus_read_pid beam "$_dtbus_rdir/beam.pid"
  _dtbus_read_pid wrapper "$_dtbus_rdir/wrapper.pid"
  _dtbus_kill_pid "$beam" "$sig" 30 && _dtbus_kill_pid "$wrapper" TERM 10
}

# rabbitmq_restart NAME — starts a stopped node again (same ports, data and cluster).
rabbitmq_restart() {
  local name=${1:?rabbitmq_restart NAME}
  rabbitmq_stop "$name" && _dtbus_rabbit_launch "$name"
}

# rabbitmq_ctl NAME ARGS... — rabbitmqctl against node NAME.
rabbitmq_ctl() {
  local name=${1:?rabbitmq_ctl NAME ARGS...}
  shift
  _dtbus_rabbit_env "$name" || return 1
  (
    # shellcheck disable=SC1091
    source "$_dtbus_rdir/env"
    "$DTBUS_RABBITMQ_BIN/rabbitmqctl" -q "$@"
  )
}

# --- aedes -------------------------------------------------------------------------------------

# aedes_start NAME — tests/fixtures/aedes/server.js on a free 127.0.0.1 port, in-memory
# persistence (a restart forgets sessions). Exports AEDES_<NAME>_{PORT,PID,LOG}; AEDES_PORT for
# the scope's first. The log has a line "<time> subscribe <client> <qos> <filter>" per
# subscription (aedes_wait_subscribed).
aedes_start() {
  local name=${1:?aedes_start NAME} key port pid log
  _dtbus_scope_dir
  _dtbus_broker_key "$name"
  key=$_dtbus_bkey
  port=$(free_port)
  log=$_dtbus_scope/aedes-$name.log
  node "$DTBUS_SOURCE_DIR/tests/fixtures/aedes/server.js" "$port" </dev/null >"$log" 2>&1 3>&- &
  pid=$!
  _dtbus_track_pid "$pid"
  _dtbus_wait_port "$port" "$pid" 20 "$log" || return 1
  export "AEDES_${key}_PORT=$port" "AEDES_${key}_PID=$pid" "AEDES_${key}_LOG=$log"
  [[ -n ${AEDES_PORT:-} ]] || export AEDES_PORT=$port
}

# aedes_wait_subscribed NAME FILTER [COUNT=1] [TIMEOUT=10] — until aedes logged COUNT
# subscriptions to exactly FILTER.
aedes_wait_subscribed() {
  local name=${1:?aedes_wait_subscribed NAME FILTER} filter=${2:?FILTER} want=${3:-1}
  local timeout=${4:-10} log_var have
  _dtbus_broker_key "$name"
  log_var=AEDES_${_dtbus_bkey}_LOG
  _dtbus_ere_quote "$filter"
  wait_until "$timeout" _dtbus_count_at_least "$want" "${!log_var}" " subscribe [^ ]+ [0-2] $_dtbus_ere\$"
}

# _dtbus_ere_quote TEXT — sets _dtbus_ere to TEXT with the ERE metacharacters escaped.
_dtbus_ere_quote() {
  _dtbus_ere=$(printf '%s' "$1" | sed 's/[][\.^$*+?(){}|]/\\&/g')
}

# _dtbus_count_at_least N FILE ERE — FILE has at least N lines matching ERE.
_dtbus_count_at_least() {
  local have
  have=$(grep -cE -- "$3" "$2") || true
  ((have >= $1))
}

# dtbus_wait_subscribed ERRFILE FILTER [COUNT=1] [TIMEOUT=20] — any broker: until a `dtbus sub -vv`
# whose stderr is ERRFILE logged COUNT SUBACKs for FILTER.
dtbus_wait_subscribed() {
  local err=${1:?dtbus_wait_subscribed ERRFILE FILTER} filter=${2:?FILTER}
  _dtbus_ere_quote "$filter"
  wait_until "${4:-20}" _dtbus_count_at_least "${3:-1}" "$err" "subscribed to '$_dtbus_ere'"
}
