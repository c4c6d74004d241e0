//! The evaluation loop: every image of a dataset at every quality, through real files.
//!
//! For each image (sorted by file name) and each quality, in sequence (no parallel work, so the
//! timings stay clean): [`Codec::encode`] into a file in a temporary directory (timed), measure
//! the file size, [`Codec::decode`] (timed), read the reconstruction back and compute PSNR-RGB and
//! MS-SSIM against the source pixels. bpp = file bytes · 8 / (W · H). The per-point values are the
//! means of the per-image values (CompressAI's convention).

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};

use super::codec::{Codec, SourceImage};
use super::results::{cpu_device, git_commit, CodecInfo, ImageRow, RatePoint, RdResults, RunInfo};
use crate::io::image::{load, Image, LoadOptions};
use crate::metrics;
use serde_json::Value;

/// Options of [`evaluate`].
#[derive(Clone, Debug, Default)]
pub struct EvalOptions {
    /// Only the first N images (sorted by name).
    pub limit: Option<usize>,
    /// Only these images (file names, or names without the extension).
    pub images: Option<Vec<String>>,
    /// Show a progress bar on stderr (it hides itself when stderr is not a terminal).
    pub progress: bool,
    /// Device description for the results (default: the CPU model).
    pub device: Option<String>,
    /// Threads the codec may use (for the results; default: rayon's pool size).
    pub threads: Option<usize>,
    /// Rows measured earlier (`lic eval --resume`): they must come from the same codec and
    /// settings, the (image, quality) pairs they hold are not measured again, and the results
    /// hold them next to the new rows. The earlier files' run information is kept in
    /// `earlier_runs`.
    pub resume: Option<RdResults>,
    /// Write the results so far to this file (atomically) after every encode, so that an
    /// interrupted run loses at most the encode in progress.
    pub checkpoint: Option<PathBuf>,
}

/// Qualities closer than this are the same rate point.
const SAME_QUALITY: f64 = 1e-9;

