# ./portico test: every suite, then one line "N passed, N failed" summing them all.

portico_test() {
  [ $# -eq 0 ] || fail "./portico test takes no options" "./portico help"
  local started=$SECONDS reports="$PORTICO_DATA/reports"
  bootstrap
  ensure_postgres
  ensure_chromium
  ensure_mkdocs
  ensure_demo_repository
  rm -rf "$reports"
  mkdir -p "$reports"

  # Point Backstage's TestDatabases at the local server. Without this variable it silently drops
  # the PostgreSQL id and a suite would pass on SQLite alone; the backend tests also check it is set.
  export BACKSTAGE_TEST_DATABASE_POSTGRES15_CONNECTION_STRING="$PORTICO_PG_URL"
  export PORTICO_TEST_REQUIRE_POSTGRES=1

  local checks_passed=0 checks_failed=0
  run_check() {
    if step "$@"; then checks_passed=$((checks_passed + 1)); else checks_failed=$((checks_failed + 1)); fi
  }
  run_check "Type check (tsc)" yarn tsc
  run_check "Lint" yarn lint
  # These two count by their reports, test by test, not as one check each.
  step "Unit and integration tests (jest, PostgreSQL and SQLite)" \
    yarn backstage-cli repo test --watchAll=false --json --outputFile="$reports/jest.json" || true
  step "Production bundle and end-to-end tests (playwright, Chromium)" \
    env PLAYWRIGHT_JSON_OUTPUT_NAME="$reports/playwright.json" yarn playwright test --reporter=list,json || true

  say ""
  local status=0
  node scripts/test-summary.mjs "$checks_passed" "$checks_failed" "$reports/jest.json" "$reports/playwright.json" || status=$?
  say "${dim}./portico test took $((SECONDS - started))s; logs in .data/logs/, screenshots of failures in test-results/${reset}"
  return $status
}
