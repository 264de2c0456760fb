#!/usr/bin/env bash
# The local demo: builds aviary, brings up a real local control plane with the
# pod-readiness simulator, and checks the client against it. The cluster stays
# up for you to explore; `scripts/demo.sh down` removes everything it started.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export AVIARY_CLUSTER_DIR="${AVIARY_CLUSTER_DIR:-/tmp/aviary-demo}"

if [ "${1:-}" = "down" ]; then
  exec scripts/cluster.sh down
fi

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "Installing dependencies (Debian packages; kube-apiserver built once and cached)"
scripts/install-deps.sh >/dev/null
step "Building aviary"
swift build --product aviary >/dev/null
swift build --product aviary-podsim >/dev/null
BIN="$(swift build --show-bin-path)"
step "Starting the local control plane"
scripts/cluster.sh up --podsim "$BIN/aviary-podsim"
eval "$(scripts/cluster.sh env)"
step "Checking the client against it: aviary check"
"$BIN/aviary" check
step "A ReplicaSet whose pods the simulator marks Ready"
kubectl apply -f examples/hello-replicaset.yaml >/dev/null
kubectl wait --for=jsonpath='{.status.readyReplicas}'=3 rs/hello --timeout=60s >/dev/null
kubectl get rs,pods -l app=hello

cat <<MSG

The control plane is still running. To use it:
  eval "\$(AVIARY_CLUSTER_DIR=$AVIARY_CLUSTER_DIR scripts/cluster.sh env)"
  kubectl get pods -A
Remove everything with: scripts/demo.sh down
MSG
