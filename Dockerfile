# Latchkey's container image, for Docker users. Build: docker build -t latchkey:0.1.0 .
# Without Docker, `npm run image` (scripts/build-image.sh) builds the same image as an OCI archive,
# latchkey-<version>.oci.tar, from the same layout (scripts/image-root.sh), with Node.js's shared libraries in
# place of this base image; test/deploy/image-boot.test.ts boots it and checks that its USER, WORKDIR,
# EXPOSE, ENTRYPOINT and CMD are this file's.
#
# Layout of the image:
#   /usr/local/bin/node            Node.js 24 (the base image's)
#   /app                           package.json, bin/, dist/, production node_modules/, manifests/crds/
#                                  (the CRDs created at start with crdHandling: ensure)
#   /srv/latchkey/web              the web files (templates, static, themes); /app/web points here, so they are
#                                  the built-in files. Customise pages as in Dex's docs:
#                                    FROM latchkey:0.1.0
#                                    COPY --chown=root:root web /srv/latchkey/web
#                                  Files you do not copy keep their defaults. No frontend.dir needed.
#   /usr/local/bin/latchkey        the CLI (kubectl exec ... -- latchkey hash-password)
#
# Runs as uid/gid 1000 (the base image's "node" user), writes no files: fit for readOnlyRootFilesystem.

ARG NODE_VERSION=24.21.0

FROM node:${NODE_VERSION}-slim AS build
WORKDIR /src
# Dependencies first, so source changes do not invalidate the npm ci layer.
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY bin bin
COPY src src
COPY web web
COPY manifests/crds manifests/crds
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

FROM node:${NODE_VERSION}-slim
LABEL org.opencontainers.image.title="Latchkey" \
      org.opencontainers.image.description="A Kubernetes-native OpenID Connect identity provider" \
      org.opencontainers.image.licenses="Apache-2.0"
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /src/package.json /src/package-lock.json /app/
COPY --from=build /src/node_modules /app/node_modules
COPY --from=build /src/bin /app/bin
COPY --from=build /src/dist /app/dist
COPY --from=build /src/manifests/crds /app/manifests/crds
COPY --from=build /src/web /srv/latchkey/web
RUN ln -s ../srv/latchkey/web /app/web \
 && ln -s ../../../app/bin/latchkey.js /usr/local/bin/latchkey
USER 1000:1000
# HTTP, HTTPS, telemetry (the ports of Dex's chart).
EXPOSE 5556 5554 5558
ENTRYPOINT ["/usr/local/bin/node", "/app/bin/latchkey.js"]
CMD ["serve", "/etc/latchkey/config.yaml"]
