//! The shape of the code: no two files under `src/` depend on each other, directly or through
//! others. A file depends on another when it names a module or item of it by path:
//! `use crate::…`, `crate::…` in code, `super::…` and `use self::…` (each resolved to the file
//! of the module it names). Tests at the end of a file (`#[cfg(test)] mod tests`) and
//! comments do not count. A parent calling the modules it declares (`mod steps;` …
//! `steps::perform`) is not a path import and is not counted: a `mod.rs` and its children are
//! one unit, whose children may use what the parent defines; siblings may not lean on each
//! other both ways.
//!
//! Rerun with `cargo test --test api structure`.

use std::{
    collections::{BTreeMap, BTreeSet},
    path::{Path, PathBuf},
};

use regex::Regex;

/// Every file under `src/` by module path (`http::ui::view`; `""` for lib.rs and main.rs).
fn modules() -> BTreeMap<String, PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    walk(&root, &mut files);
    let mut modules = BTreeMap::new();
    for file in files {
        let rel = file.strip_prefix(&root).unwrap().with_extension("");
        let mut parts: Vec<String> = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        if parts.last().is_some_and(|p| p == "mod") || parts == ["lib"] || parts == ["main"] {
            parts.pop();
        }
        modules.insert(parts.join("::"), file);
    }
    modules
}

/// `a::{b, c::{d, e}}` → `a::b`, `a::c::d`, `a::c::e` (whitespace already removed).
fn expand(prefix: &str, tree: &str) -> Vec<String> {
    let Some(open) = tree.find('{') else {
        return vec![format!("{prefix}{tree}")];
    };
    let close = tree.rfind('}').expect("balanced braces in a use tree");
    let prefix = format!("{prefix}{}", &tree[..open]);
    let (mut out, mut depth, mut start) = (Vec::new(), 0, open + 1);
    for (i, ch) in tree.char_indices().take(close).skip(open + 1) {
        match ch {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                out.extend(expand(&prefix, &tree[start..i]));
                start = i + 1;
            }
            _ => {}
        }
    }
    if start < close {
        out.extend(expand(&prefix, &tree[start..close]));
    }
    out
}

/// The module a path names: its longest prefix that is a file.
fn resolve<'a>(modules: &'a BTreeMap<String, PathBuf>, path: &str) -> Option<&'a str> {
    let parts: Vec<&str> = path.split("::").filter(|p| !p.is_empty()).collect();
    (0..=parts.len())
        .rev()
        .find_map(|n| modules.get_key_value(&parts[..n].join("::")))
        .map(|(k, _)| k.as_str())
}

/// The code of a file without its tests module and comments, `super::` and `self::` spelled
/// from the crate root.
fn code_of(module: &str, text: &str) -> String {
    let text = match text.find("#[cfg(test)]\nmod tests") {
        Some(i) => &text[..i],
        None => text,
    };
    let text = Regex::new(r"//[^\n]*").unwrap().replace_all(text, "");
    let parent = module.rsplit_once("::").map_or("", |(p, _)| p);
    let grandparent = parent.rsplit_once("::").map_or("", |(p, _)| p);
    let rooted = |m: &str| {
        if m.is_empty() {
            "crate::".to_owned()
        } else {
            format!("crate::{m}::")
        }
    };
    let text = Regex::new(r"(?:^|[^\w:])super::super::")
        .unwrap()
        .replace_all(&text, |c: &regex::Captures| {
            format!("{}{}", &c[0][..c[0].len() - 14], rooted(grandparent))
        });
    let text = Regex::new(r"(?:^|[^\w:])super::")
        .unwrap()
        .replace_all(&text, |c: &regex::Captures| {
            format!("{}{}", &c[0][..c[0].len() - 7], rooted(parent))
        });
    Regex::new(r"\buse\s+self::")
        .unwrap()
        .replace_all(&text, format!("use {}", rooted(module)))
        .into_owned()
}

