#!/usr/bin/env bash
# Runs the whole test suite: unit tests, and integration tests against a real
# local control plane (etcd, kube-apiserver, kube-controller-manager, Prometheus
# and the pod-readiness simulator) that this script starts and stops.
#
#   scripts/test.sh                 everything
#   scripts/test.sh --filter Watch  extra arguments go to `swift test` (one run)
#
# Everything runs in two `swift test` runs against one control plane: all
# suites side by side, then DisruptiveTests alone (they restart the API server).
# The release binary is built as the Dockerfile builds it and run in-cluster
# by DeployE2ETests.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/install-deps.sh >/dev/null
swift build --build-tests
echo "building the release binary as the Dockerfile does (swift build -c release --static-swift-stdlib)" >&2
swift build -c release --static-swift-stdlib --product aviary --scratch-path .build-release 2>&1 | tail -1
export AVIARY_RELEASE_BIN
AVIARY_RELEASE_BIN="$(swift build -c release --static-swift-stdlib --scratch-path .build-release --show-bin-path)/aviary"

export AVIARY_CLUSTER_DIR
AVIARY_CLUSTER_DIR="$(mktemp -d /tmp/aviary-test.XXXXXX)"
trap 'scripts/cluster.sh down >/dev/null 2>&1 || true' EXIT
scripts/cluster.sh up --podsim "$(swift build --show-bin-path)/aviary-podsim"
export AVIARY_TEST_KUBECONFIG="$AVIARY_CLUSTER_DIR/kubeconfig"

status=0
if [ $# -gt 0 ]; then
  swift test "$@" || status=$?
else
  swift test --skip DisruptiveTests || status=$?
  swift test --filter DisruptiveTests || status=$?
fi
if [ "$status" -ne 0 ]; then
  echo "--- control plane logs (last lines) ---" >&2
  for f in "$AVIARY_CLUSTER_DIR"/logs/*.log; do echo "== $f" >&2; tail -n 15 "$f" >&2; done
fi
# In CI the demo runs too, on a cluster of its own: it must end with the good
# version promoted and the bad one aborted (it exits non-zero otherwise).
if [ "$status" -eq 0 ] && [ "${CI:-}" = "true" ] && [ $# -eq 0 ]; then
  scripts/cluster.sh down >/dev/null 2>&1 || true
  demo_dir="$(mktemp -d /tmp/aviary-demo-ci.XXXXXX)"
  AVIARY_CLUSTER_DIR="$demo_dir" scripts/demo.sh || status=$?
  AVIARY_CLUSTER_DIR="$demo_dir" scripts/demo.sh down >/dev/null 2>&1 || true
fi
exit "$status"
