# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash
# Shared helpers for the dtbus end-to-end suites: `load helpers/common` in every .bats file.
#
# Real services only: a mosquitto per broker_start on a free loopback port (own dir, config,
# persistence, log), TLS certificates made by openssl, passwords by mosquitto_passwd, an OAuth2
# token endpoint served by tests/fixtures/token_server.py. See tests/e2e/README.md.
#
# Scope: whatever is started from setup_file belongs to the file (state under $BATS_FILE_TMPDIR,
# stopped by cleanup_all / broker_stop_all in teardown_file); whatever is started from a test,
# setup or teardown belongs to that test (state under $BATS_TEST_TMPDIR, stopped by cleanup_all
# in teardown). Broker and process state lives in files, not only in variables, so a broker
# restarted inside a test is still found and stopped by teardown_file.
#
# Never call the start helpers through `run` (it runs them in a subshell and loses the exports).

if declare -F bats_require_minimum_version >/dev/null; then
  bats_require_minimum_version 1.5.0
fi

_dtbus_helpers_dir=${BASH_SOURCE[0]%/*}
[[ $_dtbus_helpers_dir == /* ]] || _dtbus_helpers_dir=$PWD/$_dtbus_helpers_dir

# bats-support / bats-assert: BATS_LIB_PATH (colon-separated) first, then the Debian location.
_dtbus_load_lib() {
  local name=$1 dir dirs=()
  IFS=: read -ra dirs <<<"${BATS_LIB_PATH:-}"
  for dir in "${dirs[@]}" /usr/lib/bats /usr/lib/node_modules /usr/local/lib/bats; do
    [[ -n $dir && -f $dir/$name/load.bash ]] || continue
    # load.bash forks `dirname` once per file, for every test: source its src/*.bash (function
    # definitions only) directly when the layout allows.
    local files=("$dir/$name"/src/*.bash) f
    if [[ -f ${files[0]} ]]; then
      for f in "${files[@]}"; do
        # shellcheck disable=SC1090
        source "$f"
      done
    else
      # shellcheck disable=SC1090,SC1091
      source "$dir/$name/load.bash"
    fi
    return 0
  done
  echo "common.bash: cannot find $name (set BATS_LIB_PATH)" >&2
  return 1
}
_dtbus_load_lib bats-support
_dtbus_load_lib bats-assert

: "${DTBUS_SOURCE_DIR:=$(cd "$_dtbus_helpers_dir/../../.." && pwd)}"
: "${DTBUS_BIN_DIR:=$DTBUS_SOURCE_DIR/build/bin}"
export DTBUS_SOURCE_DIR DTBUS_BIN_DIR
# The generated man pages: man/ beside bin/ in a build tree, share/man/man1 in an installed one
# (DTBUS_BIN_DIR=/usr/bin, or the .deb extracted by scripts/package-test).
if [[ -z ${DTBUS_MAN_DIR:-} ]]; then
  DTBUS_MAN_DIR=$DTBUS_BIN_DIR/../man
  [[ -d $DTBUS_BIN_DIR/../share/man/man1 ]] && DTBUS_MAN_DIR=$DTBUS_BIN_DIR/../share/man/man1
fi
export DTBUS_MAN_DIR
DTBUS_FIXTURES_DIR=$DTBUS_SOURCE_DIR/tests/fixtures
export DTBUS_FIXTURES_DIR
case ":$PATH:" in
  *":$DTBUS_BIN_DIR:"*) ;;
  *) PATH="$DTBUS_BIN_DIR:$PATH" ;;
esac
export PATH

# The Debian python3 (stdlib only); a version-manager shim on PATH can cost a second per call.
if [[ -z ${DTBUS_PYTHON:-} ]]; then
  if [[ -x /usr/bin/python3 ]]; then DTBUS_PYTHON=/usr/bin/python3; else DTBUS_PYTHON=$(command -v python3); fi
fi
export DTBUS_PYTHON

# Seconds the readiness loops wait before failing.
: "${DTBUS_E2E_START_TIMEOUT:=10}"

# --- scope and bookkeeping ---------------------------------------------------------------------

# Sets _dtbus_scope to the directory that owns what is started now: the test's tmpdir inside a
# test (setup, test body, teardown), the file's tmpdir in setup_file/teardown_file. (Helpers avoid
# $(...) and external commands where they can: every fork counts on a loaded CI machine.)
_dtbus_scope_dir() {
  if [[ -n ${BATS_TEST_TMPDIR:-} ]]; then
    _dtbus_scope=$BATS_TEST_TMPDIR
  elif [[ -n ${BATS_FILE_TMPDIR:-} ]]; then
    _dtbus_scope=$BATS_FILE_TMPDIR
  else # sourced outside bats (debugging by hand)
    : "${_DTBUS_ADHOC_TMPDIR:=$(mktemp -d "${TMPDIR:-/tmp}/dtbus-e2e.XXXXXX")}"
    export _DTBUS_ADHOC_TMPDIR
    _dtbus_scope=$_DTBUS_ADHOC_TMPDIR
  fi
}

# Reads the first line of FILE into the variable VAR (empty when FILE is missing); no fork.
_dtbus_read() {
  local -n _dtbus_read_out=$1
  _dtbus_read_out=
  [[ -r $2 ]] && IFS= read -r _dtbus_read_out <"$2"
  return 0
}

_dtbus_fail() {
  printf '%s\n' "$@" >&2
  return 1
}

# _dtbus_deadline SECONDS — sets _dtbus_dl to now + SECONDS (decimals allowed) in microseconds.
_dtbus_deadline() {
  local frac now=${EPOCHREALTIME/[.,]/}
  [[ $1 =~ ^([0-9]*)([.,]([0-9]*))?$ && -n $1 ]] ||
    _dtbus_fail "not a timeout in seconds: '$1'" || return 1
  frac=${BASH_REMATCH[3]}000000
  _dtbus_dl=$((now + 10#${BASH_REMATCH[1]:-0} * 1000000 + 10#${frac:0:6}))
}
_dtbus_past() { ((${EPOCHREALTIME/[.,]/} >= $1)); }

# True while PID exists and is not a zombie (an exited child not yet reaped still answers kill -0).
_dtbus_pid_alive() {
  local pid=$1 state
  kill -0 "$pid" 2>/dev/null || return 1
  if [[ -r /proc/$pid/stat ]]; then
    # fields: pid (comm) state ...; comm may hold spaces, so cut after the last ')'
    IFS= read -r state <"/proc/$pid/stat" 2>/dev/null || return 1
    state=${state##*) }
    [[ ${state:0:1} != Z ]]
  fi
}

# Sends SIGNAL, waits (bounded) for the pid to go; SIGKILL after TIMEOUT seconds. Reaps our own
# children so no zombie is left behind. Returns 0 once gone.
_dtbus_kill_pid() {
  local pid=$1 sig=${2:-TERM} timeout=${3:-10} i
  [[ $pid =~ ^[0-9]+$ ]] || return 0
  if _dtbus_pid_alive "$pid"; then
    kill -s "$sig" "$pid" 2>/dev/null || true
    kill -s CONT "$pid" 2>/dev/null || true # a stopped process only acts on TERM once continued
    for ((i = 0; i < timeout * 20; i++)); do
      _dtbus_pid_alive "$pid" || break
      sleep 0.05
    done
    if _dtbus_pid_alive "$pid"; then
      kill -s KILL "$pid" 2>/dev/null || true
      for ((i = 0; i < 100; i++)); do
        _dtbus_pid_alive "$pid" || break
        sleep 0.05
      done
    fi
  fi
  wait "$pid" 2>/dev/null || true
  ! _dtbus_pid_alive "$pid"
}

# pid_alive PID — true while PID runs (a zombie counts as gone).
pid_alive() { _dtbus_pid_alive "$1"; }

_dtbus_track_pid() {
  _dtbus_scope_dir
  printf '%s\n' "$1" >>"$_dtbus_scope/.dtbus-pids"
}

# --- environment -------------------------------------------------------------------------------

# Points HOME and XDG_* into the scope's tmpdir, clears every variable dtbus reads, and cds into
# an empty directory so no stray ./brokers.yaml is picked up. Call from setup (and setup_file).
dtbus_isolate_env() {
  local base var
  _dtbus_scope_dir
  base=$_dtbus_scope/env
  mkdir -p "$base/home" "$base/config" "$base/state" "$base/cache" "$base/data" "$base/cwd"
  export HOME=$base/home
  export XDG_CONFIG_HOME=$base/config XDG_STATE_HOME=$base/state
  export XDG_CACHE_HOME=$base/cache XDG_DATA_HOME=$base/data
  unset XDG_CONFIG_DIRS XDG_RUNTIME_DIR DTBUS_CONFIG NO_COLOR CLICOLOR CLICOLOR_FORCE
  for var in "${!MQTT_@}" "${!OIDC_@}"; do
    unset "$var"
  done
  # The token server is on 127.0.0.1: a developer's proxy settings must not route to it.
  unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY
  export NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost
  export TERM=dumb LC_ALL=C.UTF-8 TZ=UTC
  cd "$base/cwd" || return 1
}

# --- small utilities ---------------------------------------------------------------------------

# A free TCP port on 127.0.0.1 (never 1883).
free_port() {
  "$DTBUS_PYTHON" - <<'PY'
import socket
while True:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    if port != 1883:
        print(port)
        break
PY
}

# write_config FILE <<EOF ... EOF — the heredoc becomes FILE (parent dirs created); the secrets
# audit leaves it alone.
write_config() {
  mkdir -p "$(dirname "$1")"
  cat >"$1"
  audit_allow "$1" # an input: it may hold a password
}

# run_with_timeout SECONDS CMD... — CMD must be an executable (not a shell function); exit 124 on
# timeout, SIGKILL 5 s after the SIGTERM if it does not stop.
run_with_timeout() {
  local secs=$1
  shift
  timeout --kill-after=5 "$secs" "$@"
}

_dtbus_tail() {
  local file=$1
  echo "--- tail of $file:"
  if [[ -f $file ]]; then tail -n "${2:-30}" "$file"; else echo "(missing)"; fi
  echo "---"
}

# wait_for_file_lines FILE N [TIMEOUT=10] — until FILE has at least N lines.
wait_for_file_lines() {
  local file=$1 want=$2 timeout=${3:-10} deadline have=0
  _dtbus_deadline "$timeout" || return 1
  deadline=$_dtbus_dl
  while :; do
    if [[ -f $file ]]; then
      have=$(wc -l <"$file")
      ((have >= want)) && return 0
    fi
    if _dtbus_past "$deadline"; then
      _dtbus_fail "wait_for_file_lines: $file has $have lines, wanted $want (after ${timeout}s)" \
        "$(_dtbus_tail "$file")"
      return 1
    fi
    sleep 0.05
  done
}

# wait_for_line FILE REGEX [TIMEOUT=10] — until a line of FILE matches the extended REGEX.
wait_for_line() {
  local file=$1 regex=$2 timeout=${3:-10} deadline
  _dtbus_deadline "$timeout" || return 1
  deadline=$_dtbus_dl
  while :; do
    [[ -f $file ]] && grep -Eq -- "$regex" "$file" && return 0
    if _dtbus_past "$deadline"; then
      _dtbus_fail "wait_for_line: no line of $file matches /$regex/ (after ${timeout}s)" \
        "$(_dtbus_tail "$file")"
      return 1
    fi
    sleep 0.05
  done
}

# wait_until TIMEOUT CMD... — until CMD (a command or function) succeeds.
wait_until() {
  local timeout=$1 deadline
  shift
  _dtbus_deadline "$timeout" || return 1
  deadline=$_dtbus_dl
  until "$@"; do
    if _dtbus_past "$deadline"; then
      _dtbus_fail "wait_until: '$*' still failing after ${timeout}s"
      return 1
    fi
    sleep 0.05
  done
}

# --- background processes ----------------------------------------------------------------------

# bg_start VAR CMD... — runs CMD (a command or shell function) in the background with fd 3 closed
# and stdin from /dev/null; sets VAR to its pid, VAR_OUT / VAR_ERR to the files holding its stdout
# and stderr. A small wrapper records its exit status for bg_wait. Tracked for cleanup_all.
bg_start() {
  local var=$1 dir base pid="" wrapper deadline
  shift
  [[ $var =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || _dtbus_fail "bg_start: bad variable name '$var'" || return 1
  (($#)) || _dtbus_fail "bg_start: no command" || return 1
  _dtbus_scope_dir
  dir=$_dtbus_scope/bg
  _dtbus_rc_dir
  mkdir -p "$dir" "$_dtbus_rcdir"
  base=$dir/$var.$SRANDOM
  (
    trap - ERR EXIT DEBUG RETURN
    set +eET
    "$@" </dev/null >"$base.out" 2>"$base.err" &
    child=$!
    printf '%s\n' "$child" >"$base.pid"
    rc=0
    wait "$child" || rc=$?
    printf '%s\n' "$rc" >"$_dtbus_rcdir/$child"
  ) 3>&- </dev/null >/dev/null 2>&1 &
  wrapper=$!
  _dtbus_deadline "$DTBUS_E2E_START_TIMEOUT" || return 1
  deadline=$_dtbus_dl
  until [[ -r $base.pid ]] && IFS= read -r pid <"$base.pid"; do # read fails on a partial line
    ! _dtbus_past "$deadline" || _dtbus_fail "bg_start: '$*' did not start" || return 1
    sleep 0.01
  done
  _dtbus_track_pid "$pid"
  _dtbus_track_pid "$wrapper"
  printf '%s\n' "$wrapper" >"$_dtbus_rcdir/$pid.wrapper" # bg_wait waits for its status file
  printf -v "$var" '%s' "$pid"
  printf -v "${var}_OUT" '%s' "$base.out"
  printf -v "${var}_ERR" '%s' "$base.err"
  export "${var?}" "${var}_OUT" "${var}_ERR"
}

# Sets _dtbus_rcdir: where bg_start wrappers leave exit statuses (file-wide, so a process started in
# setup_file can be waited for in a test).
_dtbus_rc_dir() {
  _dtbus_scope_dir
  _dtbus_rcdir=${BATS_FILE_TMPDIR:-$_dtbus_scope}/.dtbus-bg-rc
}

# A pid given directly or through the name of the variable bg_start filled -> _dtbus_rpid.
_dtbus_resolve_pid() {
  if [[ $1 =~ ^[0-9]+$ ]]; then
    _dtbus_rpid=$1
  elif [[ $1 =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]]; then
    _dtbus_rpid=${!1:-}
  else
    _dtbus_rpid=
  fi
}

# bg_stop VAR|PID [SIGNAL=TERM] — signal, wait (bounded, SIGKILL fallback).
bg_stop() {
  local pid
  _dtbus_resolve_pid "$1"
  pid=$_dtbus_rpid
  [[ -n $pid ]] || return 0
  _dtbus_kill_pid "$pid" "${2:-TERM}" 10
}

# bg_wait VAR|PID [TIMEOUT=10] — waits (bounded) for a bg_start process to exit and returns its
# exit status (128+N when killed by signal N). On timeout: prints its stderr tail, kills it,
# returns 124. Works under `run` and across setup_file/test.
bg_wait() {
  local pid timeout=${2:-10} deadline name=$1 err rc="" wrapper
  _dtbus_resolve_pid "$1"
  pid=$_dtbus_rpid
  [[ -n $pid ]] || _dtbus_fail "bg_wait: no pid in '$1'" || return 1
  _dtbus_rc_dir
  _dtbus_deadline "$timeout" || return 1
  deadline=$_dtbus_dl
  until [[ -r $_dtbus_rcdir/$pid ]] && IFS= read -r rc <"$_dtbus_rcdir/$pid"; do
    # Gone without a status file: while its bg_start wrapper lives, the status is on its way
    # (a loaded machine can take far longer than a moment to run the wrapper: wait for it).
    _dtbus_read wrapper "$_dtbus_rcdir/$pid.wrapper"
    if ! _dtbus_pid_alive "$pid" && ! { [[ -n $wrapper ]] && _dtbus_pid_alive "$wrapper"; }; then
      # not started by bg_start, or its wrapper is gone (it wrote the status before leaving)
      [[ -n $wrapper ]] || sleep 0.05
      [[ -r $_dtbus_rcdir/$pid ]] && IFS= read -r rc <"$_dtbus_rcdir/$pid" && break
      rc=0
      wait "$pid" 2>/dev/null || rc=$?
      ((rc != 127)) || rc=0 # not our child: status unknown
      break
    fi
    if _dtbus_past "$deadline"; then
      err=${name}_ERR
      _dtbus_fail "bg_wait: pid $pid ($name) still running after ${timeout}s" \
        "$(_dtbus_tail "${!err:-/dev/null}")"
      _dtbus_kill_pid "$pid" TERM 5
      return 124
    fi
    sleep 0.05
  done
  return "$rc"
}

# --- TLS ---------------------------------------------------------------------------------------

# tls_make_certs DIR — EC P-256, valid 30 days: ca.crt/ca.key; server.crt/server.key (CN=localhost,
# SAN DNS:localhost,IP:127.0.0.1, serverAuth) and client.crt/client.key (CN=alice, clientAuth)
# signed by it; an unrelated other-ca.crt/.key and other-client.crt/.key (CN=mallory) signed by
# that. Idempotent, safe when several tests or files call it at once (flock).
tls_make_certs() {
  local dir=${1:?tls_make_certs DIR} rc=0
  [[ -f $dir/.complete ]] && return 0
  mkdir -p "$dir"
  (
    flock 9
    [[ -f $dir/.complete ]] && exit 0
    work=$(mktemp -d "$dir/.work.XXXXXX") && cd "$work" || exit 1
    # a config without default extensions: each certificate gets exactly the -addext ones
    printf '[req]\ndistinguished_name = dn\n[dn]\n' >min.cnf
    _tls_req() { # NAME CN [openssl req args...]
      local name=$1 cn=$2
      shift 2
      openssl req -config min.cnf -x509 -days 30 -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
        -nodes -keyout "$name.key" -out "$name.crt" -subj "/CN=$cn" \
        -addext subjectKeyIdentifier=hash "$@" 2>"$name.err" || { cat "$name.err" >&2; return 1; }
    }
    local ca=(-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign")
    local leaf=(-addext "basicConstraints=critical,CA:FALSE" -addext "keyUsage=critical,digitalSignature"
      -addext authorityKeyIdentifier=keyid)
    _tls_req ca "dtbus test CA" "${ca[@]}" &&
      _tls_req other-ca "unrelated test CA" "${ca[@]}" &&
      _tls_req server localhost -CA ca.crt -CAkey ca.key "${leaf[@]}" \
        -addext extendedKeyUsage=serverAuth -addext subjectAltName=DNS:localhost,IP:127.0.0.1 &&
      _tls_req client alice -CA ca.crt -CAkey ca.key "${leaf[@]}" -addext extendedKeyUsage=clientAuth &&
      _tls_req other-client mallory -CA other-ca.crt -CAkey other-ca.key "${leaf[@]}" \
        -addext extendedKeyUsage=clientAuth || exit 1
    chmod 600 ./*.key
    mv ./*.crt ./*.key "$dir/" || exit 1
    cd "$dir" && rm -rf "$work"
    touch "$dir/.complete"
  ) 9>"$dir/.lock" || rc=1
  ((rc == 0)) || _dtbus_fail "tls_make_certs: openssl failed in $dir"
}

# --- brokers -----------------------------------------------------------------------------------

# NAME -> _dtbus_bkey, the NAME part of the BROKER_<NAME>_* variables.
_dtbus_broker_key() {
  _dtbus_bkey=${1^^}
  _dtbus_bkey=${_dtbus_bkey//[^A-Z0-9]/_}
}

# NAME -> _dtbus_bdir, the broker's directory (from BROKER_<NAME>_DIR).
_dtbus_broker_dir() {
  local var
  _dtbus_broker_key "$1"
  var=BROKER_${_dtbus_bkey}_DIR
  _dtbus_bdir=${!var:-}
  [[ -n $_dtbus_bdir && -d $_dtbus_bdir ]] || _dtbus_fail "broker '$1' was never started"
}

_dtbus_broker_pid() { # DIR VAR
  _dtbus_read "$2" "$1/pid"
}

# Starts mosquitto on DIR/mosquitto.conf and waits until it listens on PORT. Returns 0 ready,
# 2 when the port was taken (bind failed), 1 on any other failure.
_dtbus_broker_launch() {
  local dir=$1 port=$2 pid deadline
  : >"$dir/stdout.log"
  mosquitto -c "$dir/mosquitto.conf" </dev/null >>"$dir/stdout.log" 2>&1 3>&- &
  pid=$!
  printf '%s\n' "$pid" >"$dir/pid"
  _dtbus_deadline "$DTBUS_E2E_START_TIMEOUT" || return 1
  deadline=$_dtbus_dl
  while :; do
    if ! _dtbus_pid_alive "$pid"; then
      wait "$pid" 2>/dev/null || true
      rm -f "$dir/pid"
      if grep -qsi 'address already in use' "$dir/mosquitto.log" "$dir/stdout.log"; then
        return 2
      fi
      _dtbus_fail "mosquitto ($dir) exited during start-up" "$(_dtbus_tail "$dir/stdout.log")" \
        "$(_dtbus_tail "$dir/mosquitto.log")"
      return 1
    fi
    # "running" is logged once every listener is open; the connect proves it is ours and up.
    if grep -qs 'mosquitto version .* running' "$dir/mosquitto.log" &&
      (exec 9<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      return 0
    fi
    if _dtbus_past "$deadline"; then
      _dtbus_kill_pid "$pid" KILL 2
      rm -f "$dir/pid"
      _dtbus_fail "mosquitto ($dir) not ready on port $port after ${DTBUS_E2E_START_TIMEOUT}s" \
        "$(_dtbus_tail "$dir/mosquitto.log")"
      return 1
    fi
    sleep 0.05
  done
}

# broker_start NAME [--tls] [--require-cert] [--password] [--extra 'mosquitto.conf lines']
# Fresh mosquitto in <scope>/broker-NAME/ (wiped first) on a free 127.0.0.1 port, persistence on,
# max_queued_messages 1000000. --tls makes that one listener TLS (certs by tls_make_certs);
# --require-cert also demands a client certificate; --password disables anonymous access and
# creates user alice with a random password. --extra lines are appended after the listener
# (so listener options apply to it; add another `listener` line for a second one).
# Exports BROKER_<NAME>_{PORT,PID,DIR,LOG,CONF}, _PASSWORD and _USER with --password,
# _CAFILE/_CERTDIR/_CLIENT_CERT/_CLIENT_KEY/_OTHER_CAFILE with --tls, and BROKER_PORT for the
# first broker. Set DTBUS_BROKER_LOG_ALL=1 for `log_type all`.
broker_start() {
  local name=${1:?broker_start NAME [--tls] [--require-cert] [--password] [--extra LINES]}
  shift
  local tls=0 password=0 require_cert=0 extra=""
  while (($#)); do
    case $1 in
      --tls) tls=1 ;;
      --require-cert) tls=1 require_cert=1 ;;
      --password) password=1 ;;
      --extra)
        extra+=${2?--extra needs an argument}$'\n'
        shift
        ;;
      --extra=*) extra+=${1#--extra=}$'\n' ;;
      *) _dtbus_fail "broker_start: unknown option '$1'" || return 1 ;;
    esac
    shift
  done
  local key dir pid old_dir var
  _dtbus_broker_key "$name"
  key=$_dtbus_bkey
  var=BROKER_${key}_DIR
  old_dir=${!var:-}
  if [[ -n $old_dir ]]; then
    _dtbus_broker_pid "$old_dir" pid
    if [[ -n $pid ]] && _dtbus_pid_alive "$pid"; then
      _dtbus_fail "broker_start: broker '$name' is already running (pid $pid)"
      return 1
    fi
  fi
  _dtbus_scope_dir
  dir=$_dtbus_scope/broker-$name
  rm -rf "$dir"
  mkdir -p "$dir/data"

  local certdir="" pwfile="" pass="" user=alice
  if ((tls)); then
    # one set per bats run (suite), shared by its files and tests
    certdir=${BATS_SUITE_TMPDIR:-$_dtbus_scope}/dtbus-certs
    tls_make_certs "$certdir" || return 1
  fi
  if ((password)); then
    printf -v pass 'pw%08x%08x%08x' "$SRANDOM" "$SRANDOM" "$SRANDOM"
    pwfile=$dir/passwd
    mosquitto_passwd -b -c "$pwfile" "$user" "$pass" >/dev/null ||
      _dtbus_fail "broker_start: mosquitto_passwd failed" || return 1
  fi

  local attempt port rc
  for attempt in 1 2 3 4 5; do
    port=$(free_port)
    {
      echo "# dtbus e2e broker '$name' (generated)"
      ((EUID == 0)) && echo "user root" # do not drop to 'mosquitto': it can't read our dirs
      echo "persistence true"
      echo "persistence_location $dir/data/"
      echo "persistence_file mosquitto.db"
      echo "max_queued_messages 1000000"
      echo "log_dest file $dir/mosquitto.log"
      if [[ ${DTBUS_BROKER_LOG_ALL:-0} == 1 ]]; then
        echo "log_type all"
      else
        printf 'log_type %s\n' error warning notice information subscribe unsubscribe
      fi
      echo "log_timestamp_format %H:%M:%S"
      echo "connection_messages true"
      if ((password)); then
        echo "allow_anonymous false"
        echo "password_file $pwfile"
      else
        echo "allow_anonymous true"
      fi
      echo "listener $port 127.0.0.1"
      if ((tls)); then
        echo "cafile $certdir/ca.crt"
        echo "certfile $certdir/server.crt"
        echo "keyfile $certdir/server.key"
        if ((require_cert)); then
          echo "require_certificate true"
        else
          echo "require_certificate false"
        fi
      fi
      printf '%s' "$extra"
    } >"$dir/mosquitto.conf"
    : >"$dir/mosquitto.log"
    rc=0
    _dtbus_broker_launch "$dir" "$port" || rc=$?
    ((rc == 2)) && continue # lost a race for the port: pick another
    ((rc == 0)) || return 1
    break
  done
  ((rc == 0)) || _dtbus_fail "broker_start: no free port after $attempt attempts" || return 1

  printf '%s\n' "$name" >>"$_dtbus_scope/.dtbus-brokers"
  printf '%s\n' "$port" >"$dir/port"
  _dtbus_broker_pid "$dir" pid
  export "BROKER_${key}_PORT=$port" "BROKER_${key}_PID=$pid" "BROKER_${key}_DIR=$dir"
  export "BROKER_${key}_LOG=$dir/mosquitto.log" "BROKER_${key}_CONF=$dir/mosquitto.conf"
  if ((password)); then
    export "BROKER_${key}_USER=$user" "BROKER_${key}_PASSWORD=$pass"
  fi
  if ((tls)); then
    export "BROKER_${key}_CAFILE=$certdir/ca.crt" "BROKER_${key}_CERTDIR=$certdir"
    export "BROKER_${key}_CLIENT_CERT=$certdir/client.crt"
    export "BROKER_${key}_CLIENT_KEY=$certdir/client.key"
    export "BROKER_${key}_OTHER_CAFILE=$certdir/other-ca.crt"
  fi
  [[ -n ${BROKER_PORT:-} ]] || export BROKER_PORT=$port
  return 0
}

# broker_stop NAME [--kill] — SIGTERM (mosquitto saves its persistence db), bounded wait, SIGKILL
# fallback. --kill: SIGKILL at once, like a crash (nothing saved since the last autosave).
broker_stop() {
  local name=${1:?broker_stop NAME [--kill]} dir pid sig=TERM
  [[ ${2:-} == --kill ]] && sig=KILL
  _dtbus_broker_dir "$name" || return 1
  dir=$_dtbus_bdir
  _dtbus_broker_pid "$dir" pid
  [[ -n $pid ]] || return 0
  _dtbus_kill_pid "$pid" "$sig" 10 || _dtbus_fail "broker_stop: pid $pid of '$name' survived" || return 1
  rm -f "$dir/pid"
}

# broker_restart NAME — stop, then start again on the same port, config and persistence.
broker_restart() {
  local name=${1:?broker_restart NAME} dir port rc pid
  _dtbus_broker_dir "$name" || return 1
  dir=$_dtbus_bdir
  _dtbus_read port "$dir/port"
  broker_stop "$name" || return 1
  rc=0
  _dtbus_broker_launch "$dir" "$port" || rc=$?
  ((rc == 2)) && _dtbus_fail "broker_restart: port $port of '$name' is taken" "$(_dtbus_tail "$dir/mosquitto.log")"
  ((rc == 0)) || return 1
  _dtbus_broker_key "$name"
  _dtbus_broker_pid "$dir" pid
  export "BROKER_${_dtbus_bkey}_PID=$pid"
}

# broker_pause NAME / broker_resume NAME — SIGSTOP / SIGCONT (a hung broker: TCP accepts, no MQTT).
broker_pause() {
  local pid
  _dtbus_broker_dir "${1:?broker_pause NAME}" || return 1
  _dtbus_broker_pid "$_dtbus_bdir" pid
  [[ -n $pid ]] || _dtbus_fail "broker '$1' is not running" || return 1
  kill -STOP "$pid"
}
broker_resume() {
  local pid
  _dtbus_broker_dir "${1:?broker_resume NAME}" || return 1
  _dtbus_broker_pid "$_dtbus_bdir" pid
  [[ -n $pid ]] || _dtbus_fail "broker '$1' is not running" || return 1
  kill -CONT "$pid"
}

# broker_log NAME — prints the broker's log file.
broker_log() {
  _dtbus_broker_dir "${1:?broker_log NAME}" || return 1
  cat "$_dtbus_bdir/mosquitto.log"
}

# broker_wait_subscribed NAME TOPIC [COUNT=1] [TIMEOUT=10] — until the broker's log shows COUNT
# subscriptions to exactly TOPIC (any client, any QoS): subscribe first, then publish.
broker_wait_subscribed() {
  local name=${1:?broker_wait_subscribed NAME TOPIC [COUNT] [TIMEOUT]} topic=${2:?TOPIC} want=${3:-1}
  local timeout=${4:-10} re deadline have=0
  _dtbus_broker_dir "$name" || return 1
  re=$(printf '%s' "$topic" | sed 's/[][\.^$*+?(){}|]/\\&/g')
  re="^[0-9:]+: [^ ]+ [0-2] $re\$"
  _dtbus_deadline "$timeout" || return 1
  deadline=$_dtbus_dl
  while :; do
    have=$(grep -cE -- "$re" "$_dtbus_bdir/mosquitto.log") || true
    ((have >= want)) && return 0
    if _dtbus_past "$deadline"; then
      _dtbus_fail "broker_wait_subscribed: $have subscription(s) to '$topic' on '$name', wanted $want" \
        "$(_dtbus_tail "$_dtbus_bdir/mosquitto.log")"
      return 1
    fi
    sleep 0.05
  done
}

# broker_stop_all — stops every broker started in this scope (teardown_file: the file's brokers).
broker_stop_all() {
  local reg name rc=0
  _dtbus_scope_dir
  reg=$_dtbus_scope/.dtbus-brokers
  [[ -f $reg ]] || return 0
  while IFS= read -r name; do
    [[ -n $name ]] || continue
    broker_stop "$name" || rc=1
  done < <(sort -u "$reg")
  rm -f "$reg"
  return "$rc"
}

# --- OAuth2 token server -----------------------------------------------------------------------

# token_server_start [token_server.py args] — starts tests/fixtures/token_server.py on a free
# port, waits for READY. Exports TOKEN_SERVER_URL (http://127.0.0.1:PORT), _PORT, _PID, _ISSUER,
# _TOKEN_URL, _DISCOVERY_URL, _STATE (the --state-file), _CLIENT_ID, _CLIENT_SECRET, _LOG.
token_server_start() {
  local dir pid port="" issuer_path=/realms/test client_id=dtbus secret=dtbus-secret deadline a
  local -a args=("$@")
  for ((a = 0; a < ${#args[@]}; a++)); do
    case ${args[a]} in
      --issuer-path) issuer_path=${args[a + 1]:-} ;;
      --issuer-path=*) issuer_path=${args[a]#*=} ;;
      --client-id) client_id=${args[a + 1]:-} ;;
      --client-id=*) client_id=${args[a]#*=} ;;
      --client-secret) secret=${args[a + 1]:-} ;;
      --client-secret=*) secret=${args[a]#*=} ;;
    esac
  done
  issuer_path=${issuer_path#/}
  issuer_path=${issuer_path%/}
  [[ -n $issuer_path ]] && issuer_path=/$issuer_path
  _dtbus_scope_dir
  dir=$_dtbus_scope/token-server
  # One per scope: a test may start its own while the file's keeps running (it shadows the
  # TOKEN_SERVER_* variables for that test only).
  if [[ ${TOKEN_SERVER_STATE:-} == "$dir/state.json" ]] && _dtbus_pid_alive "${TOKEN_SERVER_PID:-x}"; then
    _dtbus_fail "token_server_start: already running (pid $TOKEN_SERVER_PID)"
    return 1
  fi
  rm -rf "$dir"
  mkdir -p "$dir"
  "$DTBUS_PYTHON" -u "$DTBUS_FIXTURES_DIR/token_server.py" --port 0 --state-file "$dir/state.json" "$@" \
    </dev/null >"$dir/stdout.log" 2>"$dir/server.log" 3>&- &
  pid=$!
  _dtbus_track_pid "$pid"
  _dtbus_deadline "$DTBUS_E2E_START_TIMEOUT" || return 1
  deadline=$_dtbus_dl
  local ready
  while _dtbus_read ready "$dir/stdout.log" && [[ ! $ready =~ ^READY\ ([0-9]+)$ ]]; do
    if ! _dtbus_pid_alive "$pid" || _dtbus_past "$deadline"; then
      _dtbus_kill_pid "$pid" KILL 2
      _dtbus_fail "token_server_start: not ready" "$(_dtbus_tail "$dir/server.log")"
      return 1
    fi
    sleep 0.05
  done
  port=${BASH_REMATCH[1]}
  export TOKEN_SERVER_PID=$pid TOKEN_SERVER_PORT=$port TOKEN_SERVER_URL=http://127.0.0.1:$port
  export TOKEN_SERVER_ISSUER=$TOKEN_SERVER_URL$issuer_path
  export TOKEN_SERVER_TOKEN_URL=$TOKEN_SERVER_ISSUER/protocol/openid-connect/token
  export TOKEN_SERVER_DISCOVERY_URL=$TOKEN_SERVER_ISSUER/.well-known/openid-configuration
  export TOKEN_SERVER_STATE=$dir/state.json TOKEN_SERVER_LOG=$dir/server.log
  export TOKEN_SERVER_CLIENT_ID=$client_id TOKEN_SERVER_CLIENT_SECRET=$secret
}

# token_server_stop — stops the token server started by token_server_start.
token_server_stop() {
  [[ -n ${TOKEN_SERVER_PID:-} ]] || return 0
  _dtbus_kill_pid "$TOKEN_SERVER_PID" TERM 5
  unset TOKEN_SERVER_PID
}

# _dtbus_local_http METHOD URL [JSON_BODY] — tiny HTTP/1.1 client on bash's /dev/tcp (no fork) for
# the token server's control endpoints. Sets _dtbus_http_status and _dtbus_http_body.
_dtbus_local_http() {
  local method=$1 url=$2 body=${3:-} fd line
  _dtbus_http_status="" _dtbus_http_body=""
  [[ $url =~ ^http://([^/:]+):([0-9]+)(/.*)?$ ]] || _dtbus_fail "bad URL '$url'" || return 1
  local host=${BASH_REMATCH[1]} port=${BASH_REMATCH[2]} path=${BASH_REMATCH[3]:-/}
  exec {fd}<>"/dev/tcp/$host/$port" || return 1
  printf '%s %s HTTP/1.1\r\nHost: %s:%s\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s' \
    "$method" "$path" "$host" "$port" "${#body}" "$body" >&"$fd"
  IFS= read -r -t 10 line <&"$fd"
  [[ $line =~ ^HTTP/[0-9.]+\ ([0-9]{3}) ]] && _dtbus_http_status=${BASH_REMATCH[1]}
  while IFS= read -r -t 10 line <&"$fd" && [[ $line != $'\r' && -n $line ]]; do :; done
  IFS= read -r -d '' -t 10 _dtbus_http_body <&"$fd" || true # until EOF (Connection: close)
  exec {fd}>&-
  [[ $_dtbus_http_status == 2?? ]] ||
    _dtbus_fail "$method $url: HTTP ${_dtbus_http_status:-?} $_dtbus_http_body"
}

# token_server_mode MODE [DELAY] — ok|500|slow|malformed|no_token, at run time.
token_server_mode() {
  local mode=${1:?token_server_mode ok|500|slow|malformed|no_token [DELAY]} body
  body="{\"mode\": \"$mode\""
  [[ -n ${2:-} ]] && body+=", \"delay\": $2"
  _dtbus_local_http POST "${TOKEN_SERVER_URL:?no token server}/_mode" "$body}" >/dev/null
}

# token_server_stats [KEY] — the /_stats JSON, or one value of it (e.g. token_requests; null → "").
token_server_stats() {
  local key=${1:-} re
  _dtbus_local_http GET "${TOKEN_SERVER_URL:?no token server}/_stats" || return 1
  if [[ -z $key ]]; then
    printf '%s\n' "$_dtbus_http_body"
    return 0
  fi
  re="\"$key\": (\"([^\"]*)\"|([^,}]*))"
  [[ $_dtbus_http_body =~ $re ]] || _dtbus_fail "token_server_stats: no '$key'" || return 1
  if [[ ${BASH_REMATCH[1]} == \"* ]]; then
    printf '%s\n' "${BASH_REMATCH[2]}"
  elif [[ ${BASH_REMATCH[3]} != null ]]; then
    printf '%s\n' "${BASH_REMATCH[3]}"
  else
    echo
  fi
}

# http_request [-u USER:PASS] METHOD URL [NAME=VALUE...] — python3 urllib (no curl needed).
# NAME=VALUE pairs are sent as an application/x-www-form-urlencoded body; -u sends
# client_secret_basic (each part form-urlencoded first, RFC 6749 2.3.1). Prints the HTTP status on
# the first line and the body after it; exit 0 for any HTTP status, 1 when the request failed.
http_request() {
  "$DTBUS_PYTHON" - "$@" <<'PY'
import base64, sys, urllib.error, urllib.parse, urllib.request
args = sys.argv[1:]
user = None
if args and args[0] == "-u":
    user, args = args[1], args[2:]
method, url, pairs = args[0], args[1], args[2:]
headers = {}
data = None
if pairs:
    data = urllib.parse.urlencode([tuple(p.split("=", 1)) for p in pairs]).encode()
    headers["Content-Type"] = "application/x-www-form-urlencoded"
if user is not None:
    uid, _, secret = user.partition(":")
    raw = urllib.parse.quote_plus(uid) + ":" + urllib.parse.quote_plus(secret)
    headers["Authorization"] = "Basic " + base64.b64encode(raw.encode()).decode()
req = urllib.request.Request(url, data=data, method=method, headers=headers)
try:
    with urllib.request.urlopen(req, timeout=10) as r:
        status, body = r.status, r.read()
except urllib.error.HTTPError as e:
    status, body = e.code, e.read()
except OSError as e:
    print("http_request: %s" % e, file=sys.stderr)
    sys.exit(1)
print(status)
sys.stdout.write(body.decode("utf-8", "replace") + "\n")
PY
}

# === secrets audit ==============================================================================
# (The secrets/docs block: audit_secret, audit_allow, audit_allow_tokens, audit_allow_output,
# secrets_audit_dir.)
#
# cleanup_all ends with secrets_audit_dir: once the scope's processes are stopped (their logs are
# complete), every file under the scope's tmpdir and the isolated HOME/XDG dirs, and in a test the
# last `run` output ($output, $stderr), is searched for every secret the harness knows:
#   BROKER_<NAME>_PASSWORD (broker_start --password), TOKEN_SERVER_CLIENT_SECRET, MQTT_PASSWORD
#   and OIDC_CLIENT_SECRET when exported, every access token a token server of this file or test
#   issued (its issued-tokens file), and what the test registered with `audit_secret NAME VALUE`.
# A hit fails the test naming the file and the secret's NAME, never its value. Not searched: files
# the test wrote as input (write_config, `audit_allow FILE|DIR`). Access tokens are expected in a
# token cache (.../dtbus/tokens/...), in files given to `audit_allow_tokens`, and in the output of
# `dtbus token` (without --decode) and http_request, never in their $stderr; `audit_allow_output`
# exempts the current $output/$stderr entirely. Secrets shorter than 8 characters are skipped
# (they would match by chance). DTBUS_SECRETS_AUDIT=0 disables it.

_dtbus_audit_min_length=8

# Sets _dtbus_adir, where the current scope keeps its registered secrets and allowed files.
_dtbus_audit_dir() {
  _dtbus_scope_dir
  _dtbus_adir=$_dtbus_scope/.dtbus-audit
}

# audit_secret NAME VALUE — VALUE must appear in no output or file of this scope.
audit_secret() {
  local name=${1:?audit_secret NAME VALUE} value=${2?audit_secret NAME VALUE}
  [[ $name != *$'\t'* && $value != *$'\n'* ]] ||
    _dtbus_fail "audit_secret: no tab in NAME, no newline in VALUE" || return 1
  _dtbus_audit_dir
  mkdir -p "$_dtbus_adir"
  printf '%s\t%s\n' "$name" "$value" >>"$_dtbus_adir/secrets"
}

# _dtbus_audit_list LIST FILE|DIR... — appends absolute paths to the audit's LIST file.
_dtbus_audit_list() {
  local list=$1 f
  shift
  _dtbus_audit_dir
  mkdir -p "$_dtbus_adir"
  for f in "$@"; do
    [[ $f == /* ]] || f=$PWD/$f
    printf '%s\n' "$f" >>"$_dtbus_adir/$list"
  done
}

# audit_allow FILE|DIR... — inputs the test wrote itself (a config or password file): not searched.
audit_allow() { _dtbus_audit_list allow "$@"; }

# audit_allow_tokens FILE|DIR... — may hold access tokens (e.g. the stdout of a background
# `dtbus token`), but no other secret.
audit_allow_tokens() { _dtbus_audit_list allow-tokens "$@"; }

# audit_allow_output — the current $output/$stderr may hold secrets (e.g. the test printed a file
# it wrote); a later `run` is audited again.
audit_allow_output() {
  _dtbus_audit_ok_output=${output-}
  _dtbus_audit_ok_stderr=${stderr-}
}

# Fills _dtbus_audit_names / _values / _kinds (token | secret) / _patterns (what grep looks for).
_dtbus_audit_add() { # NAME VALUE KIND
  local value=$2 pattern=$2 v
  ((${#value} >= _dtbus_audit_min_length)) || return 0
  for v in "${_dtbus_audit_values[@]}"; do [[ $v == "$value" ]] && return 0; done
  # A JWT is a credential through its signature; a leak of only the claims is not one.
  if [[ $3 == token && $value =~ ^[^.]+\.[^.]+\.([^.]{16,})$ ]]; then pattern=${BASH_REMATCH[1]}; fi
  _dtbus_audit_names+=("$1")
  _dtbus_audit_values+=("$value")
  _dtbus_audit_kinds+=("$3")
  _dtbus_audit_patterns+=("$pattern")
}

_dtbus_audit_collect() {
  local var dir line name value n where
  _dtbus_audit_names=() _dtbus_audit_values=() _dtbus_audit_kinds=() _dtbus_audit_patterns=()
  for var in "${!BROKER_@}"; do
    [[ $var == BROKER_*_PASSWORD ]] && _dtbus_audit_add "$var" "${!var}" secret
  done
  for var in TOKEN_SERVER_CLIENT_SECRET OIDC_CLIENT_SECRET MQTT_PASSWORD; do
    [[ -n ${!var:-} ]] && _dtbus_audit_add "$var" "${!var}" secret
  done
  for dir in ${BATS_FILE_TMPDIR:+"$BATS_FILE_TMPDIR"} ${BATS_TEST_TMPDIR:+"$BATS_TEST_TMPDIR"}; do
    where="test"
    [[ $dir == "${BATS_FILE_TMPDIR:-}" ]] && where="file"
    if [[ -f $dir/.dtbus-audit/secrets ]]; then
      while IFS=$'\t' read -r name value; do
        _dtbus_audit_add "$name" "$value" secret
      done <"$dir/.dtbus-audit/secrets"
    fi
    if [[ -f $dir/token-server/issued-tokens ]]; then
      n=0
      while IFS= read -r line; do
        n=$((n + 1))
        _dtbus_audit_add "access token #$n of the $where's token server" "$line" token
      done <"$dir/token-server/issued-tokens"
    fi
  done
}

# True when FILE is on the LIST (allow | allow-tokens) of either scope, itself or a directory
# above it.
_dtbus_audit_allowed() {
  local file=$1 list=${2:-allow} dir entry
  for dir in ${BATS_FILE_TMPDIR:+"$BATS_FILE_TMPDIR"} ${BATS_TEST_TMPDIR:+"$BATS_TEST_TMPDIR"}; do
    [[ -f $dir/.dtbus-audit/$list ]] || continue
    while IFS= read -r entry; do
      [[ $file -ef $entry || ($entry == */ && $file == "$entry"*) || ($file == "$entry"/*) ]] && return 0
    done <"$dir/.dtbus-audit/$list"
  done
  return 1
}

# TEXT with every known secret replaced by <NAME> -> _dtbus_redacted.
_dtbus_audit_redact() {
  local i
  _dtbus_redacted=$1
  for i in "${!_dtbus_audit_values[@]}"; do
    _dtbus_redacted=${_dtbus_redacted//"${_dtbus_audit_values[i]}"/<${_dtbus_audit_names[i]}>}
    _dtbus_redacted=${_dtbus_redacted//"${_dtbus_audit_patterns[i]}"/<${_dtbus_audit_names[i]}>}
  done
}

# True when the last `run` was `dtbus token` / `dtbus-token` (not --decode) or http_request: an
# access token is what they print.
_dtbus_audit_prints_tokens() {
  local -a words
  read -ra words <<<"${BATS_RUN_COMMAND:-}"
  ((${#words[@]})) || return 1
  [[ " ${words[*]} " != *" --decode "* ]] || return 1
  case ${words[0]##*/} in
    http_request | dtbus-token) return 0 ;;
    dtbus) [[ " ${words[*]:1} " == *" token "* ]] ;;
    *) return 1 ;;
  esac
}

