#!/usr/bin/env bash
# A Python virtual environment with DuckDB for the pushdown tests (tests/pushdown.rs):
# created at $1 the first time, with the pinned duckdb package from PyPI; reused after.
set -euo pipefail
venv="$1"
duckdb_version="2.0.1"
if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c "import duckdb" 2>/dev/null; then
    exit 0
fi
if ! python3 -c "import ensurepip, venv" >/dev/null 2>&1; then
    echo "python3 with the venv module is needed (Debian: apt-get install python3-venv; .ci/run does it)" >&2
    exit 1
fi
echo "tests: creating $venv with duckdb==$duckdb_version (pip, once)" >&2
rm -rf "$venv"
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check "duckdb==$duckdb_version"
