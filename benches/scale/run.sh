#!/usr/bin/env bash
# The sales pass pushed down to Apache Spark (local mode), checked against the native pass.
#
#   benches/scale/run.sh [--bonusrun BIN] [--rules PACK] [--data DIR] [--period P]
#                        [--generate N [--clients C] [--managers M]] [--work DIR]
#
# 1. converts DATA/sales.csv to Parquet partitioned by month (column `month`), with Spark;
# 2. prints the facts query: bonusrun sql --dialect spark;
# 3. runs it in Spark on the Parquet (spark_facts.py) and writes one facts CSV file;
# 4. runs bonusrun natively (on sales.csv) and with --facts;
# 5. compares payouts.csv, kpis.csv, key_clients.csv and every statements/*.json byte for
#    byte: prints "same", or the differences and exits 1.
# Each step's wall time is printed. With --generate N, `bonusrun generate` first writes N
# sales lines (seed 1) into WORK/data-N (kept and reused), and that is the data.
#
# Defaults: BIN $BONUSRUN, else $CARGO_TARGET_DIR/release/bonusrun, else target/release/bonusrun;
# PACK rules/romashka; DATA PACK/data; P 2026-Q2; WORK $SCALE_WORK, else /tmp/bonusrun-scale;
# C 3000 and M 40 (as benches/e2e.py's 1M). The Python venv with pyspark is made once at
# $SCALE_VENV, else benches/scale/.venv. Spark needs Java 17 (Debian: openjdk-17-jre-headless).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
pyspark_version="3.5.9"

bonusrun="${BONUSRUN:-${CARGO_TARGET_DIR:-$root/target}/release/bonusrun}"
rules="$root/rules/romashka"
data=""
period="2026-Q2"
generate=""
clients=3000
managers=40
work="${SCALE_WORK:-/tmp/bonusrun-scale}"
venv="${SCALE_VENV:-$here/.venv}"

usage() { sed -n '4,5p' "$0" | sed 's/^# *//' >&2; exit 2; }
while [ $# -gt 0 ]; do
    case "$1" in
        --bonusrun) bonusrun="$2"; shift 2 ;;
        --rules) rules="$2"; shift 2 ;;
        --data) data="$2"; shift 2 ;;
        --period) period="$2"; shift 2 ;;
        --generate) generate="$2"; shift 2 ;;
        --clients) clients="$2"; shift 2 ;;
        --managers) managers="$2"; shift 2 ;;
        --work) work="$2"; shift 2 ;;
        -h|--help) usage ;;
        *) echo "run.sh: unknown argument '$1'" >&2; usage ;;
    esac
done
if [ -n "$generate" ] && [ -n "$data" ]; then
    echo "run.sh: --generate writes its own data; give --data or --generate, not both" >&2
    exit 2
fi
[ -n "$data" ] || data="$rules/data"

if [ ! -x "$bonusrun" ]; then
    echo "run.sh: no bonusrun binary at $bonusrun (cargo build --release, or --bonusrun BIN)" >&2
    exit 1
fi
if ! command -v java >/dev/null 2>&1; then
    echo "run.sh: Spark needs Java 17, and there is no java here." >&2
    echo "  Debian/Ubuntu: apt-get update && apt-get install -y openjdk-17-jre-headless" >&2
    exit 1
fi

# A step's wall time: t0=$(now); ...; took "what" "$t0".
now() { date +%s.%N; }
took() { awk -v a="$2" -v b="$(now)" -v w="$1" 'BEGIN { printf "  %-32s %8.2f s\n", w, b - a }'; }

t0=$(now)
if ! { [ -x "$venv/bin/python" ] \
    && "$venv/bin/python" -c "import pyspark, sys; sys.exit(pyspark.__version__ != '$pyspark_version')" 2>/dev/null; }; then
    if ! python3 -c "import ensurepip, venv" >/dev/null 2>&1; then
        echo "run.sh: python3 with the venv module is needed (Debian: apt-get install python3-venv)" >&2
        exit 1
    fi
    echo "run.sh: creating $venv with pyspark==$pyspark_version (pip, once)" >&2
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "pyspark==$pyspark_version"
fi
python="$venv/bin/python"
# Local mode: bind to the loopback, and say nothing of the host name it resolves.
export SPARK_LOCAL_IP="${SPARK_LOCAL_IP:-127.0.0.1}"
java_version="$(java -version 2>&1 | head -n 1)"
took "venv (pyspark $pyspark_version)" "$t0"

