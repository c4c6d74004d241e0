//! The module graph of `src/` goes one way: no module imports from a layer above its own.
//!
//! The layer table below is the one in `src/lib.rs`'s doc comment. Every `crate::<module>` path in
//! the code of `src/<module>` (a file or a folder; comments are skipped, `use crate::{a, b}`
//! groups count each name) must name a module of the same layer or a lower one. The CLI
//! (`src/cli`, `src/main.rs`, and the other binaries in `src/bin`) is the top layer and sees the library only as `lic::` (there
//! `crate::` is the binary: only `crate::cli`). The lowest
//! layer builds without libtorch, so its code must not name `tch`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Layers from the bottom up. A module may import from its own layer and the layers below.
const LAYERS: &[&[&str]] = &[
    // No libtorch (built without the `engine` feature; what `fuzz/` uses). `overfit` (the
    // overfitted codec) may be absent.
    &[
        "format", "coder", "io", "metrics", "util", "datasets", "family", "dwt", "overfit",
        "registry",
    ],
    &["nn"],
    &["transforms", "entropy"],
    &["zoo"],
    &["codec"],
    &["video"],
    &["eval", "train"],
];

/// Known violations, each `(from, to, why)`. Keep this empty: fix the import instead.
const EXCEPTIONS: &[(&str, &str, &str)] = &[];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&module))
}

/// The `.rs` files of a module (`src/<m>.rs` or everything under `src/<m>/`).
fn files(path: &Path, out: &mut Vec<PathBuf>) {
    if path.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for e in entries {
            files(&e, out);
        }
    } else if path.extension().is_some_and(|e| e == "rs") {
        out.push(path.to_path_buf());
    }
}

/// The source without `//` comments (line and doc comments) and `/* */` blocks.
fn code(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while !rest.is_empty() {
        let line = rest.find("//");
        let block = rest.find("/*");
        match (line, block) {
            (Some(l), b) if b.is_none_or(|b| l < b) => {
                out.push_str(&rest[..l]);
                rest = rest[l..].find('\n').map_or("", |n| &rest[l + n..]);
            }
            (_, Some(b)) => {
                out.push_str(&rest[..b]);
                rest = rest[b..].find("*/").map_or("", |e| &rest[b + e + 2..]);
            }
            _ => {
                out.push_str(rest);
                rest = "";
            }
        }
    }
    out
}

fn ident(s: &str) -> &str {
    let end = s
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(s.len());
    &s[..end]
}

/// The top-level modules named after `crate::` (each name of a `crate::{...}` group).
fn crate_paths(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (i, _) in code.match_indices("crate::") {
        let before = code[..i].chars().next_back();
        if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$') {
            continue; // `$crate::`, `my_crate::`
        }
        let rest = code[i + "crate::".len()..].trim_start();
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 0usize;
            let mut start = true;
            for (j, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        start = true;
                        continue;
                    }
                    _ => {}
                }
                if start && depth == 0 && (c.is_ascii_alphabetic() || c == '_') {
                    out.push(ident(&group[j..]).to_string());
                    start = false;
                } else if !c.is_whitespace() {
                    start = false;
                }
            }
        } else {
            let name = ident(rest);
            if !name.is_empty() {
                out.push(name.to_string());
            }
        }
    }
    out
}

#[test]
fn parser_reads_paths_and_groups() {
    let c = code(
        "use crate::io::image::Image; // crate::eval\n/* crate::train */ use crate::{format::{self, X}, coder};\n\
         let h = crate::util::hex(&b); $crate::video::x();",
    );
    assert_eq!(crate_paths(&c), ["io", "format", "coder", "util"]);
}

#[test]
fn no_module_imports_from_a_layer_above() {
    let src = src();
    let mut modules = BTreeMap::new();
    for e in std::fs::read_dir(&src).unwrap() {
        let path = e.unwrap().path();
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        if matches!(name.as_str(), "lib" | "main" | "cli" | "bin") || name.starts_with('.') {
            continue;
        }
        if path.is_dir() || path.extension().is_some_and(|e| e == "rs") {
            modules.insert(name, path);
        }
    }
    let mut problems = Vec::new();
    for (module, path) in &modules {
        let Some(layer) = layer_of(module) else {
            problems.push(format!(
                "src/{module} is in no layer: add it to LAYERS here and to src/lib.rs's doc"
            ));
            continue;
        };
        let mut fs = Vec::new();
        files(path, &mut fs);
        for f in fs {
            let c = code(&std::fs::read_to_string(&f).unwrap());
            let rel = f.strip_prefix(&src).unwrap().display().to_string();
            for to in crate_paths(&c) {
                if to == *module || matches!(to.as_str(), "self" | "super") {
                    continue;
                }
                let Some(to_layer) = layer_of(&to) else {
                    problems.push(format!("{rel}: crate::{to} is in no layer"));
                    continue;
                };
                let excepted = EXCEPTIONS.iter().any(|&(a, b, _)| a == module && b == to);
                if to_layer > layer && !excepted {
                    problems.push(format!(
                        "{rel}: {module} (layer {}) imports crate::{to} (layer {})",
                        layer + 1,
                        to_layer + 1
                    ));
                }
            }
            if layer == 0 && c.contains("tch::") {
                problems.push(format!("{rel}: {module} must build without libtorch (tch)"));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn cli_sees_the_library_as_lic() {
    let mut fs = Vec::new();
    files(&src().join("cli"), &mut fs);
    files(&src().join("bin"), &mut fs);
    fs.push(src().join("main.rs"));
    for f in fs {
        let c = code(&std::fs::read_to_string(&f).unwrap());
        assert!(
            crate_paths(&c).iter().all(|m| m == "cli"),
            "{}: the CLI uses the library through `lic::` (`crate::` is the binary)",
            f.display()
        );
    }
}

#[test]
fn lib_rs_documents_every_layer() {
    let lib = std::fs::read_to_string(src().join("lib.rs")).unwrap();
    let doc: String = lib
        .lines()
        .filter_map(|l| l.strip_prefix("//!"))
        .collect::<Vec<_>>()
        .join("\n");
    for m in LAYERS.iter().flat_map(|l| l.iter()) {
        assert!(
            doc.contains(&format!("`{m}`")),
            "src/lib.rs's module-graph doc does not name `{m}`"
        );
    }
}
