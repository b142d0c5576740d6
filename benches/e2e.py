#!/usr/bin/env python3
"""End-to-end benchmark of a bonus run, in one command:

    python3 benches/e2e.py            # 1M and 10M lines, 3 runs each
    python3 benches/e2e.py --sizes 1M --runs 5

It builds bonusrun (release), the WASM plugin and the floor program, generates the data
sets with `bonusrun generate` (kept in --work between invocations), and times on the same
files, interleaving the paths run by run:

  rhai     bonusrun run with the Rhai pack         rules/romashka (--no-ledger)
  rhai-ledger  the same, recording the run in a payout ledger that holds a closed 2026-Q1
  rhai-windows the same pack with three declared measures (lines of 1000 or more, revenue of
           one category, distinct products) and a year-to-date window, which the pass sums
           and the statements show
  wasm     bonusrun run with the WASM pack         rules/romashka-wasm (world 0.2.0)
  wasm-0.1 the same pack with the frozen 0.1.0 build of the plugin (romashka_v01.wasm)
  native   the same regulation in Rust, through the same pipeline (benches/floor.rs)
  rhai-parquet the same, on the sales written as sales.parquet by DuckDB (DATE, INTEGER,
           DECIMAL and text columns, Snappy), once per data set
  rhai-facts   the same, with --facts: the sales pass computed by DuckDB from the query
           `bonusrun sql` prints (once, untimed; its time is reported), the rules by bonusrun
  duckdb   an SQL translation in DuckDB            (benches/compare/)
  parse    reading and splitting the CSVs only     (benches/floor.rs)

with 1 and 2 threads. It checks that the payout paths agree to the cent (and that the
Rhai, WASM (both worlds) and native outputs are byte-identical), then reports medians, ratios taken
within the same invocation, peak memory (max RSS of each process), the 1 → 2 thread
speed-up, the time per step of the Rhai and WASM runs, and the issue's targets as met or
not. The report goes to stdout and to --report (Markdown) with the raw figures as JSON.
"""

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PERIOD = "2026-Q2"
SIZES = {
    # name: (sales lines, clients, managers)
    "200k": (200_000, 2_000, 40),
    "1M": (1_000_000, 3_000, 40),
    "10M": (10_000_000, 20_000, 200),
}
PATHS = ["rhai", "rhai-ledger", "rhai-windows", "rhai-parquet", "rhai-facts", "wasm", "wasm-0.1",
         "native", "duckdb", "parse"]
PAYOUT_PATHS = ["rhai", "rhai-ledger", "rhai-windows", "rhai-parquet", "rhai-facts", "wasm",
                "wasm-0.1", "native", "duckdb"]
# Paths whose outputs must equal Rhai's byte for byte, and whose steps are reported.
BYTE_PATHS = ["rhai-ledger", "rhai-windows", "rhai-parquet", "rhai-facts", "wasm", "wasm-0.1",
              "native"]
STEP_PATHS = ["rhai", "rhai-ledger", "rhai-windows", "rhai-parquet", "rhai-facts", "wasm",
              "wasm-0.1", "native"]
# cargo's target directory: $CARGO_TARGET_DIR when set, as cargo itself reads it.
TARGET = Path(os.environ.get("CARGO_TARGET_DIR") or ROOT / "target").resolve()
WINDOWS = """
[windows.ytd]
kind = "year_to_date"
[measures.big_lines]
count = "lines"
where = [{ column = "amount", at_least = 1000 }]
[measures.dairy]
sum = "amount"
where = [{ column = "category", is = "Dairy" }]
[measures.products]
distinct = "product"
"""


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def run(cmd, **kw):
    log("$ " + " ".join(str(c) for c in cmd))
    return subprocess.run(cmd, check=True, cwd=ROOT, **kw)


def v01_pack(work):
    """rules/romashka-wasm with the 0.1.0 build of the plugin, in the work directory."""
    pack = work / "romashka-wasm-0.1"
    if pack.exists():
        shutil.rmtree(pack)
    shutil.copytree(ROOT / "rules/romashka-wasm", pack)
    shutil.copy(ROOT / "plugins/target/wasm32-wasip2/release/romashka_v01.wasm", pack / "romashka.wasm")
    return pack