mkdir -p "$work"
work="$(cd "$work" && pwd)"
if [ -n "$generate" ]; then
    data="$work/data-$generate"
    if [ -f "$data/sales.csv" ]; then
        echo "  generate: reusing $data"
    else
        t0=$(now)
        "$bonusrun" generate --out "$data" --sales "$generate" --clients "$clients" \
            --managers "$managers" --seed 1 >/dev/null
        took "generate ($generate lines)" "$t0"
    fi
fi
data="$(cd "$data" && pwd)"
rules="$(cd "$rules" && pwd)"
sales="$data/sales.csv"
lines=$(($(wc -l <"$sales") - 1))
out="$work/run-$(basename "$rules")-$period-$(basename "$data")"
rm -rf "$out"
mkdir -p "$out"

echo "bonusrun on Spark: pack $rules, period $period, data $data"
echo "  $lines sales lines ($(du -h "$sales" | cut -f1) sales.csv); $java_version"

t0=$(now)
"$python" "$here/spark_facts.py" --to-parquet "$sales" "$out/sales.parquet" 2>"$out/parquet.log" \
    || { cat "$out/parquet.log" >&2; exit 1; }
took "sales.csv to Parquet (Spark)" "$t0"
echo "    $(find "$out/sales.parquet" -name 'month=*' -type d | wc -l) month partitions, $(du -sh "$out/sales.parquet" | cut -f1)"

t0=$(now)
"$bonusrun" sql --rules "$rules" --period "$period" --dialect spark >"$out/facts.sql"
took "bonusrun sql --dialect spark" "$t0"

t0=$(now)
"$python" "$here/spark_facts.py" "$out/sales.parquet" "$out/facts.sql" "$out/facts.csv" 2>"$out/facts.log" \
    || { cat "$out/facts.log" >&2; exit 1; }
took "facts query (Spark)" "$t0"
grep -h '^spark_facts: Spark' "$out/facts.log" | sed 's/^spark_facts: /    /'
echo "    $(($(wc -l <"$out/facts.csv") - 1)) facts rows"

t0=$(now)
"$bonusrun" run --rules "$rules" --data "$data" --period "$period" --no-ledger --quiet \
    --out "$out/native" --force
took "bonusrun run (native pass)" "$t0"

t0=$(now)
"$bonusrun" run --rules "$rules" --data "$data" --period "$period" --facts "$out/facts.csv" \
    --no-ledger --quiet --out "$out/spark" --force
took "bonusrun run --facts" "$t0"

different=0
compare() {
    if ! cmp -s "$out/native/$1" "$out/spark/$1"; then
        different=$((different + 1))
        echo "  differs: $1"
        diff -u "$out/native/$1" "$out/spark/$1" | head -n 20 | sed 's/^/    /' || true
    fi
}
for f in payouts.csv kpis.csv key_clients.csv; do
    compare "$f"
done
statements=$(cd "$out/native" && find statements -name '*.json' | sort)
if [ "$statements" != "$(cd "$out/spark" && find statements -name '*.json' | sort)" ]; then
    different=$((different + 1))
    echo "  differs: the list of statements/*.json"
    diff <(echo "$statements") <(cd "$out/spark" && find statements -name '*.json' | sort) | head -n 20 | sed 's/^/    /' || true
fi
while IFS= read -r f; do
    [ -z "$f" ] || compare "$f"
done <<<"$statements"
count=$(echo "$statements" | grep -c . || true)
if [ "$different" -eq 0 ]; then
    echo "same: payouts.csv, kpis.csv, key_clients.csv and $count statements/*.json (in $out)"
else
    echo "DIFFERENT: $different file(s) differ between the native pass and Spark's facts (in $out)"
    exit 1
fi
