//! `bonusrun doc`: the bonus regulation rendered from the pack itself (title, period, KPIs
//! with labels, weights and how they are measured, the payout curve, gates and caps, the
//! key-client criteria from the scripts' doc comments, every parameter with its comment),
//! as Markdown and HTML, so that the document a manager signs and the code that pays them
//! cannot drift apart. It ends with the sha256 of every pack file it was made from.

use crate::pack::{PackSource, ParamValue};
use crate::rules::{RulePack, Script, StageCode};
use rust_decimal::Decimal;

/// A block of the document.
#[derive(Clone, Debug, PartialEq)]
enum Block {
    Heading(u8, String),
    Para(String),
    List(Vec<String>),
    Table(Vec<String>, Vec<Vec<String>>),
}

/// The rendered regulation.
pub struct Regulation {
    title: String,
    blocks: Vec<Block>,
}

/// Doc comment text: `//!` or `///` prefixes removed, lines joined into paragraphs; a
/// Markdown list (lines starting `- ` or `* `) becomes one paragraph per item, each
/// starting `- `.
fn paragraphs(lines: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for l in lines {
        for raw in l.lines() {
            let t = raw
                .trim()
                .trim_start_matches("//!")
                .trim_start_matches("///")
                .trim_start_matches("/**")
                .trim_end_matches("*/")
                .trim();
            let item = t.strip_prefix("- ").or_else(|| t.strip_prefix("* "));
            if t.is_empty() || item.is_some() {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
                if let Some(item) = item {
                    cur = format!("- {item}");
                }
            } else {
                if !cur.is_empty() {
                    cur.push(' ');
                }
                cur.push_str(t);
            }
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Paragraphs as blocks: consecutive list items (`- ...`) form one list.
fn doc_blocks(paragraphs: Vec<String>) -> Vec<Block> {
    let mut out: Vec<Block> = Vec::new();
    for p in paragraphs {
        match (p.strip_prefix("- "), out.last_mut()) {
            (Some(item), Some(Block::List(items))) => items.push(item.to_string()),
            (Some(item), _) => out.push(Block::List(vec![item.to_string()])),
            (None, _) => out.push(Block::Para(p)),
        }
    }
    out
}

fn module_doc(s: &Script) -> Vec<String> {
    paragraphs(&[s.ast.doc()])
}

fn fn_doc(s: &Script, name: &str) -> Vec<String> {
    s.ast
        .iter_functions()
        .find(|f| f.name == name)
        .map(|f| paragraphs(&f.comments))
        .unwrap_or_default()
}

fn percent(d: Decimal) -> String {
    crate::money::percent_text(d, 2).unwrap_or_else(|| format!("{d} (as a fraction)"))
}

/// `name = value  # comment` lines of `[params]` in pack.toml: name → comment.
fn param_comments(manifest: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut in_params = false;
    for line in manifest.lines() {
        let t = line.trim();
        if t.starts_with('[') {
            in_params = t == "[params]";
            continue;
        }
        if !in_params || t.starts_with('#') {
            continue;
        }
        if let Some((name, rest)) = t.split_once('=') {
            let comment = rest
                .split_once(" #")
                .map(|(_, c)| c.trim().to_string())
                .unwrap_or_default();
            out.push((name.trim().to_string(), comment));
        }
    }
    out
}

fn param_text(v: &ParamValue) -> String {
    match v {
        ParamValue::Number(d) => d.to_string(),
        ParamValue::Text(t) => t.clone(),
        ParamValue::Flag(b) => b.to_string(),
        ParamValue::List(l) => l.iter().map(param_text).collect::<Vec<_>>().join(", "),
    }
}

/// Renders the regulation of `pack`.
pub fn render(pack: &RulePack, source: &PackSource) -> Regulation {
    let info = &pack.manifest.pack;
    let mut b = Vec::new();
    if !info.description.is_empty() {
        b.push(Block::Para(info.description.clone()));
    }
    b.push(Block::Para(format!(
        "Rule pack {} version {}. The bonus is paid per {} (for example {}), in {}; each payout line is rounded once to {} decimal(s), {}.",
        info.name,
        info.version,
        info.period.name(),
        info.period.example(),
        pack.currency.code,
        pack.currency.minor_units,
        pack.rounding.name()
    )));

    b.push(Block::Heading(2, "1. Key clients".into()));
    match &pack.key_clients {
        StageCode::Script(s) => {
            b.extend(doc_blocks(module_doc(s)));
            b.extend(doc_blocks(fn_doc(s, pack.key_clients_fn())));
        }
        StageCode::Plugin(p) => b.push(Block::Para(format!(
            "Key clients are decided by the plugin {}.",
            p.shown
        ))),
    }

    b.push(Block::Heading(2, "2. Key performance indicators".into()));
    if let StageCode::Script(s) = &pack.kpis {
        b.extend(doc_blocks(module_doc(s)));
    }
    let rows: Vec<Vec<String>> = pack
        .manifest
        .kpis
        .iter()
        .map(|k| {
            let how = match &pack.kpis {
                StageCode::Script(s) => fn_doc(s, k.function()).join(" "),
                StageCode::Plugin(p) => format!("computed by the plugin {}", p.shown),
            };
            let how = if k.description.is_empty() {
                how
            } else {
                format!("{} {how}", k.description)
            };
            vec![
                k.id.clone(),
                k.label.clone(),
                percent(k.weight),
                how.trim().to_string(),
            ]
        })
        .collect();
    b.push(Block::Table(
        vec![
            "KPI".into(),
            "Label".into(),
            "Weight".into(),
            "How it is measured".into(),
        ],
        rows,
    ));
    let total = crate::money::exact_sum(pack.manifest.kpis.iter().map(|k| k.weight));
    b.push(Block::Para(format!(
        "The weights add up to {}.",
        total.map_or("more than a decimal holds".into(), percent)
    )));

    b.push(Block::Heading(2, "3. Payout".into()));
    if let Some(bonus) = pack.manifest.payout.target_bonus {
        b.push(Block::Para(format!(
            "The target bonus, paid at 100% attainment, is {} {} per {} for every manager whose row of managers.csv gives none.",
            pack.currency.format(pack.currency.round(bonus, pack.rounding)),
            pack.currency.code,
            pack.manifest.pack.period.name()
        )));
    }
    match &pack.bonus {
        StageCode::Script(s) => {
            b.extend(doc_blocks(module_doc(s)));
            let mut items = Vec::new();
            for f in s.ast.iter_functions() {
                let doc = paragraphs(&f.comments).join(" ");
                if !doc.is_empty() {
                    items.push(format!("{}: {doc}", f.name));
                }
            }
            if !items.is_empty() {
                b.push(Block::List(items));
            }
        }
        StageCode::Plugin(p) => b.push(Block::Para(format!(
            "The payout is computed by the plugin {}.",
            p.shown
        ))),
    }

    b.push(Block::Heading(2, "4. Parameters".into()));
    let manifest_text = match source {
        PackSource::Dir(_) => source
            .read("pack.toml")
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .unwrap_or_default(),
        PackSource::Embedded { files, .. } => files
            .iter()
            .find(|(n, _)| *n == "pack.toml")
            .map(|(_, b)| String::from_utf8_lossy(b).into_owned())
            .unwrap_or_default(),
    };
    let comments = param_comments(&manifest_text);
    // In pack.toml order (where the comments are), then any other parameter by name.
    let position = |k: &str| {
        comments
            .iter()
            .position(|(n, _)| n == k)
            .unwrap_or(usize::MAX)
    };
    let mut params: Vec<(&String, &ParamValue)> = pack.params.iter().collect();
    params.sort_by_key(|(k, _)| position(k));
    let rows = params
        .into_iter()
        .map(|(k, v)| {
            let c = comments
                .iter()
                .find(|(n, _)| n == k)
                .map(|(_, c)| c.clone())
                .unwrap_or_default();
            vec![k.clone(), param_text(v), c]
        })
        .collect();
    b.push(Block::Table(
        vec!["Parameter".into(), "Value".into(), "Meaning".into()],
        rows,
    ));

    if !pack.tables.is_empty() {
        b.push(Block::Heading(2, "5. Tables".into()));
        for (name, t) in &pack.tables {
            b.push(Block::Heading(3, name.clone()));
            if let Some(decl) = pack.manifest.tables.get(name) {
                if !decl.description.is_empty() {
                    b.push(Block::Para(decl.description.clone()));
                }
            }
            if let Some(policy) = t.hit_policy {
                b.push(Block::Para(format!(
                    "A decision table with hit policy {} (an empty bound means no bound).",
                    format!("{policy:?}").to_lowercase()
                )));
            }
            let rows = t
                .rows
                .iter()
                .map(|r| r.iter().map(|c| c.to_string()).collect())
                .collect();
            b.push(Block::Table(t.columns.clone(), rows));
        }
    }

    if !pack.windows.is_empty() {
        let n = if pack.tables.is_empty() { 5 } else { 6 };
        b.push(Block::Heading(2, format!("{n}. Sales windows")));
        b.push(Block::Para(
            "Besides the period, the previous period and the same period a year earlier, the rules read these sales windows; none counts a sale after the period's end.".into(),
        ));
        let rows = pack
            .windows
            .iter()
            .map(|w| vec![w.name.clone(), w.span.to_string(), w.description.clone()])
            .collect();
        b.push(Block::Table(
            vec!["Window".into(), "Days".into(), "Meaning".into()],
            rows,
        ));
    }

    if !pack.measures.is_empty() {
        let n = 5 + usize::from(!pack.tables.is_empty()) + usize::from(!pack.windows.is_empty());
        b.push(Block::Heading(2, format!("{n}. Measures")));
        b.push(Block::Para(
            "Figures over the sales lines that the rules read on every window.".into(),
        ));
        let rows = pack
            .measures
            .iter()
            .map(|m| {
                let shown = m.to_string();
                let what = shown
                    .strip_prefix(&format!("{} (", m.name))
                    .and_then(|s| s.strip_suffix(')'))
                    .unwrap_or(&shown)
                    .to_string();
                vec![m.name.clone(), what, m.description.clone()]
            })
            .collect();
        b.push(Block::Table(
            vec!["Measure".into(), "What it counts".into(), "Meaning".into()],
            rows,
        ));
    }

    b.push(Block::Heading(2, "Source".into()));
    b.push(Block::Para(
        "This document was generated by `bonusrun doc` from the rule pack that computes the payouts. The files and their sha256:".into(),
    ));
    b.push(Block::List(
        pack.files
            .iter()
            .map(|f| format!("{}: {}", f.path, f.sha256))
            .collect(),
    ));
    Regulation {
        title: info.title.clone(),
        blocks: b,
    }
}

fn md_cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

fn html(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

impl Regulation {
    /// As Markdown.
    pub fn markdown(&self) -> String {
        let mut s = format!("# {}\n", self.title);
        for b in &self.blocks {
            s.push('\n');
            match b {
                Block::Heading(l, t) => s.push_str(&format!("{} {t}\n", "#".repeat(*l as usize))),
                Block::Para(t) => s.push_str(&format!("{t}\n")),
                Block::List(items) => {
                    for i in items {
                        s.push_str(&format!("- {i}\n"));
                    }
                }
                Block::Table(h, rows) => {
                    s.push_str(&format!(
                        "| {} |\n",
                        h.iter().map(|c| md_cell(c)).collect::<Vec<_>>().join(" | ")
                    ));
                    s.push_str(&format!("|{}\n", "---|".repeat(h.len())));
                    for r in rows {
                        s.push_str(&format!(
                            "| {} |\n",
                            r.iter().map(|c| md_cell(c)).collect::<Vec<_>>().join(" | ")
                        ));
                    }
                }
            }
        }
        s
    }

    /// As a standalone HTML page (UTF-8).
    pub fn html(&self) -> String {
        let mut s = format!(
            "<!DOCTYPE html>\n<html>\n<head>\n<meta charset=\"utf-8\">\n<title>{0}</title>\n<style>body{{font-family:sans-serif;max-width:60em;margin:2em auto;line-height:1.4}}table{{border-collapse:collapse}}td,th{{border:1px solid #999;padding:.2em .5em;vertical-align:top}}</style>\n</head>\n<body>\n<h1>{0}</h1>\n",
            html(&self.title)
        );
        for b in &self.blocks {
            match b {
                Block::Heading(l, t) => s.push_str(&format!("<h{l}>{}</h{l}>\n", html(t))),
                Block::Para(t) => s.push_str(&format!("<p>{}</p>\n", html(t))),
                Block::List(items) => {
                    s.push_str("<ul>\n");
                    for i in items {
                        s.push_str(&format!("<li>{}</li>\n", html(i)));
                    }
                    s.push_str("</ul>\n");
                }
                Block::Table(h, rows) => {
                    s.push_str("<table>\n<tr>");
                    for c in h {
                        s.push_str(&format!("<th>{}</th>", html(c)));
                    }
                    s.push_str("</tr>\n");
                    for r in rows {
                        s.push_str("<tr>");
                        for c in r {
                            s.push_str(&format!("<td>{}</td>", html(c)));
                        }
                        s.push_str("</tr>\n");
                    }
                    s.push_str("</table>\n");
                }
            }
        }
        s.push_str("</body>\n</html>\n");
        s
    }
}
