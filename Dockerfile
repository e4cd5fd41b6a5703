# syntax=docker/dockerfile:1
# The Hoziron daemon as an image:  docker build -t hoziron:0.1.0 .
#
# Three stages. `build` compiles the TypeScript with the dev dependencies; `deps` installs
# the production dependencies with the compilers that better-sqlite3's native addon may
# need; `runtime` gets only their results: no compilers, no dev dependencies, no sources.
# The home is /data/hoziron on the /data volume; the daemon listens on 0.0.0.0:4200
# (HOZIRON_LISTEN), runs as uid/gid 10001, and tini is PID 1 (it forwards SIGTERM, so a
# `docker stop` is the daemon's graceful stop, and reaps orphans).
#
#   docker run --rm -v hoziron-data:/data hoziron:0.1.0 init   # once; prints the admin token
#   docker run -d --name hoziron -v hoziron-data:/data -p 4200:4200 hoziron:0.1.0
#   docker exec hoziron hoziron status     # any command: the entry point is `hoziron`

ARG NODE_VERSION=20
FROM node:${NODE_VERSION}-bookworm-slim AS base
WORKDIR /opt/hoziron

# --- build: dist/ from the sources, with the dev dependencies (TypeScript, Vite) ----------
FROM base AS build
COPY package.json package-lock.json ./
# No install scripts: `prepare` would build before the sources are copied, and tsc needs
# no native addon.
RUN npm ci --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY bench ./bench
COPY web ./web
RUN npm run build

# --- deps: production node_modules, better-sqlite3 compiled if no prebuilt binary fits ---
FROM base AS deps
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
# `prepare` needs tsc (a dev dependency), so scripts are off for the install and
# better-sqlite3's own install step (prebuilt binary or node-gyp) is run by `rebuild`.
# The last command proves the addon loads on this Node before it is copied on.
RUN npm ci --omit=dev --ignore-scripts \
 && npm rebuild better-sqlite3 \
 && npm cache clean --force \
 && node -e "new (require('better-sqlite3'))(':memory:').close()"

# --- runtime ------------------------------------------------------------------------------
FROM base AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/*
RUN groupadd --system --gid 10001 hoziron \
 && useradd --system --uid 10001 --gid 10001 --home-dir /data/hoziron --no-create-home \
      --shell /usr/sbin/nologin hoziron \
 && mkdir -p /data \
 && chown 10001:10001 /data \
 && chmod 0700 /data
COPY --from=deps /opt/hoziron/node_modules ./node_modules
COPY --from=build /opt/hoziron/dist/src ./dist/src
# The operator's console (GET /), served from these files by the daemon.
COPY --from=build /opt/hoziron/dist/web ./dist/web
COPY package.json ./
COPY bin ./bin
RUN ln -s /opt/hoziron/bin/hoziron /usr/local/bin/hoziron \
 && hoziron --version

ENV NODE_ENV=production \
    HOZIRON_HOME=/data/hoziron \
    HOZIRON_LISTEN=0.0.0.0:4200
VOLUME ["/data"]
EXPOSE 4200
USER 10001:10001

# `hoziron health` reads the address the daemon bound from its pid file.
HEALTHCHECK --interval=30s --timeout=10s --start-period=30s --retries=3 CMD ["hoziron", "health"]

ENTRYPOINT ["/usr/bin/tini", "--", "hoziron"]
CMD ["start", "--foreground"]
