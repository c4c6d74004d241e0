//! `lic batch IN OUTDIR`: transcode a folder or a manifest of images, one `.lic` per item, for
//! jobs that are killed, retried and sharded (Slurm arrays, Kubernetes indexed jobs).
//!
//! Each output is written atomically, so an output that exists is complete: `--skip-existing`
//! makes a re-run redo nothing and lose nothing. One JSON line per item goes to standard output
//! (or `--log FILE`, appended). Exit codes: 0 every item coded or skipped; 2 bad arguments;
//! [`EXIT_PERMANENT`] some item cannot be coded (a bad image: retrying will not help);
//! [`EXIT_RETRYABLE`] some item failed in a way a retry may fix (I/O: a full disk, a vanished
//! file system), which wins over a permanent failure.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

use anyhow::Context;
use rayon::prelude::*;
use serde::Serialize;

use lic::family::{check_options, encode_target, Control, EncodeOptions, ImageFamily, Target};

use super::common::EffortArg;
use crate::{BadArgs, Global};

/// Exit code when some item failed for good (`EX_DATAERR`).
pub const EXIT_PERMANENT: u8 = 65;
/// Exit code when some item failed in a way a retry may fix (`EX_TEMPFAIL`).
pub const EXIT_RETRYABLE: u8 = 75;

const EXAMPLES: &str = "\
Examples:
  lic batch photos/ out/ --quality 6                     # every image under photos/ -> out/**/*.lic
  lic batch list.txt out/ --skip-existing --log out/log.jsonl   # a manifest: one path per line
  lic batch photos/ out/ --shard 3/16 --skip-existing    # the 4th of 16 shards (item k: k mod 16 = 3)
  sbatch --array=0-15 --wrap 'lic batch photos/ out/ --skip-existing'   # shard from SLURM_ARRAY_*
