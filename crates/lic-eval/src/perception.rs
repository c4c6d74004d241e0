//! Machine-perception evaluation: does an ImageNet classifier still see the same thing after a
//! codec? (`lic eval --task classify`.)
//!
//! For every image of a labelled dataset and every rate point, the image goes through the codec
//! with the ordinary evaluation loop ([`super::run::evaluate_with`]: real files, bpp from file
//! sizes, PSNR and MS-SSIM too), and a [`Classify`] model labels both the source and the decoded
//! image. Per rate point:
//!
//! * **agreement**: the share of images whose decoded top-1 class equals the top-1 class of the
//!   uncompressed image (the headline: it needs no labels and does not reward a codec for fixing
//!   the classifier's mistakes);
//! * **top-1 / top-5 accuracy** of the decoded image against the dataset labels;
//! * **KL**: the mean of KL(softmax(source) ‖ softmax(decoded)) in nats;
//! * 95% intervals: Wilson score intervals for the three proportions, the normal approximation
//!   (mean ± 1.96 standard errors, clamped at 0) for the mean KL.
//!
//! The summary gives the bpp at which agreement reaches 0.8 and 0.9, linearly interpolated in bpp
//! between the two measured points around the first crossing.
//!
//! This module has no libtorch dependency; the TorchScript classifier is
//! `lic_torch::eval::classify::TorchClassifier` (engine feature).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use serde::{Deserialize, Serialize};

use super::codec::Codec;
use super::results::{CodecInfo, ImageRow, RunInfo};
use super::run::{dataset_images, evaluate_with, EvalOptions};
use crate::io::image::Image;

/// Agreement levels the summary reports the bpp for.
pub const THRESHOLDS: [f64; 2] = [0.8, 0.9];
/// The labels file every classification dataset has.
pub const LABELS_FILE: &str = "labels.tsv";
/// z for a two-sided 95% interval.
const Z95: f64 = 1.959_963_984_540_054;

/// An image classifier as the evaluation sees it.
pub trait Classify {
    /// Which classifier (name, file, hash) for the results.
    fn info(&self) -> ClassifierInfo;
    /// Class logits of an 8-bit RGB image (the model does its own resizing and cropping).
    fn logits(&self, image: &Image) -> Result<Vec<f32>>;
}

/// Why a labels file was refused.
#[derive(Debug, thiserror::Error)]
pub enum LabelsError {
    #[error(
        "{path}: cannot read the labels file ({source}); a classification dataset needs \
             labels.tsv: a header line, then `file<TAB>class_index[<TAB>...]` per image"
    )]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}:{line}: {reason}")]
    Invalid {
        path: PathBuf,
        line: usize,
        reason: String,
    },
    #[error("{path}: no labels (only a header line?)")]
    Empty { path: PathBuf },
}

/// Parses `labels.tsv` text: a header line, then `file<TAB>class_index[<TAB>anything]` per line.
/// Empty lines are skipped; a file named twice, a missing or non-integer class index is an error.
pub fn parse_labels(text: &str, path: &Path) -> Result<BTreeMap<String, usize>, LabelsError> {
    let invalid = |line: usize, reason: String| LabelsError::Invalid {
        path: path.to_path_buf(),
        line,
        reason,
    };
    let mut labels = BTreeMap::new();
    for (i, line) in text.lines().enumerate().skip(1) {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() {
            continue;
        }
        let mut cols = line.split('\t');
        let file = cols.next().unwrap_or_default().trim();
        let class = cols.next().map(str::trim).unwrap_or_default();
        if file.is_empty() || class.is_empty() {
            return Err(invalid(
                i + 1,
                "expected `file<TAB>class_index`".to_string(),
            ));
        }
        let class: usize = class.parse().map_err(|_| {
            invalid(
                i + 1,
                format!("class index {class:?} is not a whole number"),
            )
        })?;
        if labels.insert(file.to_string(), class).is_some() {
            return Err(invalid(i + 1, format!("{file} is labelled twice")));
        }
    }
    if labels.is_empty() {
        return Err(LabelsError::Empty {
            path: path.to_path_buf(),
        });
    }
    Ok(labels)
}

