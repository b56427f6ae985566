#!/usr/bin/env bash
# control-plane.sh — a loopback-only Kubernetes control plane for tests: etcd + kube-apiserver (no kubelet,
# scheduler or controller-manager), built by scripts/build-test-peers.sh.
#
#   HARNESS_DIR=/tmp/x scripts/control-plane.sh up [extra kube-apiserver flags…]
#       starts both on free 127.0.0.1 ports with generated certificates, waits for /readyz and the "default"
#       namespace, writes $HARNESS_DIR/admin.kubeconfig, $HARNESS_DIR/noauth.kubeconfig (cluster only, for
#       bearer-token tests: with the admin context kubectl would also send the admin client certificate,
#       which wins over a token) and $HARNESS_DIR/env; prints the env file's path.
#   scripts/control-plane.sh stop-apiserver | start-apiserver   (outage tests; same ports, same flags)
#   scripts/control-plane.sh down                                (stops exactly the PIDs it started)
# A failure to start prints the component's log tail and exits non-zero: never a silent skip.
set -euo pipefail
H=${HARNESS_DIR:?set HARNESS_DIR to a directory for this control plane}
BIN=${K8S_BIN_DIR:-$("$(dirname "$0")/build-test-peers.sh" --print-dir)}
KUBECTL=${KUBECTL:-kubectl}

free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1]);s.close()'; }
wait_for() { # seconds cmd...
  local deadline=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || return 1
    sleep 0.2
  done
}
stop_pid() { # pidfile
  [[ -f $1 ]] || return 0
  local pid; pid=$(cat "$1")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
  fi
  rm -f "$1"
}

gen_pki() {
  local d=$H/pki; mkdir -p "$d"
  (
    cd "$d"
    ec() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
    ec ca.key
    openssl req -x509 -new -key ca.key -sha256 -days 3650 -subj "/CN=latchkey-test-ca" \
      -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" \
      -out ca.crt 2>/dev/null
    leaf() { # name subject extensions
      ec "$1.key"
      openssl req -new -key "$1.key" -subj "$2" -out "$1.csr" 2>/dev/null
      printf '%b' "$3" >"$1.ext"
      openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -sha256 -days 365 \
        -extfile "$1.ext" -out "$1.crt" 2>/dev/null
    }
    leaf apiserver "/CN=kube-apiserver" "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost,IP:10.0.0.1,DNS:kubernetes.default.svc\n"
    leaf admin "/O=system:masters/CN=latchkey-test-admin" "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n"
    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out sa.key 2>/dev/null
    openssl pkey -in sa.key -pubout -out sa.pub 2>/dev/null
  )
}

start_apiserver() {
  # shellcheck disable=SC1091
  source "$H/ports"
  local extra=()
  [[ -f $H/apiserver-extra-args ]] && mapfile -t extra <"$H/apiserver-extra-args"
  "$BIN/kube-apiserver" \
    --etcd-servers="http://127.0.0.1:$ETCD_PORT" \
    --bind-address=127.0.0.1 --advertise-address=127.0.0.1 --secure-port="$API_PORT" \
    --tls-cert-file="$H/pki/apiserver.crt" --tls-private-key-file="$H/pki/apiserver.key" \
    --client-ca-file="$H/pki/ca.crt" \
    --service-account-issuer="https://127.0.0.1:$API_PORT" \
    --service-account-key-file="$H/pki/sa.pub" --service-account-signing-key-file="$H/pki/sa.key" \
    --service-cluster-ip-range=10.0.0.0/24 --endpoint-reconciler-type=none \
    --authorization-mode=RBAC --disable-admission-plugins=ServiceAccount --allow-privileged=true \
    --cert-dir="$H/apiserver-certs" "${extra[@]}" \
    >>"$H/logs/kube-apiserver.log" 2>&1 &
  echo $! >"$H/kube-apiserver.pid"
  local curl_admin=(curl -fsS --cacert "$H/pki/ca.crt" --cert "$H/pki/admin.crt" --key "$H/pki/admin.key")
  if ! wait_for 180 "${curl_admin[@]}" "https://127.0.0.1:$API_PORT/readyz"; then
    echo "control-plane: kube-apiserver did not become ready; last log lines:" >&2
    tail -40 "$H/logs/kube-apiserver.log" >&2
    exit 1
  fi
}

