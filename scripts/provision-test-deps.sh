#!/usr/bin/env bash
# provision-test-deps.sh — run by `npm test` (pretest): makes sure everything the test suites need is on
# this machine, installing or building what is missing, or says exactly what is missing and fails.
# Idempotent: on a provisioned machine it only checks, in about a second.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
need() { command -v "$1" >/dev/null 2>&1 || missing+=("$1 ($2)"); }
need openssl "Debian package openssl"
need kubectl "kubectl 1.32+ on PATH"
need go "Go 1.26 with the Go module proxy, to build the Go test peers"
if ((${#missing[@]})); then
  printf 'provision-test-deps: missing: %s\n' "${missing[@]}" >&2
  exit 1
fi

# Go test peers (kube-apiserver, etcd, helm, kubelogin), built once and cached outside the repository.
peers_dir=$(scripts/build-test-peers.sh --print-dir)
for peer in kube-apiserver etcd helm kubelogin; do
  if [[ ! -x $peers_dir/$peer ]]; then
    echo "provision-test-deps: building Go test peers into $peers_dir (first run on this machine; see README for the cost)" >&2
    scripts/build-test-peers.sh >&2
    break
  fi
done
