"""Runs the query `bonusrun sql --dialect spark` printed on the sales lines with Apache Spark,
and writes its result as one facts CSV file for `bonusrun run --facts` (docs/scale.md).

    python spark_facts.py SALES QUERY.sql FACTS.csv
    spark-submit --master yarn spark_facts.py s3://lake/sales/ QUERY.sql FACTS.csv

SALES is a CSV file (or folder) of canonical sales lines, read with every column as text as
bonusrun reads it, or Parquet (a file or a partitioned folder) whose columns are text too
(`--to-parquet` writes one so): the query casts what it sums. A path ending in `.csv` is
read as CSV, anything else as Parquet; `--format csv|parquet` says it outright.

    python spark_facts.py --to-parquet SALES.csv OUT_DIR

writes SALES.csv as Parquet partitioned by the month of its date (column `month`,
`YYYY-MM`), every column text, for the run above to read.

The query is run as printed: a query Spark cannot parse or run is an error here, to be
fixed in the generator (host/facts/sql.rs), not worked around. Its result, one row per
account and segment, is small even when the sales are not: it is collected to the driver
and written with Python's csv module: a header row of the query's column names, NULL as an
empty field, decimals as plain text (123.45, never 1.2345E+2), dates as YYYY-MM-DD.
"""
import argparse
import csv
import datetime
import decimal
import os
import sys
import time


def session(app):
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.appName(app)
    # Under spark-submit the master and the driver's memory come from its flags; run by
    # python itself, Spark runs in local mode on every core.
    if "PYSPARK_GATEWAY_PORT" not in os.environ:
        builder = (
            builder.master(os.environ.get("SPARK_MASTER", "local[*]"))
            .config("spark.driver.memory", os.environ.get("SPARK_DRIVER_MEMORY", "4g"))
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.sql.shuffle.partitions", os.environ.get("SPARK_SHUFFLE_PARTITIONS", "8"))
        )
    spark = (
        builder.config("spark.sql.session.timeZone", "UTC")
        # Partition folders month=2024-07 stay text, as every other column.
        .config("spark.sql.sources.partitionColumnTypeInference.enabled", "false")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel(os.environ.get("SPARK_LOG_LEVEL", "ERROR"))
    import pyspark

    print(f"spark_facts: Spark {spark.version}, pyspark {pyspark.__version__}, "
          f"master {spark.sparkContext.master}", file=sys.stderr)
    return spark


def read_csv(spark, path):
    # Standard CSV as bonusrun reads it: a header row, every column text (no inference),
    # a quote inside a quoted field doubled (Spark's default escape is a backslash), and
    # fields that may span lines. An empty field is NULL, as in DuckDB's read_csv.
    return (
        spark.read.option("header", "true")
        .option("inferSchema", "false")
        .option("quote", '"')
        .option("escape", '"')
        .option("multiLine", os.environ.get("SPARK_CSV_MULTILINE", "false"))
        .option("mode", "FAILFAST")
        .option("encoding", "UTF-8")
        .csv(path)
    )


def to_parquet(spark, sales, out):
    from pyspark.sql import functions as F

    df = read_csv(spark, sales)
    if "month" in df.columns:
        sys.exit(f"{sales}: has a column 'month' already, which the partitioning would replace")
    (
        df.withColumn("month", F.substring(F.col("date"), 1, 7))
        .repartition("month")
        .write.mode("overwrite")
        .partitionBy("month")
        .parquet(out)
    )


def text(value):
    if value is None:
        return ""
    if isinstance(value, decimal.Decimal):
        return format(value, "f")
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        # The query yields no float; should one come, say so rather than print 1e+20.
        raise SystemExit(f"spark_facts: a float {value!r} in the result; the query should give decimals")
    return str(value)


def facts(spark, sales, fmt, query, out):
    if fmt is None:
        fmt = "csv" if sales.lower().rstrip("/").endswith(".csv") else "parquet"
    df = read_csv(spark, sales) if fmt == "csv" else spark.read.parquet(sales)
    df.createOrReplaceTempView("sales")
    with open(query, encoding="utf-8") as f:
        sql = f.read()
    result = spark.sql(sql)
    columns = result.columns
    rows = result.collect()
    tmp = out + ".tmp"
    with open(tmp, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(columns)
        for row in rows:
            w.writerow([text(v) for v in row])
    os.replace(tmp, out)
    print(f"spark_facts: {len(rows)} rows to {out}", file=sys.stderr)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--to-parquet", action="store_true",
                   help="write SALES.csv as Parquet partitioned by month into the second argument")
    p.add_argument("--format", choices=["csv", "parquet"], help="how to read SALES (default: by its name)")
    p.add_argument("paths", nargs="+", metavar="PATH")
    a = p.parse_args()
    started = time.monotonic()
    if a.to_parquet:
        if len(a.paths) != 2:
            p.error("--to-parquet SALES.csv OUT_DIR")
        spark = session("bonusrun sales to parquet")
        to_parquet(spark, a.paths[0], a.paths[1])
    else:
        if len(a.paths) != 3:
            p.error("SALES QUERY.sql FACTS.csv")
        spark = session("bonusrun facts")
        facts(spark, a.paths[0], a.format, a.paths[1], a.paths[2])
    print(f"spark_facts: {time.monotonic() - started:.1f} s in Spark", file=sys.stderr)
    spark.stop()


if __name__ == "__main__":
    main()
