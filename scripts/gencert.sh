#!/usr/bin/env bash
# gencert.sh — a CA and a TLS server certificate for Latchkey (the seed's "Generate TLS assets" step, improved).
#
#   scripts/gencert.sh [--dns NAME]... [--ip ADDR]... [--out DIR] [--key-type ec|rsa] [--days N] [--force]
#
# Defaults: --dns dex.example.com, --out ssl, --key-type ec (P-256; rsa = 2048 bits), --days 365.
# Writes DIR/ca.pem (CA certificate: give it to kube-apiserver as --oidc-ca-file and to kubelogin),
# DIR/ca-key.pem, DIR/cert.pem and DIR/key.pem (for web.tlsCert/web.tlsKey or `kubectl create secret tls`).
# The CA is a real CA (basicConstraints CA:TRUE) distinct from the server certificate, which Go clients
# require; the server certificate has every --dns and --ip as a subjectAltName and extendedKeyUsage serverAuth.
# Idempotent: when DIR already holds a certificate for exactly these names it does nothing; it refuses to
# overwrite different files unless --force is given.
set -euo pipefail

dns=() ips=() out=ssl key_type=ec days=365 force=0
usage() { sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
while (($#)); do
  case $1 in
    --dns) dns+=("${2:?--dns needs a name}"); shift 2 ;;
    --ip) ips+=("${2:?--ip needs an address}"); shift 2 ;;
    --out) out=${2:?--out needs a directory}; shift 2 ;;
    --key-type) key_type=${2:?--key-type needs ec or rsa}; shift 2 ;;
    --days) days=${2:?--days needs a number}; shift 2 ;;
    --force) force=1; shift ;;
    -h | --help) usage ;;
    *) echo "gencert.sh: unknown argument $1" >&2; usage ;;
  esac
done
((${#dns[@]} + ${#ips[@]})) || dns=(dex.example.com)
[[ $key_type == ec || $key_type == rsa ]] || { echo "gencert.sh: --key-type must be ec or rsa" >&2; exit 2; }
[[ $days =~ ^[0-9]+$ && $days -gt 0 ]] || { echo "gencert.sh: --days must be a positive number" >&2; exit 2; }
command -v openssl >/dev/null || { echo "gencert.sh: openssl is required" >&2; exit 1; }

san=""
for d in "${dns[@]}"; do san+="${san:+,}DNS:$d"; done
for i in "${ips[@]}"; do san+="${san:+,}IP:$i"; done
cn=${dns[0]:-${ips[0]}}

if [[ -f $out/cert.pem && -f $out/key.pem && -f $out/ca.pem ]]; then
  existing=$(openssl x509 -in "$out/cert.pem" -noout -ext subjectAltName 2>/dev/null | tail -n +2 | tr -d ' ' | sed 's/IPAddress:/IP:/g')
  if [[ $existing == "$san" && $force == 0 ]]; then
    echo "gencert.sh: $out already holds a certificate for $san (nothing to do)"
    exit 0
  fi
  if [[ $force == 0 ]]; then
    echo "gencert.sh: $out already holds a certificate for ${existing:-other names}; use --force to replace it" >&2
    exit 1
  fi
fi

mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
newkey() {
  if [[ $key_type == ec ]]; then openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null
  else openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$1" 2>/dev/null; fi
}
newkey "$tmp/ca-key.pem"
openssl req -x509 -new -key "$tmp/ca-key.pem" -sha256 -days "$days" -subj "/CN=latchkey-ca" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
  -out "$tmp/ca.pem" 2>/dev/null
newkey "$tmp/key.pem"
openssl req -new -key "$tmp/key.pem" -subj "/CN=$cn" -out "$tmp/server.csr" 2>/dev/null
printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=%s\n' "$san" >"$tmp/server.ext"
openssl x509 -req -in "$tmp/server.csr" -CA "$tmp/ca.pem" -CAkey "$tmp/ca-key.pem" -CAcreateserial -sha256 \
  -days "$days" -extfile "$tmp/server.ext" -out "$tmp/cert.pem" 2>/dev/null
chmod 600 "$tmp/key.pem" "$tmp/ca-key.pem"
for f in ca.pem ca-key.pem cert.pem key.pem; do mv "$tmp/$f" "$out/$f"; done
echo "gencert.sh: wrote $out/ca.pem, $out/cert.pem and $out/key.pem for $san"
