//! Safe output files: never overwrite an input, never overwrite an existing output without
//! `force`, never leave a half-written file (write to a temporary file beside it, then rename).

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Why an output path was refused or could not be written.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    #[error("{0}: output file exists (use --force to overwrite)")]
    Exists(PathBuf),
    #[error("{0}: output would overwrite the input")]
    IsInput(PathBuf),
    #[error("{path}: the folder {} does not exist", dir.display(), path = path.display())]
    NoFolder { path: PathBuf, dir: PathBuf },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (fs::canonicalize(a), fs::canonicalize(b)) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}

/// The folder `out` will be written in.
fn folder_of(out: &Path) -> PathBuf {
    match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Refuses `out` when it is one of `inputs` (even with `force`), exists and `force` is false, or
/// would go into a folder that does not exist (checked before any work, so that a long run does
/// not fail only at its end).
pub fn check_output(out: &Path, inputs: &[&Path], force: bool) -> Result<(), OutputError> {
    let dir = folder_of(out);
    if !dir.is_dir() {
        return Err(OutputError::NoFolder {
            path: out.to_path_buf(),
            dir,
        });
    }
    if inputs.iter().any(|i| same_file(i, out)) {
        return Err(OutputError::IsInput(out.to_path_buf()));
    }
    if !force && out.symlink_metadata().is_ok() {
        return Err(OutputError::Exists(out.to_path_buf()));
    }
    Ok(())
}

/// Writes `out` atomically: the closure writes into a temporary file in the same directory, which
/// is renamed over `out` only when the closure succeeded and the data is flushed.
pub fn write_atomic_with<E>(
    out: &Path,
    write: impl FnOnce(&mut fs::File) -> Result<(), E>,
) -> Result<(), E>
where
    E: From<OutputError>,
{
    let io_err = |source| OutputError::Io {
        path: out.to_path_buf(),
        source,
    };
    let dir = folder_of(out);
    if !dir.is_dir() {
        return Err(OutputError::NoFolder {
            path: out.to_path_buf(),
            dir,
        }
        .into());
    }
    let mut tmp = tempfile::Builder::new()
        .prefix(".lic-tmp-")
        .tempfile_in(&dir)
        .map_err(io_err)?;
    write(tmp.as_file_mut())?;
    // Temporary files are created 0600; outputs get the usual 0644 (less the umask is not
    // queryable without libc, so 0644 is used as is).
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file()
            .set_permissions(fs::Permissions::from_mode(0o644))
            .map_err(io_err)?;
    }
    tmp.as_file_mut().flush().map_err(io_err)?;
    tmp.as_file().sync_all().map_err(io_err)?;
    tmp.persist(out).map_err(|e| io_err(e.error))?;
    Ok(())
}

/// Writes `bytes` to `out` atomically.
pub fn write_atomic(out: &Path, bytes: &[u8]) -> Result<(), OutputError> {
    write_atomic_with(out, |f| {
        f.write_all(bytes).map_err(|source| OutputError::Io {
            path: out.to_path_buf(),
            source,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_existing_and_input() {
        let d = tempfile::tempdir().unwrap();
        let a = d.path().join("a.bin");
        write_atomic(&a, b"hello").unwrap();
        assert!(matches!(
            check_output(&a, &[], false),
            Err(OutputError::Exists(_))
        ));
        assert!(check_output(&a, &[], true).is_ok());
        assert!(matches!(
            check_output(&a, &[&a], true),
            Err(OutputError::IsInput(_))
        ));
        let b = d.path().join("b.bin");
        assert!(check_output(&b, &[&a], false).is_ok());
        // A missing folder is named before any work, and by the writer too.
        let c = d.path().join("missing").join("c.bin");
        let e = check_output(&c, &[], true).unwrap_err();
        assert!(matches!(e, OutputError::NoFolder { .. }));
        assert!(e.to_string().ends_with("missing does not exist"), "{e}");
        assert!(matches!(
            write_atomic(&c, b"x"),
            Err(OutputError::NoFolder { .. })
        ));
    }

    #[test]
    fn failed_write_leaves_nothing() {
        let d = tempfile::tempdir().unwrap();
        let a = d.path().join("a.bin");
        let r: Result<(), OutputError> = write_atomic_with(&a, |f| {
            f.write_all(b"partial").unwrap();
            Err(OutputError::Exists(PathBuf::from("simulated")))
        });
        assert!(r.is_err());
        assert!(!a.exists());
        assert_eq!(
            fs::read_dir(d.path()).unwrap().count(),
            0,
            "temp file left behind"
        );
    }
}
