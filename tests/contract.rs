//! One description of the facts: the Rhai API (as rhai's own metadata lists it), the table
//! it is generated from (`bonusrun::rules::views::FACTS`), the WIT interface `facts` of world
//! `bonusrun:rules@0.2.3`, the plugin SDK's views, and the API tables of docs/rule-packs.md
//! and docs/plugins.md must list the same facts: same views, names, arguments and types.
//! Every difference is printed, e.g. `Window.margin_rate: in FACTS, missing from plugins.md`.

use crate::util::*;
use bonusrun::rules::views::{Access, FACTS};
use std::collections::BTreeMap;

/// (view, name) → (arguments, type word); the view is the Rhai type name (`Window`).
type Api = BTreeMap<(String, String), (usize, String)>;

/// What a view is called in WIT: its Rhai name in lowercase.
fn rhai_view(wit: &str) -> String {
    let mut c = wit.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

fn from_facts() -> Api {
    FACTS
        .iter()
        .map(|f| {
            let name = match f.access {
                Access::Index => "get".to_string(),
                _ => f.name.to_string(),
            };
            ((f.view.to_string(), name), (f.args, f.ty.to_string()))
        })
        .collect()
}

/// rhai's type name for a type word.
fn rhai_type(word: &str) -> String {
    match word {
        "decimal" => "Decimal".into(),
        "count" | "integer" => "i64".into(),
        "flag" => "bool".into(),
        "text" | "date" => "String".into(),
        "date or ()" | "decimal or ()" => "?".into(),
        w if w.starts_with('[') => "Array".into(),
        view => view.into(),
    }
}

/// A return type as rhai's metadata writes it (`core::result::Result<bonusrun::rules::views::
/// WindowView, alloc::boxed::Box<...>>`), in the words of [`rhai_type`].
fn rhai_return(ret: &str) -> String {
    let ret = ret.strip_prefix("core::result::Result<").map_or(ret, |r| {
        r.rsplit_once(",alloc::boxed::Box<").map_or(r, |(t, _)| t)
    });
    let ret = ret
        .strip_prefix("RhaiResultOf<")
        .map_or(ret, |r| r.trim_end_matches('>'));
    let base = ret.split('<').next().unwrap().rsplit("::").next().unwrap();
    match base {
        "ImmutableString" => "String".into(),
        "Dynamic" => "?".into(),
        "Vec" | "Array" => "Array".into(),
        b => b.strip_suffix("View").unwrap_or(b).into(),
    }
}

/// The views as rhai's metadata lists them: `get$revenue(_: &mut Window) -> Decimal`,
/// `bought(_: &mut Window, category: ImmutableString) -> bool`, `index$get$(_: &mut Kpis,
/// id: ImmutableString) -> RhaiResultOf<Kpi>`. The type is rhai's return type name.
fn from_rhai() -> Api {
    let views: Vec<&str> = FACTS.iter().map(|f| f.view).collect();
    let mut api = Api::new();
    for sig in bonusrun::rules::views::rhai_signatures() {
        let (name, rest) = sig.split_once('(').unwrap();
        let (params, ret) = rest.rsplit_once(')').unwrap();
        let params: Vec<&str> = params.split(", ").collect();
        let Some(view) = params[0].strip_prefix("_: &mut ") else {
            continue;
        };
        assert!(views.contains(&view), "rhai lists {sig} on an unknown type");
        if name == "to_string" {
            continue;
        }
        let name = match name {
            "index$get$" => "get",
            n => n.strip_prefix("get$").unwrap_or(n),
        };
        let ret = rhai_return(ret.trim_start_matches(" -> "));
        api.insert(
            (view.to_string(), name.to_string()),
            (params.len() - 1, ret.to_string()),
        );
    }
    api
}

fn wit_word(resolve: &wit_parser::Resolve, ty: &wit_parser::Type) -> String {
    use wit_parser::{Handle, Type, TypeDefKind};
    match ty {
        Type::U64 => "count".into(),
        Type::S64 => "integer".into(),
        Type::Bool => "flag".into(),
        Type::String => "text".into(),
        Type::Id(id) => {
            let def = &resolve.types[*id];
            match (&def.name, &def.kind) {
                (Some(n), TypeDefKind::Record(_)) if n == "decimal" => "decimal".into(),
                (Some(n), TypeDefKind::Type(_)) if n == "date" => "date".into(),
                (_, TypeDefKind::Type(t)) => wit_word(resolve, t),
                (_, TypeDefKind::Handle(Handle::Own(r))) => {
                    rhai_view(resolve.types[*r].name.as_deref().unwrap())
                }
                (_, TypeDefKind::List(t)) => format!("[{}]", wit_word(resolve, t)),
                (_, TypeDefKind::Option(t)) => format!("{} or ()", wit_word(resolve, t)),
                (_, kind) => format!("{kind:?}"),
            }
        }
        other => format!("{other:?}"),
    }
}

fn from_wit() -> Api {
    let mut resolve = wit_parser::Resolve::default();
    resolve
        .push_path(root().join("plugins/wit/v0.2"))
        .expect("plugins/wit/v0.2 parses");
    let facts = resolve
        .interfaces
        .iter()
        .find(|(_, i)| i.name.as_deref() == Some("facts"))
        .map(|(_, i)| i)
        .expect("interface facts");
    let mut api = Api::new();
    for f in facts.functions.values() {
        let wit_parser::FunctionKind::Method(r) = f.kind else {
            panic!("facts.{} is not a method of a resource", f.name);
        };
        let view = rhai_view(resolve.types[r].name.as_deref().unwrap());
        let name = f.item_name().replace('-', "_");
        let ret = f.result.as_ref().expect("a fact has a result");
        api.insert((view, name), (f.params.len() - 1, wit_word(&resolve, ret)));
    }
    api
}

/// The SDK's views table: `View(facts::View) {` then `fn name(arg: &str) -> Type;` rows.
fn from_sdk() -> Api {
    let text = read(&root().join("plugins/sdk/src/lib.rs"));
    let start = text.find("\nviews! {").expect("the SDK's views! table");
    let end = start + text[start..].find("\n}\n").unwrap();
    let mut api = Api::new();
    let mut view = None;
    for line in text[start..end].lines().map(str::trim) {
        if line == "}" {
            view = None;
        }
        if let Some((v, _)) = line.split_once("(facts::") {
            view = Some(v.to_string());
            continue;
        }
        let (Some(v), Some(rest)) = (&view, line.strip_prefix("fn ")) else {
            continue;
        };
        let Some((name, rest)) = rest.split_once('(') else {
            continue;
        };
        let (params, ret) = rest.split_once(')').unwrap();
        let ret = ret.trim_start_matches(" -> ").trim_end_matches(';');
        let args = params.split(',').filter(|p| !p.trim().is_empty()).count();
        let word = match ret {
            "Decimal" => "decimal",
            "u64" => "count",
            "i64" => "integer",
            "bool" => "flag",
            "String" => "text",
            "Date" => "date",
            "Option<Date>" => "date or ()",
            "Option<Decimal>" => "decimal or ()",
            "Vec<String>" => "[text]",
            r => r,
        };
        let word = match word.strip_prefix("Vec<").and_then(|w| w.strip_suffix('>')) {
            Some(inner) => format!("[{inner}]"),
            None => word.to_string(),
        };
        api.insert((v.clone(), name.to_string()), (args, word));
    }
    api
}

/// The facts a markdown API table lists: the backticked names of each row's first cell,
/// under a heading that names the view. `plan(kpi)` has one argument; `kpis["id"]` is
/// `get`; `to_string()` and the `kpis.margin` shorthand are Rhai conveniences.
fn from_doc(path: &str, section: &str, next: &str) -> BTreeMap<(String, String), usize> {
    let text = read(&root().join(path));
    let start = text
        .find(section)
        .unwrap_or_else(|| panic!("{path}: no {section}"));
    let end = start + text[start..].find(next).unwrap_or(text.len() - start);
    let views: Vec<&str> = FACTS.iter().map(|f| f.view).collect();
    let mut api = BTreeMap::new();
    let mut view: Option<String> = None;
    for line in text[start..end].lines() {
        if let Some(h) = line.strip_prefix("### ") {
            let word = h
                .split([':', ' '])
                .next()
                .unwrap()
                .trim_matches('`')
                .to_string();
            let word = rhai_view(&word);
            view = views.contains(&word.as_str()).then_some(word);
            continue;
        }
        let (Some(v), Some(cell)) = (&view, line.strip_prefix("| `")) else {
            continue;
        };
        let cell = format!("`{}", cell.split(" |").next().unwrap());
        for name in cell.split('`').skip(1).step_by(2) {
            let name = name.strip_prefix("kpis").unwrap_or(name);
            let name = name.trim_start_matches('.');
            if name.starts_with("to_string") || name.starts_with("to-string") {
                continue;
            }
            let (name, args) = if name.starts_with("[") {
                ("get".to_string(), 1)
            } else if let Some((n, rest)) = name.split_once('(') {
                (n.to_string(), usize::from(rest != ")"))
            } else {
                (name.to_string(), 0)
            };
            if v == "Kpis" && name != "get" && name != "list" && name != "len" {
                continue; // kpis.margin: the indexer written as a property
            }
            api.insert((v.clone(), name.replace('-', "_")), args);
        }
    }
    api
}

/// Every difference between two listings, in words.
fn differences<T: PartialEq + std::fmt::Debug>(
    a_name: &str,
    a: &BTreeMap<(String, String), T>,
    b_name: &str,
    b: &BTreeMap<(String, String), T>,
) -> Vec<String> {
    let mut out = Vec::new();
    for ((view, name), x) in a {
        match b.get(&(view.clone(), name.clone())) {
            None => out.push(format!("{view}.{name}: in {a_name}, missing from {b_name}")),
            Some(y) if x != y => out.push(format!(
                "{view}.{name}: {a_name} says {x:?}, {b_name} says {y:?}"
            )),
            _ => {}
        }
    }
    for (view, name) in b.keys() {
        if !a.contains_key(&(view.clone(), name.clone())) {
            out.push(format!("{view}.{name}: in {b_name}, missing from {a_name}"));
        }
    }
    out
}

fn arities(api: &Api) -> BTreeMap<(String, String), usize> {
    api.iter().map(|(k, (n, _))| (k.clone(), *n)).collect()
}

#[test]
fn rhai_wit_sdk_and_docs_list_the_same_facts() {
    let facts = from_facts();
    let rhai_typed: Api = facts
        .iter()
        .map(|(k, (n, t))| (k.clone(), (*n, rhai_type(t))))
        .collect();
    let mut problems = Vec::new();
    problems.extend(differences("FACTS", &rhai_typed, "rhai", &from_rhai()));
    problems.extend(differences("FACTS", &facts, "the WIT", &from_wit()));
    problems.extend(differences("FACTS", &facts, "the SDK", &from_sdk()));
    let facts_arity = arities(&facts);
    problems.extend(differences(
        "FACTS",
        &facts_arity,
        "docs/rule-packs.md",
        &from_doc(
            "docs/rule-packs.md",
            "## 3. The Rhai API",
            "### Global functions",
        ),
    ));
    problems.extend(differences(
        "FACTS",
        &facts_arity,
        "docs/plugins.md",
        &from_doc("docs/plugins.md", "## 4. The facts", "## 5."),
    ));
    assert!(
        problems.is_empty(),
        "the descriptions of the facts disagree:\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_comparison_sees_a_fact_one_side_lacks() {
    let facts = from_facts();
    let mut wit = from_wit();
    wit.insert(("Window".into(), "discount".into()), (0, "decimal".into()));
    wit.remove(&("Manager".to_string(), "plan".to_string()));
    let problems = differences("FACTS", &facts, "the WIT", &wit);
    assert_eq!(
        problems,
        [
            "Manager.plan: in FACTS, missing from the WIT",
            "Window.discount: in the WIT, missing from FACTS",
        ]
    );
}
