# syntax=docker/dockerfile:1
# The Node.js 24 LTS base of every stage; another base with Node.js >= 24.15 and npm builds the
# same image:
#   docker build --build-arg NODE_IMAGE=node:24-trixie-slim -t signet .
# The base must provide a `node` user and group (the official Node.js images have uid/gid 1000).
ARG NODE_IMAGE=node:24-bookworm-slim

# Build stage: compile TypeScript with the dev dependencies, then drop them. --ignore-scripts also
# skips the preinstall of the `node` devDependency, so no second Node.js is fetched: the base's
# Node.js runs tsc. npm's cache and logs stay in this stage; the final one only copies the
# finished node_modules and dist.
FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev --ignore-scripts --no-audit --no-fund

# Runtime stage: production dependencies and compiled output only, as a non-root user. npm does
# not run here; the base image's Node.js runs Signet.
FROM ${NODE_IMAGE}
# Kept equal to package.json "version" (the image test checks it); SIGNET_SOURCE is the URL of
# the repository the image is built from.
ARG SIGNET_VERSION=0.1.0
ARG SIGNET_SOURCE=
# https://github.com/opencontainers/image-spec/blob/main/annotations.md
LABEL org.opencontainers.image.title="signet" \
      org.opencontainers.image.description="A pull-through container-registry proxy that lets only signed images through" \
      org.opencontainers.image.version="${SIGNET_VERSION}" \
      org.opencontainers.image.source="${SIGNET_SOURCE}" \
      org.opencontainers.image.licenses="Apache-2.0"
ENV NODE_ENV=production \
    SIGNET_HEALTHCHECK_URL=http://127.0.0.1:5000/healthz
WORKDIR /app
COPY package.json ./
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY config ./config
# The embedded config keeps its cache under ./data (relative to /app); in the image that is the
# volume, and the only place Signet writes: the image runs with --read-only.
RUN mkdir -p /data && chown node:node /data && ln -s /data /app/data
USER node
VOLUME ["/data"]
EXPOSE 5000
# A config that listens elsewhere than 127.0.0.1:5000 sets SIGNET_HEALTHCHECK_URL to match.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch(process.env.SIGNET_HEALTHCHECK_URL).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# docker stop sends SIGTERM (the default stop signal): Signet stops accepting, lets in-flight
# streams finish for up to 30 s and exits 0, so give `docker stop -t` / stop_grace_period more.
# The young-generation cap of src/cli/main.ts's first line (resident memory under load).
ENTRYPOINT ["node", "--max-semi-space-size=8", "dist/cli/main.js"]
CMD ["serve"]
