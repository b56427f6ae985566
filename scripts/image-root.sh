#!/usr/bin/env bash
# image-root.sh <dir> — lays out the container image's filesystem (see the Dockerfile) in <dir>, without a
# Docker engine: the same files in the same places, built the same way.
#   <dir>/usr/local/bin/node        Node.js 24 (the project's, from node_modules/node; the image's base has it)
#   <dir>/app/{package.json,package-lock.json,bin,dist,manifests/crds}
#   <dir>/app/node_modules          a production install (npm ci --omit=dev)
#   <dir>/srv/latchkey/web          the web files; <dir>/app/web -> ../srv/latchkey/web
#   <dir>/usr/local/bin/latchkey    -> ../../../app/bin/latchkey.js
# Start it with: <dir>/usr/local/bin/node <dir>/app/bin/latchkey.js serve <config>
# dist/ is compiled into <dir> from src/ (the repository's own dist/ is left alone). The npm install uses the
# npm cache when it can (--prefer-offline) and the registry otherwise.
set -euo pipefail

usage() { echo "usage: $0 <empty or new directory>" >&2; exit 2; }
[[ $# -eq 1 ]] || usage
ROOT_DIR=$1
REPO=$(cd "$(dirname "$0")/.." && pwd)
NODE_BIN_DIR=$REPO/node_modules/node/bin
[[ -x $NODE_BIN_DIR/node ]] || { echo "image-root: $NODE_BIN_DIR/node is missing: run npm ci first" >&2; exit 1; }
if [[ -e $ROOT_DIR && -n $(ls -A "$ROOT_DIR") ]]; then
  echo "image-root: $ROOT_DIR is not empty" >&2
  exit 1
fi
mkdir -p "$ROOT_DIR"
ROOT=$(cd "$ROOT_DIR" && pwd)
# npm (a Node script run through `env node`) and tsc run on the project's Node 24, not the machine's.
export PATH=$NODE_BIN_DIR:$PATH

APP=$ROOT/app
mkdir -p "$APP/manifests" "$ROOT/srv/latchkey" "$ROOT/usr/local/bin"

# Build stage: compile, as `npm run build` does, but into the root.
node "$REPO/node_modules/typescript/bin/tsc" -p "$REPO/tsconfig.build.json" --outDir "$APP/dist"

# Runtime stage: the Dockerfile's COPY lines.
cp "$REPO/package.json" "$REPO/package-lock.json" "$APP/"
cp -R "$REPO/bin" "$APP/bin"
cp -R "$REPO/manifests/crds" "$APP/manifests/crds"
cp -R "$REPO/web" "$ROOT/srv/latchkey/web"
(cd "$APP" && npm ci --omit=dev --prefer-offline --no-audit --no-fund --loglevel=error)
cp "$NODE_BIN_DIR/node" "$ROOT/usr/local/bin/node"
# The Dockerfile's RUN ln -s lines (relative targets resolve the same in the image and in this folder).
ln -s ../srv/latchkey/web "$APP/web"
ln -s ../../../app/bin/latchkey.js "$ROOT/usr/local/bin/latchkey"

echo "$ROOT"
