//! Where the evaluation sets are: `$LIC_DATASETS/<name>`, then `datasets/<name>` of the source
//! tree (filled by `datasets/fetch.sh`), then `../shared/datasets/<name>` beside it.

use std::path::{Path, PathBuf};

/// The folder of dataset `name` (e.g. "kodak"), or an error saying how to fetch it.
pub fn find(name: &str) -> Result<PathBuf, String> {
    let root = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."));
    let mut candidates = Vec::new();
    if let Some(d) = std::env::var_os("LIC_DATASETS") {
        candidates.push(PathBuf::from(d).join(name));
    }
    candidates.push(PathBuf::from("datasets").join(name));
    candidates.push(root.join("datasets").join(name));
    candidates.push(root.join("../shared/datasets").join(name));
    candidates
        .iter()
        .find(|p| p.is_dir())
        .cloned()
        .ok_or_else(|| {
            format!(
                "dataset `{name}` not found (run datasets/fetch.sh {name}, or set LIC_DATASETS)"
            )
        })
}
