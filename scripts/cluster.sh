#!/usr/bin/env bash
# A real, local Kubernetes control plane for tests and the demo:
# etcd + kube-apiserver + kube-controller-manager + Prometheus (1 s scrapes)
# (+ our pod-readiness simulator), all on loopback, on free ports, owned by one
# state directory.
#
#   scripts/cluster.sh up [--podsim PATH]   start (idempotent: a running cluster is kept)
#   scripts/cluster.sh env                  print `export KUBECONFIG=...` lines
#   scripts/cluster.sh status               say what is running
#   scripts/cluster.sh compact [REV]        compact etcd history up to REV (default: now)
#   scripts/cluster.sh restart-apiserver    stop and start kube-apiserver only
#   scripts/cluster.sh down                 stop exactly the processes `up` started
#
# AVIARY_CLUSTER_DIR picks the state directory (default /tmp/aviary-cluster), so
# two clusters can run side by side. For the scale benchmark (bench-scale.sh):
# AVIARY_KCM_QPS (200) and AVIARY_KCM_RS_SYNCS (10) are the controller-manager's
# API rate and ReplicaSet workers; AVIARY_SCRAPE_INTERVAL (1s) Prometheus'.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
DIR="${AVIARY_CLUSTER_DIR:-/tmp/aviary-cluster}"
LOGS="$DIR/logs"
PIDS="$DIR/pids"

