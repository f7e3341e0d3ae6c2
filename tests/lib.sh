# tests/lib.sh — what the shell tests share; sourced (`. "$(dirname "$0")/../lib.sh"`)
# after they set $work (their scratch directory) and $inst (their instance).
# A test still defines its own fail() (what it prints on failure differs).

# wait_for SECONDS DESCRIPTION COMMAND...: until the command succeeds; fails
# with DESCRIPTION after SECONDS (polled every 0.1 s).
wait_for() {
  local limit=$1 what=$2 t=0; shift 2
  until "$@"; do
    [ $t -ge $((limit * 10)) ] && fail "$what (waited ${limit} s)"
    sleep 0.1; t=$((t + 1))
  done
}

# A TCP port free on the loopback now.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# Stop the background `ark run` whose pid is $run ("" none): SIGINT drains,
# a second one half a second later stops it at once.
stop_run() {
  [ -n "$run" ] && kill -INT "$run" 2>/dev/null && sleep 0.5 && kill -INT "$run" 2>/dev/null
}

# Whatever is left of the instance $inst (its processes, matched by their
# --instance argument, and its segment) and the scratch directory $work.
forget_instance() {
  pkill -KILL -f -- "--instance $inst( |$)" 2>/dev/null
  rm -f "/dev/shm/ark-$inst"
  rm -rf "$work"
}
