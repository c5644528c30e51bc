#!/usr/bin/env bash
# Regenerates proxy/src/main/resources/io/outrigger/jsonline/preload-classes.txt: the classes of the fat jar that
# `outrigger stdin` loads before its first reply, in load order, which ClassPreloader loads on a background thread
# at start. Run after upgrading Netty or changing the start path, then rebuild (a stale list only costs speed;
# ClassPreloaderTest fails on names that no longer exist).
# Usage: proxy/src/appcds/update-preload-list.sh   (after `mvn -pl proxy -am package -DskipTests`)
set -euo pipefail
cd "$(dirname "$0")/../.."
LIST=src/main/resources/io/outrigger/jsonline/preload-classes.txt
LOG=$(mktemp); trap 'rm -f "$LOG"' EXIT
echo '{"src":"c0","dest":"n1","body":{"type":"init","msg_id":1}}' \
  | java -Xlog:class+load=info:file="$LOG" -jar target/outrigger.jar stdin >/dev/null
# Jar classes only; not the ones the main thread loads before the preloader starts (CLI, picocli, SLF4J) nor
# Jackson's (the preloader initialises those by parsing a sample line); no generated classes.
grep 'source: file:' "$LOG" | awk '{print $2}' \
  | grep -v -e '^com\.fasterxml\.' -e '^picocli\.' -e '^org\.slf4j\.' -e '^io\.outrigger\.cli\.' -e '\$\$' > "$LIST"
echo "$(wc -l < "$LIST") classes in proxy/$LIST" >&2
