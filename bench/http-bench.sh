#!/usr/bin/env bash
# HTTP proxy benchmark on loopback: direct backend vs HAProxy vs nginx (proxy) vs Outrigger's
# outbound listener, each proxy held to one worker thread / one event loop.
#
#   bench/http-bench.sh            # ~8 minutes; installs wrk, haproxy, nginx, curl if missing
#
# Environment (all optional):
#   DURATION=3      seconds per measurement      ROUNDS=9    interleaved rounds (median reported)
#   CONNS="1 16 64" connection counts            WARMUP=30   seconds of JVM warm-up for Outrigger (2 s runs, every count)
#   OUTRIGGER_JAR=proxy/target/outrigger.jar     (built with `mvn package -DskipTests` when missing)
#   BASELINE_JAR=                                another Outrigger build measured in the same interleaved run
#                                                (target "baseline"; the same config, access log on by default)
#   OUTRIGGER_OPTS=                              extra JVM options for the "outrigger" target only (not the baseline),
#                                                e.g. -Dio.netty.leakDetection.level=simple to price a setting
#   BASELINE_OPTS=                               extra JVM options for the "baseline" target only
#   PEERS_LOG=0                                  1: HAProxy and nginx (as a proxy) also log one line per request to a
#                                                file, as Outrigger always does here (its access log is on); by default
#                                                they log nothing, the harder comparison for Outrigger
#
# Besides req/s and latency, each target's CPU time per request is reported (its whole process:
# every thread, GC and JIT included): on a machine busy with other work it is the steadier figure.
#
# Every process it starts listens on 127.0.0.1 only and is stopped on exit (trap), whatever happens.
# wrk runs on the same machine as the proxies, so the figures compare the proxies with each other
# under the same handicap; they are not absolute capacities.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
DURATION=${DURATION:-3}
# Nine rounds: on a shared 2-core machine one round in three or four is disturbed by other work (every
# target's CPU per request rises in it), and a median of three can then land on a disturbed round.
ROUNDS=${ROUNDS:-9}
CONNS=${CONNS:-"1 16 64"}
# The JIT keeps compiling for about 30 s under this load (requests/s still climb from 36k at 10 s to
# 45k at 20-50 s on the 2-core machine this was tuned on); a sidecar runs for days, so the steady
# state is what is compared.
WARMUP=${WARMUP:-30}
OUTRIGGER_JAR=${OUTRIGGER_JAR:-$ROOT/proxy/target/outrigger.jar}

# Pinned JVM flags, so runs compare: a fixed 256 MiB heap (no resizing during the run, and the RSS
# figure is not inflated by a heap sized from the machine's memory; no AlwaysPreTouch, which would
# make RSS the whole heap); ParallelGC because the proxy has one event loop and G1's concurrent
# threads would compete with it for the same cores; leak detection as the binary ships it (off unless -Dio.netty.leakDetection.level is given).
JVM_FLAGS=(-Xms256m -Xmx256m -XX:+UseParallelGC)

log() { printf '[bench] %s\n' "$*" >&2; }

