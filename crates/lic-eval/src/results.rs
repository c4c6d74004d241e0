//! Rate–distortion results in CompressAI's JSON format, read leniently and written extended.
//!
//! CompressAI's format (what `compressai.utils.eval_model` and the published curves use):
//!
//! ```json
//! {"name": "...", "description": "...",
//!  "results": {"bpp": [...], "psnr-rgb": [...], "ms-ssim": [...],
//!              "encoding_time": [...], "decoding_time": [...]}}
//! ```
//!
//! Every list is parallel: one entry per rate point. Reading tolerates:
//! * `"psnr"` instead of `"psnr-rgb"`;
//! * `"ms-ssim-rgb"` instead of (or next to) `"ms-ssim"`, and `"ms-ssim-db-rgb"`
//!   (`-10 log10(1 - MS-SSIM)`, used by papers) which is converted back to linear MS-SSIM;
//! * missing lists (empty) and any extra fields, which are kept and written back unchanged.
//!
//! Files written by lic keep the same top-level layout (any CompressAI reader can plot them) and add:
//! `results.quality` (the codec parameter of each point), `results.ms-ssim-rgb` (a copy of
//! `ms-ssim` for newer CompressAI readers), `codec` (id, version, hash, settings), `run` (git
//! commit, device, threads, dataset, time) and `points` (per-image rows for every rate point).

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

/// The per-rate-point lists (`"results"`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RdMetrics {
    /// Bits per pixel (mean over images).
    pub bpp: Vec<f64>,
    /// PSNR-RGB in dB (mean of per-image PSNR).
    pub psnr_rgb: Vec<f64>,
    /// Linear MS-SSIM on RGB (mean of per-image MS-SSIM).
    pub ms_ssim: Vec<f64>,
    /// Mean encoding wall time per image, seconds.
    pub encoding_time: Vec<f64>,
    /// Mean decoding wall time per image, seconds.
    pub decoding_time: Vec<f64>,
    /// The codec parameter of each point (quality, QP, distance, model index...), when known.
    pub quality: Vec<f64>,
    /// Every other list or value found in the file, kept verbatim.
    pub extra: BTreeMap<String, Value>,
}

const KNOWN: [&str; 9] = [
    "bpp",
    "psnr-rgb",
    "psnr",
    "ms-ssim",
    "ms-ssim-rgb",
    "ms-ssim-db-rgb",
    "encoding_time",
    "decoding_time",
    "quality",
];

fn number_list(key: &str, v: &Value) -> Result<Vec<f64>, String> {
    let arr = v
        .as_array()
        .ok_or_else(|| format!("results.{key}: expected a list of numbers"))?;
    arr.iter()
        .enumerate()
        .map(|(i, x)| {
            x.as_f64()
                .ok_or_else(|| format!("results.{key}[{i}]: expected a number, found {x}"))
        })
        .collect()
}

impl<'de> Deserialize<'de> for RdMetrics {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let mut map = BTreeMap::<String, Value>::deserialize(d)?;
        let take = |keys: &[&str]| -> Result<Option<Vec<f64>>, D::Error> {
            for k in keys {
                if let Some(v) = map.get(*k) {
                    return number_list(k, v).map(Some).map_err(D::Error::custom);
                }
            }
            Ok(None)
        };
        let bpp = take(&["bpp"])?.unwrap_or_default();
        let psnr_rgb = take(&["psnr-rgb", "psnr"])?.unwrap_or_default();
        let ms_ssim = match take(&["ms-ssim", "ms-ssim-rgb"])? {
            Some(v) => v,
            None => take(&["ms-ssim-db-rgb"])?
                .unwrap_or_default()
                .into_iter()
                .map(|db| 1.0 - 10f64.powf(-db / 10.0))
                .collect(),
        };
        let encoding_time = take(&["encoding_time"])?.unwrap_or_default();
        let decoding_time = take(&["decoding_time"])?.unwrap_or_default();
        let quality = take(&["quality"])?.unwrap_or_default();
        for k in KNOWN {
            map.remove(k);
        }
        Ok(RdMetrics {
            bpp,
            psnr_rgb,
            ms_ssim,
            encoding_time,
            decoding_time,
            quality,
            extra: map,
        })
    }
}

