//! The layers as rules (ARCHITECTURE): domain modules import no web framework and nothing of the
//! web layer, and the crate's top-level modules form no import cycle. Read from the source, so a
//! new `use crate::http::…` in a domain module fails here before review.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Modules at the edge: they may use the web framework and every other module.
const EDGE: &[&str] = &["http", "state", "server", "cli", "lib", "main"];
/// The development simulators serve HTTP themselves (their own axum router), but reach nothing
/// of the product's web layer.
const OWN_SERVERS: &[&str] = &["sim"];
/// Crates of the web and command-line edge.
const WEB_CRATES: &[&str] = &["axum", "tower", "tower_http", "hyper", "clap"];

/// Store methods that change what is stored, by the start of their name.
const WRITES: &[&str] = &[
    "insert_",
    "update_",
    "delete_",
    "remove_",
    "revoke_",
    "rotate_",
    "replace_",
    "set_",
    "save_",
    "put_",
    "take_",
    "purge_",
    "queue_",
    "claim_",
    "release_",
    "record_",
    "drop_",
    "disable_",
    "block_",
    "mail_delivered",
    "mail_failed",
];

/// Each top-level module with the source of its files (tests cut off).
fn modules() -> BTreeMap<String, Vec<(PathBuf, String)>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    collect(&src, &mut files);
    let mut out: BTreeMap<String, Vec<(PathBuf, String)>> = BTreeMap::new();
    for path in files {
        let rel = path.strip_prefix(&src).unwrap();
        let first = rel.components().next().unwrap().as_os_str().to_string_lossy();
        let top = first.trim_end_matches(".rs").to_string();
        let text = std::fs::read_to_string(&path).unwrap();
        out.entry(top).or_default().push((rel.to_path_buf(), production_code(&text)));
    }
    out
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The code without line comments and without the unit-test module at the end of a file.
fn production_code(text: &str) -> String {
    let text = match text.find("#[cfg(test)]\nmod tests") {
        Some(i) => &text[..i],
        None => text,
    };
    text.lines()
        .map(|l| match l.trim_start().starts_with("//") {
            true => "",
            false => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The top-level modules of this crate that `code` names: `crate::x::…` and every member of
/// `crate::{x::…, y}`.
fn crate_modules(code: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut rest = code;
    while let Some(i) = rest.find("crate::") {
        let before = rest[..i].chars().next_back();
        rest = &rest[i + "crate::".len()..];
        // `$crate::` in a macro, or a longer name ending in `crate`.
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$') {
            continue;
        }
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 0;
            let mut member = String::new();
            let mut at_start = true;
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        at_start = true;
                        continue;
                    }
                    _ => {}
                }
                if depth == 0 && at_start {
                    if c.is_alphanumeric() || c == '_' {
                        member.push(c);
                        continue;
                    }
                    if !member.is_empty() {
                        found.insert(std::mem::take(&mut member));
                        at_start = false;
                    }
                }
            }
            if !member.is_empty() {
                found.insert(member);
            }
        } else {
            let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            if !name.is_empty() {
                found.insert(name);
            }
        }
    }
    found.remove("self");
    found
}

/// The web crates that `code` uses (`axum::…`, `use tower_http…`).
fn web_crates(code: &str) -> BTreeSet<&'static str> {
    let mut found = BTreeSet::new();
    for krate in WEB_CRATES {
        let needle = format!("{krate}::");
        let mut start = 0;
        while let Some(i) = code[start..].find(&needle) {
            let at = start + i;
            let before = code[..at].chars().next_back();
            if !before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
                found.insert(*krate);
            }
            start = at + needle.len();
        }
    }
    found
}

