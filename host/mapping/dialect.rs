//! How a source file is written: encoding, delimiter, quoting, header row, decimal and
//! thousands separators, date format, words for true and false. Decoding refuses bytes that
//! are invalid in the declared encoding instead of replacing them.

use crate::money::parse_decimal;
use crate::period::Date;
use rust_decimal::Decimal;
use serde::Deserialize;

/// Dialect settings; every field is optional so that a file can override the defaults.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DialectDecl {
    /// `utf-8` (a BOM is skipped), `windows-1251`, `windows-1252`, `utf-16` (needs a BOM).
    pub encoding: Option<String>,
    /// Field delimiter: `,`, `;`, `\t` (or `tab`), `|`.
    pub delimiter: Option<String>,
    /// Quote character (default `"`).
    pub quote: Option<String>,
    /// 1-based line of the header row (default 1); earlier lines are skipped.
    pub header_row: Option<usize>,
    /// Decimal separator: `.` or `,`.
    pub decimal: Option<String>,
    /// Thousands separator: none (default), ` `, `nbsp`, `.`, `,`, `'`.
    pub thousands: Option<String>,
    /// Date format with `DD`, `MM`, `YYYY`, `YY` and literal separators, e.g. `DD/MM/YYYY`.
    #[serde(rename = "date_format")]
    pub date_format: Option<String>,
    /// Words meaning true (case-insensitive).
    #[serde(rename = "true")]
    pub true_words: Option<Vec<String>>,
    /// Words meaning false (case-insensitive).
    #[serde(rename = "false")]
    pub false_words: Option<Vec<String>>,
    /// The largest field, in bytes (default 1 MiB); a longer one, or a quote that never
    /// closes, is an error naming the line where the field began.
    pub max_field_bytes: Option<usize>,
}

/// A complete dialect.
#[derive(Debug, Clone, PartialEq)]
pub struct Dialect {
    /// Encoding name as given.
    pub encoding: String,
    /// Field delimiter byte.
    pub delimiter: u8,
    /// Quote byte.
    pub quote: u8,
    /// 1-based header line.
    pub header_row: usize,
    /// Decimal separator.
    pub decimal: char,
    /// Thousands separators removed from numbers.
    pub thousands: Vec<char>,
    /// Date format.
    pub date_format: String,
    /// Words for true.
    pub true_words: Vec<String>,
    /// Words for false.
    pub false_words: Vec<String>,
    /// The largest field, in bytes.
    pub max_field_bytes: usize,
}

impl Default for Dialect {
    fn default() -> Self {
        Dialect {
            encoding: "utf-8".into(),
            delimiter: b',',
            quote: b'"',
            header_row: 1,
            decimal: '.',
            thousands: Vec::new(),
            date_format: "YYYY-MM-DD".into(),
            true_words: ["true", "yes", "y", "1"]
                .iter()
                .map(|s| s.to_string())
                .collect(),
            false_words: ["false", "no", "n", "0", ""]
                .iter()
                .map(|s| s.to_string())
                .collect(),
            max_field_bytes: crate::load::DEFAULT_MAX_FIELD_BYTES,
        }
    }
}

impl Dialect {
    /// This dialect with `decl`'s settings on top.
    pub fn with(&self, decl: &DialectDecl) -> Result<Dialect, String> {
        let mut d = self.clone();
        if let Some(e) = &decl.encoding {
            let known = [
                "utf-8",
                "utf8",
                "windows-1251",
                "cp1251",
                "windows-1252",
                "cp1252",
                "utf-16",
                "utf-16le",
                "utf-16be",
            ];
            if !known.contains(&e.to_ascii_lowercase().as_str()) {
                return Err(format!(
                    "encoding '{e}' is not supported; use utf-8, windows-1251, windows-1252 or utf-16"
                ));
            }
            d.encoding = e.to_ascii_lowercase();
        }
        if let Some(s) = &decl.delimiter {
            d.delimiter = match s.as_str() {
                "\\t" | "tab" | "\t" => b'\t',
                s if s.len() == 1 => s.as_bytes()[0],
                _ => return Err(format!("delimiter '{s}' must be one character (or tab)")),
            };
        }
        if let Some(q) = &decl.quote {
            if q.len() != 1 {
                return Err(format!("quote '{q}' must be one character"));
            }
            d.quote = q.as_bytes()[0];
        }
        if let Some(m) = decl.max_field_bytes {
            if m == 0 {
                return Err("max_field_bytes must be at least 1".into());
            }
            d.max_field_bytes = m;
        }
        if let Some(h) = decl.header_row {
            if h == 0 {
                return Err("header_row counts from 1".into());
            }
            d.header_row = h;
        }
        if let Some(s) = &decl.decimal {
            d.decimal = match s.as_str() {
                "." => '.',
                "," => ',',
                _ => return Err(format!("decimal separator '{s}' must be '.' or ','")),
            };
        }
        if let Some(s) = &decl.thousands {
            d.thousands = match s.as_str() {
                "" => Vec::new(),
                "nbsp" | "\u{a0}" => vec!['\u{a0}', '\u{202f}'],
                " " => vec![' ', '\u{a0}', '\u{202f}'],
                "." => vec!['.'],
                "," => vec![','],
                "'" => vec!['\''],
                _ => return Err(format!("thousands separator '{s}' must be one of: \"\", \" \", \"nbsp\", \".\", \",\", \"'\"")),
            };
        }
        if let Some(f) = &decl.date_format {
            check_date_format(f)?;
            d.date_format = f.clone();
        }
        if let Some(t) = &decl.true_words {
            d.true_words = t.iter().map(|w| w.to_lowercase()).collect();
        }
        if let Some(f) = &decl.false_words {
            d.false_words = f.iter().map(|w| w.to_lowercase()).collect();
        }
        if d.thousands.contains(&d.decimal) {
            return Err(format!(
                "the thousands separator and the decimal separator are both '{}'; set `thousands` or `decimal` for this file",
                d.decimal
            ));
        }
        Ok(d)
    }

