# ./portico start [--postgres]: the portal in development mode, with the demo catalog.

portico_start() {
  local use_postgres=false
  for arg in "$@"; do
    case "$arg" in
      --postgres) use_postgres=true ;;
      *) fail "unknown option for start: $arg" "./portico help" ;;
    esac
  done
  local app_port="${PORTICO_APP_PORT:-3000}" backend_port="${PORTICO_BACKEND_PORT:-7007}"
  local started=$SECONDS
  bootstrap
  ensure_mkdocs
  ensure_port_free "$app_port" "frontend"
  ensure_port_free "$backend_port" "backend"

  # Broken demo files are reported here by name; the catalog still loads every other file.
  node scripts/check-catalog.mjs catalog/entities templates catalog-info.yaml || true
  ensure_demo_repository

  local configs=(--config "$PORTICO_ROOT/app-config.yaml")
  if $use_postgres; then
    ensure_postgres
    configs+=(--config "$PORTICO_ROOT/app-config.postgres.yaml")
    say "Database: PostgreSQL at 127.0.0.1:5432 (role portico)"
  else
    mkdir -p "$PORTICO_DATA/sqlite"
    say "Database: SQLite files in .data/sqlite (./portico reset empties them)"
  fi

  export APP_CONFIG_app_baseUrl="http://localhost:$app_port"
  export APP_CONFIG_backend_baseUrl="http://localhost:$backend_port"
  export APP_CONFIG_backend_listen_port="$backend_port"
  export APP_CONFIG_backend_cors_origin="http://localhost:$app_port"

  mkdir -p "$PORTICO_LOGS"
  local log="$PORTICO_LOGS/portal.log"
  # Its own process group, so that stopping Portico stops the dev server and the backend together.
  setsid yarn start "${configs[@]}" >"$log" 2>&1 &
  local portal=$!
  trap 'kill -TERM -- -'"$portal"' 2>/dev/null; wait '"$portal"' 2>/dev/null; exit 0' INT TERM
  trap 'kill -TERM -- -'"$portal"' 2>/dev/null' EXIT

  local launched=$SECONDS
  await_ready "Start backend on :$backend_port" "http://localhost:$backend_port/.backstage/health/v1/readiness" \
    "the backend did not become ready" "$portal" "$log" "$launched"
  await_ready "Start frontend on :$app_port" "http://localhost:$app_port" \
    "the frontend did not start" "$portal" "$log" "$launched"

  report_catalog "http://localhost:$backend_port"
  say ""
  say "${green}${bold}Portico is ready: http://localhost:$app_port${reset} (sign in as guest; $((SECONDS - started))s in all)"
  say "${dim}Logs follow (also in $log). Ctrl-C stops Portico.${reset}"
  tail -n 0 -f "$log" --pid="$portal" &
  # `wait`, unlike a foreground command, lets the INT/TERM trap run as soon as the signal arrives.
  wait "$portal"
}

# await_ready TITLE URL FAILURE PID LOG SINCE: shows a step that lasts until URL answers, timed from SINCE;
# when the portal (PID) dies or three minutes pass, shows the end of its LOG and stops with FAILURE.
await_ready() {
  local title="$1" url="$2" failure="$3" pid="$4" log="$5" since="$6"
  printf '%s▸ %s%s ' "$bold" "$title" "$reset"
  if ! wait_for_url "$url" 180 "$pid"; then
    printf '%s✗%s\n' "$red" "$reset"
    tail -n 40 "$log" | sed 's/^/    /'
    fail "$failure" "full log: $log"
  fi
  printf '%s✓%s %s(%ss)%s\n' "$green" "$reset" "$dim" "$((SECONDS - since))" "$reset"
}

# json_field PATH: prints PATH (e.g. `.totalItems`) of the JSON document on standard input.
json_field() { node -p "JSON.parse(require('fs').readFileSync(0, 'utf8'))$1"; }

# Prints how many entities the catalog serves, waiting briefly for the first processing round.
report_catalog() {
  local backend="$1" token count=0
  token="$(curl -sf -H 'X-Requested-With: XMLHttpRequest' "$backend/api/auth/guest/refresh" |
    json_field .backstageIdentity.token)" || return 0
  for _ in $(seq 1 30); do
    count="$(curl -sf -H "Authorization: Bearer $token" "$backend/api/catalog/entities/by-query?limit=0" |
      json_field .totalItems)" || count=0
    [ "$count" -gt 0 ] && break
    sleep 1
  done
  say "Catalog: $count entities"
}