/// The writes to the store that `code` makes itself: a store method that changes data, or an
/// audit event written here.
fn store_writes(code: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = code;
    while let Some(i) = rest.find("store") {
        let before = rest[..i].chars().next_back();
        rest = &rest[i + "store".len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        // `state.store.x(…)`, also over several lines.
        let Some(call) = rest.trim_start().strip_prefix('.') else {
            continue;
        };
        let name: String = call.trim_start().chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
        if WRITES.iter().any(|w| name.starts_with(w)) {
            found.push(format!("store.{name}"));
        }
    }
    if code.contains("Event::new(") {
        found.push("an audit event".into());
    }
    found
}

/// The import graph of top-level modules (edges to itself left out).
fn graph(modules: &BTreeMap<String, Vec<(PathBuf, String)>>) -> BTreeMap<String, BTreeSet<String>> {
    modules
        .iter()
        .map(|(top, files)| {
            let targets = files
                .iter()
                .flat_map(|(_, code)| crate_modules(code))
                .filter(|t| t != top && modules.contains_key(t))
                .collect();
            (top.clone(), targets)
        })
        .collect()
}

/// One cycle of `graph`, as the path that closes it, if there is any.
fn a_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(i) = path.iter().position(|p| p == node) {
            let mut cycle = path[i..].to_vec();
            cycle.push(node.to_string());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    graph.keys().find_map(|node| visit(node, graph, &mut Vec::new(), &mut done))
}

#[test]
fn domain_modules_import_no_web_framework_and_nothing_of_the_web_layer() {
    let mut offences = Vec::new();
    for (top, files) in modules() {
        if EDGE.contains(&top.as_str()) {
            continue;
        }
        for (path, code) in files {
            for edge in crate_modules(&code).intersection(&EDGE.iter().map(|s| s.to_string()).collect()) {
                offences.push(format!("src/{} imports crate::{edge}", path.display()));
            }
            if !OWN_SERVERS.contains(&top.as_str()) {
                for krate in web_crates(&code) {
                    offences.push(format!("src/{} uses {krate}", path.display()));
                }
            }
        }
    }
    assert!(offences.is_empty(), "the domain reaches the edge:\n{}", offences.join("\n"));
}

#[test]
fn the_top_level_modules_form_no_import_cycle() {
    let modules = modules();
    let graph = graph(&modules);
    // The test reads what it should: the web layer is seen to import the domain.
    assert!(graph["http"].contains("accounts") && graph["store"].contains("model"), "{graph:?}");
    if let Some(cycle) = a_cycle(&graph) {
        panic!("an import cycle: {}", cycle.join(" → "));
    }
}

#[test]
fn no_handler_writes_to_the_store() {
    let mut offences = Vec::new();
    for (path, code) in &modules()["http"] {
        for write in store_writes(code) {
            offences.push(format!("src/{}: {write}", path.display()));
        }
    }
    assert!(
        offences.is_empty(),
        "handlers call one domain function instead:\n{}",
        offences.join("\n")
    );
}

#[test]
fn the_reader_finds_grouped_imports_paths_and_cycles() {
    let code = "use crate::{accounts::{self, Account}, store};\nlet x = crate::paths::LOGIN;\nuse crate::clock;\n$crate::ignored::x";
    let found: Vec<String> = crate_modules(code).into_iter().collect();
    assert_eq!(found, ["accounts", "clock", "paths", "store"]);
    assert_eq!(
        web_crates("use axum::Router; let c = my_axum::z; a::tower::b"),
        BTreeSet::from(["axum"])
    );
    let cyclic: BTreeMap<String, BTreeSet<String>> = [("a", "b"), ("b", "c"), ("c", "a")]
        .into_iter()
        .map(|(k, v)| (k.to_string(), BTreeSet::from([v.to_string()])))
        .collect();
    assert_eq!(a_cycle(&cyclic).unwrap(), ["a", "b", "c", "a"]);
    let acyclic: BTreeMap<String, BTreeSet<String>> = [("a", "b"), ("b", "c")]
        .into_iter()
        .map(|(k, v)| (k.to_string(), BTreeSet::from([v.to_string()])))
        .collect();
    assert_eq!(a_cycle(&acyclic), None);
    let writes = store_writes("state.store.account(&id); state\n    .store\n    .revoke_grant(&g, now); Event::new(\"x\", now)");
    assert_eq!(writes, ["store.revoke_grant", "an audit event"]);
}
