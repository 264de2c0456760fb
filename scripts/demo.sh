#!/usr/bin/env bash
# The local demo, on a fresh machine: builds aviary, brings up a real local
# control plane with the pod-readiness simulator, installs the CRDs, starts the
# controller, and walks the example canary from web:1.0 to web:2.0 through its
# steps, promoting it at the indefinite pause.
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
"$BIN/aviary" check

step "Installing the CRDs and starting the controller"
kubectl apply -f crds/
kubectl wait --for=condition=Established crd/rollouts.aviary.dev --timeout=60s >/dev/null
if ! { [ -f "$AVIARY_CLUSTER_DIR/pids/controller" ] && kill -0 "$(cat "$AVIARY_CLUSTER_DIR/pids/controller")" 2>/dev/null; }; then
  "$BIN/aviary" controller >"$AVIARY_CLUSTER_DIR/logs/controller.log" 2>&1 &
  echo $! >"$AVIARY_CLUSTER_DIR/pids/controller"
fi

step "Deploying the example canary (examples/canary-rollout.yaml): web:1.0, 10 replicas"
kubectl delete rollout web --ignore-not-found >/dev/null
kubectl apply -f examples/canary-rollout.yaml
kubectl wait --for=jsonpath='{.status.phase}'=Healthy rollout/web --timeout=120s >/dev/null
show

step "Rolling out web:2.0: setWeight 10 → pause 5s → setWeight 30 → pause until promoted"
kubectl patch rollout web --type=json \
  -p '[{"op": "replace", "path": "/spec/template/spec/containers/0/image", "value": "registry.example/web:2.0"}]'
follow '[ "$(kubectl get rollout web -o jsonpath="{.status.currentStepIndex}/{.status.phase}")" = "3/Paused" ]'
sizes

step "Promoting (what \`kubectl aviary promote web\` will do: clear the pause)"
kubectl patch rollout web --subresource=status --type=merge -p '{"status": {"pauseConditions": null}}' >/dev/null
follow '[ "$(kubectl get rollout web -o jsonpath="{.status.phase}/{.status.stableRS}")" = "Healthy/$(kubectl get rollout web -o jsonpath="{.status.currentPodHash}")" ]'
sizes

step "What happened (events)"
kubectl get events --field-selector involvedObject.name=web --sort-by=.lastTimestamp -o custom-columns=REASON:.reason,MESSAGE:.message | tail -n 25

cat <<MSG

web:2.0 is stable; web:1.0 is scaled to 0. The cluster and controller are still running:
  eval "\$(AVIARY_CLUSTER_DIR=$AVIARY_CLUSTER_DIR scripts/cluster.sh env)"
  kubectl get rollouts,rs,pods
  less $AVIARY_CLUSTER_DIR/logs/controller.log
Remove everything with: scripts/demo.sh down
MSG