Items are the images under IN (sorted, recursively) or the lines of a manifest (paths relative to
the manifest's folder; blank lines and # comments skipped); each is written to OUTDIR with its
relative path and the extension .lic. Exit codes: 0 all done, 2 bad arguments, 65 some item
failed for good (bad image), 75 some item failed in a way a retry may fix (I/O).";

/// Transcode a folder or a manifest of images into `.lic` files (sharded, resumable).
#[derive(clap::Args, Debug)]
#[command(after_help = EXAMPLES)]
pub struct Args {
    /// A folder of images or a manifest file (one image path per line).
    pub input: PathBuf,
    /// Output folder.
    pub output: PathBuf,
    /// Model: lic-dwt (dwt, the default) or lic-overfit (overfit).
    #[arg(long, short = 'm', default_value = lic::dwt::MODEL_ID)]
    pub model: String,
    /// Quality in the model's range (default: the model's).
    #[arg(long, short = 'q', conflicts_with_all = ["bpp", "psnr"])]
    pub quality: Option<f64>,
    /// Target bits per pixel of each image.
    #[arg(long, conflicts_with = "psnr")]
    pub bpp: Option<f64>,
    /// Target PSNR of each image, dB.
    #[arg(long)]
    pub psnr: Option<f64>,
    /// `--model overfit`: fitting effort.
    #[arg(long, value_enum, default_value = "default")]
    pub effort: EffortArg,
    /// `--model overfit`: fitting time limit per image, seconds.
    #[arg(long, value_name = "S")]
    pub time_limit: Option<f64>,
    /// This job's shard `i/N` (0-based): item k is coded when k mod N = i. Default: from
    /// SLURM_ARRAY_TASK_ID / SLURM_ARRAY_TASK_COUNT, or JOB_COMPLETION_INDEX / LIC_SHARD_COUNT,
    /// else 0/1.
    #[arg(long, value_name = "i/N", value_parser = parse_shard)]
    pub shard: Option<(usize, usize)>,
    /// Skip items whose output exists (outputs are written atomically, so they are complete).
    #[arg(long, conflicts_with = "force")]
    pub skip_existing: bool,
    /// Overwrite existing outputs.
    #[arg(long)]
    pub force: bool,
    /// Append the JSON lines to this file instead of standard output.
    #[arg(long, value_name = "FILE.jsonl")]
    pub log: Option<PathBuf>,
    /// Items coded at once (default: 1; each encode uses the codec's own threads).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=256))]
    pub jobs: u32,
}

fn parse_shard(s: &str) -> Result<(usize, usize), String> {
    let (i, n) = s
        .split_once('/')
        .ok_or_else(|| format!("{s:?} is not i/N"))?;
    let i: usize = i.trim().parse().map_err(|_| format!("{s:?}: bad index"))?;
    let n: usize = n.trim().parse().map_err(|_| format!("{s:?}: bad count"))?;
    if n == 0 || i >= n {
        return Err(format!("{s:?}: need 0 <= i < N"));
    }
    Ok((i, n))
}

/// The shard from the environment of an array job, if any.
pub fn shard_from_env(
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<(usize, usize)>, String> {
    let num = |k: &str| -> Result<Option<usize>, String> {
        env(k)
            .map(|v| {
                v.trim()
                    .parse()
                    .map_err(|_| format!("{k}={v:?} is not a number"))
            })
            .transpose()
    };
    if let (Some(id), Some(count)) = (num("SLURM_ARRAY_TASK_ID")?, num("SLURM_ARRAY_TASK_COUNT")?) {
        // Array indices may start above 0 (--array=1-16).
        let min = num("SLURM_ARRAY_TASK_MIN")?.unwrap_or(0);
        let i = id
            .checked_sub(min)
            .ok_or("SLURM_ARRAY_TASK_ID below SLURM_ARRAY_TASK_MIN")?;
        return parse_shard(&format!("{i}/{count}")).map(Some);
    }
    if let Some(i) = num("JOB_COMPLETION_INDEX")? {
        let n = num("LIC_SHARD_COUNT")?.ok_or(
            "JOB_COMPLETION_INDEX is set: set LIC_SHARD_COUNT (the job's completions) too",
        )?;
        return parse_shard(&format!("{i}/{n}")).map(Some);
    }
    Ok(None)
}

/// The items of a folder (images, recursively, sorted) or a manifest, with their output paths
/// relative to the output folder.
pub fn items(input: &Path) -> anyhow::Result<Vec<(PathBuf, PathBuf)>> {
    if input.is_dir() {
        let mut files = Vec::new();
        collect_images(input, &mut files)?;
        files.sort();
        return Ok(files
            .into_iter()
            .map(|f| {
                let rel = f.strip_prefix(input).unwrap_or(&f).with_extension("lic");
                (f, rel)
            })
            .collect());
    }
    let text = std::fs::read_to_string(input)
        .with_context(|| format!("{}: cannot read the manifest", input.display()))?;
    let base = input.parent().unwrap_or(Path::new("."));
    let mut out = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let p = Path::new(line);
        let rel: PathBuf = p
            .components()
            .filter(|c| matches!(c, std::path::Component::Normal(_)))
            .collect();
        out.push((base.join(p), rel.with_extension("lic")));
    }
    Ok(out)
}

fn collect_images(dir: &Path, out: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    for e in std::fs::read_dir(dir).with_context(|| format!("{}: cannot list", dir.display()))? {
        let p = e?.path();
        if p.is_dir() {
            collect_images(&p, out)?;
        } else if p.extension().and_then(|x| x.to_str()).is_some_and(|x| {
            lic::io::image::EXTENSIONS
                .iter()
                .any(|k| x.eq_ignore_ascii_case(k))
        }) {
            out.push(p);
        }
    }
    Ok(())
}

/// One JSON line.
#[derive(Serialize, Debug, Default)]
pub struct Record {
    /// The input.
    pub path: String,
    /// The output.
    pub output: String,
    /// `ok`, `skipped` or `error`.
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bpp: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub psnr: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quality: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seconds: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// For errors: whether a retry may succeed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retryable: Option<bool>,
}

/// Whether an item's error is worth retrying. What is wrong with the item itself (not an image,
/// too large, a missing input, an option or target the codec refuses) is permanent; failures of
/// the environment (reading or writing files, creating folders) are retryable.
fn retryable(e: &anyhow::Error) -> bool {
    use lic::io::image::ImageIoError;
    for c in e.chain() {
        if let Some(img) = c.downcast_ref::<ImageIoError>() {
            return match img {
                ImageIoError::Read { source, .. } => source.kind() != std::io::ErrorKind::NotFound,
                ImageIoError::Output(_) => true,
                _ => false,
            };
        }
        if c.downcast_ref::<lic::Error>().is_some() {
            return false;
        }
    }
    true
}

fn code_item(
    family: &dyn ImageFamily,
    opts: &EncodeOptions,
    target: Option<Target>,
    input: &Path,
    output: &Path,
) -> anyhow::Result<Record> {
    let t = Instant::now();
    let img = lic::io::image::load(input, &Default::default())?.image;
    let enc = match target {
        Some(t) => encode_target(family, &img, opts, t, &mut |_| Control::Continue)?.encoded,
        None => family.encode(&img, opts, &mut |_| Control::Continue)?,
    };
    if let Some(dir) = output.parent() {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("{}: cannot create", dir.display()))?;
    }
    lic::io::file::write_atomic(output, &enc.bytes)?;
    Ok(Record {
        status: "ok",
        bytes: Some(enc.bytes.len() as u64),
        bpp: Some(enc.bytes.len() as f64 * 8.0 / img.pixels() as f64),
        psnr: Some(lic::metrics::psnr_rgb(&img, &enc.reconstruction)?),
        quality: Some(enc.quality),
        seconds: Some(t.elapsed().as_secs_f64()),
        ..Default::default()
    })
}

