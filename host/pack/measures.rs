//! The pack's `[measures]`: named figures over sales lines ("revenue from new products",
//! "deals above 10,000", "distinct products sold"), each a filter on the line's columns and
//! a sum, count or distinct count. The sales pass computes them for every window in the same
//! single pass (no per-line script); rules read them with `window.measure("name")`.

use super::manifest::value_to_decimal;
use super::PackError;
use rust_decimal::Decimal;
use serde::Deserialize;
use std::collections::BTreeMap;

/// `[measures.NAME]` as written in pack.toml.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MeasureDecl {
    /// `amount`, `cost`, `quantity` or `margin`: the sum of that column.
    #[serde(default)]
    pub sum: Option<String>,
    /// `lines`: how many lines.
    #[serde(default)]
    pub count: Option<String>,
    /// `product`, `category` or `client`: how many distinct values.
    #[serde(default)]
    pub distinct: Option<String>,
    /// Conditions a line must meet, all of them.
    #[serde(default, rename = "where")]
    pub filter: Vec<CondDecl>,
    /// What the measure is for, shown by `bonusrun doc`.
    #[serde(default)]
    pub description: String,
}

/// One condition of `where`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CondDecl {
    /// A column of sales.csv: a standard one or an extra one.
    pub column: String,
    /// Text equal to this.
    #[serde(default)]
    pub is: Option<String>,
    /// Text equal to one of these.
    #[serde(default, rename = "in")]
    pub one_of: Option<Vec<String>>,
    /// Text equal to none of these.
    #[serde(default)]
    pub not_in: Option<Vec<String>>,
    /// A number at least this.
    #[serde(default)]
    pub at_least: Option<toml::Value>,
    /// A number above this.
    #[serde(default)]
    pub above: Option<toml::Value>,
    /// A number at most this.
    #[serde(default)]
    pub at_most: Option<toml::Value>,
    /// A number below this.
    #[serde(default)]
    pub below: Option<toml::Value>,
}

/// What a measure adds up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Aggregate {
    /// The sum of amount.
    Amount,
    /// The sum of cost.
    Cost,
    /// The sum of quantity.
    Quantity,
    /// The sum of amount minus cost.
    Margin,
    /// How many lines.
    Lines,
    /// How many distinct products.
    Products,
    /// How many distinct categories.
    Categories,
    /// How many distinct clients.
    Clients,
}

impl Aggregate {
    /// Whether a split or overlay share scales the measure (a sum does; a count of lines or
    /// of distinct values does not: a shared line counts once for each manager credited).
    pub fn scales_with_credit(self) -> bool {
        matches!(
            self,
            Aggregate::Amount | Aggregate::Cost | Aggregate::Quantity | Aggregate::Margin
        )
    }

    /// Whether the measure counts distinct values (rather than summing or counting lines).
    pub fn is_distinct(self) -> bool {
        matches!(
            self,
            Aggregate::Products | Aggregate::Categories | Aggregate::Clients
        )
    }
}

/// A test on one column's text or number.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Test {
    /// Equal to one of these texts (`is`, `in`).
    OneOf(Vec<String>),
    /// Equal to none of these (`not_in`).
    NoneOf(Vec<String>),
    /// At least this number.
    AtLeast(Decimal),
    /// Above it.
    Above(Decimal),
    /// At most it.
    AtMost(Decimal),
    /// Below it.
    Below(Decimal),
}

impl Test {
    /// Whether the test compares numbers.
    pub fn numeric(&self) -> bool {
        !matches!(self, Test::OneOf(_) | Test::NoneOf(_))
    }

    /// The test on a number.
    #[inline]
    pub fn number(&self, v: Decimal) -> bool {
        use std::cmp::Ordering::*;
        match self {
            Test::AtLeast(x) => compare(v, *x) != Less,
            Test::Above(x) => compare(v, *x) == Greater,
            Test::AtMost(x) => compare(v, *x) != Greater,
            Test::Below(x) => compare(v, *x) == Less,
            Test::OneOf(_) | Test::NoneOf(_) => false,
        }
    }

    /// The test on a text.
    #[inline]
    pub fn text(&self, v: &[u8]) -> bool {
        match self {
            Test::OneOf(xs) => xs.iter().any(|x| x.as_bytes() == v),
            Test::NoneOf(xs) => !xs.iter().any(|x| x.as_bytes() == v),
            _ => false,
        }
    }
}

/// `a` against `b`: by mantissas at `a`'s scale when `b` widens to it exactly (the common
/// case: amounts with two decimals against a threshold like 1000), else as decimals.
#[inline]
fn compare(a: Decimal, b: Decimal) -> std::cmp::Ordering {
    if a.scale() >= b.scale() {
        let widened = 10i128
            .checked_pow(a.scale() - b.scale())
            .and_then(|f| b.mantissa().checked_mul(f));
        if let Some(b) = widened {
            return a.mantissa().cmp(&b);
        }
    }
    a.cmp(&b)
}

/// A condition: a column and a test.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cond {
    /// The column's name as written.
    pub column: String,
    /// The test.
    pub test: Test,
}

/// A measure the pack declares.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Measure {
    /// Its name, as rules ask for it.
    pub name: String,
    /// What it adds up.
    pub of: Aggregate,
    /// Conditions a line must meet.
    pub filter: Vec<Cond>,
    /// What it is for.
    pub description: String,
}

