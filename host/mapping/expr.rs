//! Derived columns: a small arithmetic language over the source columns of a row, e.g.
//! `Sales - Profit` or `[Close Value] * 0.7`. Column names are bare words or `[in brackets]`
//! (for names with spaces); numbers are exact decimals; `+ - * /` and parentheses.

use rust_decimal::Decimal;
use std::str::FromStr;

/// A parsed expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// A number.
    Number(Decimal),
    /// A source column (index into the header).
    Column(usize, String),
    /// A binary operation.
    Binary(Box<Expr>, char, Box<Expr>),
    /// Unary minus.
    Neg(Box<Expr>),
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Num(Decimal),
    Name(String),
    Op(char),
}

fn tokens(text: &str) -> Result<Vec<Tok>, String> {
    let mut out = Vec::new();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if "+-*/()".contains(c) {
            out.push(Tok::Op(c));
            i += 1;
        } else if c == '[' {
            let end = chars[i..]
                .iter()
                .position(|&x| x == ']')
                .ok_or("a '[' without its ']'")?;
            out.push(Tok::Name(chars[i + 1..i + end].iter().collect()));
            i += end + 1;
        } else if c.is_ascii_digit() || c == '.' {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                i += 1;
            }
            let s: String = chars[start..i].iter().collect();
            out.push(Tok::Num(
                Decimal::from_str(&s).map_err(|_| format!("'{s}' is not a number"))?,
            ));
        } else if c.is_alphanumeric() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            out.push(Tok::Name(chars[start..i].iter().collect()));
        } else {
            return Err(format!("unexpected '{c}'"));
        }
    }
    Ok(out)
}

struct Parser<'a> {
    toks: Vec<Tok>,
    pos: usize,
    header: &'a [String],
    depth: usize,
}

/// The most tokens an expression may have, and how deeply it may nest: a mapping is not a
/// program, and a bounded expression keeps parsing and evaluation off the native stack's edge.
const MAX_TOKENS: usize = 200;
const MAX_DEPTH: usize = 32;

impl Parser<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }

    fn expr(&mut self) -> Result<Expr, String> {
        let mut left = self.term()?;
        while let Some(Tok::Op(op @ ('+' | '-'))) = self.peek().cloned() {
            self.pos += 1;
            left = Expr::Binary(Box::new(left), op, Box::new(self.term()?));
        }
        Ok(left)
    }

    fn term(&mut self) -> Result<Expr, String> {
        let mut left = self.factor()?;
        while let Some(Tok::Op(op @ ('*' | '/'))) = self.peek().cloned() {
            self.pos += 1;
            left = Expr::Binary(Box::new(left), op, Box::new(self.factor()?));
        }
        Ok(left)
    }

    fn factor(&mut self) -> Result<Expr, String> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(format!(
                "the expression nests deeper than {MAX_DEPTH} levels of '(' or '-'"
            ));
        }
        let e = self.factor_inner();
        self.depth -= 1;
        e
    }

    fn factor_inner(&mut self) -> Result<Expr, String> {
        match self.peek().cloned() {
            Some(Tok::Num(d)) => {
                self.pos += 1;
                Ok(Expr::Number(d))
            }
            Some(Tok::Name(n)) => {
                self.pos += 1;
                let i = self
                    .header
                    .iter()
                    .position(|h| h.eq_ignore_ascii_case(&n))
                    .ok_or_else(|| {
                        format!(
                            "no column '{n}'; the columns are: {}",
                            self.header.join(", ")
                        )
                    })?;
                Ok(Expr::Column(i, n))
            }
            Some(Tok::Op('-')) => {
                self.pos += 1;
                Ok(Expr::Neg(Box::new(self.factor()?)))
            }
            Some(Tok::Op('(')) => {
                self.pos += 1;
                let e = self.expr()?;
                if self.peek() != Some(&Tok::Op(')')) {
                    return Err("a '(' without its ')'".into());
                }
                self.pos += 1;
                Ok(e)
            }
            other => Err(format!(
                "expected a number, a column or '(', found {other:?}"
            )),
        }
    }
}

impl Expr {
    /// Parses `text` against a header.
    pub fn parse(text: &str, header: &[String]) -> Result<Expr, String> {
        let toks = tokens(text)?;
        if toks.len() > MAX_TOKENS {
            return Err(format!(
                "the expression has {} parts; at most {MAX_TOKENS} are allowed",
                toks.len()
            ));
        }
        let mut p = Parser {
            toks,
            pos: 0,
            header,
            depth: 0,
        };
        let e = p.expr()?;
        if p.pos != p.toks.len() {
            return Err(format!(
                "unexpected {:?} after the expression",
                p.toks[p.pos]
            ));
        }
        Ok(e)
    }

    /// The source columns the expression reads: (index, name).
    pub fn columns(&self) -> Vec<(usize, &str)> {
        match self {
            Expr::Number(_) => Vec::new(),
            Expr::Column(i, n) => vec![(*i, n.as_str())],
            Expr::Neg(e) => e.columns(),
            Expr::Binary(a, _, b) => [a.columns(), b.columns()].concat(),
        }
    }

    /// Evaluates with `value(column index)` giving a column's number.
    pub fn eval(
        &self,
        value: &dyn Fn(usize, &str) -> Result<Decimal, String>,
    ) -> Result<Decimal, String> {
        Ok(match self {
            Expr::Number(d) => *d,
            Expr::Column(i, n) => value(*i, n)?,
            Expr::Neg(e) => -e.eval(value)?,
            Expr::Binary(a, op, b) => {
                let (a, b) = (a.eval(value)?, b.eval(value)?);
                match op {
                    '+' => a.checked_add(b),
                    '-' => a.checked_sub(b),
                    '*' => a.checked_mul(b),
                    _ if b.is_zero() => return Err("division by zero".into()),
                    _ => a.checked_div(b),
                }
                .ok_or("the result overflowed")?
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_over_columns() {
        let header = vec![
            "Sales".to_string(),
            "Profit".to_string(),
            "Close Value".to_string(),
        ];
        let e = Expr::parse("Sales - Profit", &header).unwrap();
        let row = ["261.96", "41.91", "10"];
        let v = |i: usize, _: &str| Decimal::from_str(row[i]).map_err(|e| e.to_string());
        assert_eq!(e.eval(&v).unwrap().to_string(), "220.05");
        let e = Expr::parse("([Close Value] + 2) * -0.5", &header).unwrap();
        assert_eq!(e.eval(&v).unwrap().to_string(), "-6.0");
        assert!(Expr::parse("Sale - 1", &header)
            .unwrap_err()
            .contains("no column 'Sale'"));
        let deep = format!("{}Sales{}", "(".repeat(40), ")".repeat(40));
        assert!(Expr::parse(&deep, &header)
            .unwrap_err()
            .contains("nests deeper than 32 levels"));
        let long = vec!["Sales"; 150].join(" + ");
        assert!(Expr::parse(&long, &header)
            .unwrap_err()
            .contains("has 299 parts; at most 200"));
    }
}
