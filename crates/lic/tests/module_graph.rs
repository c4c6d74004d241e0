//! The workspace's graph goes one way, at two levels.
//!
//! Crates: Cargo enforces that no crate depends on one that depends on it; this test holds the
//! allowed edges and the dependencies each crate must not have (the core and the `lic` binary
//! never see libtorch, FFmpeg or the CLI's crates), read from the `Cargo.toml` files.
//!
//! Modules: inside the core (`crates/lic/src`) and the libtorch crate (`crates/lic-torch/src`),
//! every `crate::<module>` path in the code of a module (a file or a folder; comments are
//! skipped, `use crate::{a, b}` groups count each name) must name a module of the same layer or
//! a lower one. The tables are those of the crates' `lib.rs` doc comments.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The core's layers from the bottom up. A module may import from its own layer and the layers
/// below.
const CORE_LAYERS: &[&[&str]] = &[
    &[
        "format", "coder", "io", "metrics", "util", "datasets", "video",
    ],
    &["family"],
    &["dwt", "overfit"],
    &["mcw"],
    &["registry"],
];

/// The libtorch crate's layers; its first layer is the core's modules it re-exports.
const TORCH_LAYERS: &[&[&str]] = &[
    &[
        "coder", "datasets", "dwt", "family", "format", "io", "mcw", "metrics", "overfit",
        "registry", "util",
    ],
    &["nn"],
    &["transforms", "entropy"],
    &["zoo"],
    &["codec"],
    &["video"],
    &["eval", "train"],
];

/// Each workspace crate: the workspace crates it may depend on, and crates it must not depend on.
const CRATES: &[(&str, &[&str], &[&str])] = &[
    (
        "lic",
        &[],
        &[
            "tch",
            "torch-sys",
            "ffmpeg-next",
            "clap",
            "anyhow",
            "indicatif",
            "plotters",
        ],
    ),
    (
        "lic-eval",
        &["lic"],
        &["tch", "torch-sys", "ffmpeg-next", "clap"],
    ),
    ("lic-video-io", &["lic"], &["tch", "torch-sys", "clap"]),
    (
        "lic-wasm",
        &["lic"],
        &["tch", "torch-sys", "ffmpeg-next", "clap", "anyhow"],
    ),
    (
        "lic-python",
        &["lic"],
        &["tch", "torch-sys", "ffmpeg-next", "clap", "anyhow"],
    ),
    ("lic-torch", &["lic", "lic-eval", "lic-video-io"], &["clap"]),
    (
        "lic-cli",
        &["lic", "lic-eval"],
        &["tch", "torch-sys", "ffmpeg-next"],
    ),
    (
        "lic-torch-cli",
        &["lic", "lic-eval", "lic-video-io", "lic-torch", "lic-cli"],
        &[],
    ),
];

/// Known violations, each `(from, to, why)`. Keep this empty: fix the import instead.
const EXCEPTIONS: &[(&str, &str, &str)] = &[];

fn root() -> PathBuf {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../..")).to_path_buf()
}

fn layer_of(layers: &[&[&str]], module: &str) -> Option<usize> {
    layers.iter().position(|l| l.contains(&module))
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

/// Problems of one crate's module graph.
fn check_layers(crate_dir: &str, layers: &[&[&str]]) -> Vec<String> {
    let src = root().join(crate_dir).join("src");
    let mut modules = BTreeMap::new();
    for e in std::fs::read_dir(&src).unwrap() {
        let path = e.unwrap().path();
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        if matches!(name.as_str(), "lib" | "main") || name.starts_with('.') {
            continue;
        }
        if path.is_dir() || path.extension().is_some_and(|e| e == "rs") {
            modules.insert(name, path);
        }
    }
    let mut problems = Vec::new();
    for (module, path) in &modules {
        let Some(layer) = layer_of(layers, module) else {
            problems.push(format!(
                "{crate_dir}/src/{module} is in no layer: add it to the table here and to lib.rs's doc"
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
                let Some(to_layer) = layer_of(layers, &to) else {
                    problems.push(format!("{crate_dir}: {rel}: crate::{to} is in no layer"));
                    continue;
                };
                let excepted = EXCEPTIONS.iter().any(|&(a, b, _)| a == module && b == to);
                if to_layer > layer && !excepted {
                    problems.push(format!(
                        "{crate_dir}: {rel}: {module} (layer {}) imports crate::{to} (layer {})",
                        layer + 1,
                        to_layer + 1
                    ));
                }
            }
        }
    }
    let lib = std::fs::read_to_string(src.join("lib.rs")).unwrap();
    let doc: String = lib
        .lines()
        .filter_map(|l| l.strip_prefix("//!"))
        .collect::<Vec<_>>()
        .join("\n");
    for m in layers
        .iter()
        .skip(usize::from(crate_dir.ends_with("lic-torch")))
        .flat_map(|l| l.iter())
    {
        if !doc.contains(&format!("`{m}`")) {
            problems.push(format!(
                "{crate_dir}/src/lib.rs's module-graph doc does not name `{m}`"
            ));
        }
    }
    problems
}

#[test]
fn no_module_imports_from_a_layer_above() {
    let mut problems = check_layers("crates/lic", CORE_LAYERS);
    problems.extend(check_layers("crates/lic-torch", TORCH_LAYERS));
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The `[dependencies]` names of a `Cargo.toml` (the dependency's key, and its `package` if
/// renamed).
fn dependencies(manifest: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut in_deps = false;
    for line in manifest.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_deps = line == "[dependencies]";
            continue;
        }
        if !in_deps || line.starts_with('#') || line.is_empty() {
            continue;
        }
        let key = line
            .split(['=', '.'])
            .next()
            .unwrap_or("")
            .trim()
            .to_string();
        if let Some(p) = line.split("package = \"").nth(1) {
            out.push(p.split('"').next().unwrap_or("").to_string());
        } else {
            out.push(key);
        }
    }
    out
}

#[test]
fn crates_depend_only_downwards_and_the_core_knows_no_libtorch() {
    let mut problems = Vec::new();
    let names: Vec<&str> = CRATES.iter().map(|c| c.0).collect();
    for dir in std::fs::read_dir(root().join("crates")).unwrap() {
        let dir = dir.unwrap().path();
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        if !names.contains(&name.as_str()) {
            problems.push(format!(
                "crates/{name} is not in CRATES: add it with its allowed edges"
            ));
        }
    }
    for (name, allowed, forbidden) in CRATES {
        let manifest =
            std::fs::read_to_string(root().join("crates").join(name).join("Cargo.toml")).unwrap();
        for d in dependencies(&manifest) {
            if names.contains(&d.as_str()) && !allowed.contains(&d.as_str()) {
                problems.push(format!("{name} depends on {d}, which is not below it"));
            }
            if forbidden.contains(&d.as_str()) {
                problems.push(format!("{name} must not depend on {d}"));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_dependency_reader_reads_keys_and_renames() {
    let m = "[package]\nname = \"x\"\n[dependencies]\nlic.workspace = true\n# c\ntch = \"0.24\"\n\
             lic2 = { package = \"lic-torch\", path = \"..\" }\n[dev-dependencies]\nclap = \"4\"\n";
    assert_eq!(dependencies(m), ["lic", "tch", "lic-torch"]);
}
