# Tether's image: the recipe users and release automation build and push.
#   docker build -t ghcr.io/tether/tether:$(node -p "require('./package.json').version") .
# Without a Docker daemon, the same image (the host's Node 20 instead of the node:20 stage's):
#   npm run image        (tether image build; README "Container image")
#
# Runtime: distroless cc (glibc, libstdc++, CA certificates, /etc/passwd with nonroot 65532; no shell,
# no package manager) plus Node's one binary at /usr/bin/node, as in the daemonless image. Node runs as
# PID 1 with Tether's own SIGTERM handling (src/cli/signals.ts); nothing is written to the root
# filesystem, so the chart's readOnlyRootFilesystem holds.

ARG NODE_IMAGE=node:20-bookworm-slim
ARG RUNTIME_IMAGE=gcr.io/distroless/cc-debian12:nonroot

FROM ${NODE_IMAGE} AS build
# unix-dgram (optional: DogStatsD over a Unix socket) and Tether's own native/unixcred (the Unix sockets'
# peer credentials, for attested origins) are native addons built by node-gyp.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
# node-gyp builds against this image's own headers instead of downloading them.
ENV npm_config_nodedir=/usr/local
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts && npm rebuild unix-dgram
COPY tsconfig.json ./
COPY src ./src
COPY test ./test
COPY bench ./bench
COPY console ./console
COPY scripts ./scripts
COPY native ./native
COPY README.md ./
RUN npm run build \
 && npm prune --omit=dev \
 && node -e "require('unix-dgram'); require('./native/unixcred/build/Release/unixcred.node')" \
 && find dist/src -name '*.map' -delete \
 && find node_modules -name '*.map' -delete

FROM ${RUNTIME_IMAGE}
COPY --from=build /usr/local/bin/node /usr/bin/node
WORKDIR /app
COPY --from=build /src/package.json ./package.json
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist/src ./dist/src
COPY --from=build /src/dist/console ./dist/console
COPY --from=build /src/native/unixcred/build/Release/unixcred.node ./native/unixcred/build/Release/unixcred.node
# `agent` (kubectl exec <pod> -- agent status) and `tether` on PATH.
COPY --chmod=0755 deploy/image/cli /usr/bin/agent
COPY --chmod=0755 deploy/image/cli /usr/bin/tether
ENV NODE_ENV=production
USER 65532:65532
ENTRYPOINT ["/usr/bin/node", "/app/dist/src/cli/main.js"]