/// Which files each file depends on.
fn graph(modules: &BTreeMap<String, PathBuf>) -> BTreeMap<String, BTreeSet<String>> {
    let uses = Regex::new(r"\buse\s+crate::([^;]+);").unwrap();
    let paths = Regex::new(r"(?:^|[^\w:])crate::((?:\w+::)*\w+)").unwrap();
    let mut graph = BTreeMap::new();
    for (module, file) in modules {
        let code = code_of(module, &std::fs::read_to_string(file).unwrap());
        let mut deps = BTreeSet::new();
        for tree in uses.captures_iter(&code) {
            let tree: String = tree[1].replace(" as ", "~").split_whitespace().collect();
            for item in expand("", &tree) {
                let item = item.split('~').next().unwrap_or_default();
                deps.extend(resolve(modules, item).map(str::to_owned));
            }
        }
        for path in paths.captures_iter(&code) {
            deps.extend(resolve(modules, &path[1]).map(str::to_owned));
        }
        deps.remove(module);
        deps.remove("");
        graph.insert(module.clone(), deps);
    }
    graph
}

/// The cycles of a graph: its strongly connected components of more than one file (Tarjan).
fn cycles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct Walk<'a> {
        graph: &'a BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        found: Vec<Vec<String>>,
    }
    impl<'a> Walk<'a> {
        fn visit(&mut self, v: &'a str) {
            let i = self.index.len();
            self.index.insert(v, i);
            self.low.insert(v, i);
            self.stack.push(v);
            for w in self.graph.get(v).into_iter().flatten() {
                let w = w.as_str();
                if !self.index.contains_key(w) {
                    self.visit(w);
                    self.low.insert(v, self.low[v].min(self.low[w]));
                } else if self.stack.contains(&w) {
                    self.low.insert(v, self.low[v].min(self.index[w]));
                }
            }
            if self.low[v] == self.index[v] {
                let at = self.stack.iter().rposition(|&s| s == v).unwrap();
                let component: Vec<String> = self.stack.drain(at..).map(str::to_owned).collect();
                if component.len() > 1 {
                    self.found.push(component);
                }
            }
        }
    }
    let mut walk = Walk {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        found: Vec::new(),
    };
    for v in graph.keys() {
        if !walk.index.contains_key(v.as_str()) {
            walk.visit(v);
        }
    }
    walk.found
}

#[test]
fn no_file_under_src_depends_on_itself_through_others() {
    let modules = modules();
    assert!(modules.len() > 100, "found only {} files", modules.len());
    let graph = graph(&modules);
    let found: Vec<String> = cycles(&graph)
        .iter()
        .map(|c| {
            let edges: Vec<String> = c
                .iter()
                .map(|m| {
                    let inside: Vec<&str> = graph[m]
                        .iter()
                        .filter(|d| c.contains(d))
                        .map(String::as_str)
                        .collect();
                    format!("{m} → {}", inside.join(", "))
                })
                .collect();
            edges.join("; ")
        })
        .collect();
    assert!(found.is_empty(), "import cycles:\n{}", found.join("\n"));
}

#[test]
fn the_checker_finds_a_cycle_and_reads_use_trees() {
    let graph: BTreeMap<String, BTreeSet<String>> = [
        ("a", &["b"][..]),
        ("b", &["c"][..]),
        ("c", &["a"][..]),
        ("d", &["a"][..]),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.iter().map(|s| (*s).to_owned()).collect()))
    .collect();
    let found = cycles(&graph);
    assert_eq!(found.len(), 1);
    assert_eq!(
        found[0].iter().collect::<BTreeSet<_>>(),
        ["a", "b", "c"]
            .iter()
            .map(|s| (*s).to_owned())
            .collect::<Vec<_>>()
            .iter()
            .collect()
    );
    assert_eq!(
        expand("", "ports::{Store,queue::{Job,Queue}}"),
        ["ports::Store", "ports::queue::Job", "ports::queue::Queue"]
    );
    let code = code_of(
        "worker::jobs::command",
        "use super::approve::run; // crate::app\n",
    );
    assert_eq!(code.trim(), "use crate::worker::jobs::approve::run;");
}
