#!/usr/bin/env bash
# The project's test command: set-up (idempotent), then the whole vitest suite, closing with one
# plain "N passed, N failed, N skipped" line.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bash "$root/scripts/setup.sh"
cd "$root"
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-/tmp/pstc-xdg-$(id -u)}
report=$(mktemp -t pstc-vitest-XXXXXX.json)
trap 'rm -f "$report"' EXIT
status=0
# The tests are TypeScript too: type-check them (the build covers src/, backends/, grammar/ only).
npx tsc -p tsconfig.test.json || status=$?
npx vitest run --reporter=default --reporter=json --outputFile="$report" "$@" || status=$?
node -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  const skipped = r.numPendingTests + (r.numTodoTests ?? 0);
  console.log(`${r.numPassedTests} passed, ${r.numFailedTests} failed, ${skipped} skipped`);
' "$report" 2>/dev/null || echo "vitest wrote no report (exit $status)"
exit "$status"
