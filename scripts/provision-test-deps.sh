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
need curl "Debian package curl (scripts/control-plane.sh polls readiness with it)"
need python3 "python3 (scripts/control-plane.sh picks free ports with it)"

# OpenLDAP (Debian's slapd and ldap-utils) for the LDAP connector tests, which start their own slapd on free
# loopback ports (test/helpers/slapd.ts). Installed when missing and running as root.
slapd_missing() {
  [[ -x /usr/sbin/slapd && -x /usr/sbin/slapadd ]] || return 0
  command -v ldapmodify >/dev/null 2>&1 && command -v ldapdelete >/dev/null 2>&1 && return 1
  return 0
}
if slapd_missing; then
  if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null 2>&1; then
    echo "provision-test-deps: installing slapd and ldap-utils (Debian) for the LDAP tests" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq slapd ldap-utils >&2
    # The package's postinst may start a system slapd (on :389, from /etc/ldap/slapd.d): stop it and keep it
    # from starting at boot; the tests run their own.
    if [[ -f /run/slapd/slapd.pid ]] && kill -0 "$(cat /run/slapd/slapd.pid)" 2>/dev/null; then
      service slapd stop >&2 2>&1 || kill "$(cat /run/slapd/slapd.pid)" || true
    fi
    if command -v systemctl >/dev/null 2>&1 && [[ -d /run/systemd/system ]]; then
      systemctl disable --now slapd >/dev/null 2>&1 || true
    else
      update-rc.d slapd disable >/dev/null 2>&1 || true
    fi
  else
    missing+=("slapd and ldap-utils (Debian packages: as root, apt-get install slapd ldap-utils; or run this script as root)")
  fi
fi

# Debian's Chromium for the page tests (test/browser, driven by playwright-core with executablePath; no test
# tool downloads a browser of its own). Installed when missing and running as root.
if [[ ! -x /usr/bin/chromium ]]; then
  if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null 2>&1; then
    echo "provision-test-deps: installing chromium (Debian) for the page tests" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq chromium >&2
  else
    missing+=("chromium (Debian package: as root, apt-get install chromium; or run this script as root)")
  fi
fi

# Debian's umoci and skopeo (scripts/build-image.sh builds the OCI image archive with them; the image boot
# test unpacks it with them), runc (the boot test starts the image's entrypoint with it: crun refuses this
# kind of machine's hybrid cgroups) and containerd (whose ctr imports the archive as kind does). Installed
# when missing and running as root; the tests start their own containerd, never the system's.
image_tools=()
for tool in umoci skopeo runc containerd; do command -v "$tool" >/dev/null 2>&1 || image_tools+=("$tool"); done
if ((${#image_tools[@]})); then
  if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null 2>&1; then
    echo "provision-test-deps: installing ${image_tools[*]} (Debian) for the image tests" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq "${image_tools[@]}" >&2
  else
    missing+=("${image_tools[*]} (Debian packages: as root, apt-get install ${image_tools[*]}; or run this script as root)")
  fi
fi

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
