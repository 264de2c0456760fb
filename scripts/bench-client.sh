#!/usr/bin/env bash
# Client benchmark: aviary's libcurl client against kubectl (client-go), side
# by side, on the local control plane. Prints objects per second and peak RSS.
#
#   scripts/bench-client.sh [--count 5000] [--runs 5]
#
# - list:   list and decode all ConfigMaps of a namespace (pages of 500, as
#            kubectl does). Whole-process wall time, start-up included for both.
# - watch:  stream 2 × count live events: each watcher is started, then every
#           ConfigMap is updated twice as fast as the server takes it; the time
#           runs from the first write to the watcher's last event. aviary's
#           watcher decodes typed events; kubectl's is
#           `kubectl get cm --watch-only -o json --output-watch-events`.
# - replay: aviary alone (kubectl cannot start a watch at an old
#           resourceVersion): the 5,000 creations replayed from etcd history
#           as fast as the server sends them.
# Figures are medians over --runs; peak RSS is the largest of the runs.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
COUNT=5000
RUNS=5
while [ $# -gt 0 ]; do
  case $1 in
    --count) COUNT=$2; shift 2 ;;
    --runs) RUNS=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
EVENTS=$((COUNT * 2))

scripts/install-deps.sh >/dev/null
[ -x /usr/bin/time ] || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time >/dev/null
swift build -c release --product aviary-client-bench >/dev/null
BENCH="$(swift build -c release --show-bin-path)/aviary-client-bench"

export AVIARY_CLUSTER_DIR="${AVIARY_CLUSTER_DIR:-/tmp/aviary-bench}"
trap 'scripts/cluster.sh down >/dev/null 2>&1 || true' EXIT
scripts/cluster.sh up
eval "$(scripts/cluster.sh env)"
NS="bench-$RANDOM"

echo "creating $COUNT ConfigMaps ..." >&2
RV=$("$BENCH" setup --namespace "$NS" --count "$COUNT")
kubectl create cm probe -n "$NS" >/dev/null

TMP=$(mktemp -d)
# measure NAME COMMAND... → appends "seconds peak_kib" for one run to $TMP/NAME
measure() {
  local name=$1; shift
  /usr/bin/time -f "%e %M" -o "$TMP/one" "$@" >/dev/null 2>>"$TMP/$name.stderr"
  cat "$TMP/one" >>"$TMP/$name"
}
# live NAME WATCHER → starts the watcher, waits until it provably watches (it
# has seen a change to ConfigMap "probe"), drives the writes, and records the
# time from the first write to the watcher's last event, and its peak RSS.
live() {
  local name=$1 watcher=$2 i=0
  rm -f "$TMP/ready"
  "$watcher" &
  local pid=$!
  until [ -e "$TMP/ready" ]; do
    i=$((i + 1))
    kubectl annotate cm probe -n "$NS" --overwrite "poke=$i" >/dev/null
    sleep 0.3
  done
  local t0; t0=$(date +%s.%N)
  "$BENCH" touch --namespace "$NS" --count "$COUNT" --rounds 2 2>>"$TMP/writes.stderr"
  wait "$pid"
  local t1; t1=$(date +%s.%N)
  echo "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }') $(tail -1 "$TMP/one" | cut -d' ' -f2)" >>"$TMP/$name"
}
aviary_watcher() {
  /usr/bin/time -f "%e %M" -o "$TMP/one" "$BENCH" watch --namespace "$NS" --events "$EVENTS" --ready-file "$TMP/ready" \
    >/dev/null 2>>"$TMP/aviary-watch.stderr"
}
# kubectl never exits by itself once it has its events: count them, then stop it.
kubectl_watcher() {
  rm -f "$TMP/fifo"; mkfifo "$TMP/fifo"
  /usr/bin/time -f "%e %M" -o "$TMP/one" kubectl get cm -n "$NS" --watch-only -o json --output-watch-events >"$TMP/fifo" 2>>"$TMP/kubectl-watch.stderr" &
  local tpid=$!
  # (python, not awk: mawk reads a pipe in blocks and would sit on the last events)
  python3 -c '
import sys
n, ready, seen = int(sys.argv[1]), sys.argv[2], 0
for line in sys.stdin:
    if "\"name\":\"probe\"" in line:
        open(ready, "w").close()
    elif line.startswith("{"):
        seen += 1
        if seen == n:
            break
' "$EVENTS" "$TMP/ready" <"$TMP/fifo"
  pkill -TERM -P "$tpid" kubectl || true
  wait "$tpid" || true
}
# The same list with no decode: aviary's own client fetching the same pages
# (gzip) and reading only each page's continue token (`list --raw`); and with
# no client in the way: curl fetching them to files (a process and a TLS
# handshake per page; the continue token taken with grep); then a plain JSON
# parse of those pages (python's json module). The user agent is not curl's:
# the API server pretty-prints JSON for curl, which is not the wire aviary sees.
cat >"$TMP/raw-list.sh" <<EOF
base="https://127.0.0.1:$(cat "$AVIARY_CLUSTER_DIR/api.port")/api/v1/namespaces/$NS/configmaps?limit=500"
c="$AVIARY_CLUSTER_DIR/pki"; token=""; n=0
rm -f "$TMP"/page.*
while :; do
  n=\$((n + 1))
  curl -s -A raw-bench --compressed --cacert "\$c/ca.crt" --cert "\$c/admin.crt" --key "\$c/admin.key" -o "$TMP/page.\$n" "\$base\${token:+&continue=\$token}"
  token=\$(grep -o '"continue": *"[^"]*"' "$TMP/page.\$n" | head -1 | sed 's/.*: *"//; s/"\$//')
  [ -n "\$token" ] || break