pub fn run(args: Args, _global: &Global) -> anyhow::Result<u8> {
    let family = lic::registry::by_name(&args.model).ok_or_else(|| {
        BadArgs(format!(
            "lic batch codes the libtorch-free models (lic-dwt, lic-overfit), not {}",
            args.model
        ))
    })?;
    let mut opts = EncodeOptions::default();
    opts.quality = args.quality;
    opts.effort = args.effort.into();
    opts.time_limit = args.time_limit;
    check_options(family, &opts).map_err(|e| BadArgs(e.to_string()))?;
    let target = super::encode::rate_target(args.bpp, args.psnr)?;
    let (shard, of) = match args.shard {
        Some(s) => s,
        None => shard_from_env(&|k| std::env::var(k).ok())
            .map_err(BadArgs)?
            .unwrap_or((0, 1)),
    };
    let all = items(&args.input)?;
    let mine: Vec<_> = all
        .into_iter()
        .enumerate()
        .filter(|(k, _)| k % of == shard)
        .map(|(_, it)| it)
        .collect();
    std::fs::create_dir_all(&args.output)
        .with_context(|| format!("{}: cannot create", args.output.display()))?;
    let sink: Mutex<Box<dyn Write + Send>> = Mutex::new(match &args.log {
        Some(p) => Box::new(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)
                .with_context(|| format!("{}: cannot open the log", p.display()))?,
        ),
        None => Box::new(std::io::stdout()),
    });
    let failures = Mutex::new((0usize, 0usize)); // (permanent, retryable)
    let work = |(input, rel): &(PathBuf, PathBuf)| -> anyhow::Result<()> {
        let output = args.output.join(rel);
        let mut rec = if output.exists() && args.skip_existing {
            Record {
                status: "skipped",
                ..Default::default()
            }
        } else if output.exists() && !args.force {
            let e = anyhow::anyhow!(
                "{} exists (use --skip-existing or --force)",
                output.display()
            );
            failures.lock().expect("lock").0 += 1;
            Record {
                status: "error",
                error: Some(format!("{e}")),
                retryable: Some(false),
                ..Default::default()
            }
        } else {
            match code_item(family, &opts, target, input, &output) {
                Ok(r) => r,
                Err(e) => {
                    let again = retryable(&e);
                    let mut f = failures.lock().expect("lock");
                    if again {
                        f.1 += 1;
                    } else {
                        f.0 += 1;
                    }
                    Record {
                        status: "error",
                        error: Some(super::common::chain(&e)),
                        retryable: Some(again),
                        ..Default::default()
                    }
                }
            }
        };
        rec.path = input.display().to_string();
        rec.output = output.display().to_string();
        let line = serde_json::to_string(&rec)?;
        let mut w = sink.lock().expect("lock");
        writeln!(w, "{line}")
            .and_then(|()| w.flush())
            .context("writing the JSON line")?;
        Ok(())
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(args.jobs as usize)
        .build()
        .context("starting the worker pool")?;
    pool.install(|| mine.par_iter().try_for_each(work))?;
    let (permanent, again) = *failures.lock().expect("lock");
    eprintln!(
        "lic batch: shard {shard}/{of}: {} items, {permanent} failed for good, {again} may succeed on a retry",
        mine.len()
    );
    Ok(if again > 0 {
        EXIT_RETRYABLE
    } else if permanent > 0 {
        EXIT_PERMANENT
    } else {
        0
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_parse_and_come_from_array_jobs() {
        assert_eq!(parse_shard("3/16"), Ok((3, 16)));
        assert!(parse_shard("16/16").is_err() && parse_shard("1/0").is_err());
        let env = |vars: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                vars.iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        let slurm = env(&[
            ("SLURM_ARRAY_TASK_ID", "5"),
            ("SLURM_ARRAY_TASK_COUNT", "8"),
            ("SLURM_ARRAY_TASK_MIN", "1"),
        ]);
        assert_eq!(shard_from_env(&slurm), Ok(Some((4, 8))));
        let k8s = env(&[("JOB_COMPLETION_INDEX", "2"), ("LIC_SHARD_COUNT", "3")]);
        assert_eq!(shard_from_env(&k8s), Ok(Some((2, 3))));
        assert!(shard_from_env(&env(&[("JOB_COMPLETION_INDEX", "2")])).is_err());
        assert_eq!(shard_from_env(&env(&[])), Ok(None));
    }
}