def windows_pack(work):
    """rules/romashka with three declared measures and a year-to-date window."""
    pack = work / "romashka-windows"
    if pack.exists():
        shutil.rmtree(pack)
    shutil.copytree(ROOT / "rules/romashka", pack)
    with open(pack / "pack.toml", "a") as f:
        f.write(WINDOWS)
    return pack


def build():
    """Builds everything once; returns (bonusrun, floor) executables."""
    run(["cargo", "build", "--release", "--locked"])
    run(["bash", "plugins/build.sh"])
    out = subprocess.run(
        ["cargo", "bench", "--locked", "--bench", "floor", "--no-run", "--message-format=json"],
        check=True, cwd=ROOT, stdout=subprocess.PIPE, text=True,
    ).stdout
    floor = None
    for line in out.splitlines():
        try:
            msg = json.loads(line)
        except json.JSONDecodeError:
            continue
        if msg.get("reason") == "compiler-artifact" and msg.get("target", {}).get("name") == "floor":
            floor = msg.get("executable") or floor
    if not floor:
        sys.exit("e2e: cannot find the floor benchmark executable in cargo's output")
    return TARGET / "release/bonusrun", Path(floor)


def parquet_data(data):
    """The data set with sales.parquet (written by DuckDB, typed) in place of sales.csv."""
    import duckdb
    out = Path(str(data) + "-parquet")
    stamp = out / ".complete"
    if stamp.exists():
        return out
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    for f in Path(data).glob("*.csv"):
        if f.name != "sales.csv":
            (out / f.name).symlink_to(f)
    src, dst = str(Path(data) / "sales.csv"), str(out / "sales.parquet")
    duckdb.sql(
        f"COPY (SELECT CAST(date AS DATE) AS date, client_id, manager_id, product, category, "
        f"CAST(quantity AS INTEGER) AS quantity, CAST(amount AS DECIMAL(18,2)) AS amount, "
        f"CAST(cost AS DECIMAL(18,2)) AS cost FROM read_csv('{src}', all_varchar = true)) "
        f"TO '{dst}' (FORMAT PARQUET)")
    stamp.write_text("ok\n")
    return out


def facts_file(bonusrun, data):
    """The facts of the run, computed by DuckDB from the query bonusrun prints; returns the
    file and the seconds DuckDB took."""
    import duckdb
    facts = Path(str(data) + "-facts.csv")
    query = subprocess.run([bonusrun, "sql", "--rules", "rules/romashka", "--period", PERIOD],
                           check=True, cwd=ROOT, stdout=subprocess.PIPE, text=True).stdout
    con = duckdb.connect()
    con.execute(f"CREATE VIEW sales AS SELECT * FROM read_csv('{data / 'sales.csv'}', all_varchar = true)")
    start = time.perf_counter()
    con.execute(f"COPY ({query}) TO '{facts}' (HEADER)")
    return facts, time.perf_counter() - start


def generate(bonusrun, work, size, seed):
    sales, clients, managers = SIZES[size]
    data = work / f"data-{size}-seed{seed}"
    stamp = data / ".complete"
    if stamp.exists():
        return data
    if data.exists():
        shutil.rmtree(data)
    run([bonusrun, "generate", "--out", data, "--sales", str(sales), "--clients", str(clients),
         "--managers", str(managers), "--seed", str(seed)], stdout=subprocess.DEVNULL)
    stamp.write_text("ok\n")
    return data