/// Reads `DIR/labels.tsv` ([`parse_labels`]).
pub fn read_labels(dataset: &Path) -> Result<BTreeMap<String, usize>, LabelsError> {
    let path = dataset.join(LABELS_FILE);
    let text = std::fs::read_to_string(&path).map_err(|source| LabelsError::Read {
        path: path.clone(),
        source,
    })?;
    parse_labels(&text, &path)
}

/// Log-softmax of `logits`, in f64 (stable: shifted by the maximum).
pub fn log_softmax(logits: &[f32]) -> Vec<f64> {
    let max = logits
        .iter()
        .map(|&v| v as f64)
        .fold(f64::NEG_INFINITY, f64::max);
    let sum: f64 = logits.iter().map(|&v| (v as f64 - max).exp()).sum();
    let lse = max + sum.ln();
    logits.iter().map(|&v| v as f64 - lse).collect()
}

/// Indices of the `k` largest values, largest first (ties: lower index first).
pub fn top_k(values: &[f32], k: usize) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..values.len()).collect();
    idx.sort_by(|&a, &b| values[b].total_cmp(&values[a]).then(a.cmp(&b)));
    idx.truncate(k);
    idx
}

/// KL(p ‖ q) in nats from log-probabilities (terms with p = 0 contribute nothing).
pub fn kl_divergence(log_p: &[f64], log_q: &[f64]) -> f64 {
    log_p
        .iter()
        .zip(log_q)
        .map(|(&lp, &lq)| {
            let p = lp.exp();
            if p > 0.0 {
                p * (lp - lq)
            } else {
                0.0
            }
        })
        .sum::<f64>()
        .max(0.0)
}

/// Wilson score interval (95%) for `k` successes out of `n` trials; `[0, 1]` when `n` is 0.
pub fn wilson_interval(k: usize, n: usize) -> [f64; 2] {
    if n == 0 {
        return [0.0, 1.0];
    }
    let n = n as f64;
    let p = k as f64 / n;
    let z2 = Z95 * Z95;
    let denom = 1.0 + z2 / n;
    let centre = (p + z2 / (2.0 * n)) / denom;
    let half = Z95 / denom * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    [(centre - half).max(0.0), (centre + half).min(1.0)]
}

/// Normal-approximation 95% interval of the mean of `values` (mean ± z·s/√n, s the sample
/// standard deviation), with the lower end clamped at `floor`. One value gives `[v, v]`; none
/// gives NaNs.
pub fn mean_interval(values: &[f64], floor: f64) -> [f64; 2] {
    let n = values.len();
    if n == 0 {
        return [f64::NAN, f64::NAN];
    }
    let mean = values.iter().sum::<f64>() / n as f64;
    if n == 1 {
        return [mean, mean];
    }
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
    let half = Z95 * (var / n as f64).sqrt();
    [(mean - half).max(floor), mean + half]
}

/// Where a curve first reaches an agreement level.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Crossing {
    /// The agreement level.
    pub agreement: f64,
    /// The bpp at which it is reached; `None` when no measured point reaches it.
    pub bpp: Option<f64>,
    /// `interpolated`, `at or below the lowest rate measured` (then `bpp` is that rate, an upper
    /// bound) or `not reached`.
    pub how: String,
}

/// The bpp at which `value` first reaches `level`, scanning the points in order of bpp and
/// interpolating linearly in bpp between the last point below and the first point at or above.
pub fn bpp_at(bpp: &[f64], value: &[f64], level: f64) -> Crossing {
    let mut pts: Vec<(f64, f64)> = bpp.iter().copied().zip(value.iter().copied()).collect();
    pts.sort_by(|a, b| a.0.total_cmp(&b.0));
    let crossing = |bpp: Option<f64>, how: &str| Crossing {
        agreement: level,
        bpp,
        how: how.to_string(),
    };
    match pts.iter().position(|p| p.1 >= level) {
        None => crossing(None, "not reached"),
        Some(0) => crossing(Some(pts[0].0), "at or below the lowest rate measured"),
        Some(i) => {
            let ((b0, a0), (b1, a1)) = (pts[i - 1], pts[i]);
            let t = (level - a0) / (a1 - a0);
            crossing(Some(b0 + t * (b1 - b0)), "interpolated")
        }
    }
}

