"""Runs the query `bonusrun sql --dialect duckdb` printed on a sales CSV file and writes its
result as a facts CSV file (or Parquet, for a name ending in .parquet), as an analyst would
with DuckDB.

    python duckdb_facts.py SALES.csv QUERY.sql FACTS.csv
"""
import sys

import duckdb

sales, query, out = sys.argv[1:4]
con = duckdb.connect()
# Every column as text, as bonusrun reads it: the query casts what it sums.
quoted = sales.replace("'", "''")
con.execute(f"CREATE VIEW sales AS SELECT * FROM read_csv('{quoted}', header = true, all_varchar = true)")
with open(query, encoding="utf-8") as f:
    sql = f.read()
target = out.replace("'", "''")
if out.endswith(".parquet"):
    con.execute(f"COPY ({sql}) TO '{target}' (FORMAT PARQUET)")
else:
    con.execute(f"COPY ({sql}) TO '{target}' (HEADER, DELIMITER ',')")
