#!/usr/bin/env bash
# Runs the whole test suite: unit tests, and integration tests against a real
# local control plane (etcd, kube-apiserver, kube-controller-manager and the
# pod-readiness simulator) that this script starts and stops.
#
#   scripts/test.sh                 everything
#   scripts/test.sh --filter Watch  extra arguments go to `swift test`
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/install-deps.sh >/dev/null
swift build --build-tests

export AVIARY_CLUSTER_DIR
AVIARY_CLUSTER_DIR="$(mktemp -d /tmp/aviary-test.XXXXXX)"
trap 'scripts/cluster.sh down >/dev/null 2>&1 || true' EXIT
scripts/cluster.sh up --podsim "$(swift build --show-bin-path)/aviary-podsim"
export AVIARY_TEST_KUBECONFIG="$AVIARY_CLUSTER_DIR/kubeconfig"

status=0
swift test "$@" || status=$?
if [ "$status" -ne 0 ]; then
  echo "--- control plane logs (last lines) ---" >&2
  for f in "$AVIARY_CLUSTER_DIR"/logs/*.log; do echo "== $f" >&2; tail -n 15 "$f" >&2; done
fi
exit "$status"