# Reports (to stderr) which secrets TEXT holds; WHAT names where it was found. Returns 1 on a hit.
_dtbus_audit_text() { # WHAT TEXT ALLOW_TOKENS
  local i rc=0
  for i in "${!_dtbus_audit_patterns[@]}"; do
    [[ $3 == 1 && ${_dtbus_audit_kinds[i]} == token ]] && continue
    if [[ $2 == *"${_dtbus_audit_patterns[i]}"* ]]; then
      printf 'secrets audit: %s holds %s\n' "$1" "${_dtbus_audit_names[i]}" >&2
      rc=1
    fi
  done
  return "$rc"
}

# secrets_audit_dir [DIR...] — the audit described above over DIRs (default: the current scope's
# tmpdir plus the isolated HOME/XDG dirs outside it) and, in a test, the last `run` output.
# shellcheck disable=SC2120 # DIRs are optional
secrets_audit_dir() {
  [[ ${DTBUS_SECRETS_AUDIT:-1} != 0 ]] || return 0
  local -a dirs=("$@") hits
  local d file i rc=0 cache_file allow_tokens=0
  _dtbus_scope_dir
  if ((${#dirs[@]} == 0)); then
    dirs=("$_dtbus_scope")
    # A test may move XDG_STATE_HOME elsewhere (e.g. /dev/shm); only when HOME is isolated.
    if [[ -n ${BATS_RUN_TMPDIR:-} && ${HOME:-} == "$BATS_RUN_TMPDIR"/* ]]; then
      for d in "${XDG_CONFIG_HOME:-}" "${XDG_STATE_HOME:-}" "${XDG_CACHE_HOME:-}" "${XDG_DATA_HOME:-}"; do
        [[ -n $d && -d $d && $d != "$_dtbus_scope"/* ]] && dirs+=("$d")
      done
    fi
  fi
  _dtbus_audit_collect
  ((${#_dtbus_audit_patterns[@]})) || return 0

  # One grep over everything finds the files holding any secret; only those are looked at again.
  mapfile -t hits < <(grep -rlaF -D skip --exclude-dir=.dtbus-audit --exclude=issued-tokens \
    -f <(printf '%s\n' "${_dtbus_audit_patterns[@]}") -- "${dirs[@]}" 2>/dev/null | sort -u)
  for file in "${hits[@]}"; do
    if [[ -z $file ]] || _dtbus_audit_allowed "$file"; then continue; fi
    cache_file=0
    if [[ $file == */dtbus/tokens/* ]] || _dtbus_audit_allowed "$file" allow-tokens; then
      cache_file=1
    fi
    for i in "${!_dtbus_audit_patterns[@]}"; do
      ((cache_file)) && [[ ${_dtbus_audit_kinds[i]} == token ]] && continue
      if grep -qaF -- "${_dtbus_audit_patterns[i]}" "$file"; then
        printf 'secrets audit: %s holds %s\n' "$file" "${_dtbus_audit_names[i]}" >&2
        rc=1
      fi
    done
  done

  if [[ -n ${BATS_TEST_TMPDIR:-} ]]; then
    _dtbus_audit_prints_tokens && allow_tokens=1
    _dtbus_audit_redact "${BATS_RUN_COMMAND:-}"
    _dtbus_redacted=${_dtbus_redacted%%$'\n'*} # a one-line reminder of the command
    ((${#_dtbus_redacted} <= 100)) || _dtbus_redacted="${_dtbus_redacted:0:100}..."
    if [[ -n ${output-} && ${output-} != "${_dtbus_audit_ok_output-}" ]]; then
      _dtbus_audit_text "\$output of 'run $_dtbus_redacted'" "$output" "$allow_tokens" || rc=1
    fi
    if [[ -n ${stderr-} && ${stderr-} != "${_dtbus_audit_ok_stderr-}" ]]; then
      _dtbus_audit_text "\$stderr of 'run $_dtbus_redacted'" "$stderr" 0 || rc=1
    fi
  fi
  return "$rc"
}

# === end of secrets audit =======================================================================

# --- cleanup -----------------------------------------------------------------------------------

# cleanup_all — stops everything started in this scope: bg_start processes, the token server,
# brokers; then runs the secrets audit (secrets_audit_dir). Call from teardown (test scope) and
# teardown_file (file scope), and return its status: a failed audit fails the test.
cleanup_all() {
  local reg pid rc=0
  _dtbus_scope_dir
  reg=$_dtbus_scope/.dtbus-pids
  if [[ -f $reg ]]; then
    while IFS= read -r pid; do
      _dtbus_kill_pid "$pid" TERM 5 || rc=1
    done <"$reg"
    rm -f "$reg"
  fi
  broker_stop_all || rc=1
  # shellcheck disable=SC2119 # the default directories
  secrets_audit_dir || rc=1 # after the stops: every log is complete
  return "$rc"
}

# RabbitMQ and aedes beside mosquitto (rabbitmq_start, aedes_start, ...).
# shellcheck source=brokers.bash
source "$_dtbus_helpers_dir/brokers.bash"
