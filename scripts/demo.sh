#!/usr/bin/env bash
# The local demo, on a fresh machine: builds aviary, brings up a real local
# control plane with Prometheus and the pod-readiness simulator (whose pods
# serve simulated traffic), installs the CRDs, starts the controller, and rolls
# out the example canary with analysis: a good version that Prometheus' numbers
# promote, then a bad one (30 % errors) that they abort, with no one watching.
#
#   scripts/demo.sh        run it (the cluster stays up for you to explore)
#   scripts/demo.sh down   remove everything it started
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export AVIARY_CLUSTER_DIR="${AVIARY_CLUSTER_DIR:-/tmp/aviary-demo}"

if [ "${1:-}" = "down" ]; then
  exec scripts/cluster.sh down
fi

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
show() { kubectl get rollout web --no-headers | awk '{ printf "  phase %-11s step %-2s weight %-4s available %s/%s\n", $6, $7, $8, $5, $2 }'; }
# follow CONDITION: print each change of the rollout's state until CONDITION (a shell command) holds.
follow() {
  local last="" now
  for _ in $(seq 1 240); do
    now=$(show)
    [ "$now" != "$last" ] && echo "$now" && last=$now
    eval "$1" && return 0
    sleep 0.5
  done
  echo "timed out waiting; the controller's log: $AVIARY_CLUSTER_DIR/logs/controller.log" >&2
  return 1
}
sizes() { kubectl get rs -l app=web -o custom-columns=REPLICASET:.metadata.name,IMAGE:.spec.template.spec.containers[0].image,DESIRED:.spec.replicas,AVAILABLE:.status.availableReplicas; }

step "Installing dependencies (Debian packages; kube-apiserver is built once and cached)"
scripts/install-deps.sh >/dev/null
step "Building aviary"
swift build --product aviary 2>&1 | tail -1
swift build --product aviary-podsim 2>&1 | tail -1
BIN="$(swift build --show-bin-path)"

step "Starting the local control plane (etcd, kube-apiserver, kube-controller-manager, pod-readiness simulator)"
scripts/cluster.sh up --podsim "$BIN/aviary-podsim"
eval "$(scripts/cluster.sh env)"
# The kubectl plugin is the same binary under the name kubectl looks for.
mkdir -p "$AVIARY_CLUSTER_DIR/bin"
ln -sf "$BIN/aviary" "$AVIARY_CLUSTER_DIR/bin/kubectl-aviary"
export PATH="$AVIARY_CLUSTER_DIR/bin:$PATH"
"$BIN/aviary" check

step "Installing the CRDs and starting the controller"
kubectl apply -f crds/
kubectl wait --for=condition=Established crd/rollouts.aviary.dev --timeout=60s >/dev/null
if ! { [ -f "$AVIARY_CLUSTER_DIR/pids/controller" ] && kill -0 "$(cat "$AVIARY_CLUSTER_DIR/pids/controller")" 2>/dev/null; }; then
  "$BIN/aviary" controller --metrics-addr "$AVIARY_CONTROLLER_METRICS_ADDR" --health-addr 127.0.0.1:0 --log-format text \
    >"$AVIARY_CLUSTER_DIR/logs/controller.log" 2>&1 &
  echo $! >"$AVIARY_CLUSTER_DIR/pids/controller"
fi

step "Deploying the analysis templates and the example canary (examples/canary-analysis-rollout.yaml): web:1.0, 5 replicas"
kubectl delete rollout web --ignore-not-found >/dev/null
kubectl delete analysisruns --all >/dev/null
kubectl apply -f examples/analysis-templates.yaml
sed "s#http://prometheus.monitoring.svc:9090#$AVIARY_PROMETHEUS_URL#" examples/canary-analysis-rollout.yaml | kubectl apply -f -
kubectl wait --for=jsonpath='{.status.phase}'=Healthy rollout/web --timeout=120s >/dev/null
show

# release IMAGE ERROR-RATE: a new version; the simulator makes that share of its requests fail.
release() {
  kubectl patch rollout web --type=merge -p "{\"spec\":{\"template\":{\"metadata\":{\"annotations\":{\"podsim.aviary.dev/error-rate\":\"$2\"}},
    \"spec\":{\"containers\":[{\"name\":\"web\",\"image\":\"$1\"}]}}}}"
}
runs() { kubectl get analysisruns -o custom-columns=NAME:.metadata.name,PHASE:.status.phase,VALUES:.status.summary; }

step "Rolling out web:2.0, a good version: setWeight 20 → analysis (success rate ≥ 95 %, p95 < 500 ms) → 60 → pause 10s → 80"
release registry.example/web:2.0 0
follow '[ "$(kubectl get rollout web -o jsonpath="{.status.phase}/{.status.stableRS}")" = "Healthy/$(kubectl get rollout web -o jsonpath="{.status.currentPodHash}")" ]'
echo
kubectl aviary get rollout web

step "Rolling out web:3.0, a bad version: 30 % of its requests fail"
release registry.example/web:3.0 0.3
follow '[ "$(kubectl get rollout web -o jsonpath="{.status.abort}")" = "true" ] && [ "$(kubectl get rs -l app=web -o jsonpath="{.items[?(@.spec.template.spec.containers[0].image==\"registry.example/web:2.0\")].status.availableReplicas}")" = "5" ]'
echo
kubectl aviary get rollout web

step "What happened (events)"
kubectl get events --field-selector involvedObject.name=web --sort-by=.eventTime -o custom-columns=REASON:.reason,MESSAGE:.message | tail -n 30

step "Summary"
good=$(kubectl get rollout web -o jsonpath='{.status.stableRS}')
stable_image=$(kubectl get rs "web-$good" -o jsonpath='{.spec.template.spec.containers[0].image}')
if [ "$stable_image" = "registry.example/web:2.0" ] && [ "$(kubectl get rollout web -o jsonpath='{.status.abort}')" = "true" ]; then
  echo "  web:2.0 (hash $good) was promoted by its analysis and is stable."
  echo "  web:3.0 was aborted by its analysis; traffic is back on web:2.0."
  echo "  Why: $(kubectl get rollout web -o jsonpath='{.status.message}')"
else
  echo "  unexpected: stable is $stable_image; see $AVIARY_CLUSTER_DIR/logs/controller.log" >&2
  exit 1
fi

cat <<MSG

The cluster, Prometheus and the controller are still running:
  eval "\$(AVIARY_CLUSTER_DIR=$AVIARY_CLUSTER_DIR scripts/cluster.sh env)"
  kubectl get rollouts,analysisruns,rs,pods
  kubectl get analysisrun <name> -o yaml     # every measurement, its value and why
  less $AVIARY_CLUSTER_DIR/logs/controller.log
Remove everything with: scripts/demo.sh down
MSG