impl Serialize for RdMetrics {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = serde_json::Map::new();
        let mut put = |k: &str, v: &Vec<f64>| {
            if !v.is_empty() && v.iter().all(|x| x.is_finite()) {
                map.insert(k.to_string(), Value::from(v.clone()));
            }
        };
        put("bpp", &self.bpp);
        put("psnr-rgb", &self.psnr_rgb);
        put("ms-ssim", &self.ms_ssim);
        put("ms-ssim-rgb", &self.ms_ssim);
        put("encoding_time", &self.encoding_time);
        put("decoding_time", &self.decoding_time);
        put("quality", &self.quality);
        for (k, v) in &self.extra {
            map.entry(k.clone()).or_insert_with(|| v.clone());
        }
        map.serialize(s)
    }
}

/// Which codec produced the results.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CodecInfo {
    /// Short id: `jpeg`, `webp`, ..., or a model name.
    pub id: String,
    /// Tool or model version string(s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Content hash of the model weights (learned codecs), e.g. SHA-256 hex.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hash: Option<String>,
    /// Command line / settings, in words.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub settings: String,
    /// What the quality parameter means (`quality`, `qp`, `distance`, ...).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub quality_name: String,
}

/// Where and how the measurement ran.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RunInfo {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git_commit: Option<String>,
    /// `cpu (model name)` or a GPU description.
    #[serde(default)]
    pub device: String,
    /// Worker threads the measuring process allowed.
    #[serde(default)]
    pub threads: usize,
    /// Dataset directory as given.
    #[serde(default)]
    pub dataset: String,
    /// Number of images measured.
    #[serde(default)]
    pub images: usize,
    /// Seconds since the Unix epoch when the run finished.
    #[serde(default)]
    pub unix_time: u64,
    /// lic's crate version.
    #[serde(default)]
    pub lic_version: String,
}

/// One image at one rate point. Also reads the rows of `anchors/measured/kodak/per_image/*.json`
/// (which call the quality `param`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ImageRow {
    pub image: String,
    #[serde(alias = "param")]
    pub quality: f64,
    pub bytes: u64,
    pub bpp: f64,
    #[serde(rename = "psnr-rgb", alias = "psnr")]
    pub psnr_rgb: f64,
    /// MS-SSIM; absent for an image too small for its five scales (the other metrics still
    /// count, and the rate point's mean MS-SSIM is over the images that have it).
    #[serde(
        rename = "ms-ssim",
        alias = "ms-ssim-rgb",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub ms_ssim: Option<f64>,
    pub encoding_time: f64,
    pub decoding_time: f64,
    /// What the encoder reported about this encode (e.g. `iterations`, `ms_per_iteration` of
    /// the overfitted codec, whose encodes are time-limited, so that runs on machines of
    /// different speed can be told apart).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub encoder: BTreeMap<String, f64>,
}

/// All images at one rate point.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RatePoint {
    pub quality: f64,
    pub per_image: Vec<ImageRow>,
}

impl RatePoint {
    /// CompressAI's aggregation: the plain mean of every per-image value.
    pub fn means(&self) -> ImageRow {
        let n = self.per_image.len().max(1) as f64;
        let mean = |f: fn(&ImageRow) -> f64| self.per_image.iter().map(f).sum::<f64>() / n;
        ImageRow {
            image: format!("mean of {}", self.per_image.len()),
            quality: self.quality,
            bytes: (self.per_image.iter().map(|r| r.bytes).sum::<u64>() as f64 / n).round() as u64,
            bpp: mean(|r| r.bpp),
            psnr_rgb: mean(|r| r.psnr_rgb),
            ms_ssim: {
                let v: Vec<f64> = self.per_image.iter().filter_map(|r| r.ms_ssim).collect();
                (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
            },
            encoding_time: mean(|r| r.encoding_time),
            decoding_time: mean(|r| r.decoding_time),
            encoder: BTreeMap::new(),
        }
    }
}

/// A results file.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RdResults {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub results: RdMetrics,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub codec: Option<CodecInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<RunInfo>,
    /// Per-image rows for every rate point, in the order of `results`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub points: Vec<RatePoint>,
    /// Any other top-level field (`meta`, `source`, `settings`, ...), kept verbatim.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

impl RdResults {
    /// The image names of the per-image rows (empty when the file has only mean curves).
    pub fn image_names(&self) -> std::collections::BTreeSet<String> {
        self.points
            .iter()
            .flat_map(|p| p.per_image.iter().map(|r| r.image.clone()))
            .collect()
    }

