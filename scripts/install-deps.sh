#!/usr/bin/env bash
# Installs what building and testing Aviary needs on a Debian bookworm machine,
# and builds kube-apiserver + kube-controller-manager from Debian's kubernetes
# source package (there is no container runtime here). The binaries are cached
# outside the repo, keyed by the source version, so later runs take seconds.
set -euo pipefail

CACHE="${AVIARY_CACHE:-$HOME/.cache/aviary}"
KUBE_VERSION="1.20.2"
KUBE_BIN="$CACHE/kubernetes-$KUBE_VERSION/bin"
mkdir -p "$CACHE"

log() { printf '[install-deps] %s\n' "$*" >&2; }

need_pkgs=()
# chromium and chromium-driver: the dashboard's tests drive a real browser over WebDriver.
for p in libcurl4-openssl-dev etcd-server etcd-client prometheus openssl rsync curl chromium chromium-driver; do
  dpkg -s "$p" >/dev/null 2>&1 || need_pkgs+=("$p")
done
if [ ! -x "$KUBE_BIN/kube-apiserver" ] || [ ! -x "$KUBE_BIN/kube-controller-manager" ]; then
  for p in golang-go golang-github-modern-go-reflect2-dev dpkg-dev; do
    dpkg -s "$p" >/dev/null 2>&1 || need_pkgs+=("$p")
  done
  build_kube=1
else
  build_kube=0
fi
command -v kubectl >/dev/null 2>&1 || need_pkgs+=(kubernetes-client)

apt_updated=0
apt_update() {
  if [ "$apt_updated" = 0 ]; then
    # A deb-src twin of the configured Debian archive, for `apt-get source`.
    if ! grep -rqs 'deb-src' /etc/apt/sources.list /etc/apt/sources.list.d/; then
      if [ -f /etc/apt/sources.list.d/debian.sources ]; then
        sed -n '/^Types: deb$/,/^$/p' /etc/apt/sources.list.d/debian.sources \
          | sed 's/^Types: deb$/Types: deb-src/' >/etc/apt/sources.list.d/aviary-deb-src.sources
      elif [ -f /etc/apt/sources.list ]; then
        grep -E '^deb .*debian' /etc/apt/sources.list | sed 's/^deb /deb-src /' >/etc/apt/sources.list.d/aviary-deb-src.list
      fi
    fi
    log "apt-get update"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
    apt_updated=1
  fi
}

if [ "${#need_pkgs[@]}" -gt 0 ]; then
  apt_update
  log "apt-get install ${need_pkgs[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null
fi
# The Debian prometheus package starts a system service; we run our own.
if command -v systemctl >/dev/null 2>&1; then systemctl stop prometheus prometheus-node-exporter >/dev/null 2>&1 || true; fi
pkill -x prometheus-node-exporter >/dev/null 2>&1 || true

if [ "$build_kube" = 1 ]; then
  apt_update
  SRC="$CACHE/kubernetes-src"
  rm -rf "$SRC"; mkdir -p "$SRC"
  log "apt-get source kubernetes ($KUBE_VERSION)"
  (cd "$SRC" && apt-get source -qq "kubernetes=$KUBE_VERSION*" >/dev/null 2>&1 || apt-get source -qq kubernetes >/dev/null)
  TREE=$(find "$SRC" -maxdepth 1 -mindepth 1 -type d -name 'kubernetes-*' | head -1)
  [ -n "$TREE" ] || { log "kubernetes source tree not found"; exit 1; }
  # The vendored reflect2 1.0.1 crashes under Go 1.19 ("fatal error: fault").
  rm -rf "$TREE/vendor/github.com/modern-go/reflect2"
  cp -r /usr/share/gocode/src/github.com/modern-go/reflect2 "$TREE/vendor/github.com/modern-go/reflect2"
  rm -f "$TREE/vendor/github.com/modern-go/reflect2/go.mod"
  mkdir -p "$SRC/.go/src/k8s.io"
  ln -sfn "$TREE" "$SRC/.go/src/k8s.io/kubernetes"
  log "building kube-apiserver and kube-controller-manager (about 6 minutes on 2 cores)"
  (cd "$SRC/.go/src/k8s.io/kubernetes" && GOPATH="$SRC/.go" GO111MODULE=off GOFLAGS= CGO_ENABLED=0 \
      make WHAT="cmd/kube-apiserver cmd/kube-controller-manager" >"$SRC/build.log" 2>&1) \
    || { tail -40 "$SRC/build.log" >&2; exit 1; }
  mkdir -p "$KUBE_BIN"
  for b in kube-apiserver kube-controller-manager; do
    cp "$(find "$TREE/_output" -type f -name "$b" | head -1)" "$KUBE_BIN/$b"
  done
  rm -rf "$SRC"
  log "cached in $KUBE_BIN"
fi
echo "$KUBE_BIN"
