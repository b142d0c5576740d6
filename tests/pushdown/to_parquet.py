"""Writes a sales CSV file as Parquet with DuckDB, for tests/parquet.rs.

    python to_parquet.py SALES.csv OUT.parquet text|typed|typed64|float|cast:TYPE:COLUMN ROWS_PER_GROUP

text: every column as text; typed: date as DATE, quantity as INTEGER, amount and cost as
DECIMAL(18,2), the rest as text (an empty cell is NULL); typed64: the same with quantity as
BIGINT and amount and cost as DECIMAL(38,2); float: typed, but amount as DOUBLE
(which bonusrun refuses); cast:TYPE:COLUMN: every column as text but COLUMN as TYPE.
"""
import sys

import duckdb

sales, out, mode, rows = sys.argv[1:5]
con = duckdb.connect()
src = sales.replace("'", "''")
con.execute(f"CREATE VIEW s AS SELECT * FROM read_csv('{src}', header = true, all_varchar = true)")
cols = [r[0] for r in con.execute("DESCRIBE s").fetchall()]
types = {
    "text": {},
    "typed": {"date": "DATE", "quantity": "INTEGER", "amount": "DECIMAL(18,2)", "cost": "DECIMAL(18,2)"},
    "typed64": {"date": "DATE", "quantity": "BIGINT", "amount": "DECIMAL(38,2)", "cost": "DECIMAL(38,2)"},
    "float": {"date": "DATE", "quantity": "INTEGER", "amount": "DOUBLE", "cost": "DECIMAL(18,2)"},
}
types = types[mode] if mode in types else {mode.split(":", 2)[2]: mode.split(":", 2)[1]}
select = ", ".join(
    f'CAST("{c}" AS {types[c]}) AS "{c}"' if c in types else f'"{c}"' for c in cols
)
target = out.replace("'", "''")
con.execute(
    f"COPY (SELECT {select} FROM s) TO '{target}' (FORMAT PARQUET, ROW_GROUP_SIZE {int(rows)})"
)
