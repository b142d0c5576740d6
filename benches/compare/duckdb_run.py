#!/usr/bin/env python3
"""Run the Romashka regulation in DuckDB (benches/compare/romashka.sql) on a data directory.

    python3 benches/compare/duckdb_run.py --data DIR --period 2026-Q2 --threads N \
        --out payouts.csv [--pack rules/romashka] [--kpis kpis.csv]

Writes `manager_id,payout` in managers.csv order and prints one line of JSON:
{"seconds": <wall time of the SQL, CSV reading included>, "managers": n, "total": "<sum>"}.

Parameters come from the pack: [params] and the [[kpis]] weights of pack.toml (read as exact
decimals, never floats) are put into the SQL text in place of ${name} placeholders, together
with the data and pack directories and the period bounds. Standard library and duckdb only.
"""

import argparse
import csv
import datetime
import decimal
import json
import os
import pathlib
import re
import sys
import tempfile
import time
import tomllib

import duckdb

HERE = pathlib.Path(__file__).resolve().parent
SQL_FILE = HERE / "romashka.sql"
SALES_HEADER = ["date", "client_id", "manager_id", "product", "category", "quantity", "amount", "cost"]
# host/money.rs: currencies whose minor unit is not 2 decimals
ZERO_DECIMALS = {"JPY", "KRW", "CLP", "ISK", "VND", "XOF", "XAF", "UGX", "PYG", "RWF"}
THREE_DECIMALS = {"BHD", "KWD", "OMR", "JOD", "TND", "LYD", "IQD"}
PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_]+)\}")


def fail(message):
    print(f"duckdb_run: {message}", file=sys.stderr)
    sys.exit(2)


