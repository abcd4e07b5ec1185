#!/usr/bin/env bash
# Make sure a Docker daemon answers, or stop the one this script started.
#   dockerd.sh start   start Debian's dockerd in the background unless a daemon already answers
#   dockerd.sh stop    stop the daemon only if `start` started it (a marker file says so)
# Idempotent: `start` twice starts one daemon; `stop` without a marked start does nothing.
set -euo pipefail

state_dir=${DOCKERD_STATE_DIR:-/run/diabetes-dockerd}
marker="$state_dir/started-by-delivery"
pidfile="$state_dir/dockerd.pid"
log=${DOCKERD_LOG:-$state_dir/dockerd.log}

daemon_answers() { timeout 10 docker info >/dev/null 2>&1; }

start() {
  if daemon_answers; then
    echo "dockerd: a daemon already answers; using it"
    return 0
  fi
  command -v dockerd >/dev/null || { echo "dockerd: not installed (apt-get install docker.io)" >&2; exit 1; }
  mkdir -p "$state_dir"
  echo "dockerd: starting (log: $log)"
  # setsid: its own session, so it outlives the shell that started it and is stopped by pid only.
  setsid dockerd --pidfile "$pidfile" >"$log" 2>&1 </dev/null &
  touch "$marker"
  for _ in $(seq 1 60); do
    if daemon_answers; then
      echo "dockerd: ready"
      return 0
    fi
    sleep 1
  done
  echo "dockerd: no answer after 60 s; last log lines:" >&2
  tail -n 20 "$log" >&2 || true
  exit 1
}

stop() {
  if [ ! -e "$marker" ]; then
    echo "dockerd: not started by this script; leaving it alone"
    return 0
  fi
  if [ -s "$pidfile" ]; then
    pid=$(cat "$pidfile")
    if kill -0 "$pid" 2>/dev/null; then
      echo "dockerd: stopping pid $pid"
      kill -TERM "$pid"
      for _ in $(seq 1 30); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 1
      done
      if kill -0 "$pid" 2>/dev/null; then
        echo "dockerd: still running after 30 s; killing" >&2
        kill -KILL "$pid" || true
      fi
    fi
  fi
  # The default bridge dockerd made; it makes it again on its next start.
  if ip link show docker0 >/dev/null 2>&1; then
    ip link delete docker0 || true
  fi
  rm -f "$marker"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
