#!/usr/bin/env bash
# build-image.sh [<output.tar>] — builds Latchkey's container image without a Docker engine (`npm run image`)
# and writes it as an OCI image archive, by default latchkey-<version>.oci.tar at the repository's root
# (gitignored). Load it with any of:
#   docker load -i latchkey-0.1.0.oci.tar              (tags latchkey:0.1.0)
#   kind load image-archive latchkey-0.1.0.oci.tar
#   ctr images import latchkey-0.1.0.oci.tar           (names docker.io/library/latchkey:0.1.0)
#   skopeo copy oci-archive:latchkey-0.1.0.oci.tar docker://REGISTRY/latchkey:0.1.0
#
# The image's files are the ones scripts/image-root.sh lays out (the Dockerfile's layout), plus what the
# Dockerfile gets from its node:slim base: the shared libraries that Node.js and the native addons link
# (found with ldd, copied from this machine), /usr/bin/env for the CLI's shebang, /etc/passwd and /etc/group
# naming uid/gid 1000, and /tmp. No shell and no package manager: the entrypoint is Node.js itself, run as
# uid 1000.
#
# Built with Debian's umoci (layout, layer, image config) and checked with Debian's skopeo (which reads the
# archive as every other tool will); both are installed with apt-get when missing and running as root.
# The archive's timestamps come from SOURCE_DATE_EPOCH, by default the last commit's time, so that
# rebuilding the same commit gives the same layer.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
NODE=$REPO/node_modules/node/bin/node
[[ -x $NODE ]] || { echo "build-image: $NODE is missing: run npm ci first" >&2; exit 1; }
VERSION=$("$NODE" -p "require('$REPO/package.json').version")
OUTPUT=${1:-$REPO/latchkey-$VERSION.oci.tar}
[[ $# -le 1 ]] || { echo "usage: $0 [<output.tar>]" >&2; exit 2; }
mkdir -p "$(dirname "$OUTPUT")"
OUTPUT=$(cd "$(dirname "$OUTPUT")" && pwd)/$(basename "$OUTPUT")

# The same name the chart pulls by default (image.repository "latchkey", tag = appVersion = version).
IMAGE_NAME=latchkey
IMAGE_REF=docker.io/library/$IMAGE_NAME:$VERSION
IMAGE_USER=1000:1000

# Debian's umoci and skopeo, installed like the test suites' slapd (scripts/provision-test-deps.sh).
ensure_tools() {
  local wanted=() tool
  for tool in umoci skopeo; do command -v "$tool" >/dev/null 2>&1 || wanted+=("$tool"); done
  ((${#wanted[@]})) || return 0
  if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null 2>&1; then
    echo "build-image: installing ${wanted[*]} (Debian)" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq "${wanted[@]}" >&2
  else
    echo "build-image: missing ${wanted[*]} (Debian packages: as root, apt-get install ${wanted[*]})" >&2
    exit 1
  fi
}
ensure_tools

# Timestamps: the last commit's (read-only git), or now outside a git checkout.
if [[ -z ${SOURCE_DATE_EPOCH:-} ]]; then
  SOURCE_DATE_EPOCH=$(git -C "$REPO" log -1 --format=%ct 2>/dev/null || date +%s)
fi
CREATED=$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%dT%H:%M:%SZ)
REVISION=$(git -C "$REPO" rev-parse HEAD 2>/dev/null || echo unknown)

WORK=$(mktemp -d "${TMPDIR:-/tmp}/latchkey-image-build-XXXXXX")
trap 'rm -rf "$WORK" "$OUTPUT.partial"' EXIT
ROOT=$WORK/root
LAYOUT=$WORK/layout

bash "$REPO/scripts/image-root.sh" "$ROOT" >&2

# The libraries the ELF files link, at the paths the dynamic loader looks in (ldd prints them). The musl
# build of a native addon is never loaded on this glibc image, so its unresolved libc is not a gap; the
# prebuilt addons of other platforms are not dynamic executables here, and ldd says so (silenced).
copy_linked_libraries() {
  local elf lib
  local -A libs=()
  while IFS= read -r elf; do
    [[ $elf == *musl* ]] && continue
    while IFS= read -r lib; do libs[$lib]=1; done < <(
      { ldd "$elf" 2>/dev/null || true; } | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }'
    )
  done < <(printf '%s\n' "$ROOT/usr/local/bin/node" "$ROOT/usr/bin/env"; find "$ROOT/app/node_modules" -name '*.node' -type f)
  for lib in "${!libs[@]}"; do
    mkdir -p "$ROOT$(dirname "$lib")"
    cp -L "$lib" "$ROOT$lib"
  done
}
# The CLI's `#!/usr/bin/env node` line needs env (coreutils' ELF program, not a shell), so that
# `kubectl exec deploy/latchkey -- latchkey hash-password` works as it does in the Dockerfile's image.
mkdir -p "$ROOT/usr/bin"
cp -L /usr/bin/env "$ROOT/usr/bin/env"
copy_linked_libraries

# What the base image's /etc gives a process: names for its uid and gid (os.userInfo() and some libraries
# ask), and host lookups that read /etc/hosts (which the runtime mounts) before DNS.
mkdir -p "$ROOT/etc" "$ROOT/tmp"
printf 'root:x:0:0:root:/root:/usr/sbin/nologin\nnode:x:1000:1000::/home/node:/usr/sbin/nologin\n' >"$ROOT/etc/passwd"
printf 'root:x:0:\nnode:x:1000:\n' >"$ROOT/etc/group"
printf 'hosts: files dns\n' >"$ROOT/etc/nsswitch.conf"
chmod 1777 "$ROOT/tmp"
find "$ROOT" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +

# The image: one layer holding the root, and the Dockerfile's USER, EXPOSE, ENTRYPOINT, CMD, ENV, WORKDIR.
rootless=()
[[ $(id -u) == 0 ]] || rootless=(--rootless)
umoci init --layout "$LAYOUT"
umoci new --image "$LAYOUT:$VERSION"
umoci insert "${rootless[@]}" --image "$LAYOUT:$VERSION" \
  --history.created "$CREATED" --history.created_by "scripts/build-image.sh (scripts/image-root.sh)" \
  "$ROOT" /
label() { printf -- '--config.label=org.opencontainers.image.%s=%s\n' "$1" "$2"; }
mapfile -t labels < <(
  label title Latchkey
  label description "$("$NODE" -p "require('$REPO/package.json').description")"
  label version "$VERSION"
  label revision "$REVISION"
  label created "$CREATED"
  label licenses "$("$NODE" -p "require('$REPO/package.json').license")"
)
umoci config --image "$LAYOUT:$VERSION" --no-history \
  --created "$CREATED" --architecture amd64 --os linux \
  --config.user "$IMAGE_USER" \
  --config.workingdir /app \
  --config.env NODE_ENV=production \
  --config.env PATH=/usr/local/bin \
  --config.exposedports 5556/tcp --config.exposedports 5554/tcp --config.exposedports 5558/tcp \
  --config.entrypoint /usr/local/bin/node --config.entrypoint /app/bin/latchkey.js \
  --config.cmd serve --config.cmd /etc/latchkey/config.yaml \
  "${labels[@]}"
umoci gc --layout "$LAYOUT"

# Names the tools read: containerd (ctr, kind) the io.containerd.image.name annotation, Docker before 25
# only a manifest.json beside the OCI layout (which docker save writes too since Docker 25).
"$NODE" --input-type=module - "$LAYOUT" "$IMAGE_REF" "$IMAGE_NAME:$VERSION" <<'EOF'
import { readFileSync, writeFileSync } from 'node:fs';
const [layout, ref, repoTag] = process.argv.slice(2);
const blob = (digest) => `blobs/${digest.replace(':', '/')}`;
const index = JSON.parse(readFileSync(`${layout}/index.json`, 'utf8'));
if (index.manifests.length !== 1) throw new Error(`expected one manifest, got ${index.manifests.length}`);
const desc = index.manifests[0];
desc.annotations = { ...desc.annotations, 'io.containerd.image.name': ref };
writeFileSync(`${layout}/index.json`, JSON.stringify(index));
const manifest = JSON.parse(readFileSync(`${layout}/${blob(desc.digest)}`, 'utf8'));
const legacy = [
  { Config: blob(manifest.config.digest), RepoTags: [repoTag], Layers: manifest.layers.map((l) => blob(l.digest)) },
];
writeFileSync(`${layout}/manifest.json`, JSON.stringify(legacy));
EOF

tar -C "$LAYOUT" --sort=name --mtime="@$SOURCE_DATE_EPOCH" --owner=0 --group=0 --numeric-owner --mode=a+rX \
  -cf "$OUTPUT.partial" oci-layout index.json manifest.json blobs
# The check that matters: skopeo, which reads OCI archives as the registries' and runtimes' tools do.
skopeo inspect --config "oci-archive:$OUTPUT.partial" >/dev/null
mv "$OUTPUT.partial" "$OUTPUT"
echo "$OUTPUT"