    /// A number in this dialect as an exact decimal.
    pub fn number(&self, raw: &str) -> Option<Decimal> {
        let mut s: String = raw
            .trim()
            .chars()
            .filter(|c| !self.thousands.contains(c))
            .collect();
        if self.decimal == ',' {
            if s.contains('.') {
                return None;
            }
            s = s.replace(',', ".");
        } else if s.contains(',') {
            return None;
        }
        parse_decimal(s.as_bytes())
    }

    /// What a number looks like in this dialect, for messages.
    pub fn number_example(&self) -> String {
        let sep = match self.thousands.first() {
            None => "",
            Some('\u{a0}') => "\u{a0}",
            Some(c) => {
                return format!("1{c}234{}56", self.decimal);
            }
        };
        format!("1{sep}234{}56", self.decimal)
    }

    /// A date in this dialect's format (ISO `YYYY-MM-DD` is always accepted too, and a time
    /// of day after the date is ignored).
    pub fn date(&self, raw: &str) -> Option<Date> {
        let raw = raw.trim();
        if let Some(d) = parse_date(raw, &self.date_format) {
            return Some(d);
        }
        // A time of day after the date is ignored (unless the format itself has spaces).
        let date_part = if self.date_format.contains(' ') {
            raw
        } else {
            raw.split([' ', 'T']).next().unwrap_or(raw)
        };
        parse_date(date_part, &self.date_format).or_else(|| Date::parse_iso(date_part))
    }

    /// A true/false word.
    pub fn flag(&self, raw: &str) -> Option<bool> {
        let w = raw.trim().to_lowercase();
        if self.true_words.contains(&w) {
            Some(true)
        } else if self.false_words.contains(&w) {
            Some(false)
        } else {
            None
        }
    }
}

fn check_date_format(f: &str) -> Result<(), String> {
    let has = |t: &str| f.contains(t);
    if !(has("DD") && has("MM") && (has("YYYY") || has("YY"))) {
        return Err(format!(
            "date_format '{f}' needs DD, MM and YYYY (or YY), e.g. DD/MM/YYYY"
        ));
    }
    Ok(())
}

/// Parses `text` with a format of `DD`, `MM`, `YYYY`, `YY` tokens and literal characters.
/// Day and month may have one or two digits.
pub fn parse_date(text: &str, format: &str) -> Option<Date> {
    let (mut y, mut m, mut d) = (None, None, None);
    let t = text.as_bytes();
    let f = format.as_bytes();
    let (mut i, mut j) = (0, 0);
    let digits = |i: &mut usize, max: usize| -> Option<u32> {
        let start = *i;
        while *i < t.len() && *i - start < max && t[*i].is_ascii_digit() {
            *i += 1;
        }
        if *i == start {
            return None;
        }
        std::str::from_utf8(&t[start..*i]).ok()?.parse().ok()
    };
    while j < f.len() {
        if f[j..].starts_with(b"YYYY") {
            y = Some(digits(&mut i, 4)? as i32);
            j += 4;
        } else if f[j..].starts_with(b"YY") {
            y = Some(2000 + digits(&mut i, 2)? as i32);
            j += 2;
        } else if f[j..].starts_with(b"MM") {
            m = Some(digits(&mut i, 2)?);
            j += 2;
        } else if f[j..].starts_with(b"DD") {
            d = Some(digits(&mut i, 2)?);
            j += 2;
        } else {
            if i >= t.len() || t[i] != f[j] {
                return None;
            }
            i += 1;
            j += 1;
        }
    }
    if i != t.len() {
        return None;
    }
    Date::from_ymd(y?, m?, d?)
}

