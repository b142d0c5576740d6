//! Diagnostics for pack authors: an error in a script or manifest shown with its source line
//! and a caret under the place, plus a hint where one helps (rendered with ariadne).

use ariadne::{CharSet, Config, Label, Report, ReportKind, Source};

/// Renders `message` at `line`:`column` (1-based) of `text`, the contents of `file`.
/// Returns `None` when the position is outside the text.
pub fn snippet(
    file: &str,
    text: &str,
    line: usize,
    column: usize,
    message: &str,
    help: Option<&str>,
) -> Option<String> {
    let start_of_line: usize = text
        .split_inclusive('\n')
        .take(line.checked_sub(1)?)
        .map(|l| l.chars().count())
        .sum();
    let line_text = text.split_inclusive('\n').nth(line - 1)?;
    let line_len = line_text.trim_end_matches(['\n', '\r']).chars().count();
    let col = column.saturating_sub(1).min(line_len);
    let at = start_of_line + col;
    let end = (at + 1).min(start_of_line + line_len.max(col + 1));
    let config = Config::default()
        .with_color(false)
        .with_char_set(CharSet::Ascii);
    let mut report = Report::build(ReportKind::Error, (file, at..end))
        .with_config(config)
        .with_message(message)
        .with_label(Label::new((file, at..end)).with_message("here"));
    if let Some(h) = help {
        report = report.with_help(h);
    }
    let mut out = Vec::new();
    report
        .finish()
        .write((file, Source::from(text)), &mut out)
        .ok()?;
    String::from_utf8(out).ok()
}

/// The identifiers in a script, for "did you mean" hints on unknown variables.
pub fn identifiers(text: &str) -> Vec<&str> {
    let mut out: Vec<&str> = text
        .split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .filter(|w| {
            w.chars()
                .next()
                .is_some_and(|c| c.is_alphabetic() || c == '_')
        })
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caret_points_at_the_column() {
        let text = "fn a() {\n    let x = totl;\n}\n";
        let s = snippet(
            "a.rhai",
            text,
            2,
            13,
            "undefined variable totl",
            Some("did you mean 'total'?"),
        )
        .unwrap();
        assert!(s.contains("let x = totl;"), "{s}");
        assert!(s.contains("a.rhai:2:13"), "{s}");
        assert!(s.contains("did you mean 'total'?"), "{s}");
    }
}