/// Which classifier produced the results.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ClassifierInfo {
    /// e.g. `efficientnet-lite0`.
    pub name: String,
    /// The model file used.
    pub file: String,
    /// SHA-256 of the model file (hex).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// Input convention, in words.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub preprocessing: String,
}

/// The per-rate-point lists (`"results"`). `bpp`, `psnr-rgb`, `ms-ssim` and the times follow the
/// CompressAI layout, so `lic plot` and `lic bdrate` read these files too.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ClassifyMetrics {
    pub quality: Vec<f64>,
    pub bpp: Vec<f64>,
    /// Top-1 agreement with the prediction on the uncompressed image.
    pub agreement: Vec<f64>,
    pub agreement_ci95: Vec<[f64; 2]>,
    /// Top-1 accuracy of the decoded image against the labels.
    pub top1: Vec<f64>,
    pub top1_ci95: Vec<[f64; 2]>,
    /// Top-5 accuracy of the decoded image against the labels.
    pub top5: Vec<f64>,
    pub top5_ci95: Vec<[f64; 2]>,
    /// Mean KL(softmax(source) ‖ softmax(decoded)), nats.
    pub kl: Vec<f64>,
    pub kl_ci95: Vec<[f64; 2]>,
    #[serde(rename = "psnr-rgb")]
    pub psnr_rgb: Vec<f64>,
    #[serde(rename = "ms-ssim")]
    pub ms_ssim: Vec<f64>,
    pub encoding_time: Vec<f64>,
    pub decoding_time: Vec<f64>,
}

/// The classifier on the uncompressed images.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Reference {
    pub images: usize,
    pub top1: f64,
    pub top1_ci95: [f64; 2],
    pub top5: f64,
    pub top5_ci95: [f64; 2],
}

/// One source image: its label and the classifier's prediction on it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct OriginalRow {
    pub image: String,
    pub label: usize,
    pub top5: Vec<usize>,
}

/// One image at one rate point: the RD row plus the classifier's view of the decoded image.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ClassifyRow {
    #[serde(flatten)]
    pub rd: ImageRow,
    /// Top-1 class of the decoded image.
    pub top1: usize,
    /// Same top-1 as the uncompressed image.
    pub agree: bool,
    pub top1_correct: bool,
    pub top5_correct: bool,
    /// KL(softmax(source) ‖ softmax(decoded)), nats.
    pub kl: f64,
}

/// All images at one rate point.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ClassifyPoint {
    pub quality: f64,
    pub per_image: Vec<ClassifyRow>,
}

/// The summary: bpp at which agreement reaches each of [`THRESHOLDS`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub bpp_at_agreement: Vec<Crossing>,
}

/// A `lic eval --task classify` results file.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ClassifyResults {
    pub name: String,
    pub description: String,
    /// Always `classify`.
    pub task: String,
    pub classifier: ClassifierInfo,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub codec: Option<CodecInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<RunInfo>,
    pub reference: Reference,
    pub results: ClassifyMetrics,
    pub summary: Summary,
    pub originals: Vec<OriginalRow>,
    pub points: Vec<ClassifyPoint>,
}

/// Why a classification results file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum ClassifyResultsError {
    #[error("{path}: cannot read: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: not a `lic eval --task classify` results file: {source}")]
    Parse {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("{path}: {reason}")]
    Invalid { path: PathBuf, reason: String },
    #[error(transparent)]
    Output(#[from] crate::io::file::OutputError),
}