done
EOF
cat >"$TMP/parse.py" <<'EOF'
import glob, json, sys
print(sum(len(json.load(open(f))["items"]) for f in glob.glob(sys.argv[1] + "/page.*")))
EOF
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# The replay first: the API server compacts etcd's history every 5 minutes.
for _ in $(seq 1 "$RUNS"); do
  measure aviary-replay "$BENCH" watch --namespace "$NS" --resource-version "$RV" --events "$COUNT"
done
kubectl get cm -n "$NS" -o json >/dev/null # warm kubectl's discovery cache
for _ in $(seq 1 "$RUNS"); do
  measure aviary-list "$BENCH" list --namespace "$NS"
  measure kubectl-list kubectl get cm -n "$NS" -o json
  measure aviary-raw "$BENCH" list --raw --namespace "$NS"
  measure raw-list bash "$TMP/raw-list.sh"
  measure raw-parse python3 "$TMP/parse.py" "$TMP"
  live aviary-watch aviary_watcher
  live kubectl-watch kubectl_watcher
done

row() { # label file count
  local s kib
  s=$(cut -d' ' -f1 "$TMP/$2" | median)
  kib=$(cut -d' ' -f2 "$TMP/$2" | sort -n | tail -1)
  awk -v l="$1" -v s="$s" -v n="$3" -v k="$kib" 'BEGIN { printf "%-44s %10.3f s %12.0f /s %10.1f MiB\n", l, s, n / s, k / 1024 }'
}
echo
writes=$(grep -o '([0-9]*/s' "$TMP/writes.stderr" | tr -d '(/s' | median)
echo "client benchmark: $COUNT ConfigMaps, $EVENTS live watch events (writer: ${writes}/s), median of $RUNS runs, $(nproc) cores"
printf '%-44s %12s %15s %14s\n' "" "wall" "objects" "peak RSS"
row "list+decode  aviary (typed ConfigMap)" aviary-list "$COUNT"
row "list+decode  kubectl get cm -o json" kubectl-list "$COUNT"
row "list, raw    aviary, no decode (list --raw)" aviary-raw "$COUNT"
row "list, raw    curl to files (gzip, pages of 500)" raw-list "$COUNT"
row "parse        python json.load of those pages" raw-parse "$COUNT"
awk -v t="$(cut -d' ' -f1 "$TMP/aviary-list" | median)" -v r="$(cut -d' ' -f1 "$TMP/aviary-raw" | median)" \
  'BEGIN { printf "%-44s %10.2f ×  (the typed list against the raw transfer)\n", "list+decode  aviary ÷ aviary, no decode", t / r }'
row "watch        aviary (typed ConfigMap)" aviary-watch "$EVENTS"
row "watch        kubectl get --watch-only -o json" kubectl-watch "$EVENTS"
row "replay       aviary (typed ConfigMap)" aviary-replay "$COUNT"
rm -rf "$TMP"
