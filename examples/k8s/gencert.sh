#!/usr/bin/env bash
# The seed runs `cd examples/k8s && ./gencert.sh`: same tool, same defaults (ssl/ in the current directory,
# a certificate for dex.example.com). Flags are passed through; see scripts/gencert.sh.
exec "$(dirname "$0")/../../scripts/gencert.sh" "$@"
