#!/usr/bin/env python3
"""Compare two payout files by manager id, to the cent.

    python3 benches/compare/check_payouts.py A.csv B.csv

Each file needs the columns `manager_id` and `payout` (other columns are ignored), so it
reads both bonusrun's payouts.csv (manager_id,name,period,currency,target_bonus,payout,...)
and the file benches/compare/duckdb_run.py writes (manager_id,payout). Prints every
mismatch and exits 1 if there is any; otherwise prints "agree: N managers, total X".
"""

import csv
import decimal
import sys

CENT = decimal.Decimal("0.01")


def read(path):
    with open(path, encoding="utf-8-sig", newline="") as f:
        reader = csv.DictReader(f)
        missing = {"manager_id", "payout"} - set(reader.fieldnames or [])
        if missing:
            sys.exit(f"{path}: no column {', '.join(sorted(missing))}; the header is {reader.fieldnames}")
        payouts = {}
        for line, row in enumerate(reader, start=2):
            mid = row["manager_id"].strip()
            try:
                amount = decimal.Decimal(row["payout"].strip())
            except decimal.InvalidOperation:
                sys.exit(f"{path}:{line}: payout {row['payout']!r} is not a number")
            if mid in payouts:
                sys.exit(f"{path}:{line}: manager {mid} appears twice")
            payouts[mid] = amount
        return payouts


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__.strip().split("\n\n")[1])
    a_path, b_path = sys.argv[1], sys.argv[2]
    a, b = read(a_path), read(b_path)
    problems = []
    for mid in sorted(a.keys() | b.keys()):
        if mid not in a:
            problems.append(f"{mid}: only in {b_path} ({b[mid]})")
        elif mid not in b:
            problems.append(f"{mid}: only in {a_path} ({a[mid]})")
        elif a[mid].quantize(CENT) != b[mid].quantize(CENT) or a[mid] != a[mid].quantize(CENT) \
                or b[mid] != b[mid].quantize(CENT):
            problems.append(f"{mid}: {a[mid]} vs {b[mid]} (difference {b[mid] - a[mid]})")
    if problems:
        for p in problems:
            print(p)
        print(f"disagree: {len(problems)} of {len(a.keys() | b.keys())} managers")
        sys.exit(1)
    total = sum(a.values(), decimal.Decimal("0.00"))
    print(f"agree: {len(a)} managers, total {total:.2f}")


if __name__ == "__main__":
    main()
