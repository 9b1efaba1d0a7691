#!/usr/bin/env bash
# Checks what a new user gets: clones the committed HEAD of this repository into a fresh temporary
# folder (nothing beside it), then runs the README's two commands there:
#   1. `npm install && npm start`: in the background, until the dashboard answers 200 with HTML;
#      then stops it like Ctrl-C (SIGINT to its whole process group) and checks that no process of
#      it is left and that its ports are free again;
#   2. `npm test`.
# Prints a short summary and exits non-zero on any failure.
#
# Usage: scripts/fresh-clone-check.sh [--keep]     (--keep: leave the clone in place afterwards)
# Environment: START_TIMEOUT (seconds to wait for the dashboard, default 600).
set -uo pipefail

KEEP=0
for arg in "$@"; do
  case "$arg" in
    --keep) KEEP=1 ;;
    -h | --help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "fresh-clone-check: unknown argument $arg (try --help)" >&2; exit 2 ;;
  esac
done

SRC=$(git -C "$(dirname "$0")" rev-parse --show-toplevel) || exit 2
HEAD=$(git -C "$SRC" rev-parse --short HEAD) || exit 2
START_TIMEOUT=${START_TIMEOUT:-600}
HTTP_HOST=127.0.0.1
NODE_PORTS=(27760 27761 27762 27763 27764 27765) # the default layout (README, Command line)

WORK=$(mktemp -d "${TMPDIR:-/tmp}/isobroker-fresh.XXXXXX") || exit 2
CLONE="$WORK/isobroker"
LOGS="$WORK/logs"
mkdir -p "$LOGS"
declare -a SUMMARY=()
FAILED=0
START_PGID=

note() { printf 'fresh-clone-check: %s\n' "$*"; }
result() { SUMMARY+=("$1"); note "$1"; }
fail() { FAILED=1; result "FAIL $*"; }

