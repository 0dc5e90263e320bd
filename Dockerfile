# captcha-gateway container image.
#   docker build -t captcha-gateway:0.1.0 .
#   docker run --rm -p 8080:8080 -p 9090:9090 -e UPSTREAM_URL=http://backend:8000 \
#     -e CAPTCHA_SITE_KEY=... -e CAPTCHA_SECRET=... -e CSRF_SECRET=... captcha-gateway:0.1.0
# The image holds config/default.yaml at /etc/captcha-gateway/config.yaml; the Helm chart mounts
# its ConfigMap there instead. Secrets only ever come from the environment at run time.

# Node 24 LTS (supported until April 2028); the gateway also runs on Node 20.19+ and 22.
ARG NODE_IMAGE=node:24-bookworm-slim

# 1. build: compile the TypeScript (dev dependencies live only in this stage).
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: `prepare` would run tsc before the sources are here; the build runs below.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY gateway ./gateway
RUN npm run build

# 2. deps: production dependencies only, installed apart so the runtime stage has no npm cache.
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund

# 3. runtime: node, tini, production node_modules and the compiled gateway.
FROM ${NODE_IMAGE} AS runtime
# tini as PID 1 forwards SIGTERM/SIGINT to node (which drains, then exits 0) and reaps zombies;
# node as PID 1 would get no default signal handling from the kernel.
# npm, yarn and corepack are not needed to run the gateway: removed, they cannot be misused or
# flagged by image scanners.
RUN apt-get update \
  && apt-get install -y --no-install-recommends tini \
  && rm -rf /var/lib/apt/lists/* \
  && rm -rf /usr/local/lib/node_modules/npm /usr/local/lib/node_modules/corepack \
    /usr/local/bin/npm /usr/local/bin/npx /usr/local/bin/corepack \
    /opt/yarn-* /usr/local/bin/yarn /usr/local/bin/yarnpkg
LABEL org.opencontainers.image.title="captcha-gateway" \
  org.opencontainers.image.description="Reverse-proxy gateway that throttles clients per IP and lifts the throttle via captcha" \
  org.opencontainers.image.licenses="MIT"
ENV NODE_ENV=production
# config/default.yaml binds the admin port to loopback unless ADMIN_HOST says otherwise. In a
# container, 0.0.0.0 is the container's own interfaces: probes and Prometheus need to reach it,
# and it is published only where the operator says so (never publicly).
ENV ADMIN_HOST=0.0.0.0
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist/gateway ./dist/gateway
COPY package.json ./
COPY config/default.yaml /etc/captcha-gateway/config.yaml
# Numeric UID:GID (the image's "node" user) so Kubernetes' runAsNonRoot can verify it. The files
# above stay root-owned and read-only to the gateway; it writes nothing but stdout.
USER 1000:1000
# 8080: public traffic; 9090: admin (health, readiness, metrics) — never publish 9090 publicly.
EXPOSE 8080 9090
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/bin/tini", "--", "node", "/app/dist/gateway/main.js"]
CMD ["--config", "/etc/captcha-gateway/config.yaml"]