impl ClassifyResults {
    /// Reads and checks a results file.
    pub fn read(path: &Path) -> Result<ClassifyResults, ClassifyResultsError> {
        let text = std::fs::read_to_string(path).map_err(|source| ClassifyResultsError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let r: ClassifyResults =
            serde_json::from_str(&text).map_err(|source| ClassifyResultsError::Parse {
                path: path.to_path_buf(),
                source,
            })?;
        r.validate()
            .map_err(|reason| ClassifyResultsError::Invalid {
                path: path.to_path_buf(),
                reason,
            })?;
        Ok(r)
    }

    /// Writes the file atomically (pretty JSON); overwrite checks are the caller's job.
    pub fn write(&self, path: &Path) -> Result<(), ClassifyResultsError> {
        let mut text = serde_json::to_string_pretty(self).expect("results serialise to JSON");
        text.push('\n');
        crate::io::file::write_atomic(path, text.as_bytes())?;
        Ok(())
    }

    /// Checks the task, that the per-point lists are parallel and the proportions lie in [0, 1].
    pub fn validate(&self) -> Result<(), String> {
        if self.task != "classify" {
            return Err(format!("task is {:?}, expected \"classify\"", self.task));
        }
        let r = &self.results;
        let n = r.bpp.len();
        if n == 0 {
            return Err("no rate points".into());
        }
        let lens = [
            ("quality", r.quality.len()),
            ("agreement", r.agreement.len()),
            ("agreement_ci95", r.agreement_ci95.len()),
            ("top1", r.top1.len()),
            ("top5", r.top5.len()),
            ("kl", r.kl.len()),
        ];
        if let Some((k, l)) = lens.iter().find(|(_, l)| *l != n) {
            return Err(format!("results.{k} has {l} entries, bpp has {n}"));
        }
        let prop = |v: f64| (0.0..=1.0).contains(&v);
        if !r.bpp.iter().all(|b| b.is_finite() && *b >= 0.0) {
            return Err("results.bpp holds a negative or non-finite value".into());
        }
        if !r
            .agreement
            .iter()
            .chain(&r.top1)
            .chain(&r.top5)
            .all(|&v| prop(v))
        {
            return Err("an agreement or accuracy lies outside [0, 1]".into());
        }
        Ok(())
    }

    /// Agreement vs bpp with its intervals, for [`super::plot::plot_metric`].
    pub fn agreement_curve(&self, label: impl Into<String>) -> super::plot::MetricCurve {
        super::plot::MetricCurve {
            label: label.into(),
            bpp: self.results.bpp.clone(),
            value: self.results.agreement.clone(),
            interval: self
                .results
                .agreement_ci95
                .iter()
                .map(|c| (c[0], c[1]))
                .collect(),
        }
    }

    /// The codec id (or the results name) for legends.
    pub fn label(&self) -> String {
        self.codec
            .as_ref()
            .map(|c| c.id.clone())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| self.name.clone())
    }
}

/// What the plot of agreement vs bpp shows ([`super::plot::plot_metric`]).
pub fn agreement_plot() -> super::plot::MetricPlot {
    super::plot::MetricPlot {
        caption: "Top-1 agreement with the uncompressed image (95% Wilson intervals)".into(),
        y_desc: "top-1 agreement".into(),
        guides: THRESHOLDS.to_vec(),
        y_range: None,
    }
}

/// The classifier's view of one image.
struct Outputs {
    log_p: Vec<f64>,
    top5: Vec<usize>,
}

impl Outputs {
    fn of(classifier: &dyn Classify, image: &Image, what: &str) -> Result<Outputs> {
        let logits = classifier
            .logits(image)
            .with_context(|| format!("classifying {what}"))?;
        if logits.len() < 5 || logits.iter().any(|v| !v.is_finite()) {
            bail!(
                "classifying {what}: the classifier gave {} logits, or non-finite ones",
                logits.len()
            );
        }
        Ok(Outputs {
            top5: top_k(&logits, 5),
            log_p: log_softmax(&logits),
        })
    }
}

/// One decoded image, classified.
struct Decision {
    image: String,
    top1: usize,
    agree: bool,
    top1_correct: bool,
    top5_correct: bool,
    kl: f64,
}

