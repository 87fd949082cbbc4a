//! The shared crate's modules form layers: no module reaches, through `crate::…` and
//! `super::…` paths, a module that reaches back to it — neither file by file nor between
//! top-level modules (`router` → `api` → `repo` → `store`, never back). Read from the source:
//! a path names the longest module it starts with; a `mod` declaring its children is not a
//! use of them; unit-test modules are left out.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

crate::cases! {
    plain: [no_module_reaches_back, no_top_level_module_reaches_back, the_checker_finds_a_cycle],
}

type Graph = BTreeMap<String, BTreeSet<String>>;

fn src() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .join("shared/src")
}

/// Every module (`a::b`, "" for the crate root) and its file.
fn modules(root: &Path) -> BTreeMap<String, PathBuf> {
    let mut out = BTreeMap::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
                continue;
            }
            if path.extension().and_then(|e| e.to_str()) != Some("rs") {
                continue;
            }
            let rel = path.strip_prefix(root).unwrap().with_extension("");
            let mut parts: Vec<String> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            if matches!(parts.last().map(String::as_str), Some("mod" | "lib")) {
                parts.pop();
            }
            out.insert(parts.join("::"), path);
        }
    }
    out
}

/// The module paths a source text names after `crate::` or `super::` (each member of a
/// `{…}` group separately), as written.
fn paths(text: &str) -> Vec<(bool, Vec<String>)> {
    let text = match text.find("#[cfg(test)]\nmod tests") {
        Some(i) => &text[..i],
        None => text,
    };
    let bytes = text.as_bytes();
    let ident = |i: usize| {
        let end = (i..bytes.len())
            .find(|&j| !(bytes[j].is_ascii_alphanumeric() || bytes[j] == b'_'))
            .unwrap_or(bytes.len());
        (&text[i..end], end)
    };
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let at_word = i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_');
        let root = ["crate::", "super::"]
            .into_iter()
            .find(|r| at_word && bytes[i..].starts_with(r.as_bytes()));
        let Some(root) = root else {
            i += 1;
            continue;
        };
        let from_crate = root == "crate::";
        i += root.len();
        let mut prefix = Vec::new();
        loop {
            if bytes.get(i) == Some(&b'{') {
                // a group: each member's first segments
                let end = (i..bytes.len())
                    .find(|&j| bytes[j] == b'}')
                    .unwrap_or(bytes.len());
                for member in text[i + 1..end].split(',') {
                    let member = member.trim();
                    let mut p = prefix.clone();
                    p.extend(
                        member
                            .split("::")
                            .map(|s| s.split_whitespace().next().unwrap_or("").to_string())
                            .take_while(|s| !s.is_empty() && !s.starts_with('{') && s != "self"),
                    );
                    out.push((from_crate, p));
                }
                i = end;
                break;
            }
            let (word, end) = ident(i);
            if word.is_empty() {
                // `…::*`: the module before it
                if !prefix.is_empty() {
                    out.push((from_crate, prefix.clone()));
                }
                break;
            }
            prefix.push(word.to_string());
            i = end;
            if bytes[i..].starts_with(b"::") {
                i += 2;
            } else {
                out.push((from_crate, prefix.clone()));
                break;
            }
        }
    }
    out
}

/// Module → the other modules it names.
fn graph(root: &Path) -> Graph {
    let mods = modules(root);
    let resolve = |segs: &[String]| {
        (1..=segs.len())
            .rev()
            .map(|n| segs[..n].join("::"))
            .find(|m| mods.contains_key(m))
    };
    let mut g = Graph::new();
    for (m, file) in &mods {
        // `super::` in module a::b (a/b.rs or a/b/mod.rs) is a
        let here: Vec<&str> = m.split("::").filter(|s| !s.is_empty()).collect();
        let parent: Vec<String> = here[..here.len().saturating_sub(1)]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let text = std::fs::read_to_string(file).unwrap();
        let edges = g.entry(m.clone()).or_default();
        for (from_crate, segs) in paths(&text) {
            let full: Vec<String> = if from_crate {
                segs
            } else {
                parent.iter().cloned().chain(segs).collect()
            };
            if let Some(target) = resolve(&full) {
                if target != *m && !target.is_empty() {
                    edges.insert(target);
                }
            }
        }
    }
    g
}

/// The cycles of `g` (its strongly connected components of more than one module).
fn cycles(g: &Graph) -> Vec<BTreeSet<String>> {
    let reach = |from: &String| {
        let mut seen = BTreeSet::new();
        let mut todo = vec![from.clone()];
        while let Some(m) = todo.pop() {
            for n in g.get(&m).into_iter().flatten() {
                if seen.insert(n.clone()) {
                    todo.push(n.clone());
                }
            }
        }
        seen
    };
    let reached: BTreeMap<&String, BTreeSet<String>> = g.keys().map(|m| (m, reach(m))).collect();
    let mut out: Vec<BTreeSet<String>> = Vec::new();
    for (m, r) in &reached {
        if !r.contains(*m) {
            continue;
        }
        let comp: BTreeSet<String> = r
            .iter()
            .filter(|n| reached.get(n).is_some_and(|back| back.contains(*m)))
            .cloned()
            .collect();
        if !out.contains(&comp) {
            out.push(comp);
        }
    }
    out
}

/// `g` with each module folded into its top-level module.
fn top_level(g: &Graph) -> Graph {
    let top = |m: &str| m.split("::").next().unwrap_or("").to_string();
    let mut out = Graph::new();
    for (m, edges) in g {
        let entry = out.entry(top(m)).or_default();
        entry.extend(edges.iter().map(|e| top(e)).filter(|e| *e != top(m)));
    }
    out
}

fn no_module_reaches_back() {
    let g = graph(&src());
    assert!(g.len() > 40, "the source was read: {} modules", g.len());
    assert!(
        g["api::gateway"].contains("auth::surface_key"),
        "{:?}",
        g["api::gateway"]
    );
    assert_eq!(cycles(&g), Vec::<BTreeSet<String>>::new());
}

fn no_top_level_module_reaches_back() {
    let g = top_level(&graph(&src()));
    assert_eq!(cycles(&g), Vec::<BTreeSet<String>>::new());
}

/// The check itself sees a cycle made of `super::` and grouped `crate::` paths.
fn the_checker_finds_a_cycle() {
    let dir = std::env::temp_dir().join(runtype::ids::new_id("layering"));
    std::fs::create_dir_all(dir.join("a")).unwrap();
    std::fs::write(dir.join("lib.rs"), "pub mod a;\npub mod b;\n").unwrap();
    std::fs::write(dir.join("a/mod.rs"), "pub mod c;\n").unwrap();
    std::fs::write(dir.join("a/c.rs"), "use crate::{b::thing, a};\n").unwrap();
    std::fs::write(dir.join("b.rs"), "use crate::a::c::*;\n").unwrap();
    let g = graph(&dir);
    assert_eq!(
        cycles(&g),
        vec![BTreeSet::from(["a::c".to_string(), "b".to_string()])]
    );
    assert_eq!(cycles(&top_level(&g)).len(), 1);
    let _ = std::fs::remove_dir_all(dir);
}