impl std::fmt::Display for Measure {
    /// `new_revenue (sum of amount where product_line in [New])`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let of = match self.of {
            Aggregate::Amount => "sum of amount",
            Aggregate::Cost => "sum of cost",
            Aggregate::Quantity => "sum of quantity",
            Aggregate::Margin => "sum of margin",
            Aggregate::Lines => "count of lines",
            Aggregate::Products => "distinct products",
            Aggregate::Categories => "distinct categories",
            Aggregate::Clients => "distinct clients",
        };
        write!(f, "{} ({of}", self.name)?;
        for (i, c) in self.filter.iter().enumerate() {
            let join = if i == 0 { " where" } else { " and" };
            let test = match &c.test {
                Test::OneOf(xs) if xs.len() == 1 => format!("is {}", xs[0]),
                Test::OneOf(xs) => format!("in [{}]", xs.join(", ")),
                Test::NoneOf(xs) => format!("not in [{}]", xs.join(", ")),
                Test::AtLeast(x) => format!(">= {x}"),
                Test::Above(x) => format!("> {x}"),
                Test::AtMost(x) => format!("<= {x}"),
                Test::Below(x) => format!("< {x}"),
            };
            write!(f, "{join} {} {test}", c.column)?;
        }
        f.write_str(")")
    }
}

/// At most this many sums and counts: the pass keeps them inline in each window segment.
pub const MAX_SUMS: usize = 8;
/// At most this many distinct counts.
pub const MAX_DISTINCT: usize = 2;

/// Reads `[measures]`; `err(name, message)` places a message in pack.toml.
pub fn read(
    decls: &BTreeMap<String, MeasureDecl>,
    err: impl Fn(&str, String) -> PackError,
) -> Result<Vec<Measure>, PackError> {
    let mut out: Vec<Measure> = Vec::new();
    for (name, d) in decls {
        let at = |m: String| err(name, format!("[measures.{name}]: {m}"));
        if !super::windows::valid_name(name) {
            return Err(at(
                "a measure name is letters, digits and _, starting with a letter (e.g. new_revenue)".into(),
            ));
        }
        let of = aggregate(d).map_err(at)?;
        let filter = d
            .filter
            .iter()
            .map(cond)
            .collect::<Result<Vec<_>, _>>()
            .map_err(at)?;
        let same = out
            .iter()
            .filter(|m| m.of.is_distinct() == of.is_distinct())
            .count();
        let (limit, what) = if of.is_distinct() {
            (MAX_DISTINCT, "distinct counts")
        } else {
            (MAX_SUMS, "sums and counts")
        };
        if same == limit {
            return Err(at(format!(
                "a pack may declare at most {limit} {what}; this is one more"
            )));
        }
        out.push(Measure {
            name: name.clone(),
            of,
            filter,
            description: d.description.clone(),
        });
    }
    Ok(out)
}

fn aggregate(d: &MeasureDecl) -> Result<Aggregate, String> {
    let given = [&d.sum, &d.count, &d.distinct]
        .iter()
        .filter(|x| x.is_some())
        .count();
    if given != 1 {
        return Err("give exactly one of sum = \"amount\" (or cost, quantity, margin), count = \"lines\" or distinct = \"product\" (or category, client)".into());
    }
    let bad = |key: &str, v: &str, allowed: &str| {
        format!("{key} = \"{v}\" is not allowed; expected {allowed}")
    };
    Ok(
        match (d.sum.as_deref(), d.count.as_deref(), d.distinct.as_deref()) {
            (Some("amount"), ..) => Aggregate::Amount,
            (Some("cost"), ..) => Aggregate::Cost,
            (Some("quantity"), ..) => Aggregate::Quantity,
            (Some("margin"), ..) => Aggregate::Margin,
            (Some(v), ..) => return Err(bad("sum", v, "amount, cost, quantity or margin")),
            (_, Some("lines"), _) => Aggregate::Lines,
            (_, Some(v), _) => return Err(bad("count", v, "lines")),
            (.., Some("product")) => Aggregate::Products,
            (.., Some("category")) => Aggregate::Categories,
            (.., Some("client")) => Aggregate::Clients,
            (.., Some(v)) => return Err(bad("distinct", v, "product, category or client")),
            _ => unreachable!("exactly one is given"),
        },
    )
}

fn cond(c: &CondDecl) -> Result<Cond, String> {
    let number = |key: &str, v: &toml::Value| {
        value_to_decimal(v).map_err(|e| format!("where {} {key}: {e}", c.column))
    };
    let mut tests = Vec::new();
    if let Some(v) = &c.is {
        tests.push(Test::OneOf(vec![v.clone()]));
    }
    if let Some(v) = &c.one_of {
        tests.push(Test::OneOf(v.clone()));
    }
    if let Some(v) = &c.not_in {
        tests.push(Test::NoneOf(v.clone()));
    }
    for (key, v, make) in [
        (
            "at_least",
            &c.at_least,
            Test::AtLeast as fn(Decimal) -> Test,
        ),
        ("above", &c.above, Test::Above),
        ("at_most", &c.at_most, Test::AtMost),
        ("below", &c.below, Test::Below),
    ] {
        if let Some(v) = v {
            tests.push(make(number(key, v)?));
        }
    }
    match tests.len() {
        1 => Ok(Cond {
            column: c.column.clone(),
            test: tests.remove(0),
        }),
        0 => Err(format!("the condition on column '{}' has no test; give one of is, in, not_in, at_least, above, at_most, below", c.column)),
        _ => Err(format!("the condition on column '{}' has {} tests; give one per condition (write two conditions for a range)", c.column, tests.len())),
    }
}