/// Runs `codec` over the labelled dataset at every quality and classifies the source and every
/// decoded image with `classifier` (see the module documentation).
pub fn evaluate_classify(
    dataset: &Path,
    codec: &dyn Codec,
    qualities: &[f64],
    opts: &EvalOptions,
    classifier: &dyn Classify,
) -> Result<ClassifyResults> {
    let labels = read_labels(dataset)?;
    let images = dataset_images(dataset, opts)?;
    let unlabelled: Vec<String> = images
        .iter()
        .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .filter(|n| !labels.contains_key(n))
        .collect();
    if !unlabelled.is_empty() {
        bail!(
            "{}: no label for {} image(s): {}{}",
            dataset.join(LABELS_FILE).display(),
            unlabelled.len(),
            unlabelled[..unlabelled.len().min(5)].join(", "),
            if unlabelled.len() > 5 { ", ..." } else { "" }
        );
    }

    let mut originals: HashMap<String, Outputs> = HashMap::new();
    let mut order: Vec<OriginalRow> = Vec::new();
    let mut decisions: Vec<Vec<Decision>> = qualities.iter().map(|_| Vec::new()).collect();
    let rd = evaluate_with(dataset, codec, qualities, opts, &mut |src, qi, decoded| {
        let label = *labels
            .get(&src.name)
            .ok_or_else(|| anyhow!("{}: no label", src.name))?;
        if !originals.contains_key(&src.name) {
            let o = Outputs::of(classifier, &src.image, &src.name)?;
            if label >= o.log_p.len() {
                bail!(
                    "{}: class index {label} is out of range (the classifier has {} classes)",
                    src.name,
                    o.log_p.len()
                );
            }
            order.push(OriginalRow {
                image: src.name.clone(),
                label,
                top5: o.top5.clone(),
            });
            originals.insert(src.name.clone(), o);
        }
        let orig = &originals[&src.name];
        let what = format!("{} decoded at quality {}", src.name, qualities[qi]);
        let d = Outputs::of(classifier, decoded, &what)?;
        if d.log_p.len() != orig.log_p.len() {
            bail!("{what}: the classifier changed its number of classes");
        }
        decisions[qi].push(Decision {
            image: src.name.clone(),
            top1: d.top5[0],
            agree: d.top5[0] == orig.top5[0],
            top1_correct: d.top5[0] == label,
            top5_correct: d.top5.contains(&label),
            kl: kl_divergence(&orig.log_p, &d.log_p),
        });
        Ok(())
    })?;

    let mut m = ClassifyMetrics {
        quality: rd.results.quality.clone(),
        bpp: rd.results.bpp.clone(),
        psnr_rgb: rd.results.psnr_rgb.clone(),
        ms_ssim: rd.results.ms_ssim.clone(),
        encoding_time: rd.results.encoding_time.clone(),
        decoding_time: rd.results.decoding_time.clone(),
        ..Default::default()
    };
    let mut points = Vec::with_capacity(rd.points.len());
    for (p, ds) in rd.points.iter().zip(decisions) {
        if p.per_image.len() != ds.len() {
            bail!(
                "internal: {} decoded images but {} classified",
                p.per_image.len(),
                ds.len()
            );
        }
        let n = ds.len();
        let count = |f: fn(&Decision) -> bool| ds.iter().filter(|d| f(d)).count();
        for (v, ci, k) in [
            (&mut m.agreement, &mut m.agreement_ci95, count(|d| d.agree)),
            (&mut m.top1, &mut m.top1_ci95, count(|d| d.top1_correct)),
            (&mut m.top5, &mut m.top5_ci95, count(|d| d.top5_correct)),
        ] {
            v.push(k as f64 / n.max(1) as f64);
            ci.push(wilson_interval(k, n));
        }
        let kls: Vec<f64> = ds.iter().map(|d| d.kl).collect();
        m.kl.push(kls.iter().sum::<f64>() / n.max(1) as f64);
        m.kl_ci95.push(mean_interval(&kls, 0.0));
        let mut per_image = Vec::with_capacity(n);
        for (row, d) in p.per_image.iter().zip(ds) {
            if row.image != d.image {
                bail!("internal: rows out of order ({} vs {})", row.image, d.image);
            }
            per_image.push(ClassifyRow {
                rd: row.clone(),
                top1: d.top1,
                agree: d.agree,
                top1_correct: d.top1_correct,
                top5_correct: d.top5_correct,
                kl: d.kl,
            });
        }
        points.push(ClassifyPoint {
            quality: p.quality,
            per_image,
        });
    }
    let n = order.len();
    let k1 = order.iter().filter(|o| o.top5[0] == o.label).count();
    let k5 = order.iter().filter(|o| o.top5.contains(&o.label)).count();
    let reference = Reference {
        images: n,
        top1: k1 as f64 / n.max(1) as f64,
        top1_ci95: wilson_interval(k1, n),
        top5: k5 as f64 / n.max(1) as f64,
        top5_ci95: wilson_interval(k5, n),
    };
    let summary = Summary {
        bpp_at_agreement: THRESHOLDS
            .iter()
            .map(|&t| bpp_at(&m.bpp, &m.agreement, t))
            .collect(),
    };
    let info = classifier.info();
    let description = format!(
        "{}. Classifier {} on the source and the decoded images ({}). Per rate point over {} \
         images: top-1 agreement with the prediction on the uncompressed image, top-1/top-5 \
         accuracy against {LABELS_FILE}, mean KL(softmax(source) || softmax(decoded)) in nats; 95% \
         intervals: Wilson score (proportions), normal approximation of the mean (KL); bpp from the bitstream file size.",
        codec.description(),
        info.name,
        info.preprocessing,
        n
    );
    Ok(ClassifyResults {
        name: rd.name.clone(),
        description,
        task: "classify".to_string(),
        classifier: info,
        codec: rd.codec.clone(),
        run: rd.run.clone(),
        reference,
        results: m,
        summary,
        originals: order,
        points,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_parse_and_refuse_bad_lines() {
        let p = Path::new("labels.tsv");
        let l = parse_labels("file\tclass_index\twnid\na.png\t3\tn1\n\nb.png\t999\r\n", p).unwrap();
        assert_eq!(l.len(), 2);
        assert_eq!(l["a.png"], 3);
        assert_eq!(l["b.png"], 999);
        let e = parse_labels("h\na.png\tx\n", p).unwrap_err().to_string();
        assert!(e.contains("labels.tsv:2") && e.contains("\"x\""), "{e}");
        assert!(parse_labels("h\na.png\n", p).is_err());
        assert!(parse_labels("h\na.png\t1\na.png\t2\n", p)
            .unwrap_err()
            .to_string()
            .contains("twice"));
        assert!(matches!(
            parse_labels("h\n", p),
            Err(LabelsError::Empty { .. })
        ));
        let d = tempfile::tempdir().unwrap();
        let e = read_labels(d.path()).unwrap_err().to_string();
        assert!(e.contains("labels.tsv") && e.contains("class_index"), "{e}");
    }

    #[test]
    fn softmax_top_k_and_kl() {
        let l = [1.0f32, 3.0, 2.0, 3.0, -1.0, 0.5];
        let lp = log_softmax(&l);
        let total: f64 = lp.iter().map(|v| v.exp()).sum();
        assert!((total - 1.0).abs() < 1e-12);
        assert_eq!(top_k(&l, 3), vec![1, 3, 2]);
        assert_eq!(top_k(&l, 10).len(), 6);
        assert_eq!(kl_divergence(&lp, &lp), 0.0);
        // KL of two Bernoulli distributions, by hand: p = (0.5, 0.5), q = (0.25, 0.75).
        let p = [0.5f64.ln(), 0.5f64.ln()];
        let q = [0.25f64.ln(), 0.75f64.ln()];
        let want = 0.5 * (0.5f64 / 0.25).ln() + 0.5 * (0.5f64 / 0.75).ln();
        assert!((kl_divergence(&p, &q) - want).abs() < 1e-12);
        // Large logits stay finite.
        assert!(log_softmax(&[1000.0, 0.0]).iter().all(|v| v.is_finite()));
    }

    #[test]
    fn wilson_matches_known_values() {
        // 81 of 100: the Wilson 95% interval is [0.7222, 0.8749] (standard tables).
        let [lo, hi] = wilson_interval(81, 100);
        assert!(
            (lo - 0.7222).abs() < 1e-4 && (hi - 0.8749).abs() < 1e-4,
            "{lo} {hi}"
        );
        let [lo, hi] = wilson_interval(10, 10);
        assert!(
            (hi - 1.0).abs() < 1e-12 && (lo - 0.7225).abs() < 1e-4,
            "{lo}"
        );
        let [lo, _] = wilson_interval(0, 10);
        assert_eq!(lo, 0.0);
        assert_eq!(wilson_interval(0, 0), [0.0, 1.0]);
    }

    #[test]
    fn mean_interval_by_hand() {
        // Values 1..=5: mean 3, s = sqrt(2.5), half-width 1.96 * sqrt(2.5 / 5).
        let [lo, hi] = mean_interval(&[1.0, 2.0, 3.0, 4.0, 5.0], f64::NEG_INFINITY);
        let half = Z95 * 0.5f64.sqrt();
        assert!((lo - (3.0 - half)).abs() < 1e-12 && (hi - (3.0 + half)).abs() < 1e-12);
        // Clamped at the floor: KL is never negative.
        let [lo, hi] = mean_interval(&[0.0, 0.0, 0.0, 1.0], 0.0);
        assert_eq!(lo, 0.0);
        assert!(hi > 0.25);
        assert_eq!(mean_interval(&[0.3], 0.0), [0.3, 0.3]);
        assert!(mean_interval(&[], 0.0)[0].is_nan());
    }

    #[test]
    fn crossing_interpolates_in_bpp() {
        let bpp = [0.2, 0.5, 1.0, 2.0];
        let agr = [0.6, 0.75, 0.85, 0.95];
        let c = bpp_at(&bpp, &agr, 0.8);
        assert_eq!(c.how, "interpolated");
        assert!((c.bpp.unwrap() - 0.75).abs() < 1e-12);
        assert!((bpp_at(&bpp, &agr, 0.9).bpp.unwrap() - 1.5).abs() < 1e-12);
        // Unsorted input, reached at the lowest point, never reached.
        let c = bpp_at(&[1.0, 0.1], &[0.99, 0.95], 0.9);
        assert_eq!(
            (c.bpp, c.how.as_str()),
            (Some(0.1), "at or below the lowest rate measured")
        );
        let c = bpp_at(&bpp, &agr, 0.99);
        assert_eq!((c.bpp, c.how.as_str()), (None, "not reached"));
        // Non-monotone: the first crossing counts.
        let c = bpp_at(&[0.1, 0.2, 0.3], &[0.7, 0.9, 0.7], 0.8);
        assert!((c.bpp.unwrap() - 0.15).abs() < 1e-12);
    }

    #[test]
    fn results_validate_and_round_trip() {
        let mut r = ClassifyResults {
            name: "jpeg420".into(),
            task: "classify".into(),
            results: ClassifyMetrics {
                quality: vec![10.0, 90.0],
                bpp: vec![0.3, 2.0],
                agreement: vec![0.5, 1.0],
                agreement_ci95: vec![[0.2, 0.8], [0.7, 1.0]],
                top1: vec![0.5, 1.0],
                top5: vec![1.0, 1.0],
                kl: vec![0.4, 0.01],
                ..Default::default()
            },
            ..Default::default()
        };
        assert!(r.validate().is_ok());
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("c.json");
        r.write(&p).unwrap();
        assert_eq!(ClassifyResults::read(&p).unwrap(), r);
        // The CompressAI reader takes it too (bpp list).
        let rd = super::super::results::RdResults::read(&p).unwrap();
        assert_eq!(rd.results.bpp, vec![0.3, 2.0]);
        let c = r.agreement_curve("x");
        assert_eq!(c.interval, vec![(0.2, 0.8), (0.7, 1.0)]);
        r.results.top1[0] = 1.5;
        assert!(r.validate().is_err());
        r.results.top1[0] = 0.5;
        r.results.kl.pop();
        assert!(r.validate().unwrap_err().contains("kl"));
        r.task = "rd".into();
        assert!(r.validate().is_err());
    }
}
