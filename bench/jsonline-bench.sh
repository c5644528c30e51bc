#!/usr/bin/env bash
# Benchmarks the line-JSON node: cold start of `outrigger stdin` to its first reply (with and
# without an AppCDS archive, against a bare `java -version`), and the throughput of 100,000
# `call` lines through stdin/stdout and through the jsonline TCP listener of `outrigger run`.
# Usage: bench/jsonline-bench.sh   (builds proxy/target/outrigger.jar and the driver if missing)
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-10}
COUNT=${COUNT:-100000}
JAR=proxy/target/outrigger.jar
JSA=proxy/target/outrigger-stdin.jsa
DRIVER="java -cp proxy/target/test-classes io.outrigger.bench.JsonLineBench"

if [[ ! -f $JAR || ! -f proxy/target/test-classes/io/outrigger/bench/JsonLineBench.class ]]; then
  echo "building $JAR ..." >&2
  mvn -B -q -o -pl proxy -am package -DskipTests >&2 || mvn -B -q -pl proxy -am package -DskipTests >&2
fi

# AppCDS (JDK 17): record the classes a short stdin session loads, once per jar build.
if [[ ! -f $JSA || $JSA -ot $JAR ]]; then
  echo "creating the AppCDS archive $JSA ..." >&2
  printf '%s\n' '{"src":"c0","dest":"n1","body":{"type":"init","msg_id":1}}' \
    '{"src":"service-a","dest":"service-b","body":{"type":"call","msg_id":2,"path":"/x"},"proxy":true}' \
    '{"src":"s","dest":"r","body":{"type":"discover","msg_id":3,"service":"service-b"}}' \
    | java -XX:ArchiveClassesAtExit=$JSA -jar $JAR stdin >/dev/null 2>&1
fi

TMP=$(mktemp -d); trap 'rm -rf "$TMP"' EXIT
printf 'name: sidecar-bench\nio_threads: 1\nlisteners:\n  jsonline: { port: 0 }\n' > "$TMP/sidecar.yaml"

bare=$($DRIVER exit "$RUNS" -- java -version)
plain=$($DRIVER startup "$RUNS" -- java -jar $JAR stdin)
cds=$($DRIVER startup "$RUNS" -- java -XX:SharedArchiveFile=$JSA -jar $JAR stdin)
cds_c1=$($DRIVER startup "$RUNS" -- java -XX:SharedArchiveFile=$JSA -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -jar $JAR stdin)
direct=$($DRIVER startup "$RUNS" -- java -XX:SharedArchiveFile=$JSA -cp $JAR:proxy/target/test-classes io.outrigger.bench.DirectStdinMain)
disc=$($DRIVER startup-discover "$RUNS" -- java -jar $JAR stdin)
disc_cds=$($DRIVER startup-discover "$RUNS" -- java -XX:SharedArchiveFile=$JSA -jar $JAR stdin)
stdin_rate=$($DRIVER stdin "$COUNT" -- java -jar $JAR stdin)
tcp_rate=$($DRIVER tcp "$COUNT" -- java -jar $JAR run --config "$TMP/sidecar.yaml")

printf '\nline-JSON benchmark (%s cores, load %s, median of %s runs)\n' "$(nproc)" "$(cut -d' ' -f1 /proc/loadavg)" "$RUNS"
printf '%-58s %12s\n' "measure" "result"
printf '%-58s %12s\n' "----------------------------------------------------------" "------------"
printf '%-58s %9s ms\n' "bare JVM: java -version" "$bare"
printf '%-58s %9s ms  (%sx bare)\n' "cold start to first reply: java -jar outrigger.jar stdin" "$plain" "$(awk "BEGIN{printf \"%.1f\", $plain/$bare}")"
printf '%-58s %9s ms  (%sx bare)\n' "  same, -XX:SharedArchiveFile (AppCDS)" "$cds" "$(awk "BEGIN{printf \"%.1f\", $cds/$bare}")"
printf '%-58s %9s ms  (%sx bare)\n' "  same, AppCDS + -XX:TieredStopAtLevel=1 -XX:+UseSerialGC" "$cds_c1" "$(awk "BEGIN{printf \"%.1f\", $cds_c1/$bare}")"
printf '%-58s %9s ms  (%sx bare)\n' "  same, AppCDS, without picocli (DirectStdinMain, diagnostic)" "$direct" "$(awk "BEGIN{printf \"%.1f\", $direct/$bare}")"
printf '%-58s %9s ms  (%sx bare)\n' "cold start to first discover reply (reads the registry)" "$disc" "$(awk "BEGIN{printf \"%.1f\", $disc/$bare}")"
printf '%-58s %9s ms  (%sx bare)\n' "  same, -XX:SharedArchiveFile (AppCDS)" "$disc_cds" "$(awk "BEGIN{printf \"%.1f\", $disc_cds/$bare}")"
printf '%-58s %9s /s\n' "throughput, $COUNT call lines via stdin/stdout" "$stdin_rate"
printf '%-58s %9s /s\n' "throughput, $COUNT call lines via the jsonline TCP listener" "$tcp_rate"
