# Portico's production image: a multi-stage build, as Backstage documents it. Build it from the repository
# root: `docker build -t portico .`. Run it with the production config's environment (see README):
#   docker run -p 7007:7007 -e POSTGRES_HOST=... -e POSTGRES_USER=... -e POSTGRES_PASSWORD=... \
#     -e AUTH_GITHUB_CLIENT_ID=... -e AUTH_GITHUB_CLIENT_SECRET=... portico
# `./portico test` proves the same steps without Docker (e2e/image.spec.ts).

# The toolchain for native modules (better-sqlite3 compiles in both the build and the runtime stage),
# and git with an ssh client for the Git ingestion.
FROM node:22-bookworm-slim AS base
ENV PYTHON=/usr/bin/python3
RUN apt-get update && \
    apt-get install -y --no-install-recommends python3 g++ build-essential git openssh-client && \
    rm -rf /var/lib/apt/lists/*

# Stage 1: only the package.json files, so the dependency layer is cached until one of them changes.
FROM node:22-bookworm-slim AS packages
WORKDIR /app
COPY backstage.json package.json yarn.lock .yarnrc.yml ./
COPY .yarn ./.yarn
COPY packages packages
COPY plugins plugins
RUN find packages plugins \! -name "package.json" -mindepth 2 -maxdepth 2 -exec rm -rf {} \+

# Stage 2: install everything, type check, and build the backend bundle (which builds the frontend too).
FROM base AS build
USER node
WORKDIR /app
COPY --from=packages --chown=node:node /app .
RUN --mount=type=cache,target=/home/node/.cache/yarn,sharing=locked,uid=1000,gid=1000 \
    yarn install --immutable
COPY --chown=node:node . .
RUN yarn tsc && yarn build:backend
RUN mkdir packages/backend/dist/skeleton packages/backend/dist/bundle && \
    tar xzf packages/backend/dist/skeleton.tar.gz -C packages/backend/dist/skeleton && \
    tar xzf packages/backend/dist/bundle.tar.gz -C packages/backend/dist/bundle

# Stage 3: the runtime, with production dependencies only.
# better-sqlite3 is a backend dependency even though production runs on PostgreSQL.
FROM base
USER node
WORKDIR /app
COPY --from=build --chown=node:node /app/.yarn ./.yarn
COPY --from=build --chown=node:node /app/.yarnrc.yml /app/backstage.json /app/package.json /app/yarn.lock ./
COPY --from=build --chown=node:node /app/packages/backend/dist/skeleton/ ./
RUN --mount=type=cache,target=/home/node/.cache/yarn,sharing=locked,uid=1000,gid=1000 \
    yarn workspaces focus --all --production && rm -rf "$(yarn cache clean)"
COPY --from=build --chown=node:node /app/packages/backend/dist/bundle/ ./
COPY --chown=node:node app-config.production.yaml ./
ENV NODE_ENV=production
EXPOSE 7007
CMD ["node", "packages/backend", "--config", "app-config.production.yaml"]