/// Decodes `bytes` in `encoding`; invalid bytes are an error naming the line.
pub fn decode(bytes: &[u8], encoding: &str) -> Result<String, String> {
    let line_of = |offset: usize| {
        bytes[..offset.min(bytes.len())]
            .iter()
            .filter(|b| **b == b'\n')
            .count()
            + 1
    };
    match encoding {
        "utf-8" | "utf8" => {
            let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
            match std::str::from_utf8(body) {
                Ok(s) => Ok(s.to_string()),
                Err(e) => {
                    let at = e.valid_up_to() + (bytes.len() - body.len());
                    Err(format!(
                        "line {}: byte 0x{:02X} at offset {at} is not valid UTF-8; is the file in another encoding (windows-1251, windows-1252)? Set `encoding` in data.toml",
                        line_of(at),
                        bytes[at]
                    ))
                }
            }
        }
        "windows-1251" | "cp1251" | "windows-1252" | "cp1252" => {
            let enc = if encoding.ends_with("1251") {
                encoding_rs::WINDOWS_1251
            } else {
                encoding_rs::WINDOWS_1252
            };
            // Bytes the code page leaves undefined are refused rather than passed through.
            let undefined: &[u8] = if enc == encoding_rs::WINDOWS_1251 {
                &[0x98]
            } else {
                &[0x81, 0x8D, 0x8F, 0x90, 0x9D]
            };
            if let Some(at) = bytes.iter().position(|b| undefined.contains(b)) {
                return Err(format!(
                    "line {}: byte 0x{:02X} at offset {at} is not defined in {encoding}; is the file in another encoding?",
                    line_of(at),
                    bytes[at]
                ));
            }
            let (text, _) = enc.decode_without_bom_handling(bytes);
            Ok(text.into_owned())
        }
        "utf-16" | "utf-16le" | "utf-16be" => {
            let (enc, body) = if let Some(b) = bytes.strip_prefix(b"\xFF\xFE") {
                (encoding_rs::UTF_16LE, b)
            } else if let Some(b) = bytes.strip_prefix(b"\xFE\xFF") {
                (encoding_rs::UTF_16BE, b)
            } else if encoding == "utf-16be" {
                (encoding_rs::UTF_16BE, bytes)
            } else if encoding == "utf-16le" {
                (encoding_rs::UTF_16LE, bytes)
            } else {
                return Err(
                    "the file has no UTF-16 byte-order mark; say utf-16le or utf-16be".into(),
                );
            };
            match enc.decode_without_bom_handling_and_without_replacement(body) {
                Some(text) => Ok(text.into_owned()),
                None => Err(format!(
                    "the file is not valid {}: it has an unpaired surrogate or an odd length",
                    enc.name()
                )),
            }
        }
        other => Err(format!("encoding '{other}' is not supported")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_in_dialects() {
        let eu = Dialect::default()
            .with(&DialectDecl {
                decimal: Some(",".into()),
                thousands: Some("nbsp".into()),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(eu.number("1\u{a0}234,56").unwrap().to_string(), "1234.56");
        assert_eq!(eu.number("261,96").unwrap().to_string(), "261.96");
        assert!(eu.number("1.5").is_none());
        assert!(Dialect::default().number("1,5").is_none());
    }

    #[test]
    fn dates_in_formats() {
        assert_eq!(
            parse_date("08/11/2020", "DD/MM/YYYY").unwrap().to_string(),
            "2020-11-08"
        );
        assert_eq!(
            parse_date("1/2/21", "MM/DD/YY").unwrap().to_string(),
            "2021-01-02"
        );
        assert_eq!(
            parse_date("31.12.2025", "DD.MM.YYYY").unwrap().to_string(),
            "2025-12-31"
        );
        assert!(parse_date("13/13/2020", "DD/MM/YYYY").is_none());
        let d = Dialect::default();
        assert_eq!(
            d.date("2017-03-01 00:00:00").unwrap().to_string(),
            "2017-03-01"
        );
    }

    #[test]
    fn decoding_refuses_invalid_bytes() {
        assert!(decode(b"a,b\n\xff\n", "utf-8")
            .unwrap_err()
            .starts_with("line 2: byte 0xFF"));
        assert_eq!(decode(b"\xEF\xBB\xBFa", "utf-8").unwrap(), "a");
        assert_eq!(
            decode(b"\xcf\xf0\xe8\xe2\xe5\xf2", "windows-1251").unwrap(),
            "Привет"
        );
        assert_eq!(decode(b"H\xe4berlin", "windows-1252").unwrap(), "Häberlin");
        assert_eq!(decode(b"\xFF\xFEa\0b\0", "utf-16").unwrap(), "ab");
        assert!(decode(b"x\x81", "windows-1252").is_err());
    }
}