def quarter_bounds(period):
    """The run quarter, the previous one and the year-ago one as [start, end) dates."""
    m = re.fullmatch(r"\s*(\d{4})-[Qq]([1-4])\s*", period)
    if not m:
        fail(f"--period {period!r}: the Romashka pack pays per quarter; give e.g. 2026-Q2")
    year, q = int(m.group(1)), int(m.group(2))

    def start(index):  # index = months since year 0
        return datetime.date(index // 12, index % 12 + 1, 1)

    first = year * 12 + (q - 1) * 3
    bounds = {}
    for name, offset in (("cur", 0), ("prev", -3), ("ya", -12)):
        bounds[f"{name}_start"] = start(first + offset)
        bounds[f"{name}_end"] = start(first + offset + 3)
    bounds["cur_last"] = bounds["cur_end"] - datetime.timedelta(days=1)
    return f"{year}-Q{q}", bounds


def plain(x):
    """A decimal as text without trailing zeros (no context rounding: 29 digits stay 29)."""
    text = format(decimal.Decimal(x), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def sql_string(text):
    return "'" + str(text).replace("'", "''") + "'"


def sql_value(value):
    """A pack parameter as an SQL literal: decimals exact (0.05 is DECIMAL(3,2)), text quoted."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, decimal.Decimal)):
        return format(decimal.Decimal(value), "f")
    if isinstance(value, str):
        # like the host: a string that is a plain decimal number is a number
        if re.fullmatch(r"\s*[+-]?(\d+\.?\d*|\.\d+)\s*", value):
            return format(decimal.Decimal(value.strip()), "f")
        return sql_string(value)
    fail(f"parameter value {value!r} is not supported by the SQL translation")


def substitutions(pack_dir, data_dir, period):
    manifest = tomllib.loads((pack_dir / "pack.toml").read_text(encoding="utf-8"),
                             parse_float=decimal.Decimal)
    pack = manifest.get("pack", {})
    if pack.get("rounding") != "half-up" or pack.get("period") != "quarter":
        fail("romashka.sql rounds half-up and pays per quarter; the pack says "
             f"rounding={pack.get('rounding')!r}, period={pack.get('period')!r}")
    currency = str(pack.get("currency", "")).strip().upper()
    default_units = 0 if currency in ZERO_DECIMALS else 3 if currency in THREE_DECIMALS else 2
    if pack.get("minor_units", default_units) != 2:
        fail(f"romashka.sql rounds to 2 decimals (kopecks); {currency} has other minor units")
    period_text, bounds = quarter_bounds(period)
    subs = {
        "data": str(data_dir).replace("'", "''"),
        "pack": str(pack_dir).replace("'", "''"),
        "period": period_text,
    }
    subs.update({k: v.isoformat() for k, v in bounds.items()})
    for name, value in manifest.get("params", {}).items():
        if isinstance(value, list):
            # Only the annual true-up reads a list (annual_kpis), and it needs a payout ledger,
            # which this translation, like a run without one, does not have.
            continue
        subs[name] = sql_value(value)
    for kpi in manifest.get("kpis", []):
        subs[f"weight_{kpi['id']}"] = sql_value(kpi["weight"])
    return subs


def render(sql, subs):
    missing = sorted({m.group(1) for m in PLACEHOLDER.finditer(sql)} - subs.keys())
    if missing:
        fail(f"the pack does not give {', '.join(missing)} (placeholders in {SQL_FILE.name})")
    return PLACEHOLDER.sub(lambda m: subs[m.group(1)], sql)


def check_inputs(data_dir):
    for name in ("clients.csv", "managers.csv", "plans.csv", "sales.csv"):
        if not (data_dir / name).is_file():
            fail(f"{data_dir / name} does not exist")
    # The SQL reads sales.csv with a fixed column list (no sniffing): check the header.
    with open(data_dir / "sales.csv", encoding="utf-8-sig", newline="") as f:
        header = [h.strip().lower() for h in next(csv.reader(f), [])]
    if header != SALES_HEADER:
        fail(f"sales.csv header is {','.join(header)}; romashka.sql expects {','.join(SALES_HEADER)}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", required=True, type=pathlib.Path)
    ap.add_argument("--period", required=True, help="quarter, e.g. 2026-Q2")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--out", required=True, type=pathlib.Path, help="payouts CSV to write")
    ap.add_argument("--pack", type=pathlib.Path, default=HERE.parent.parent / "rules" / "romashka")
    ap.add_argument("--kpis", type=pathlib.Path, help="also write the KPI results here (debugging)")
    args = ap.parse_args()
    if args.threads < 1:
        fail("--threads must be at least 1")
    data_dir, pack_dir = args.data.resolve(), args.pack.resolve()
    check_inputs(data_dir)
    subs = substitutions(pack_dir, data_dir, args.period)
    scratch = tempfile.TemporaryDirectory()
    contracts = data_dir / "contracts.csv"
    if not contracts.is_file():  # optional, as in bonusrun: no contracts at all
        contracts = pathlib.Path(scratch.name) / "contracts.csv"
        contracts.write_text("contract_id,client_id,manager_id,start,end,renewed_on\n", encoding="utf-8")
    subs["contracts_file"] = str(contracts).replace("'", "''")
    sql = render(SQL_FILE.read_text(encoding="utf-8"), subs)

    con = duckdb.connect()
    con.execute(f"SET threads = {args.threads}")
    started = time.perf_counter()
    rows = con.execute(sql).fetchall()  # every statement; the last one returns the payouts
    seconds = time.perf_counter() - started

    total = decimal.Decimal("0.00")
    with open(args.out, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["manager_id", "payout"])
        for manager_id, payout in rows:
            payout = decimal.Decimal(payout).quantize(decimal.Decimal("0.01"))
            total += payout
            w.writerow([manager_id, f"{payout:.2f}"])
    if args.kpis:
        kpis = con.execute("SELECT manager_id, kpi, value, target, attainment, weight "
                           "FROM kpi_results JOIN managers USING (manager_id) "
                           "ORDER BY ord, kpi_ord").fetchall()
        with open(args.kpis, "w", encoding="utf-8", newline="") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(["manager_id", "kpi", "value", "target", "attainment", "weight"])
            for r in kpis:
                w.writerow([r[0], r[1]] + [plain(x) for x in r[2:]])
    print(json.dumps({"seconds": round(seconds, 3), "managers": len(rows), "total": f"{total:.2f}"}))


if __name__ == "__main__":
    main()
