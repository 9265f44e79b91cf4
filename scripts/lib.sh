# Shared by ./portico and .ci/run: progress output, toolchain bootstrap, and the local services.
# Sourced, not run; expects PORTICO_ROOT.

PORTICO_TOOLS="$PORTICO_ROOT/.tools"
PORTICO_DATA="$PORTICO_ROOT/.data"
PORTICO_LOGS="$PORTICO_DATA/logs"
PORTICO_NODE_MAJOR=22
# The database role Portico uses on the local PostgreSQL; it needs CREATEDB (one database per plugin).
PORTICO_PG_URL="postgresql://portico:portico@127.0.0.1:5432"

if [ -t 1 ]; then bold=$'\e[1m' green=$'\e[32m' red=$'\e[31m' dim=$'\e[2m' reset=$'\e[0m'
else bold='' green='' red='' dim='' reset=''; fi

say() { printf '%s\n' "$*"; }
fail() {
  printf '%s✗ %s%s\n' "$red" "$1" "$reset" >&2
  [ -n "${2:-}" ] && printf '  → %s\n' "$2" >&2
  exit 1
}

# step TITLE COMMAND...: runs COMMAND with its output in .data/logs/<slug>.log, shows its time,
# and on failure shows the end of the log.
step() {
  local title="$1" slug log started status
  shift
  slug="$(printf '%s' "$title" | tr 'A-Z ' 'a-z-' | tr -cd 'a-z0-9-')"
  mkdir -p "$PORTICO_LOGS"
  log="$PORTICO_LOGS/$slug.log"
  printf '%s▸ %s%s ' "$bold" "$title" "$reset"
  started=$SECONDS
  set +e
  "$@" >"$log" 2>&1
  status=$?
  set -e
  if [ $status -eq 0 ]; then
    printf '%s✓%s %s(%ss)%s\n' "$green" "$reset" "$dim" "$((SECONDS - started))" "$reset"
  else
    printf '%s✗ (%ss)%s\n' "$red" "$((SECONDS - started))" "$reset"
    tail -n 40 "$log" | sed 's/^/    /'
    printf '  full log: %s\n' "$log"
  fi
  return $status
}

# Node 22 or newer: the system's when it is new enough, else the npm package node@22 in .tools/.
ensure_node() {
  local major=0
  command -v node >/dev/null && major="$(node -p 'process.versions.node.split(".")[0]')"
  if [ "$major" -lt "$PORTICO_NODE_MAJOR" ]; then
    if [ ! -x "$PORTICO_TOOLS/node_modules/.bin/node" ]; then
      command -v npm >/dev/null ||
        fail "Node.js $PORTICO_NODE_MAJOR is needed and npm is missing to fetch it" "install it: apt-get install -y npm"
      mkdir -p "$PORTICO_TOOLS"
      step "Fetch Node.js $PORTICO_NODE_MAJOR into .tools/" \
        npm install --prefix "$PORTICO_TOOLS" --no-save --no-package-lock --no-audit --no-fund "node@$PORTICO_NODE_MAJOR" ||
        fail "could not install node@$PORTICO_NODE_MAJOR from the npm registry" "check the npm registry is reachable (npm ping)"
    fi
    export PATH="$PORTICO_TOOLS/node_modules/.bin:$PATH"
  fi
  # Native addons build against the running Node's headers: node-gyp cannot download them offline, and
  # the global npmrc names the system Node 20's. Also when .tools/ is already first on PATH.
  local arch prefix headers
  arch="$(uname -m | sed 's/x86_64/x64/; s/aarch64/arm64/')"
  prefix="$(dirname "$(dirname "$(readlink -f "$(command -v node)")")")"
  # A Node from the npm package node (ours in .tools/, or one installed with npm anywhere) keeps its
  # headers in a package of their own; an installed Node, beside its binary.
  for headers in "$prefix/node_modules/node-linux-$arch" "$prefix"; do
    if [ -f "$headers/include/node/node.h" ]; then
      export npm_config_nodedir="$headers"
      break
    fi
  done
  # The committed yarn release, without corepack (it cannot download yarn here) or a global yarn.
  mkdir -p "$PORTICO_TOOLS/bin"
  printf '#!/bin/sh\nexec node "%s" "$@"\n' "$(ls "$PORTICO_ROOT"/.yarn/releases/yarn-*.cjs)" >"$PORTICO_TOOLS/bin/yarn"
  chmod +x "$PORTICO_TOOLS/bin/yarn"
  export PATH="$PORTICO_TOOLS/bin:$PORTICO_ROOT/node_modules/.bin:$PATH"
}

