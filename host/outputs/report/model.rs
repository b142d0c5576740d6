//! What the report reads: a run's `run.json`, its statements and `key_clients.csv`, parsed
//! into the few figures the report shows. The same files are read for a run that is being
//! written (from memory) and for `bonusrun report RUN_DIR` (from disk), so both give the
//! same bytes.

use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::Value;
use std::str::FromStr;

/// One manager's statement, as far as the report uses it.
#[derive(Deserialize)]
pub struct Statement {
    pub manager: Manager,
    pub facts: Facts,
    pub kpis: Vec<Kpi>,
    pub lines: Vec<Line>,
    pub payout: String,
    #[serde(default)]
    pub warnings: Vec<String>,
    #[serde(default)]
    pub accounts: Vec<Account>,
    #[serde(default)]
    pub paid_in: Option<PaidIn>,
}

#[derive(Deserialize)]
pub struct Manager {
    pub id: String,
    pub name: String,
    pub target_bonus: String,
}

#[derive(Deserialize)]
pub struct Facts {
    pub current: Window,
    pub client_count: u64,
    #[serde(default)]
    pub largest_client: Option<String>,
    pub largest_client_share: String,
}

#[derive(Deserialize)]
pub struct Window {
    pub revenue: String,
    pub lines: u64,
}

#[derive(Deserialize)]
pub struct Kpi {
    pub id: String,
    pub label: String,
    pub weight: String,
    pub value: String,
    pub target: String,
    pub attainment: String,
    pub contribution: String,
    #[serde(default)]
    pub note: String,
}

#[derive(Deserialize)]
pub struct Line {
    pub label: String,
    pub kind: String,
    #[serde(default)]
    pub kpi: Option<String>,
    pub amount_exact: String,
    pub amount: String,
    #[serde(default)]
    pub note: String,
    #[serde(default)]
    pub amount_paid: Option<String>,
}

#[derive(Deserialize)]
pub struct Account {
    pub client_id: String,
    pub name: String,
    pub key: bool,
    #[serde(default)]
    pub tier: String,
    pub revenue: String,
}

#[derive(Deserialize)]
pub struct PaidIn {
    pub currency: String,
    pub payout: String,
}

/// One row of `key_clients.csv`.
pub struct KeyClient {
    pub key: bool,
    pub reasons: Vec<String>,
}

/// Everything the report shows.
pub struct Model {
    /// `run.json` (its `outputs` and `ledger` are not shown: they are not known yet when
    /// the report of a run is rendered).
    pub run: Value,
    /// Statements in `managers.csv` order.
    pub statements: Vec<Statement>,
    /// `key_clients.csv` rows.
    pub clients: Vec<KeyClient>,
}

/// A figure of a bonusrun file, as an exact decimal; `what` names it in the error.
pub fn number(text: &str, what: &str) -> Result<Decimal, String> {
    Decimal::from_str(text.trim())
        .or_else(|_| Decimal::from_scientific(text.trim()))
        .map_err(|_| format!("{what}: '{text}' is not a number"))
}

/// Parses a statement file.
pub fn statement(name: &str, bytes: &[u8]) -> Result<Statement, String> {
    serde_json::from_slice(bytes).map_err(|e| format!("{name}: not a statement of bonusrun: {e}"))
}

/// Parses `key_clients.csv` (columns key and reasons; reasons joined by `; `).
pub fn key_clients(bytes: &[u8]) -> Result<Vec<KeyClient>, String> {
    let mut reader = csv::Reader::from_reader(bytes);
    let headers = reader
        .headers()
        .map_err(|e| format!("key_clients.csv: {e}"))?
        .clone();
    let col = |name: &str| {
        headers
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| format!("key_clients.csv: no column '{name}'"))
    };
    let (key, reasons) = (col("key")?, col("reasons")?);
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| format!("key_clients.csv: {e}"))?;
        let text = record.get(reasons).unwrap_or("");
        rows.push(KeyClient {
            key: record.get(key) == Some("true"),
            reasons: text
                .split("; ")
                .filter(|r| !r.is_empty())
                .map(String::from)
                .collect(),
        });
    }
    Ok(rows)
}
