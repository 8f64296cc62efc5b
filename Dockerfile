# One image for every tiermesh service; the command picks the service, e.g.
#   docker run tiermesh --heap-growing-percent=80 --no-memory-reducer --no-allocation-site-pretenuring services/router/dist/main.bundle.mjs --config /etc/tiermesh/tiermesh.yaml
# deploy/kubernetes and deploy/docker-compose.yaml run it this way.

FROM node:20-slim AS build
WORKDIR /app
ENV TURBO_TELEMETRY_DISABLED=1
COPY package.json package-lock.json turbo.json tsconfig.base.json ./
COPY libs libs
COPY services services
# The router's and the executors' builds end by bundling each into one script (esbuild).
COPY deploy/bundle-service.mjs deploy/
# No install scripts: buf, protobufjs and esbuild (the only packages with one) need none here
# (esbuild's binary comes as an optional package), and the generated code under libs/proto is committed.
RUN npm ci --ignore-scripts --no-audit --no-fund
RUN npx turbo run build --output-logs=errors-only
RUN npm prune --omit=dev --ignore-scripts --no-audit --no-fund \
 && rm -rf libs/*/src services/*/src libs/*/tsconfig.json services/*/tsconfig.json libs/*/*.tsbuildinfo services/*/*.tsbuildinfo

FROM node:20-slim
ENV NODE_ENV=production
# As `tiermesh up` starts services: a small young generation and an old-space limit that makes
# V8 collect garbage before it grows the heap to several times the live set (README: memory).
# Node refuses the three garbage-collector flags `tiermesh up` adds (--heap-growing-percent=80
# --no-memory-reducer --no-allocation-site-pretenuring) in NODE_OPTIONS: the Kubernetes and
# Compose files pass them on the command.
ENV NODE_OPTIONS="--max-semi-space-size=4 --max-old-space-size=384" MALLOC_ARENA_MAX=2 MALLOC_MMAP_THRESHOLD_=131072 MALLOC_TRIM_THRESHOLD_=131072
WORKDIR /app
COPY --from=build --chown=root:root /app/package.json /app/package-lock.json ./
COPY --from=build --chown=root:root /app/node_modules node_modules
COPY --from=build --chown=root:root /app/libs libs
COPY --from=build --chown=root:root /app/services services
USER node
ENTRYPOINT ["node"]
CMD ["services/cli/dist/main.js", "help"]
