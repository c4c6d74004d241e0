//! `lic batch`: shards that together cover a folder exactly once, resumption with
//! `--skip-existing`, one JSON line per item, and the exit codes for permanent and retryable
//! failures.
use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};

#[path = "../../../tests/common/mod.rs"]
mod common;

fn lic(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_lic"));
    c.args(args).current_dir(dir);
    for k in [
        "SLURM_ARRAY_TASK_ID",
        "SLURM_ARRAY_TASK_COUNT",
        "JOB_COMPLETION_INDEX",
    ] {
        c.env_remove(k);
    }
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

fn lines(o: &Output) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

fn folder(dir: &Path, n: u32) {
    std::fs::create_dir_all(dir.join("in/sub")).unwrap();
    for i in 0..n {
        let sub = if i % 3 == 0 { "in/sub" } else { "in" };
        lic::io::image::save(
            &common::synthetic(40 + i, 30, i),
            &dir.join(format!("{sub}/img{i:02}.png")),
        )
        .unwrap();
    }
}

#[test]
fn shards_cover_the_folder_exactly_once_and_a_rerun_redoes_nothing() {
    let d = tempfile::tempdir().unwrap();
    folder(d.path(), 7);
    let mut coded: BTreeMap<String, usize> = BTreeMap::new();
    for (i, env) in [
        ("0/3", vec![]),
        (
            "",
            vec![
                ("SLURM_ARRAY_TASK_ID", "2"),
                ("SLURM_ARRAY_TASK_COUNT", "3"),
                ("SLURM_ARRAY_TASK_MIN", "1"),
            ],
        ),
        ("2/3", vec![]),
    ] {
        let mut args = vec!["batch", "in", "out", "--skip-existing"];
        if !i.is_empty() {
            args.extend(["--shard", i]);
        }
        let o = lic(d.path(), &args, &env);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        for l in lines(&o) {
            assert_eq!(l["status"], "ok", "{l}");
            assert!(l["bpp"].as_f64().unwrap() > 0.0 && l["psnr"].as_f64().unwrap() > 20.0);
            *coded
                .entry(l["path"].as_str().unwrap().to_string())
                .or_default() += 1;
        }
    }
    assert_eq!(coded.len(), 7, "{coded:?}");
    assert!(coded.values().all(|&n| n == 1), "{coded:?}");
    // Every output decodes; a re-run skips everything and changes nothing.
    let before = std::fs::read(d.path().join("out/sub/img00.lic")).unwrap();
    let img = lic::decode(&before, &Default::default()).unwrap();
    assert_eq!((img.width, img.height), (40, 30));
    let o = lic(d.path(), &["batch", "in", "out", "--skip-existing"], &[]);
    assert!(o.status.success());
    let l = lines(&o);
    assert_eq!(l.len(), 7);
    assert!(l.iter().all(|l| l["status"] == "skipped"));
    assert_eq!(
        std::fs::read(d.path().join("out/sub/img00.lic")).unwrap(),
        before
    );
}

#[test]
fn a_manifest_and_the_exit_codes_of_failures() {
    let d = tempfile::tempdir().unwrap();
    folder(d.path(), 2);
    std::fs::write(d.path().join("in/bad.png"), "not an image").unwrap();
    std::fs::write(
        d.path().join("list.txt"),
        "# items\nin/img01.png\n\nin/bad.png\nin/missing.png\n",
    )
    .unwrap();
    let o = lic(
        d.path(),
        &["batch", "list.txt", "out", "--log", "log.jsonl"],
        &[],
    );
    // A bad image and a missing file: permanent failures.
    assert_eq!(
        o.status.code(),
        Some(65),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let log = std::fs::read_to_string(d.path().join("log.jsonl")).unwrap();
    let recs: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(recs.len(), 3);
    let by = |name: &str| {
        recs.iter()
            .find(|r| r["path"].as_str().unwrap().ends_with(name))
            .unwrap()
    };
    assert_eq!(by("img01.png")["status"], "ok");
    assert!(d.path().join("out/in/img01.lic").is_file());
    for bad in ["bad.png", "missing.png"] {
        assert_eq!(by(bad)["status"], "error");
        assert_eq!(by(bad)["retryable"], false);
    }
    // An output folder that cannot be created (its parent is a file): retryable, exit 75.
    std::fs::write(d.path().join("blocker"), "").unwrap();
    let o = lic(d.path(), &["batch", "in", "blocker/out"], &[]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "the output folder itself: a plain error"
    );
    std::fs::create_dir(d.path().join("out2")).unwrap();
    std::fs::write(d.path().join("out2/sub"), "").unwrap();
    let o = lic(d.path(), &["batch", "in", "out2"], &[]);
    assert_eq!(
        o.status.code(),
        Some(75),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let l = lines(&o);
    // The items under sub/ could not be written (retryable); bad.png is still bad (permanent).
    let sub: Vec<_> = l
        .iter()
        .filter(|r| r["output"].as_str().unwrap().contains("sub/"))
        .collect();
    assert!(!sub.is_empty(), "{l:?}");
    for r in sub {
        assert_eq!(r["status"], "error", "{r}");
        assert_eq!(r["retryable"], true, "{r}");
    }
    // Bad arguments: exit 2.
    let o = lic(d.path(), &["batch", "in", "out3", "--shard", "3/3"], &[]);
    assert_eq!(o.status.code(), Some(2));
    let o = lic(d.path(), &["batch", "in", "out3", "-m", "walloc"], &[]);
    assert_eq!(o.status.code(), Some(2));
}
