#!/usr/bin/env bash
# Scale benchmark: a real `aviary controller` (release build) against the
# local control plane with N one-replica canary Rollouts, each ending with two
# ReplicaSets. Prints the controller's peak RSS, start-up and first full
# reconcile times, spec-change-to-ReplicaSet latency (p50/p99, 100 Rollouts
# updated at once), API requests per canary step, and idle writes and CPU.
#
#   scripts/bench-scale.sh [--rollouts 1000] [--updates 100] [--idle 60] [--churn 0] [--churn-rate 20] [--shards 0]
#                          [--deploy-only] [--keep] [--seeded-history]
#
# --churn S: then S seconds of --churn-rate spec changes a second (queue depth,
# latency, errors); --shards N: then N controllers with --instance-id, each
# taking its share (memory each, and no Rollout handled by two).
# --seeded-history gives each Rollout its older ReplicaSet from the benchmark
# (at 10,000, updating every Rollout through the cluster takes hours here);
# --deploy-only stops after the first deploy; --keep leaves the cluster up
# (state in $AVIARY_CLUSTER_DIR, `scripts/cluster.sh down` with it set), so
# start-up can be measured again and again on one prepared cluster.
# The control plane gets more room than the tests' (so 10,000 fit): the controller-manager
# at 1000 requests/s with 20 ReplicaSet workers, Prometheus scraping every 30 s.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROLLOUTS=1000
UPDATES=100
IDLE=60
EXTRA=()
KEEP=0
while [ $# -gt 0 ]; do
  case $1 in
    --rollouts) ROLLOUTS=$2; shift 2 ;;
    --updates) UPDATES=$2; shift 2 ;;
    --idle) IDLE=$2; shift 2 ;;
    --churn|--churn-rate|--shards) EXTRA+=("$1" "$2"); shift 2 ;;
    --deploy-only|--seeded-history) EXTRA+=("$1"); shift ;;
    --keep) KEEP=1; shift ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done

scripts/install-deps.sh >/dev/null
swift build -c release --product aviary >/dev/null
swift build -c release --product aviary-scale-bench >/dev/null
swift build --product aviary-podsim >/dev/null
BIN="$(swift build -c release --show-bin-path)"

export AVIARY_CLUSTER_DIR="${AVIARY_CLUSTER_DIR:-/tmp/aviary-scale}"
export AVIARY_KCM_QPS="${AVIARY_KCM_QPS:-1000}" AVIARY_KCM_RS_SYNCS="${AVIARY_KCM_RS_SYNCS:-20}" AVIARY_SCRAPE_INTERVAL="${AVIARY_SCRAPE_INTERVAL:-30s}"
if [ "$KEEP" = 1 ]; then
  trap 'echo "cluster kept: AVIARY_CLUSTER_DIR=$AVIARY_CLUSTER_DIR scripts/cluster.sh env|down"' EXIT
else
  trap 'scripts/cluster.sh down >/dev/null 2>&1 || true' EXIT
fi
scripts/cluster.sh up --podsim "$(swift build --show-bin-path)/aviary-podsim"
eval "$(scripts/cluster.sh env)"
kubectl apply -f crds/ >/dev/null
kubectl wait --for=condition=Established crd/rollouts.aviary.dev --timeout=60s >/dev/null
"$BIN/aviary-scale-bench" --kubeconfig "$KUBECONFIG" --controller "$BIN/aviary" \
  --rollouts "$ROLLOUTS" --updates "$UPDATES" --idle "$IDLE" ${EXTRA[@]+"${EXTRA[@]}"}
