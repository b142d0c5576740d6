//! The ledger's schema and its migrations. Money is canonical decimal text (never REAL: SQL
//! never adds money; every sum is taken in Rust, exactly). `PRAGMA user_version` holds the
//! schema version and `PRAGMA application_id` marks the file as a bonusrun ledger.

/// `PRAGMA application_id` of a ledger: ASCII `BRLG`.
pub const APPLICATION_ID: i64 = 0x4252_4C47;

/// Each migration, in order; migration `i` brings the file to version `i + 1`, in one
/// IMMEDIATE transaction that also sets `user_version`.
pub const MIGRATIONS: &[&str] = &[V1];

/// The newest schema version this build knows.
pub const VERSION: i64 = MIGRATIONS.len() as i64;

const V1: &str = r#"
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;

CREATE TABLE runs (
    id            INTEGER PRIMARY KEY,
    period        TEXT NOT NULL,
    kind          TEXT NOT NULL CHECK (kind IN ('regular', 'retro')),
    status        TEXT NOT NULL CHECK (status IN ('draft', 'approved', 'failed', 'superseded')),
    retro_of      INTEGER REFERENCES runs(id),
    pack_name     TEXT NOT NULL,
    pack_version  TEXT NOT NULL,
    pack_hash     TEXT NOT NULL,
    pack_files    TEXT NOT NULL,
    rules_arg     TEXT,
    data_arg      TEXT,
    cwd           TEXT,
    period_given  INTEGER NOT NULL,
    overrides     TEXT NOT NULL,
    inputs_hash   TEXT NOT NULL,
    inputs        TEXT NOT NULL,
    outputs_hash  TEXT,
    outputs       TEXT,
    out_dir       TEXT,
    carry         TEXT NOT NULL,
    currency      TEXT NOT NULL,
    total         TEXT CHECK (total IS NULL OR typeof(total) = 'text'),
    error         TEXT,
    who           TEXT NOT NULL CHECK (length(trim(who)) > 0),
    created       TEXT NOT NULL,
    approved_by   TEXT,
    approved_at   TEXT,
    CHECK ((status = 'failed') = (outputs_hash IS NULL))
) STRICT;
CREATE INDEX runs_period ON runs(period, id);

CREATE TABLE run_managers (
    run_id       INTEGER NOT NULL REFERENCES runs(id),
    manager_id   TEXT NOT NULL,
    name         TEXT NOT NULL,
    target_bonus TEXT NOT NULL CHECK (typeof(target_bonus) = 'text'),
    computed     TEXT NOT NULL CHECK (typeof(computed) = 'text'),
    payout       TEXT NOT NULL CHECK (typeof(payout) = 'text'),
    PRIMARY KEY (run_id, manager_id)
) STRICT, WITHOUT ROWID;

CREATE TABLE run_lines (
    run_id       INTEGER NOT NULL,
    manager_id   TEXT NOT NULL,
    seq          INTEGER NOT NULL,
    kind         TEXT NOT NULL,
    settlement   INTEGER NOT NULL CHECK (settlement IN (0, 1)),
    label        TEXT NOT NULL,
    kpi          TEXT,
    amount       TEXT NOT NULL CHECK (typeof(amount) = 'text'),
    amount_exact TEXT NOT NULL CHECK (typeof(amount_exact) = 'text'),
    note         TEXT NOT NULL,
    ref_period   TEXT,
    ref_run      INTEGER REFERENCES runs(id),
    true_up      INTEGER,
    approved_by  TEXT,
    source       TEXT,
    PRIMARY KEY (run_id, manager_id, seq),
    FOREIGN KEY (run_id, manager_id) REFERENCES run_managers(run_id, manager_id)
) STRICT, WITHOUT ROWID;

CREATE TABLE run_kpis (
    run_id     INTEGER NOT NULL,
    manager_id TEXT NOT NULL,
    kpi        TEXT NOT NULL,
    weight     TEXT NOT NULL,
    value      TEXT NOT NULL,
    target     TEXT NOT NULL,
    attainment TEXT NOT NULL,
    PRIMARY KEY (run_id, manager_id, kpi),
    FOREIGN KEY (run_id, manager_id) REFERENCES run_managers(run_id, manager_id)
) STRICT, WITHOUT ROWID;

-- Each manager's sales in the run period as the run saw them: a later run compares them
-- with today's data to find late sales (clawbacks).
CREATE TABLE run_sales (
    run_id       INTEGER NOT NULL,
    manager_id   TEXT NOT NULL,
    lines        INTEGER NOT NULL,
    return_lines INTEGER NOT NULL,
    revenue      TEXT NOT NULL CHECK (typeof(revenue) = 'text'),
    cost         TEXT NOT NULL CHECK (typeof(cost) = 'text'),
    quantity     TEXT NOT NULL CHECK (typeof(quantity) = 'text'),
    returns      TEXT NOT NULL CHECK (typeof(returns) = 'text'),
    PRIMARY KEY (run_id, manager_id),
    FOREIGN KEY (run_id, manager_id) REFERENCES run_managers(run_id, manager_id)
) STRICT, WITHOUT ROWID;

CREATE TABLE periods (
    period    TEXT PRIMARY KEY,
    status    TEXT NOT NULL CHECK (status IN ('open', 'closed')),
    paid_run  INTEGER REFERENCES runs(id),
    closed_by TEXT,
    closed_at TEXT,
    CHECK ((status = 'closed') = (paid_run IS NOT NULL))
) STRICT;

CREATE TABLE events (
    id     INTEGER PRIMARY KEY,
    at     TEXT NOT NULL,
    who    TEXT NOT NULL,
    action TEXT NOT NULL CHECK (action IN ('run', 'fail', 'approve', 'close', 'reopen', 'migrate')),
    period TEXT,
    run_id INTEGER REFERENCES runs(id),
    reason TEXT,
    detail TEXT NOT NULL DEFAULT '{}'
) STRICT;
CREATE TRIGGER events_append_only_u BEFORE UPDATE ON events
    BEGIN SELECT RAISE(ABORT, 'the event log is append-only'); END;
CREATE TRIGGER events_append_only_d BEFORE DELETE ON events
    BEGIN SELECT RAISE(ABORT, 'the event log is append-only'); END;

CREATE TABLE true_ups (
    id          INTEGER PRIMARY KEY,
    retro_run   INTEGER NOT NULL REFERENCES runs(id),
    period      TEXT NOT NULL,
    paid_run    INTEGER NOT NULL REFERENCES runs(id),
    manager_id  TEXT NOT NULL,
    kpi         TEXT,
    kind        TEXT NOT NULL,
    label       TEXT NOT NULL,
    amount      TEXT NOT NULL CHECK (typeof(amount) = 'text'),
    status      TEXT NOT NULL CHECK (status IN ('proposed', 'pending', 'settled', 'replaced')),
    settled_run INTEGER REFERENCES runs(id)
) STRICT;

CREATE TABLE draw_movements (
    id            INTEGER PRIMARY KEY,
    manager_id    TEXT NOT NULL,
    period        TEXT NOT NULL,
    run_id        INTEGER NOT NULL REFERENCES runs(id),
    event_id      INTEGER NOT NULL REFERENCES events(id),
    advance       TEXT NOT NULL CHECK (typeof(advance) = 'text'),
    recovery      TEXT NOT NULL CHECK (typeof(recovery) = 'text'),
    balance_after TEXT NOT NULL CHECK (typeof(balance_after) = 'text')
) STRICT;
CREATE INDEX draw_by_manager ON draw_movements(manager_id, id);
"#;