# Installs dependencies only when yarn.lock or a package.json changed since the last install.
ensure_dependencies() {
  local stamp="$PORTICO_ROOT/node_modules/.portico-install" digest
  # Native modules are built for one Node ABI: a different Node means a new install.
  digest="$(cd "$PORTICO_ROOT" && { node -p process.versions.modules; cat yarn.lock .yarnrc.yml package.json packages/*/package.json plugins/*/package.json; } | sha256sum | cut -d' ' -f1)"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$digest" ]; then
    say "${dim}Dependencies are up to date.${reset}"
    return
  fi
  command -v g++ >/dev/null && command -v make >/dev/null && command -v python3 >/dev/null ||
    install_packages "compilers for native modules" g++ make python3
  (cd "$PORTICO_ROOT" && step "Install dependencies (yarn install)" yarn install --immutable) ||
    fail "yarn install failed" "read the log above; a changed package.json needs 'yarn install' without --immutable"
  printf '%s' "$digest" >"$stamp"
}

install_packages() {
  local why="$1"
  shift
  [ "$(id -u)" = 0 ] || fail "missing: $why ($*)" "run as root, or: sudo apt-get install -y $*"
  step "Install $why with apt ($*)" sh -c "apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $*" ||
    fail "apt-get could not install $*"
}

port_owner() { ss -Hltnp "sport = :$1" 2>/dev/null | sed -n 's/.*users:((\("[^"]*",pid=[0-9]*\).*/\1/p' | head -1 || true; }

port_in_use() {
  if command -v ss >/dev/null; then
    ss -Hltn "sport = :$1" | grep -q .
  else
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
  fi
}

ensure_port_free() {
  local port="$1" what="$2" owner
  if port_in_use "$port"; then
    owner="$(port_owner "$port")"
    fail "port $port ($what) is already in use${owner:+ by $owner}" \
      "stop that process, or pick other ports: PORTICO_APP_PORT=3300 PORTICO_BACKEND_PORT=7300 ./portico start"
  fi
}