def timed(cmd, env=None):
    """Runs cmd; returns (wall seconds, peak RSS in MiB, stdout, stderr)."""
    import tempfile
    with tempfile.TemporaryFile() as fout, tempfile.TemporaryFile() as ferr:
        # posix_spawn (vfork and exec) rather than fork: a forked child would start with this
        # Python process's pages and report them as its own peak memory.
        args = [str(c) for c in cmd]
        exe = shutil.which(args[0]) or args[0]
        actions = [(os.POSIX_SPAWN_DUP2, fout.fileno(), 1), (os.POSIX_SPAWN_DUP2, ferr.fileno(), 2)]
        start = time.perf_counter()
        pid = os.posix_spawn(exe, args, env if env is not None else os.environ, file_actions=actions)
        # wait4 gives this child's own resource usage, max RSS included.
        _, status, usage = os.wait4(pid, 0)
        wall = time.perf_counter() - start
        code = os.waitstatus_to_exitcode(status)
        fout.seek(0)
        ferr.seek(0)
        out = fout.read().decode()
        err = ferr.read().decode()
    if code != 0:
        sys.exit(f"e2e: {' '.join(map(str, cmd))} failed ({code}):\n{out}\n{err}")
    return wall, usage.ru_maxrss / 1024.0, out, err


def command(path, bins, data, out, threads):
    bonusrun, floor = bins
    t = str(threads)
    if path == "rhai-parquet":
        return [bonusrun, "run", "--rules", "rules/romashka", "--data", parquet_data(data), "--out",
                out, "--force", "-q", "--threads", t, "--period", PERIOD, "--timings", "--no-ledger"]
    if path == "rhai-facts":
        return [bonusrun, "run", "--rules", "rules/romashka", "--data", data, "--facts",
                Path(str(data) + "-facts.csv"), "--out", out, "--force", "-q", "--threads", t,
                "--period", PERIOD, "--timings", "--no-ledger"]
    if path == "rhai":
        return [bonusrun, "run", "--rules", "rules/romashka", "--data", data, "--out", out,
                "--force", "-q", "--threads", t, "--period", PERIOD, "--timings", "--no-ledger"]
    if path == "rhai-windows":
        return [bonusrun, "run", "--rules", Path(data).parent / "romashka-windows", "--data", data,
                "--out", out, "--force", "-q", "--threads", t, "--period", PERIOD, "--timings",
                "--no-ledger"]
    if path == "rhai-ledger":
        return [bonusrun, "run", "--rules", "rules/romashka", "--data", data, "--out", out,
                "--force", "-q", "--threads", t, "--period", PERIOD, "--timings",
                "--ledger", ledger_file(data), "--by", "bench"]
    if path in ("wasm", "wasm-0.1"):
        pack = "rules/romashka-wasm" if path == "wasm" else Path(data).parent / "romashka-wasm-0.1"
        return [bonusrun, "run", "--rules", pack, "--data", data, "--out", out,
                "--force", "-q", "--threads", t, "--period", PERIOD, "--timings"]
    if path == "native":
        return [floor, "native", "--data", data, "--out", out, "--threads", t, "--period", PERIOD]
    if path == "duckdb":
        out.mkdir(parents=True, exist_ok=True)
        return [sys.executable, "benches/compare/duckdb_run.py", "--data", data, "--period", PERIOD,
                "--threads", t, "--out", out / "payouts.csv"]
    if path == "parse":
        return [floor, "parse", "--data", data, "--threads", t]
    raise ValueError(path)


def ledger_file(data):
    return Path(data).parent / f"ledger-{Path(data).name}.db"


def prepare_ledger(bonusrun, data):
    """A ledger whose 2026-Q1 is closed (so the timed run reads a real history), kept as
    the template each timed rhai-ledger run starts from."""
    template = Path(data).parent / f"ledger-{Path(data).name}.template.db"
    if not template.exists():
        out = Path(data).parent / "out-ledger-q1"
        led = ["--ledger", template]
        run([bonusrun, "run", "--rules", "rules/romashka", "--data", data, "--out", out, "--force",
             "-q", "--period", "2026-Q1", "--by", "bench", *led], stdout=subprocess.DEVNULL)
        run([bonusrun, "approve", "1", "--by", "bench", *led], stdout=subprocess.DEVNULL)
        run([bonusrun, "close", "2026-Q1", "--run", "1", "--by", "bench", *led], stdout=subprocess.DEVNULL)
    return template