log() { printf '[cluster] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

free_port() {
  python3 - <<'PY'
import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()
PY
}

alive() { [ -f "$PIDS/$1" ] && kill -0 "$(cat "$PIDS/$1")" 2>/dev/null; }

start() { # name, command...
  local name=$1; shift
  "$@" >"$LOGS/$name.log" 2>&1 &
  echo $! >"$PIDS/$name"
}

stop() { # name
  local name=$1 pid
  [ -f "$PIDS/$name" ] || return 0
  pid=$(cat "$PIDS/$name")
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$PIDS/$name"
}

make_certs() {
  local c="$DIR/pki"
  mkdir -p "$c"
  [ -f "$c/admin.crt" ] && return 0
  (
    cd "$c"
    openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 30 -subj "/CN=aviary-local-ca" 2>/dev/null
    cat >server.ext <<EOF
subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc
extendedKeyUsage=serverAuth
EOF
    openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj "/CN=kube-apiserver" 2>/dev/null
    openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out server.crt -days 30 -extfile server.ext 2>/dev/null
    echo "extendedKeyUsage=clientAuth" >client.ext
    for who in admin:system:masters kcm:system:masters; do
      local cn=${who%%:*} org=${who#*:}
      openssl req -newkey rsa:2048 -nodes -keyout "$cn.key" -out "$cn.csr" -subj "/O=$org/CN=$cn" 2>/dev/null
      openssl x509 -req -in "$cn.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -out "$cn.crt" -days 30 -extfile client.ext 2>/dev/null
    done
    openssl genrsa -out sa.key 2048 2>/dev/null
    openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
  )
}

write_kubeconfig() { # file, user
  local file=$1 user=$2 c="$DIR/pki"
  cat >"$file" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: aviary-local
  cluster:
    server: https://127.0.0.1:$(cat "$DIR/api.port")
    certificate-authority-data: $(base64 -w0 <"$c/ca.crt")
users:
- name: $user
  user:
    client-certificate-data: $(base64 -w0 <"$c/$user.crt")
    client-key-data: $(base64 -w0 <"$c/$user.key")
contexts:
- name: aviary-local
  context:
    cluster: aviary-local
    user: $user
    namespace: default
current-context: aviary-local
EOF
}

start_apiserver() {
  local c="$DIR/pki"
  start kube-apiserver "$KUBE_BIN/kube-apiserver" \
    --etcd-servers="http://127.0.0.1:$(cat "$DIR/etcd.port")" \
    --bind-address=127.0.0.1 --advertise-address=127.0.0.1 \
    --secure-port="$(cat "$DIR/api.port")" --insecure-port=0 \
    --tls-cert-file="$c/server.crt" --tls-private-key-file="$c/server.key" \
    --client-ca-file="$c/ca.crt" \
    --authorization-mode=RBAC \
    --service-account-key-file="$c/sa.pub" \
    --service-account-signing-key-file="$c/sa.key" \
    --service-account-issuer=https://kubernetes.default.svc \
    --service-cluster-ip-range=10.96.0.0/16 \
    --endpoint-reconciler-type=none \
    --watch-cache-sizes=configmaps#0 \
    --allow-privileged=true \
    --profiling=false
  wait_ready
}

wait_ready() {
  for _ in $(seq 1 600); do
    if KUBECONFIG="$DIR/kubeconfig" kubectl get --raw /readyz >/dev/null 2>&1; then return 0; fi
    alive kube-apiserver || { tail -20 "$LOGS/kube-apiserver.log" >&2; die "kube-apiserver exited"; }
    sleep 0.1
  done
  die "kube-apiserver not ready after 60s (see $LOGS/kube-apiserver.log)"
}

# Prometheus scrapes itself, the simulator's request metrics and a controller
# on controller-metrics.port (the demo's, or a test's), every second.
start_prometheus() {
  free_port >"$DIR/prometheus.port"
  free_port >"$DIR/podsim-metrics.port"
  free_port >"$DIR/controller-metrics.port"
  local port; port=$(cat "$DIR/prometheus.port")
  mkdir -p "$DIR/prometheus-data"
  printf '%s\n' "global:" "  scrape_interval: ${AVIARY_SCRAPE_INTERVAL:-1s}" "  evaluation_interval: 1s" "scrape_configs:" \
    "  - job_name: prometheus" "    static_configs:" "      - targets: [\"127.0.0.1:$port\"]" \
    "  - job_name: podsim" "    static_configs:" "      - targets: [\"127.0.0.1:$(cat "$DIR/podsim-metrics.port")\"]" \
    "  - job_name: aviary-controller" "    static_configs:" "      - targets: [\"127.0.0.1:$(cat "$DIR/controller-metrics.port")\"]" \
    >"$DIR/prometheus.yml"
  start prometheus prometheus --config.file="$DIR/prometheus.yml" --storage.tsdb.path="$DIR/prometheus-data" \
    --web.listen-address="127.0.0.1:$port" --web.enable-lifecycle
  for _ in $(seq 1 300); do
    curl -fs "http://127.0.0.1:$port/-/ready" >/dev/null 2>&1 && return 0
    alive prometheus || { tail -20 "$LOGS/prometheus.log" >&2; die "prometheus exited"; }
    sleep 0.1
  done
  die "prometheus not ready after 30s (see $LOGS/prometheus.log)"
}

cmd_up() {
  local podsim=""
  while [ $# -gt 0 ]; do
    case $1 in
      --podsim) podsim=$2; shift 2 ;;
      *) die "unknown option $1" ;;
    esac
  done
  KUBE_BIN="$("$HERE/install-deps.sh")"
  mkdir -p "$DIR" "$LOGS" "$PIDS"
  if alive kube-apiserver && alive etcd; then
    log "already running in $DIR"
  else
    cmd_down >/dev/null 2>&1 || true
    mkdir -p "$DIR" "$LOGS" "$PIDS"
    make_certs
    free_port >"$DIR/etcd.port"; free_port >"$DIR/etcd-peer.port"; free_port >"$DIR/api.port"
    local ep; ep=$(cat "$DIR/etcd.port")
    rm -rf "$DIR/etcd-data"
    start etcd etcd --name aviary --data-dir "$DIR/etcd-data" \
      --listen-client-urls "http://127.0.0.1:$ep" --advertise-client-urls "http://127.0.0.1:$ep" \
      --listen-peer-urls "http://127.0.0.1:$(cat "$DIR/etcd-peer.port")" \
      --initial-advertise-peer-urls "http://127.0.0.1:$(cat "$DIR/etcd-peer.port")" \
      --initial-cluster "aviary=http://127.0.0.1:$(cat "$DIR/etcd-peer.port")" \
      --unsafe-no-fsync
    write_kubeconfig "$DIR/kubeconfig" admin
    write_kubeconfig "$DIR/kcm.kubeconfig" kcm
    start_apiserver
    start kube-controller-manager "$KUBE_BIN/kube-controller-manager" \
      --kubeconfig="$DIR/kcm.kubeconfig" \
      --controllers=replicaset,job,garbagecollector,serviceaccount,serviceaccount-token,namespace \
      --port=0 --secure-port=0 --leader-elect=false \
      --service-account-private-key-file="$DIR/pki/sa.key" \
      --root-ca-file="$DIR/pki/ca.crt" \
      --concurrent-replicaset-syncs="${AVIARY_KCM_RS_SYNCS:-10}" \
      --kube-api-qps="${AVIARY_KCM_QPS:-200}" --kube-api-burst="$(( ${AVIARY_KCM_QPS:-200} * 2 ))"
    # The controller-manager is useful once it has made the default ServiceAccount and its token.
    for _ in $(seq 1 300); do
      if KUBECONFIG="$DIR/kubeconfig" kubectl -n default get secrets -o name 2>/dev/null | grep -q 'default-token'; then break; fi
      alive kube-controller-manager || { tail -20 "$LOGS/kube-controller-manager.log" >&2; die "kube-controller-manager exited"; }
      sleep 0.2
    done
    start_prometheus
    log "control plane up: https://127.0.0.1:$(cat "$DIR/api.port"), Prometheus http://127.0.0.1:$(cat "$DIR/prometheus.port") (state in $DIR)"
  fi
  if [ -n "$podsim" ] && ! alive podsim; then
    start podsim "$podsim" --kubeconfig "$DIR/kubeconfig" --metrics-port "$(cat "$DIR/podsim-metrics.port")"
    sleep 0.5
    alive podsim || { tail -20 "$LOGS/podsim.log" >&2; die "pod-readiness simulator exited"; }
    log "pod-readiness simulator running"
  fi
}

cmd_env() {
  [ -f "$DIR/kubeconfig" ] || die "no cluster in $DIR; run: scripts/cluster.sh up"
  echo "export KUBECONFIG=$DIR/kubeconfig"
  echo "export AVIARY_CLUSTER_DIR=$DIR"
  echo "export AVIARY_ETCD_ENDPOINT=http://127.0.0.1:$(cat "$DIR/etcd.port")"
  echo "export AVIARY_PROMETHEUS_URL=http://127.0.0.1:$(cat "$DIR/prometheus.port")"
  echo "export AVIARY_CONTROLLER_METRICS_ADDR=127.0.0.1:$(cat "$DIR/controller-metrics.port")"
}

cmd_status() {
  for p in etcd kube-apiserver kube-controller-manager prometheus podsim controller; do
    if alive "$p"; then echo "$p: running (pid $(cat "$PIDS/$p"))"; else echo "$p: stopped"; fi
  done
}

cmd_compact() { # [revision]; default: the current one
  local ep rev=${1:-}
  ep="http://127.0.0.1:$(cat "$DIR/etcd.port")"
  [ -n "$rev" ] || rev=$(ETCDCTL_API=3 etcdctl --endpoints "$ep" endpoint status -w json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["Status"]["header"]["revision"])')
  ETCDCTL_API=3 etcdctl --endpoints "$ep" compact "$rev" >/dev/null
  echo "$rev"
}

cmd_restart_apiserver() {
  KUBE_BIN="$("$HERE/install-deps.sh")"
  stop kube-apiserver
  start_apiserver
}

cmd_down() {
  [ -d "$PIDS" ] || return 0
  # "controller" is the aviary controller the demo starts and records here.
  for p in controller podsim prometheus kube-controller-manager kube-apiserver etcd; do stop "$p"; done
  rm -rf "$DIR"
  log "stopped and removed $DIR"
}

case "${1:-}" in
  up) shift; cmd_up "$@" ;;
  env) cmd_env ;;
  status) cmd_status ;;
  compact) shift; cmd_compact "$@" ;;
  restart-apiserver) cmd_restart_apiserver ;;
  down) cmd_down ;;
  *) echo "usage: $0 up [--podsim PATH] | env | status | compact [REV] | restart-apiserver | down" >&2; exit 2 ;;
esac