# wait_for_url URL SECONDS [PID]: polls until URL answers 2xx; stops early when PID has died.
wait_for_url() {
  local url="$1" deadline=$((SECONDS + $2)) pid="${3:-}"
  until curl -sf -o /dev/null "$url"; do
    [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null && return 1
    [ $SECONDS -ge $deadline ] && return 1
    sleep 1
  done
}

pg_psql_admin() {
  # As the postgres superuser: over the socket as that system user when we are root (works with Debian's
  # default peer auth), else over TCP (works where local connections are trusted).
  if [ "$(id -u)" = 0 ] && id postgres >/dev/null 2>&1; then
    runuser -u postgres -- psql -v ON_ERROR_STOP=1 -qtA "$@"
  else
    psql -h 127.0.0.1 -U postgres -v ON_ERROR_STOP=1 -qtA "$@"
  fi
}

# PostgreSQL on 127.0.0.1:5432 with a `portico` role: started when down, installed when missing.
ensure_postgres() {
  # Already set up (the usual case after a first run): nothing to do, and no superuser needed.
  if command -v psql >/dev/null && psql "$PORTICO_PG_URL/postgres" -qtAc 'select 1' >/dev/null 2>&1; then
    return
  fi
  if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
    command -v pg_ctlcluster >/dev/null || install_packages "PostgreSQL" postgresql
    local version
    version="$(ls /etc/postgresql 2>/dev/null | sort -V | tail -1 || true)"
    [ -n "$version" ] || fail "PostgreSQL is installed but has no cluster" "create one: pg_createcluster 15 main"
    step "Start PostgreSQL $version" pg_ctlcluster --skip-systemctl-redirect "$version" main start ||
      fail "PostgreSQL did not start" "see: pg_lsclusters, and /var/log/postgresql/"
    local tries=0
    until pg_isready -q -h 127.0.0.1 -p 5432; do
      tries=$((tries + 1))
      [ $tries -lt 30 ] || fail "PostgreSQL does not answer on 127.0.0.1:5432" "see /var/log/postgresql/"
      sleep 1
    done
  fi
  if [ "$(pg_psql_admin -c "select 1 from pg_roles where rolname = 'portico'")" != 1 ]; then
    pg_psql_admin -c "create role portico login createdb password 'portico'" ||
      fail "could not create the PostgreSQL role 'portico'" \
        "as the database superuser: sudo -u postgres psql -c \"create role portico login createdb password 'portico'\""
  fi
  psql "$PORTICO_PG_URL/postgres" -qtAc 'select 1' >/dev/null 2>&1 ||
    fail "cannot sign in to PostgreSQL as portico on 127.0.0.1:5432" \
      "allow password sign-in for 127.0.0.1 in pg_hba.conf (scram-sha-256) and reload PostgreSQL"
}

# TechDocs builds docs with mkdocs on the host. Optional: without it the portal runs and docs say why.
ensure_mkdocs() {
  # Sites made for Backstage name the techdocs-core plugin, which only PyPI has: Portico brings a stand-in.
  export PYTHONPATH="$PORTICO_ROOT/scripts/mkdocs-plugins${PYTHONPATH:+:$PYTHONPATH}"
  # What the techdocs-core image has beside the plugin: the Material theme, its icons as emoji, redirects.
  local packages="mkdocs mkdocs-material mkdocs-material-extensions mkdocs-redirects"
  # An mkdocs of one's own (pip, pyenv) is left as it is; Debian's gets the other packages too.
  if command -v mkdocs >/dev/null; then
    case "$(command -v mkdocs)" in /usr/bin/mkdocs | /bin/mkdocs) ;; *) return ;; esac
    dpkg -s $packages >/dev/null 2>&1 && return
  fi
  if [ "$(id -u)" = 0 ]; then
    install_packages "mkdocs for TechDocs" $packages
  else
    say "${dim}TechDocs pages will not build fully until mkdocs is installed: sudo apt-get install -y $packages${reset}"
  fi
}

ensure_chromium() {
  [ -x /usr/bin/chromium ] || install_packages "Chromium for the end-to-end tests" chromium
}

bootstrap() {
  cd "$PORTICO_ROOT"
  command -v curl >/dev/null || install_packages "curl" curl
  ensure_node
  say "${dim}Node $(node -v), yarn $(yarn --version)${reset}"
  ensure_dependencies
}

# The demo catalog as a Git repository (.data/demo-git/northwind.git), so that the portal ingests it the way
# it ingests any team's repository. Each call commits catalog/entities when it changed since the last one.
ensure_demo_repository() {
  local repo="$PORTICO_DATA/demo-git/northwind.git" index tree parent commit
  [ -d "$repo" ] || git init --quiet --bare --initial-branch=main "$repo"
  index="$(mktemp -u)"
  tree="$(GIT_DIR="$repo" GIT_INDEX_FILE="$index" GIT_WORK_TREE="$PORTICO_ROOT/catalog/entities" \
    sh -c 'git -C "$GIT_WORK_TREE" add -A . && git write-tree')" || fail "could not read catalog/entities into the demo repository"
  rm -f "$index"
  parent="$(git --git-dir="$repo" rev-parse -q --verify refs/heads/main || true)"
  if [ -n "$parent" ] && [ "$(git --git-dir="$repo" rev-parse "$parent^{tree}")" = "$tree" ]; then
    return
  fi
  commit="$(GIT_AUTHOR_NAME=Portico GIT_AUTHOR_EMAIL=portico@localhost GIT_COMMITTER_NAME=Portico \
    GIT_COMMITTER_EMAIL=portico@localhost git --git-dir="$repo" commit-tree "$tree" ${parent:+-p "$parent"} \
    -m "Demo catalog from catalog/entities")"
  git --git-dir="$repo" update-ref refs/heads/main "$commit"
  say "Demo catalog committed to .data/demo-git/northwind.git (${commit:0:8}); the portal ingests it from there"
}