    /// How many images the curves are means over: the per-image rows' images, else the
    /// file's `images` field (the published anchors say how many images their means cover).
    pub fn image_count(&self) -> Option<usize> {
        let names = self.image_names();
        if !names.is_empty() {
            return Some(names.len());
        }
        self.extra
            .get("images")
            .and_then(Value::as_u64)
            .map(|n| n as usize)
    }
}

/// A warning when two results files are compared over different image sets (`None`: the same
/// images, or the same count where only a count is known). `a` and `b` name the files.
pub fn image_set_warning(a: (&str, &RdResults), b: (&str, &RdResults)) -> Option<String> {
    let (na, nb) = (a.1.image_names(), b.1.image_names());
    if !na.is_empty() && !nb.is_empty() {
        return (na != nb).then(|| {
            format!(
                "{} has {} images and {} has {} ({} in common): the curves are means over \
                 different image sets",
                a.0,
                na.len(),
                b.0,
                nb.len(),
                na.intersection(&nb).count()
            )
        });
    }
    match (a.1.image_count(), b.1.image_count()) {
        (Some(x), Some(y)) if x == y => None,
        (Some(x), Some(y)) => Some(format!(
            "{} is a mean over {x} images and {} over {y}: the curves are means over different \
             image sets",
            a.0, b.0
        )),
        (None, None) => None,
        (Some(n), None) | (None, Some(n)) => Some(format!(
            "one file is a mean over {n} images and the other does not say over how many \
             (an \"images\" field): whether they cover the same images cannot be checked"
        )),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ResultsError {
    #[error("{path}: cannot read: {source}")]
    Read {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: not a CompressAI-style results file: {source}")]
    Parse {
        path: std::path::PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("{path}: {reason}")]
    Invalid {
        path: std::path::PathBuf,
        reason: String,
    },
    #[error(transparent)]
    Output(#[from] crate::io::file::OutputError),
}

impl RdResults {
    /// Builds the aggregated `results` lists from `points` (CompressAI convention: per-image
    /// values averaged; PSNR is the mean of per-image PSNR, not the PSNR of the mean MSE).
    pub fn from_points(name: &str, description: &str, points: Vec<RatePoint>) -> RdResults {
        let mut r = RdMetrics::default();
        for p in &points {
            let m = p.means();
            r.bpp.push(m.bpp);
            r.psnr_rgb.push(m.psnr_rgb);
            // No image of the point has MS-SSIM: NaN, and the list is left out of the file.
            r.ms_ssim.push(m.ms_ssim.unwrap_or(f64::NAN));
            r.encoding_time.push(m.encoding_time);
            r.decoding_time.push(m.decoding_time);
            r.quality.push(p.quality);
        }
        RdResults {
            name: name.to_string(),
            description: description.to_string(),
            results: r,
            points,
            ..Default::default()
        }
    }

    /// Parses a results file from JSON text; `path` is only used in messages.
    pub fn from_json(text: &str, path: &Path) -> Result<RdResults, ResultsError> {
        let r: RdResults = serde_json::from_str(text).map_err(|source| ResultsError::Parse {
            path: path.to_path_buf(),
            source,
        })?;
        r.validate().map_err(|reason| ResultsError::Invalid {
            path: path.to_path_buf(),
            reason,
        })?;
        Ok(r)
    }

    /// Reads a results file.
    pub fn read(path: &Path) -> Result<RdResults, ResultsError> {
        let text = std::fs::read_to_string(path).map_err(|source| ResultsError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_json(&text, path)
    }

    /// Writes the file atomically (pretty JSON). Overwrite checks are the caller's job
    /// ([`crate::io::file::check_output`]).
    pub fn write(&self, path: &Path) -> Result<(), ResultsError> {
        let mut text = serde_json::to_string_pretty(self).expect("results serialise to JSON");
        text.push('\n');
        crate::io::file::write_atomic(path, text.as_bytes())?;
        Ok(())
    }

    /// Checks that the lists which are present have the same length (that of `bpp`, or of the
    /// first list present when a video file gives `bitrate` instead) and hold finite numbers.
    pub fn validate(&self) -> Result<(), String> {
        let r = &self.results;
        let (first, n) = [
            ("bpp", &r.bpp),
            ("psnr-rgb", &r.psnr_rgb),
            ("ms-ssim", &r.ms_ssim),
        ]
        .into_iter()
        .find(|(_, v)| !v.is_empty())
        .map(|(k, v)| (k, v.len()))
        .unwrap_or(("bpp", 0));
        for (k, v) in [
            ("bpp", &r.bpp),
            ("psnr-rgb", &r.psnr_rgb),
            ("ms-ssim", &r.ms_ssim),
            ("encoding_time", &r.encoding_time),
            ("decoding_time", &r.decoding_time),
            ("quality", &r.quality),
        ] {
            if !v.is_empty() && v.len() != n {
                return Err(format!(
                    "results.{k} has {} entries but {first} has {n}",
                    v.len()
                ));
            }
        }
        for (k, v) in [
            ("bpp", &r.bpp),
            ("psnr-rgb", &r.psnr_rgb),
            ("ms-ssim", &r.ms_ssim),
        ] {
            if let Some(i) = v.iter().position(|x| !x.is_finite()) {
                return Err(format!("results.{k}[{i}] is not a finite number"));
            }
        }
        Ok(())
    }

    /// The (quality, image) pairs without a row: images that have rows at some rate points
    /// but not at these (an interrupted or partial run; `lic eval --resume` fills them in).
    pub fn missing_rows(&self) -> Vec<(f64, String)> {
        let all: std::collections::BTreeSet<&str> = self
            .points
            .iter()
            .flat_map(|p| p.per_image.iter().map(|r| r.image.as_str()))
            .collect();
        self.points
            .iter()
            .flat_map(|p| {
                all.iter()
                    .filter(|&&name| p.per_image.iter().all(|r| r.image != name))
                    .map(|name| (p.quality, name.to_string()))
            })
            .collect()
    }

    /// A label for plots and tables: the name, or the file stem when the name is empty.
    pub fn label(&self, path: &Path) -> String {
        if self.name.trim().is_empty() {
            path.file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default()
        } else {
            self.name.clone()
        }
    }
}

/// The git commit of the source tree lic was built from, with `-dirty` when it had uncommitted
/// changes; `None` when git or the tree is not available.
pub fn git_commit() -> Option<String> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let run = |args: &[&str]| {
        std::process::Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(args)
            .stderr(std::process::Stdio::null())
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    let head = run(&["rev-parse", "HEAD"]).filter(|s| !s.is_empty())?;
    let dirty =
        run(&["status", "--porcelain", "--untracked-files=no"]).is_some_and(|s| !s.is_empty());
    Some(if dirty { format!("{head}-dirty") } else { head })
}

/// `cpu (<model name>)` from /proc/cpuinfo, or `cpu` when unknown.
pub fn cpu_device() -> String {
    match crate::util::cpu_model() {
        Some(m) => format!("cpu ({m})"),
        None => "cpu".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_variants_and_keeps_extras() {
        let text = r#"{"name": "X", "meta": {"a": 1},
            "results": {"bpp": [0.1, 0.2], "psnr": [30, 32], "ms-ssim-db-rgb": [10.0, 20.0],
                        "q": ["a", "b"]}}"#;
        let r = RdResults::from_json(text, Path::new("x.json")).unwrap();
        assert_eq!(r.results.psnr_rgb, vec![30.0, 32.0]);
        assert!((r.results.ms_ssim[0] - 0.9).abs() < 1e-12);
        assert!((r.results.ms_ssim[1] - 0.99).abs() < 1e-12);
        assert!(r.results.encoding_time.is_empty());
        assert_eq!(r.results.extra["q"], serde_json::json!(["a", "b"]));
        assert_eq!(r.extra["meta"], serde_json::json!({"a": 1}));
        // Round trip keeps the extras and writes psnr-rgb.
        let out = serde_json::to_value(&r).unwrap();
        assert_eq!(out["results"]["psnr-rgb"], serde_json::json!([30.0, 32.0]));
        assert_eq!(out["results"]["q"], serde_json::json!(["a", "b"]));
        assert_eq!(out["meta"], serde_json::json!({"a": 1}));
        let back: RdResults = serde_json::from_value(out).unwrap();
        assert_eq!(back.results.psnr_rgb, r.results.psnr_rgb);
    }

    #[test]
    fn both_ms_ssim_keys_and_mismatched_lengths() {
        let text =
            r#"{"name": "Y", "results": {"bpp": [1], "ms-ssim": [0.5], "ms-ssim-rgb": [0.5]}}"#;
        let r = RdResults::from_json(text, Path::new("y.json")).unwrap();
        assert_eq!(r.results.ms_ssim, vec![0.5]);
        let bad = r#"{"name": "Z", "results": {"bpp": [1, 2], "psnr-rgb": [30]}}"#;
        let e = RdResults::from_json(bad, Path::new("z.json")).unwrap_err();
        assert!(e.to_string().contains("psnr-rgb has 1 entries"), "{e}");
        let bad = r#"{"name": "Z", "results": {"bpp": [1, "x"]}}"#;
        assert!(RdResults::from_json(bad, Path::new("z.json")).is_err());
    }

    #[test]
    fn aggregates_means_and_writes() {
        let row = |img: &str, bpp: f64, psnr: f64| ImageRow {
            image: img.into(),
            quality: 50.0,
            bytes: 100,
            bpp,
            psnr_rgb: psnr,
            ms_ssim: Some(0.9),
            encoding_time: 0.1,
            decoding_time: 0.2,
            encoder: BTreeMap::new(),
        };
        let p = RatePoint {
            quality: 50.0,
            per_image: vec![row("a", 1.0, 30.0), row("b", 2.0, 40.0)],
        };
        let mut r = RdResults::from_points("t", "d", vec![p]);
        r.run = Some(RunInfo {
            git_commit: git_commit(),
            device: cpu_device(),
            threads: 2,
            ..Default::default()
        });
        assert_eq!(r.results.bpp, vec![1.5]);
        assert_eq!(r.results.psnr_rgb, vec![35.0]);
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("r.json");
        r.write(&f).unwrap();
        let back = RdResults::read(&f).unwrap();
        assert_eq!(back, r);
    }

    #[test]
    fn image_sets_are_compared_by_names_or_counts() {
        let rows = |names: &[&str]| RdResults {
            points: vec![RatePoint {
                quality: 1.0,
                per_image: names
                    .iter()
                    .map(|n| ImageRow {
                        image: n.to_string(),
                        ..Default::default()
                    })
                    .collect(),
            }],
            ..Default::default()
        };
        let mut anchor = RdResults::default();
        anchor.extra.insert("images".into(), Value::from(24));
        let two = rows(&["a", "b"]);
        let w = image_set_warning(("run", &two), ("vtm", &anchor)).unwrap();
        assert!(w.contains("over 2 images") && w.contains("over 24"), "{w}");
        assert!(image_set_warning(("a", &two), ("b", &rows(&["b", "a"]))).is_none());
        assert!(image_set_warning(("a", &two), ("b", &rows(&["a", "c"]))).is_some());
        assert!(image_set_warning(("a", &anchor), ("b", &anchor)).is_none());
        let unknown = RdResults::default();
        assert!(image_set_warning(("a", &two), ("b", &unknown))
            .unwrap()
            .contains("cannot be checked"));
    }
}