/// The name rows carry for the image at `path` (its file name).
fn image_name(path: &Path) -> String {
    path.file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Checks that `prev` was measured with `codec` at the same settings and returns its rate
/// points and its run information (its own and its earlier runs', oldest first).
fn resumable(prev: &RdResults, codec: &dyn Codec) -> Result<(Vec<RatePoint>, Vec<Value>)> {
    let Some(info) = &prev.codec else {
        bail!("the results to resume carry no codec information (not written by lic eval)");
    };
    if info.id != codec.name() || info.settings != codec.description() {
        bail!(
            "the results to resume were measured with {} ({}), this run is {} ({}); \
             write to another file",
            info.id,
            info.settings,
            codec.name(),
            codec.description()
        );
    }
    if prev.points.is_empty() && !prev.results.bpp.is_empty() {
        bail!("the results to resume have no per-image rows");
    }
    let mut runs = match prev.extra.get(EARLIER_RUNS) {
        Some(Value::Array(a)) => a.clone(),
        _ => Vec::new(),
    };
    if let Some(run) = &prev.run {
        runs.push(serde_json::to_value(run).context("run information")?);
    }
    Ok((prev.points.clone(), runs))
}

/// Key of the run information of resumed files.
pub const EARLIER_RUNS: &str = "earlier_runs";

/// The `*.png` files directly in `dir`, sorted by file name.
pub fn list_images(dir: &Path) -> Result<Vec<PathBuf>> {
    let files = crate::io::image::image_files(dir, &["png"])
        .with_context(|| format!("{}: cannot list dataset", dir.display()))?;
    if files.is_empty() {
        bail!("{}: no PNG files in the dataset directory", dir.display());
    }
    Ok(files)
}

/// Loads a dataset image and returns the PNG a codec should read: the file itself when it
/// decodes to plain 8-bit RGB without conversion, otherwise a normalised copy in `work`.
fn load_source(path: &Path, work: &Path) -> Result<SourceImage> {
    let loaded = load(path, &LoadOptions::default())?;
    let name = image_name(path);
    let mut image = loaded.image;
    let png = if loaded.notices.is_empty() && !image.gray {
        path.to_path_buf()
    } else {
        image.gray = false;
        let p = work.join("source-rgb8.png");
        crate::io::image::save(&image, &p)?;
        p
    };
    image.gray = false;
    Ok(SourceImage { name, png, image })
}

/// The images [`evaluate`] measures: [`list_images`], only those named in
/// [`EvalOptions::images`], cut to [`EvalOptions::limit`].
pub fn dataset_images(dataset: &Path, opts: &EvalOptions) -> Result<Vec<PathBuf>> {
    let mut images = list_images(dataset)?;
    if let Some(names) = &opts.images {
        // `n` names the image at `p` by its file name or its stem.
        let names_it = |p: &Path, n: &str| {
            image_name(p) == n || p.file_stem().is_some_and(|s| s.to_string_lossy() == n)
        };
        if let Some(n) = names
            .iter()
            .find(|n| !images.iter().any(|p| names_it(p, n)))
        {
            bail!("{}: no image {n} in the dataset", dataset.display());
        }
        images.retain(|p| names.iter().any(|n| names_it(p, n)));
    }
    if let Some(n) = opts.limit {
        if n == 0 {
            bail!("--limit must be at least 1");
        }
        images.truncate(n);
    }
    Ok(images)
}

/// Runs `codec` over the dataset at every quality in `qualities` and returns the results (the
/// aggregated curve, per-image rows, codec and run information).
pub fn evaluate(
    dataset: &Path,
    codec: &dyn Codec,
    qualities: &[f64],
    opts: &EvalOptions,
) -> Result<RdResults> {
    evaluate_with(dataset, codec, qualities, opts, &mut |_, _, _| Ok(()))
}

/// [`evaluate`], calling `on_decoded(source, quality_index, decoded)` (untimed) for every decoded
/// image, right after its metrics; images come in name order, each at every quality in turn.
pub fn evaluate_with(
    dataset: &Path,
    codec: &dyn Codec,
    qualities: &[f64],
    opts: &EvalOptions,
    on_decoded: &mut dyn FnMut(&SourceImage, usize, &Image) -> Result<()>,
) -> Result<RdResults> {
    if qualities.is_empty() {
        bail!("no qualities to evaluate");
    }
    for &q in qualities {
        codec.check_quality(q)?;
    }
    codec.check_available()?;
    // Before the first results file is written: a results file inside the source tree would
    // otherwise mark the run's own later writes `-dirty`.
    let commit = git_commit();
    let images = dataset_images(dataset, opts)?;
    let work = tempfile::Builder::new()
        .prefix("lic-eval-")
        .tempdir()
        .context("cannot create a temporary directory")?;
    let bitstream = work
        .path()
        .join(format!("bitstream.{}", codec.bitstream_extension()));
    let decoded = work
        .path()
        .join(format!("decoded.{}", codec.decoded_extension()));

    let pb = if opts.progress {
        crate::progress_bar((images.len() * qualities.len()) as u64, &codec.name())
    } else {
        indicatif::ProgressBar::hidden()
    };
    let (mut points, earlier_runs) = match &opts.resume {
        Some(prev) => resumable(prev, codec)?,
        None => (Vec::new(), Vec::new()),
    };
    // The point of each requested quality (earlier points first, new ones after).
    let slots: Vec<usize> = qualities
        .iter()
        .map(|&q| {
            match points
                .iter()
                .position(|p| (p.quality - q).abs() <= SAME_QUALITY)
            {
                Some(i) => i,
                None => {
                    points.push(RatePoint {
                        quality: q,
                        per_image: Vec::with_capacity(images.len()),
                    });
                    points.len() - 1
                }
            }
        })
        .collect();
    let measured = |points: &[RatePoint], slot: usize, name: &str| {
        points[slot].per_image.iter().any(|r| r.image == name)
    };
    let finish = |points: &[RatePoint]| {
        assemble(
            codec,
            dataset,
            opts,
            &commit,
            points.to_vec(),
            earlier_runs.clone(),
        )
    };
    for path in &images {
        let name = image_name(path);
        // (point, index into `qualities`) of the pairs this image still lacks.
        let mut todo: Vec<(usize, usize)> = Vec::new();
        for (qi, &slot) in slots.iter().enumerate() {
            if !measured(&points, slot, &name) && todo.iter().all(|&(s, _)| s != slot) {
                todo.push((slot, qi));
            }
        }
        pb.inc((qualities.len() - todo.len()) as u64);
        if todo.is_empty() {
            continue;
        }
        let src = load_source(path, work.path())?;
        let input = codec
            .prepare(&src, work.path())
            .with_context(|| format!("{}: preparing the input", path.display()))?;
        for (slot, qi) in todo {
            let q = qualities[qi];
            pb.set_message(format!("{} q={q}", src.name));
            for f in [&bitstream, &decoded] {
                if f.exists() {
                    std::fs::remove_file(f)
                        .with_context(|| format!("{}: cannot remove", f.display()))?;
                }
            }
            let t0 = Instant::now();
            let encoder = codec
                .encode(&input, &bitstream, q)
                .with_context(|| format!("{}: encoding at quality {q}", path.display()))?;
            let encoding_time = t0.elapsed().as_secs_f64();
            let bytes = std::fs::metadata(&bitstream)
                .with_context(|| {
                    format!(
                        "{}: encoder wrote no bitstream at quality {q}",
                        path.display()
                    )
                })?
                .len();
            let t1 = Instant::now();
            codec
                .decode(&bitstream, &decoded)
                .with_context(|| format!("{}: decoding at quality {q}", path.display()))?;
            let decoding_time = t1.elapsed().as_secs_f64();
            let rec = codec.read_decoded(&decoded).with_context(|| {
                format!(
                    "{}: reading the decoded image at quality {q}",
                    path.display()
                )
            })?;
            if (rec.width, rec.height) != (src.image.width, src.image.height) {
                bail!(
                    "{}: decoded image is {}x{}, the source is {}x{} (quality {q})",
                    path.display(),
                    rec.width,
                    rec.height,
                    src.image.width,
                    src.image.height
                );
            }
            let psnr_rgb = metrics::psnr_rgb(&src.image, &rec)
                .with_context(|| format!("{}: metrics", path.display()))?;
            // An image too small for MS-SSIM's five scales is measured without it.
            let ms_ssim = match metrics::ms_ssim(&src.image, &rec) {
                Ok(v) => Some(v),
                Err(metrics::MetricError::TooSmall { .. }) => None,
                Err(e) => {
                    return Err(
                        anyhow::Error::new(e).context(format!("{}: MS-SSIM", path.display()))
                    )
                }
            };
            on_decoded(&src, qi, &rec)?;
            points[slot].per_image.push(ImageRow {
                image: src.name.clone(),
                quality: q,
                bytes,
                bpp: bytes as f64 * 8.0 / src.image.pixels() as f64,
                psnr_rgb,
                ms_ssim,
                encoding_time,
                decoding_time,
                encoder,
            });
            pb.inc(1);
            if let Some(out) = &opts.checkpoint {
                finish(&points)?
                    .write(out)
                    .with_context(|| format!("{}: writing the results so far", out.display()))?;
            }
        }
    }
    pb.finish_and_clear();
    finish(&points)
}

/// The results of `points` (those with rows; when resuming sorted by quality, each point's
/// rows by image name), with the codec's and this run's information.
fn assemble(
    codec: &dyn Codec,
    dataset: &Path,
    opts: &EvalOptions,
    commit: &Option<String>,
    mut points: Vec<RatePoint>,
    earlier_runs: Vec<Value>,
) -> Result<RdResults> {
    points.retain(|p| !p.per_image.is_empty());
    if opts.resume.is_some() {
        // Rows of several runs: in the order a fresh run would give.
        points.sort_by(|a, b| a.quality.total_cmp(&b.quality));
        for p in &mut points {
            p.per_image.sort_by(|a, b| a.image.cmp(&b.image));
        }
    }
    let images = points
        .iter()
        .flat_map(|p| p.per_image.iter().map(|r| r.image.as_str()))
        .collect::<std::collections::BTreeSet<_>>()
        .len();
    let description = format!(
        "{}. Metrics: mean over {} images of per-image PSNR-RGB (MAX=255) and MS-SSIM (RGB, \
         data_range=255); bpp from the bitstream file size; times are per-image wall seconds \
         (measured by lic eval, images in sequence).",
        codec.description(),
        images
    );
    let mut results = RdResults::from_points(&codec.name(), &description, points);
    results.codec = Some(CodecInfo {
        id: codec.name(),
        version: codec.version(),
        hash: codec.hash(),
        settings: codec.description(),
        quality_name: codec.quality_name(),
    });
    results.run = Some(RunInfo {
        git_commit: commit.clone(),
        device: opts.device.clone().unwrap_or_else(cpu_device),
        threads: opts.threads.unwrap_or_else(rayon::current_num_threads),
        dataset: dataset.display().to_string(),
        images,
        unix_time: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
        lic_version: env!("CARGO_PKG_VERSION").to_string(),
    });
    if !earlier_runs.is_empty() {
        results
            .extra
            .insert(EARLIER_RUNS.to_string(), Value::Array(earlier_runs));
    }
    Ok(results)
}