# Pids whose process group is $1 (reads /proc: no procps needed).
group_pids() {
  local stat pid rest
  for stat in /proc/[0-9]*/stat; do
    { read -r pid rest <"$stat"; } 2>/dev/null || continue # the process may be gone already
    rest=${rest##*) } # fields after "(comm) "
    set -- $rest      # $1 state, $2 ppid, $3 pgrp
    [[ "${3:-}" == "$GROUP" ]] && printf '%s ' "$pid"
  done
}

# Whether TCP port $2 on host $1 can be bound (nothing listens there).
port_free() {
  node -e '
    const s = require("node:net").createServer();
    s.once("error", () => process.exit(1));
    s.listen(Number(process.argv[2]), process.argv[1], () => s.close(() => process.exit(0)));
  ' "$1" "$2"
}

# A free TCP port on $1.
free_port() {
  node -e '
    const s = require("node:net").createServer();
    s.listen(0, process.argv[1], () => { console.log(s.address().port); s.close(); });
  ' "$1"
}

# 0 when $1 answers 200 with an HTML page.
serves_html() {
  node -e '
    fetch(process.argv[1], { signal: AbortSignal.timeout(5000) })
      .then(async (r) => process.exit(r.status === 200 && /<html/i.test(await r.text()) ? 0 : 1))
      .catch(() => process.exit(1));
  ' "$1"
}

stop_start() {
  [[ -n "$START_PGID" ]] || return 0
  local GROUP=$START_PGID left i
  kill -INT -- "-$GROUP" 2>/dev/null # Ctrl-C: the whole group
  for ((i = 0; i < 30; i++)); do
    left=$(group_pids)
    [[ -z "$left" ]] && break
    sleep 1
  done
  if [[ -n "$left" ]]; then
    fail "npm start: processes still running 30 s after SIGINT: $left (killed)"
    kill -KILL -- "-$GROUP" 2>/dev/null
    sleep 1
  fi
  START_PGID=
}

cleanup() {
  stop_start
  if ((KEEP)); then note "kept $WORK"; else rm -rf "$CLONE"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

elapsed() { printf '%ds' $((SECONDS - $1)); }

# --- Clone -------------------------------------------------------------------------------------
note "cloning $SRC at $HEAD into $CLONE"
if ! git clone --quiet --no-hardlinks "$SRC" "$CLONE" >"$LOGS/clone.log" 2>&1; then
  fail "git clone (see $LOGS/clone.log)"
  exit 1
fi
if [[ -e "$WORK/shared" || -e "$(dirname "$WORK")/shared" ]]; then
  fail "a shared/ folder sits beside the clone; the check would not be fresh"
  exit 1
fi
cd "$CLONE" || exit 1
result "clone: $HEAD, $(git ls-files | wc -l) files"

# --- npm install && npm start ------------------------------------------------------------------
START_ARGS=()
HTTP_PORT=8080
if ! port_free "$HTTP_HOST" 8080; then
  HTTP_PORT=$(free_port "$HTTP_HOST")
  START_ARGS=(-- --http "$HTTP_HOST:$HTTP_PORT")
  note "8080 is in use here: the dashboard goes to port $HTTP_PORT (npm start -- --http $HTTP_HOST:$HTTP_PORT)"
fi
for p in "${NODE_PORTS[@]}"; do
  if ! port_free 127.0.0.1 "$p"; then
    fail "port $p of the default layout is already in use on this machine; stop what holds it first"
    exit 1
  fi
done

URL="http://$HTTP_HOST:$HTTP_PORT/"
t0=$SECONDS
note "npm install && npm start ${START_ARGS[*]} (log: $LOGS/start.log)"
# setsid: its own process group, so stopping it reaches npm, the launcher and every node.
setsid bash -c 'npm install && exec npm start "$@"' bash "${START_ARGS[@]}" >"$LOGS/start.log" 2>&1 </dev/null &
START_PGID=$!
up=0
exited=
while ((SECONDS - t0 < START_TIMEOUT)); do
  if serves_html "$URL"; then up=1; break; fi
  if ! kill -0 "$START_PGID" 2>/dev/null; then
    wait "$START_PGID"
    exited=$?
    break
  fi
  sleep 2
done
if ((up)); then
  result "npm install && npm start: dashboard $URL answered 200 with HTML after $(elapsed "$t0")"
elif [[ -n "$exited" ]]; then
  fail "npm install && npm start: exited with status $exited after $(elapsed "$t0"), no dashboard (see $LOGS/start.log)"
else
  fail "npm install && npm start: no dashboard at $URL within $(elapsed "$t0") (see $LOGS/start.log)"
fi
((up)) || grep -vE '^\s*$' "$LOGS/start.log" | tail -n 12 | sed 's/^/    /'
t1=$SECONDS
stop_start
stray=()
for d in /proc/[0-9]*; do
  pid=${d#/proc/}
  [[ "$pid" == "$$" || "$pid" == "$BASHPID" ]] && continue
  cwd=$(readlink "$d/cwd" 2>/dev/null) || continue
  [[ "$cwd" == "$CLONE" || "$cwd" == "$CLONE"/* ]] && stray+=("$pid:$(tr '\0' ' ' <"$d/cmdline" 2>/dev/null | cut -c1-60)")
done
if ((${#stray[@]})); then
  fail "after stopping, processes still run in the clone: ${stray[*]}"
fi
held=()
for p in "$HTTP_PORT" "${NODE_PORTS[@]}"; do port_free 127.0.0.1 "$p" || held+=("$p"); done
if ((${#held[@]})); then
  fail "after stopping, ports still held: ${held[*]}"
elif ((up)); then
  result "npm start stopped cleanly with SIGINT in $(elapsed "$t1"): no process left, ports free"
fi

# --- npm test ----------------------------------------------------------------------------------
if [[ ! -d node_modules ]]; then
  fail "npm test not run: npm install did not finish"
  exit 1
fi
t0=$SECONDS
note "npm test (log: $LOGS/test.log)"
npm test >"$LOGS/test.log" 2>&1 </dev/null
rc=$?
plain=$(sed 's/\x1b\[[0-9;]*m//g' "$LOGS/test.log")
counts=$(grep -E '^ *(Test Files|Tests) ' <<<"$plain" | sed 's/^ *//' | paste -sd ';' -)
if ((rc == 0)); then
  result "npm test: passed in $(elapsed "$t0") (${counts:-no vitest summary})"
else
  fail "npm test: exit $rc after $(elapsed "$t0") (${counts:-no vitest summary}); see $LOGS/test.log"
  grep -E '^ *(FAIL|×) |error TS|^find-chromium:|^npm error' <<<"$plain" | sed 's/^ */    /' | sort -u | head -n 40
fi

# --- Summary -----------------------------------------------------------------------------------
echo
echo "fresh-clone-check summary ($HEAD):"
printf '  %s\n' "${SUMMARY[@]}"
echo "  logs: $LOGS"
exit "$FAILED"