# ---- tools -------------------------------------------------------------------------------------
need=()
command -v wrk >/dev/null || need+=(wrk)
command -v haproxy >/dev/null || need+=(haproxy)
command -v nginx >/dev/null || need+=(nginx)
command -v curl >/dev/null || need+=(curl)
if ((${#need[@]})); then
  log "installing ${need[*]} from Debian"
  SUDO=""; [[ $(id -u) -eq 0 ]] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
if [[ ! -f $OUTRIGGER_JAR ]]; then
  log "building $OUTRIGGER_JAR"
  mvn -B -q -pl proxy -am package -DskipTests
fi

# ---- processes: started here, stopped by the trap ----------------------------------------------
DIR=$(mktemp -d /tmp/outrigger-bench.XXXXXX)
PIDS=()
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${PIDS[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$DIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Seven distinct free ports, all picked at once (each held until every one is picked): picking one at a time,
# after a server had started but before it bound, once handed the baseline the port Outrigger was about to bind.
read -r BACKEND_PORT HAPROXY_PORT NGINX_PORT OUTRIGGER_PORT ADMIN_PORT BASELINE_PORT BASELINE_ADMIN_PORT < <(python3 -c '
import socket
socks = [socket.socket() for _ in range(7)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))
for s in socks:
    s.close()')

fill() { # template -> $DIR/name with every @VAR@ replaced
  sed -e "s|@DIR@|$DIR|g" -e "s|@BACKEND_PORT@|$BACKEND_PORT|g" -e "s|@HAPROXY_PORT@|$HAPROXY_PORT|g" \
      -e "s|@NGINX_PORT@|$NGINX_PORT|g" -e "s|@OUTRIGGER_PORT@|$OUTRIGGER_PORT|g" -e "s|@ADMIN_PORT@|$ADMIN_PORT|g" \
      "$ROOT/bench/$1" > "$DIR/$1"
}
for f in backend-nginx.conf proxy-nginx.conf haproxy.cfg outrigger.yaml registry.json; do fill "$f"; done
PEERS_LOG=${PEERS_LOG:-0}
if [[ $PEERS_LOG == 1 ]]; then
  # Each line written as it happens, as these proxies log by default: HAProxy's to its stdout (a file here), nginx's unbuffered.
  sed -i -e 's|^  nbthread 1$|  nbthread 1\n  log stdout format raw local0|' -e 's|^  mode http$|  mode http\n  log global\n  option httplog|' "$DIR/haproxy.cfg"
  sed -i -e "s|^  access_log off;$|  access_log $DIR/nginx-proxy-access.log;|" "$DIR/proxy-nginx.conf"
fi

# code URL: the HTTP status, or 000 when nothing answers
code() { curl -s -o /dev/null -m 2 -w '%{http_code}' -H 'Host: bench' "$1" || true; }

# wait_for NAME URL SECONDS: until URL answers 200; false when the time is up
wait_for() {
  local deadline=$((SECONDS + $3))
  while ((SECONDS < deadline)); do
    [[ $(code "$2") == 200 ]] && return 0
    sleep 0.2
  done
  log "$1 did not answer 200 at $2 within $3 s"
  return 1
}

declare -A PID_OF # the process (with its children) whose CPU time a target costs
nginx -p "$DIR" -c "$DIR/backend-nginx.conf" 2>"$DIR/backend.out" & PIDS+=($!); PID_OF[direct]=$!
nginx -p "$DIR" -c "$DIR/proxy-nginx.conf" 2>"$DIR/nginx-proxy.out" & PIDS+=($!); PID_OF[nginx]=$!
haproxy -db -f "$DIR/haproxy.cfg" >"$DIR/haproxy.out" 2>&1 & PIDS+=($!); PID_OF[haproxy]=$!
java "${JVM_FLAGS[@]}" ${OUTRIGGER_OPTS:-} -jar "$OUTRIGGER_JAR" run --config "$DIR/outrigger.yaml" 2>"$DIR/outrigger.log" & OUTRIGGER_PID=$!
PIDS+=("$OUTRIGGER_PID"); PID_OF[outrigger]=$OUTRIGGER_PID
if [[ -n ${BASELINE_JAR:-} ]]; then
  # The access_log line is left out only so a build older than that key still reads the file; it logs by default.
  sed -e "s|port: $OUTRIGGER_PORT|port: $BASELINE_PORT|" -e "s|port: $ADMIN_PORT|port: $BASELINE_ADMIN_PORT|" -e '/access_log:/d' \
    "$DIR/outrigger.yaml" > "$DIR/baseline.yaml"
  java "${JVM_FLAGS[@]}" ${BASELINE_OPTS:-} -jar "$BASELINE_JAR" run --config "$DIR/baseline.yaml" 2>"$DIR/baseline.log" & PIDS+=($!); PID_OF[baseline]=$!
fi

declare -A URL=(
  [direct]="http://127.0.0.1:$BACKEND_PORT/"
  [haproxy]="http://127.0.0.1:$HAPROXY_PORT/"
  [nginx]="http://127.0.0.1:$NGINX_PORT/"
  [outrigger]="http://127.0.0.1:$OUTRIGGER_PORT/"
)
TARGETS=(direct haproxy nginx)
wait_for backend "${URL[direct]}" 10
wait_for haproxy "${URL[haproxy]}" 10
wait_for "nginx proxy" "${URL[nginx]}" 10
if wait_for "outrigger admin /ready" "http://127.0.0.1:$ADMIN_PORT/ready" 20 && wait_for "outrigger outbound" "${URL[outrigger]}" 5; then
  TARGETS+=(outrigger)
else
  echo "!! Outrigger's outbound listener does not answer 200 on ${URL[outrigger]} (status $(code "${URL[outrigger]}"));"
  echo "!! it is left out of this run. Its log ($DIR/outrigger.log) ends with:"
  tail -n 5 "$DIR/outrigger.log" | sed 's/^/!!   /'
fi

if [[ -n ${BASELINE_JAR:-} ]]; then
  URL[baseline]="http://127.0.0.1:$BASELINE_PORT/"
  if wait_for "baseline admin /ready" "http://127.0.0.1:$BASELINE_ADMIN_PORT/ready" 20 && wait_for baseline "${URL[baseline]}" 5; then
    TARGETS+=(baseline)
  else
    echo "!! the baseline build ($BASELINE_JAR) does not answer; it is left out. Its log ends with:"
    tail -n 5 "$DIR/baseline.log" | sed 's/^/!!   /'
  fi
fi

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- measurements ----------------------------------------------------------------------------
# cpu_ticks PID: user + system CPU ticks of PID and its children (all their threads), 0 when gone.
# CPU time per request is the figure a loaded machine skews least: it counts what a proxy spends,
# not how much of the shared cores it managed to get.
CLK_TCK=$(getconf CLK_TCK)
cpu_ticks() {
  local pid total=0 t
  for pid in "$1" $(pgrep -P "$1" || true); do
    t=$(awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$pid/stat" 2>/dev/null || echo 0)
    total=$((total + ${t:-0}))
  done
  echo "$total"
}

# run_wrk URL CONNS SECONDS -> "rps p50_us p99_us errors requests"
run_wrk() {
  local threads=2 out
  (($2 < 2)) && threads=1
  out=$(timeout $(($3 + 15)) wrk -t"$threads" -c"$2" -d"$3"s --latency -H 'Host: bench' "$1" 2>&1) || true
  awk '
    function us(v) { if (v ~ /us$/) return v + 0; if (v ~ /ms$/) return v * 1000; if (v ~ /s$/) return v * 1000000; return v }
    /Requests\/sec:/ { rps = $2 }
    $1 == "50%" { p50 = us($2) }
    $1 == "99%" { p99 = us($2) }
    /Non-2xx or 3xx responses:/ { errors += $NF }
    /Socket errors:/ { errors += 1 }
    / requests in / { n = $1 }
    END { printf "%.0f %.0f %.0f %d %d\n", rps + 0, p50 + 0, p99 + 0, errors + 0, n + 0 }' <<<"$out"
}

# A JVM target warms up the way it is then measured: 2 s runs at every connection count, so wrk
# opens and closes connections again and again. Warmed on one long run at 64 connections instead,
# C2 compiles the request path before it has seen connections open and close; every measured run
# then starts with uncommon traps in that compiled code (I/O completion handling, read
# scheduling), C2 discards it and the run is served partly by slower profiled code while it
# recompiles. That showed in Outrigger's p99 at 1 connection: 2.9x and 3.7x HAProxy's in two runs
# after one long warm-up, 1.5-1.8x in three after this one. A sidecar that has run for a while has seen plenty
# of connections come and go.
warm_up() { # URL SECONDS
  local until=$((SECONDS + $2)) c
  while ((SECONDS < until)); do
    for c in $CONNS; do run_wrk "$1" "$c" 2 >/dev/null; done
  done
}
for t in "${TARGETS[@]}"; do
  if [[ $t == outrigger || $t == baseline ]]; then
    log "warm-up $t (${WARMUP}s, 2 s runs at $CONNS connections)"
    warm_up "${URL[$t]}" "$WARMUP"
  else
    log "warm-up $t (1s)"
    run_wrk "${URL[$t]}" 64 1 >/dev/null
  fi
done

declare -A RPS P50 P99 ERR CPU
n=${#TARGETS[@]}
for ((r = 0; r < ROUNDS; r++)); do
  for c in $CONNS; do
    for ((i = 0; i < n; i++)); do
      t=${TARGETS[$(((i + r) % n))]} # rotate who goes first, so drift hits every target alike
      ticks=$(cpu_ticks "${PID_OF[$t]}")
      read -r rps p50 p99 err reqs < <(run_wrk "${URL[$t]}" "$c" "$DURATION")
      ticks=$(($(cpu_ticks "${PID_OF[$t]}") - ticks))
      cpu=$(awk -v t="$ticks" -v n="$reqs" -v hz="$CLK_TCK" 'BEGIN { printf "%.1f", (n > 0 ? t * 1000000 / hz / n : 0) }')
      log "round $((r + 1))/$ROUNDS  $t  c=$c  ${rps} req/s  p50 ${p50}us  p99 ${p99}us  cpu ${cpu}us/req"
      RPS[$t,$c]+="$rps "; P50[$t,$c]+="$p50 "; P99[$t,$c]+="$p99 "; CPU[$t,$c]+="$cpu "; ERR[$t,$c]=$((${ERR[$t,$c]:-0} + err))
    done
  done
done

median() { tr ' ' '\n' <<<"$1" | grep -v '^$' | sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : int((v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }
median_f() { tr ' ' '\n' <<<"$1" | grep -v '^$' | sort -n | awk '{ v[NR] = $1 } END { printf "%.1f\n", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }

echo
echo "Median of $ROUNDS interleaved rounds, ${DURATION}s each; wrk -t1 at 1 connection, -t2 above; loopback."
echo "Machine: $(nproc) cores, load average before the run: $LOAD_BEFORE (other work on the machine skews every figure)."
echo "cpu us/req: CPU time (user + system, all threads and child processes) the target's own process spent per request;"
echo "for direct that is the backend alone. It is the figure other load on the machine skews least."
printf '%-10s %6s %10s %9s %9s %10s %10s %10s %7s\n' target conns "req/s" "p50 us" "p99 us" "rps/direct" "p99/direct" "cpu us/req" errors
declare -A M_RPS M_P99
for c in $CONNS; do
  for t in "${TARGETS[@]}"; do
    M_RPS[$t,$c]=$(median "${RPS[$t,$c]}"); M_P99[$t,$c]=$(median "${P99[$t,$c]}")
    printf '%-10s %6s %10s %9s %9s %10s %10s %10s %7s\n' "$t" "$c" "${M_RPS[$t,$c]}" "$(median "${P50[$t,$c]}")" \
      "${M_P99[$t,$c]}" "$(ratio "${M_RPS[$t,$c]}" "${M_RPS[direct,$c]}")" "$(ratio "${M_P99[$t,$c]}" "${M_P99[direct,$c]}")" \
      "$(median_f "${CPU[$t,$c]}")" "${ERR[$t,$c]}"
  done
done
echo

if [[ " ${TARGETS[*]} " == *" outrigger "* ]]; then
  echo "Outrigger transport: $(grep -o '([a-z_]* transport[^)]*)' "$DIR/outrigger.log" | head -1 | sed 's/[()]//g; s/ transport//') (-Doutrigger.transport=... in OUTRIGGER_OPTS picks another; -Doutrigger.read_ring=true reads into a buffer ring)"
  for t in outrigger baseline; do # which builds logged their requests, so no one compares a logging build with a silent one unaware
    if [[ -f "$DIR/$t.log" ]]; then
      echo "Access log of $t: $(grep -c '^{"edge"' "$DIR/$t.log" || true) lines written (to a file)"
    fi
  done
  if [[ $PEERS_LOG == 1 ]]; then
    echo "Access log of haproxy: $(grep -c ' "GET / HTTP/1.1"' "$DIR/haproxy.out" || true) lines, of nginx: $(wc -l < "$DIR/nginx-proxy-access.log") lines (PEERS_LOG=1)"
  else
    echo "HAProxy and nginx logged no requests (PEERS_LOG=1 has them log each one, as Outrigger does)"
  fi
  echo "Outrigger RSS: $(awk '/VmRSS/ { print $2 " " $3 }' "/proc/$OUTRIGGER_PID/status") (peak $(awk '/VmHWM/ { print $2 " " $3 }' "/proc/$OUTRIGGER_PID/status")), heap pinned at ${JVM_FLAGS[1]#-Xmx}"
  top=$(tr ' ' '\n' <<<"$CONNS" | sort -n | tail -1)
  o_rps=${M_RPS[outrigger,$top]}; h_rps=${M_RPS[haproxy,$top]}; o_p99=${M_P99[outrigger,$top]}; h_p99=${M_P99[haproxy,$top]}
  verdict="MEETS"
  if ((o_rps < h_rps)) || ((o_p99 > h_p99)) || ((${ERR[outrigger,$top]} > 0)); then verdict="MISSES"; fi
  echo "Target at $top connections (req/s >= HAProxy's, p99 no worse, no errors): $verdict" \
       "(Outrigger ${o_rps} req/s p99 ${o_p99}us vs HAProxy ${h_rps} req/s p99 ${h_p99}us)"
  # Round by round (the two were measured moments apart in each round): how often each half held.
  paired() { # OUTRIGGER_LIST HAPROXY_LIST ge|le -> "k of n"
    awk -v a="$1" -v b="$2" -v op="$3" 'BEGIN { n = split(a, x, " "); split(b, y, " "); k = 0
      for (i = 1; i <= n; i++) k += (op == "ge" ? x[i] >= y[i] : x[i] <= y[i]); printf "%d of %d", k, n }'
  }
  echo "Round by round at $top connections: req/s >= HAProxy's in $(paired "${RPS[outrigger,$top]}" "${RPS[haproxy,$top]}" ge)" \
       "rounds, p99 no worse in $(paired "${P99[outrigger,$top]}" "${P99[haproxy,$top]}" le)"
else
  echo "Outrigger was not measured: its outbound listener did not answer (see above)."
fi
