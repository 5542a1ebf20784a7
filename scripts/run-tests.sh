#!/usr/bin/env bash
# The test run of `make test`, in two parts, ending with ONE totals line over
# both (CI reads the last "N passed, N failed" line):
#   1. this checkout's build: the unit and integration tiers, and the lab test
#      (make lab is the development flow: it runs on make install's copy);
#   2. the Debian package's round trip (scripts/package-roundtrip.sh): dpkg -i
#      the .deb that make deb built, the rest of the e2e tier against the
#      installed programs, hook and unit (VIFD_TEST_PROGRAMS=package, see
#      test/harness/programs.ts), dpkg -P, and a check that nothing is left.
# A part that stops before its tests report, or a purge that leaves files,
# counts as one failure.
#
#   scripts/run-tests.sh DEB MOCHA [MOCHA_OPTION...]
set -uo pipefail
cd "$(dirname -- "$0")/.."

[ $# -ge 2 ] || { echo "usage: $0 DEB MOCHA [MOCHA_OPTION...]" >&2; exit 2; }
deb=$1
shift
mocha=("$@")

passed=0 failed=0 skipped=0
log=$(mktemp)
trap 'rm -f -- "$log"' EXIT

# count PART STATUS: adds the part's totals line (the last one in $log).
count() {
  local totals
  totals=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
  if [ -z "$totals" ]; then
    echo "run-tests: $1 stopped before its tests reported (exit $2)"
    failed=$((failed + 1))
    return
  fi
  [[ $totals =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed(,\ ([0-9]+)\ skipped)? ]]
  passed=$((passed + BASH_REMATCH[1]))
  failed=$((failed + BASH_REMATCH[2]))
  skipped=$((skipped + ${BASH_REMATCH[4]:-0}))
  if [ "$2" -ne 0 ] && [ "${BASH_REMATCH[2]}" = 0 ]; then
    echo "run-tests: $1 exited $2 after its tests passed"
    failed=$((failed + 1))
  fi
}

echo "run-tests: part 1, this checkout's build: unit, integration, the lab"
"${mocha[@]}" 'dist/test/unit/**/*.test.js' 'dist/test/integration/**/*.test.js' dist/test/e2e/lab.test.js 2>&1 | tee "$log"
count 'part 1' "${PIPESTATUS[0]}"

echo "run-tests: part 2, the e2e tier against the installed package $deb"
scripts/package-roundtrip.sh all "$deb" --uninstall-dev -- \
  env VIFD_TEST_PROGRAMS=package "${mocha[@]}" --ignore dist/test/e2e/lab.test.js 'dist/test/e2e/**/*.test.js' 2>&1 | tee "$log"
count 'part 2 (package round trip)' "${PIPESTATUS[0]}"

extra=''
[ "$skipped" -gt 0 ] && extra=", $skipped skipped"
echo "$passed passed, $failed failed$extra"
[ "$failed" -eq 0 ]
