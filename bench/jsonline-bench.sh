#!/usr/bin/env bash
# Benchmarks the line-JSON node: cold start of `outrigger stdin` to its first reply against a bare JVM
# (`java -version`), plain and with the AppCDS archive the build creates (proxy/target/outrigger.jsa),
# and the throughput of 100,000 `call` lines through stdin/stdout and through the jsonline TCP listener
# of `outrigger run`. The start-up variants run in turn, once each per round (RUNS rounds, medians), so
# the load of a shared machine hits them alike.
# Also counts the classes a one-line `stdin` session loads (-Xlog:class+load: all, and those not from the JDK's CDS
# archive), a figure the machine's load does not move.
# Usage: bench/jsonline-bench.sh   (builds proxy/target/outrigger.jar and the driver if missing)
#        BASELINE=/tmp/main-outrigger.jar bench/jsonline-bench.sh   adds that jar's plain cold start (same rounds) and
#        class counts, for before/after comparisons against another build (copy main's jar aside first)
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-10}
COUNT=${COUNT:-100000}
JAR=proxy/target/outrigger.jar
JSA=proxy/target/outrigger.jsa
DRIVER="java -cp proxy/target/test-classes io.outrigger.bench.JsonLineBench"

if [[ ! -f $JAR || ! -f proxy/target/test-classes/io/outrigger/bench/JsonLineBench.class ]]; then
  echo "building $JAR ..." >&2
  mvn -B -q -o -pl proxy -am package -DskipTests >&2 || mvn -B -q -pl proxy -am package -DskipTests >&2
fi

# The build creates the archive; recreate it the same way when it is missing or older than the jar.
if [[ ! -f $JSA || $JSA -ot $JAR ]]; then
  echo "creating the AppCDS archive $JSA ..." >&2
  rm -f "$JSA"
  java -XX:ArchiveClassesAtExit=$JSA -jar $JAR stdin < proxy/src/appcds/stdin-training.jsonl >/dev/null 2>&1 \
    || echo "could not create $JSA" >&2
fi

TMP=$(mktemp -d); trap 'rm -rf "$TMP"' EXIT
printf 'name: sidecar-bench\nio_threads: 1\nlisteners:\n  jsonline: { port: 0 }\n' > "$TMP/sidecar.yaml"

BASELINE=${BASELINE:-}
if [[ -n $BASELINE && ! -f $BASELINE ]]; then
  echo "BASELINE=$BASELINE: no such jar" >&2
  exit 2
fi
INIT_LINE='{"src":"c0","dest":"n1","body":{"type":"init","msg_id":1}}'
# classes JAR: "all not-from-the-JDK-archive" for a session answering one init line
classes() {
  echo "$INIT_LINE" | java -Xlog:class+load=info:file="$TMP/classes.log" -jar "$1" stdin >/dev/null 2>&1
  echo "$(wc -l < "$TMP/classes.log") $(grep -vc 'source: shared objects file' "$TMP/classes.log")"
}

CDS="-XX:SharedArchiveFile=$JSA"
FAST="$CDS -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -XX:-UsePerfData"
BASE_RUN=()
if [[ -n $BASELINE ]]; then BASE_RUN=(-- init java -jar "$BASELINE" stdin); fi
read -r bare plain cds fast disc disc_cds base < <($DRIVER compare "$RUNS" \
  exit java -version -- \
  init java -jar $JAR stdin -- \
  init java $CDS -jar $JAR stdin -- \
  init java $FAST -jar $JAR stdin -- \
  discover java -jar $JAR stdin -- \
  discover java $CDS -jar $JAR stdin "${BASE_RUN[@]}")
read -r classes_all classes_own < <(classes $JAR)
stdin_rate=$($DRIVER stdin "$COUNT" -- java -jar $JAR stdin)
tcp_rate=$($DRIVER tcp "$COUNT" -- java -jar $JAR run --config "$TMP/sidecar.yaml")

ratio() { awk "BEGIN{printf \"%.1f\", $1/$bare}"; }
printf '\nline-JSON benchmark (%s cores, load %s, median of %s interleaved runs)\n' "$(nproc)" "$(cut -d' ' -f1 /proc/loadavg)" "$RUNS"
printf '%-66s %12s\n' "measure" "result"
printf '%-66s %12s\n' "------------------------------------------------------------------" "------------"
printf '%-66s %9s ms\n' "bare JVM: java -version" "$bare"
printf '%-66s %9s ms  (%sx bare)\n' "cold start to first reply: java -jar outrigger.jar stdin" "$plain" "$(ratio "$plain")"
printf '%-66s %12s\n' "  classes loaded by a one-line session (all / not from JDK CDS)" "$classes_all / $classes_own"
if [[ -n $BASELINE ]]; then
  read -r base_all base_own < <(classes "$BASELINE")
  printf '%-66s %9s ms  (%sx bare)\n' "  baseline: java -jar $BASELINE stdin" "$base" "$(ratio "$base")"
  printf '%-66s %12s\n' "  baseline classes (all / not from JDK CDS)" "$base_all / $base_own"
fi
printf '%-66s %9s ms  (%sx bare)\n' "  same, $CDS (AppCDS)" "$cds" "$(ratio "$cds")"
printf '%-66s %9s ms  (%sx bare)\n' "  same, AppCDS + C1 only, SerialGC, no perf data" "$fast" "$(ratio "$fast")"
printf '%-66s %9s ms  (%sx bare)\n' "cold start to first discover reply (reads the registry)" "$disc" "$(ratio "$disc")"
printf '%-66s %9s ms  (%sx bare)\n' "  same, AppCDS" "$disc_cds" "$(ratio "$disc_cds")"
printf '%-66s %9s /s\n' "throughput, $COUNT call lines via stdin/stdout" "$stdin_rate"
printf '%-66s %9s /s\n' "throughput, $COUNT call lines via the jsonline TCP listener" "$tcp_rate"