up() {
  mkdir -p "$H/logs"
  [[ -f $H/pki/ca.crt ]] || gen_pki
  printf 'API_PORT=%s\nETCD_PORT=%s\nETCD_PEER_PORT=%s\n' "$(free_port)" "$(free_port)" "$(free_port)" >"$H/ports"
  printf '%s\n' "$@" | sed '/^$/d' >"$H/apiserver-extra-args"
  # shellcheck disable=SC1091
  source "$H/ports"

  "$BIN/etcd" --name latchkey-test --data-dir "$H/etcd" --logger zap --log-level warn \
    --listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
    --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-cluster "latchkey-test=http://127.0.0.1:$ETCD_PEER_PORT" --unsafe-no-fsync \
    >"$H/logs/etcd.log" 2>&1 &
  echo $! >"$H/etcd.pid"
  if ! wait_for 60 curl -fsS "http://127.0.0.1:$ETCD_PORT/health"; then
    echo "control-plane: etcd did not become healthy; last log lines:" >&2
    tail -20 "$H/logs/etcd.log" >&2
    exit 1
  fi

  start_apiserver

  local kc=$H/admin.kubeconfig nk=$H/noauth.kubeconfig
  $KUBECTL config set-cluster latchkey-test --server="https://127.0.0.1:$API_PORT" \
    --certificate-authority="$H/pki/ca.crt" --embed-certs=true --kubeconfig="$kc" >/dev/null
  $KUBECTL config set-credentials latchkey-test-admin --client-certificate="$H/pki/admin.crt" \
    --client-key="$H/pki/admin.key" --embed-certs=true --kubeconfig="$kc" >/dev/null
  $KUBECTL config set-context latchkey-test --cluster=latchkey-test --user=latchkey-test-admin --kubeconfig="$kc" >/dev/null
  $KUBECTL config use-context latchkey-test --kubeconfig="$kc" >/dev/null
  $KUBECTL config set-cluster latchkey-test --server="https://127.0.0.1:$API_PORT" \
    --certificate-authority="$H/pki/ca.crt" --embed-certs=true --kubeconfig="$nk" >/dev/null
  $KUBECTL config set-context latchkey-test --cluster=latchkey-test --user=nobody --kubeconfig="$nk" >/dev/null
  $KUBECTL config use-context latchkey-test --kubeconfig="$nk" >/dev/null
  # The "default" namespace appears shortly after /readyz.
  if ! wait_for 60 $KUBECTL --kubeconfig="$kc" get --raw /api/v1/namespaces/default; then
    echo "control-plane: the default namespace never appeared" >&2
    exit 1
  fi

  cat >"$H/env" <<ENV
KUBECONFIG=$kc
K8S_API_URL=https://127.0.0.1:$API_PORT
K8S_CA_FILE=$H/pki/ca.crt
K8S_NOAUTH_KUBECONFIG=$nk
ETCD_URL=http://127.0.0.1:$ETCD_PORT
ENV
  echo "$H/env"
}

down() {
  stop_pid "$H/kube-apiserver.pid"
  stop_pid "$H/etcd.pid"
  [[ ${KEEP_HARNESS_DIR:-0} == 1 ]] || rm -rf "$H"
}

cmd=${1:-}
shift || true
case $cmd in
  up) up "$@" ;;
  down) down ;;
  stop-apiserver) stop_pid "$H/kube-apiserver.pid" ;;
  start-apiserver) start_apiserver ;;
  *) echo "usage: $0 up [apiserver flags…] | down | stop-apiserver | start-apiserver" >&2; exit 2 ;;
esac