def fresh_ledger(data):
    """Before each rhai-ledger run: the template again (not timed)."""
    target = ledger_file(data)
    for suffix in ("", "-wal", "-shm"):
        Path(str(target) + suffix).unlink(missing_ok=True)
    shutil.copy(Path(data).parent / f"ledger-{Path(data).name}.template.db", target)


def own_peak(stderr):
    """The peak memory a program reports of itself (`timing: peak memory N MiB`), if any."""
    for line in stderr.splitlines():
        if line.startswith("timing: peak memory "):
            return float(line.split()[3])
    return None


def parse_timings(stderr):
    steps = {}
    for line in stderr.splitlines():
        if line.startswith("timing: peak memory"):
            continue
        if line.startswith("timing:"):
            rest = line[len("timing:"):].strip()
            ms, _, step = rest.partition(" ms ")
            # "of which the ledger: open .., read .., record .." is a part of other steps.
            steps["ledger (within the steps)" if step.strip().startswith("of which the ledger")
                  else step.strip()] = float(ms)
    return steps


def cents(path):
    """manager_id -> payout in cents, from a payouts.csv with manager_id and payout columns."""
    import csv
    from decimal import Decimal
    rows = {}
    with open(path, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            rows[row["manager_id"]] = int((Decimal(row["payout"]) * 100).to_integral_value())
    return rows


def check_agreement(outs):
    """All payout paths agree to the cent; Rhai, WASM (both worlds) and native outputs byte
    for byte."""
    problems = []
    base = cents(outs["rhai"] / "payouts.csv")
    for p in PAYOUT_PATHS[1:]:
        other = cents(outs[p] / "payouts.csv")
        if other.keys() != base.keys():
            problems.append(f"{p}: managers differ from rhai's")
        diff = [m for m in base if m in other and other[m] != base[m]]
        if diff:
            m = diff[0]
            problems.append(f"{p}: {len(diff)} payout(s) differ from rhai's, e.g. {m}: "
                            f"{other[m] / 100:.2f} against {base[m] / 100:.2f}")
    for p in BYTE_PATHS:
        for name in ["payouts.csv", "kpis.csv", "key_clients.csv"]:
            if (outs[p] / name).read_bytes() != (outs["rhai"] / name).read_bytes():
                problems.append(f"{p}: {name} is not byte-identical to rhai's")
    total = sum(base.values())
    return problems, len(base), total


def median(xs):
    return statistics.median(xs) if xs else float("nan")


def machine():
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f", {kb / 1024 / 1024:.0f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    return f"{os.cpu_count()} cores ({cpu}){mem}, {platform.system()} {platform.release()}"


def bench_size(size, bins, work, runs, seed):
    bonusrun = bins[0]
    data = generate(bonusrun, work, size, seed)
    lines = SIZES[size][0]
    results = {p: {1: [], 2: []} for p in PATHS}
    memory = {p: {1: [], 2: []} for p in PATHS}
    steps = {p: {1: [], 2: []} for p in STEP_PATHS}
    sql_seconds = {1: [], 2: []}
    outs = {}
    prepare_ledger(bonusrun, data)
    windows_pack(work)
    parquet_data(data)
    _, facts_seconds = facts_file(bonusrun, data)
    log(f"  {size} facts query in DuckDB: {facts_seconds:.3f} s")
    # One untimed round warms the page cache and the plugin compile cache.
    for path in PATHS:
        out = work / f"out-{size}-{path}"
        outs[path] = out
        if path == "rhai-ledger":
            fresh_ledger(data)
        timed(command(path, bins, data, out, 2))
    for r in range(runs):
        for threads in (1, 2):
            order = PATHS[r % len(PATHS):] + PATHS[:r % len(PATHS)]
            for path in order:
                if path == "rhai-ledger":
                    fresh_ledger(data)
                wall, rss, out, err = timed(command(path, bins, data, outs[path], threads))
                # A child's max RSS from wait4 includes the address space it was spawned
                # from (this Python process) before exec; programs that report their own
                # peak (VmHWM) are taken at their word.
                rss = own_peak(err) or rss
                results[path][threads].append(wall)
                memory[path][threads].append(rss)
                if path in steps:
                    steps[path][threads].append(parse_timings(err))
                if path == "duckdb":
                    try:
                        sql_seconds[threads].append(json.loads(out.strip().splitlines()[-1])["seconds"])
                    except (ValueError, KeyError, IndexError):
                        pass
                log(f"  {size} {path:6} {threads} thread(s): {wall:7.3f} s  {rss:7.1f} MiB")
    problems, managers, total = check_agreement(outs)
    return {
        "size": size,
        "lines": lines,
        "clients": SIZES[size][1],
        "managers": SIZES[size][2],
        "sales_bytes": (data / "sales.csv").stat().st_size,
        "runs": runs,
        "seconds": results,
        "peak_mib": memory,
        "steps": steps,
        "duckdb_sql_seconds": sql_seconds,
        "facts_query_seconds": facts_seconds,
        "parquet_bytes": (parquet_data(data) / "sales.parquet").stat().st_size,
        "agreement": {"problems": problems, "managers": managers, "total_cents": total},
    }


def report(all_results, runs):
    out = []
    w = out.append
    w(f"Machine: {machine()}. Each figure is the median of {runs} runs, paths interleaved; "
      f"ratios are of medians from this same invocation. Peak memory is the largest resident set of the process (VmHWM as bonusrun and the floor report it; max RSS from wait4 for DuckDB's Python process).\n")
    targets = []
    for res in all_results:
        s = res["seconds"]
        m = res["peak_mib"]
        med = {p: {t: median(s[p][t]) for t in (1, 2)} for p in PATHS}
        mem = {p: {t: max(m[p][t]) if m[p][t] else float("nan") for t in (1, 2)} for p in PATHS}
        sql = {t: median(res["duckdb_sql_seconds"][t]) for t in (1, 2)}
        a = res["agreement"]
        w(f"### {res['size']} sales lines ({res['lines']:,} lines, {res['clients']:,} clients, "
          f"{res['managers']} managers, {res['sales_bytes'] / 2**20:,.0f} MiB sales.csv), period {PERIOD}\n")
        if a["problems"]:
            w("**Payouts do not agree:**\n")
            for p in a["problems"]:
                w(f"- {p}")
            w("")
        else:
            w(f"All {len(PAYOUT_PATHS)} payout paths agree to the cent: {a['managers']} managers, total "
              f"{a['total_cents'] / 100:,.2f}; the Rhai (CSV, Parquet, facts), WASM (0.2.0 and 0.1.0) and native outputs are byte-identical.\n")
        w("| path | 1 thread | 2 threads | speed-up | peak MiB (2 threads) | vs native (2) | vs parse floor (2) |")
        w("|---|---|---|---|---|---|---|")
        for p in PATHS:
            one, two = med[p][1], med[p][2]
            w(f"| {p} | {one:.3f} s | {two:.3f} s | {one / two:.2f}x | {mem[p][2]:.0f} | "
              f"{two / med['native'][2]:.2f}x | {two / med['parse'][2]:.2f}x |")
        w(f"| duckdb, SQL only (no Python start-up) | {sql[1]:.3f} s | {sql[2]:.3f} s | "
          f"{sql[1] / sql[2]:.2f}x | | | |")
        w(f"| the facts query `bonusrun sql` prints, in DuckDB (all threads, once) | | "
          f"{res['facts_query_seconds']:.3f} s | | | | |")
        w("")
        for p in STEP_PATHS:
            per_step = {}
            for run_steps in res["steps"][p][2]:
                for k, v in run_steps.items():
                    per_step.setdefault(k, []).append(v)
            if per_step:
                w(f"Steps of the {p} run, 2 threads (median ms): " + ", ".join(
                    f"{k} {median(v):.0f}" for k, v in per_step.items() if k != "total") + "\n")
        if res["size"] == "10M":
            rhai2, wasm2, nat2 = med["rhai"][2], med["wasm"][2], med["native"][2]
            targets += [
                ("Rhai end to end ≤ 0.7x DuckDB (SQL time only)", rhai2 / sql[2], 0.7),
                ("Rhai end to end ≤ 0.7x DuckDB (whole process)", rhai2 / med["duckdb"][2], 0.7),
                ("Rhai pack ≤ 1.2x native floor", rhai2 / nat2, 1.2),
                ("recording the run in the ledger ≤ 1.05x the run without (Rhai)",
                 med["rhai-ledger"][2] / rhai2, 1.05),
                ("three measures and a year-to-date window ≤ 1.3x the run without (Rhai)",
                 med["rhai-windows"][2] / rhai2, 1.3),
                ("WASM pack ≤ 1.1x native floor", wasm2 / nat2, 1.1),
                ("sales.parquet ≥ 1.5x faster than sales.csv (Rhai)",
                 rhai2 / med["rhai-parquet"][2], -1.5),
                ("full run (Rhai) ≤ 3.5x parse-only floor", rhai2 / med["parse"][2], 3.5),
                ("2 threads ≥ 1.8x faster than 1 (Rhai)", med["rhai"][1] / rhai2, -1.8),
                ("peak memory ≤ 300 MiB (Rhai, 2 threads)", mem["rhai"][2], 300),
                ("peak memory ≤ 250 MiB (WASM, 2 threads)", mem["wasm"][2], 250),
            ]
            stage_ms = {p: median([st.get("stage kpis", 0) + st.get("stage bonus", 0)
                                   for st in res["steps"][p][2]]) for p in ["rhai", "wasm"]}
            if stage_ms["rhai"] > 0:
                targets.append(("WASM stages kpis + bonus ≤ 2x Rhai's (ratio)",
                                stage_ms["wasm"] / stage_ms["rhai"], 2.0))
            for p in ["rhai", "wasm"]:
                loads = [st.get("pack load and data mapping") for t in (1, 2) for st in res["steps"][p][t]]
                loads = [x for x in loads if x is not None]
                if loads:
                    targets.append((f"pack load with a warm compile cache < 50 ms ({p})", median(loads), 50))
    if targets:
        w("### Targets (10M lines, 2 threads)\n")
        w("| target | measured | met |")
        w("|---|---|---|")
        for name, value, limit in targets:
            ok = value >= -limit if limit < 0 else value <= limit
            unit = " MiB" if "MiB" in name else " ms" if " ms" in name else "x"
            w(f"| {name} | {value:.2f}{unit} | {'yes' if ok else 'no'} |")
        w("")
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="1M,10M", help="comma-separated: 200k, 1M, 10M")
    ap.add_argument("--runs", type=int, default=3, help="timed runs per path and thread count")
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--work", type=Path, default=Path(os.environ.get("TMPDIR", "/tmp")) / "bonusrun-e2e",
                    help="where data sets and outputs go (data sets are kept and reused)")
    ap.add_argument("--report", type=Path, default=ROOT / "benches/results/e2e.md")
    args = ap.parse_args()
    args.work = args.work.resolve()
    args.report = args.report.resolve()
    os.chdir(ROOT)  # the commands name packs and scripts relative to the repository
    sizes = [s.strip() for s in args.sizes.split(",") if s.strip()]
    for s in sizes:
        if s not in SIZES:
            sys.exit(f"e2e: unknown size {s}; use {', '.join(SIZES)}")
    try:
        import duckdb  # noqa: F401
    except ImportError:
        sys.exit("e2e: the duckdb Python package is missing: pip install duckdb")
    args.work.mkdir(parents=True, exist_ok=True)
    bins = build()
    v01_pack(args.work)
    env_cache = args.work / "plugin-cache"
    os.environ["BONUSRUN_CACHE_DIR"] = str(env_cache)
    results = [bench_size(s, bins, args.work, args.runs, args.seed) for s in sizes]
    text = report(results, args.runs)
    print(text)
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.write_text(text + "\n")
    args.report.with_suffix(".json").write_text(json.dumps(results, indent=1) + "\n")
    log(f"report written to {args.report} and {args.report.with_suffix('.json')}")
    if any(r["agreement"]["problems"] for r in results):
        sys.exit(1)


if __name__ == "__main__":
    main()
