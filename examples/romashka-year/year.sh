#!/usr/bin/env bash
# The Romashka example's worked year 2025 through the payout ledger (docs/ledger.md):
# four quarters run, approved and closed; a return dated in Q1 that arrives after Q1 is
# closed, recalculated with --retro and trued up in Q2; an adjustment in Q2; M01's
# guaranteed minimum (Q1-Q2); M05's draw (Q1), recovered from later quarters; and the
# annual true-up in Q4. Everything is written under the directory given (default: ./year).
#
#   bash examples/romashka-year/year.sh [DIR]
#
# BONUSRUN names the binary (default: target/release/bonusrun, built if missing); RULES the
# pack (default: rules/romashka; rules/romashka-wasm pays the same through its plugin).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
dir="${1:-year}"
bonusrun="${BONUSRUN:-$root/target/release/bonusrun}"
rules="${RULES:-$root/rules/romashka}"
if [ ! -x "$bonusrun" ]; then
    cargo build --release --manifest-path "$root/Cargo.toml"
fi
mkdir -p "$dir"
cp -r "$root/rules/romashka/data" "$dir/data"
cp "$root/examples/romashka-year/adjustments.csv" "$dir/data/"
cd "$dir"
export BONUSRUN_LEDGER=romashka.db
br() { echo "\$ bonusrun $*"; "$bonusrun" "$@"; echo; }
pay() { # quarter, run id
    br run --rules "$rules" --data data --period "$1" --out "out-$1" --by "I. Petrov" --quiet
    br approve "$2" --by "E. Petrova"
    br close "$1" --run "$2" --by "E. Petrova"
}
pay 2025-Q1 1
# A return dated 28 March arrives in April, after Q1 was closed.
cat "$root/examples/romashka-year/late-return.csv" >> data/sales.csv
br run --rules "$rules" --data data --period 2025-Q1 --retro --out out-2025-Q1-retro --by "I. Petrov" --quiet
br approve 2 --by "E. Petrova"
pay 2025-Q2 3
pay 2025-Q3 4
pay 2025-Q4 5
br history
br show 5
br verify 5
