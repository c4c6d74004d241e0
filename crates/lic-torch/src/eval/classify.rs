//! The ImageNet classifier of `lic eval --task classify`: EfficientNet-Lite0 as TorchScript
//! (exported by `scripts/setup-perception.sh`), run with libtorch through `tch::CModule`.
//!
//! Preprocessing (identical to `scripts/perception/export.py`, which made the reference logits
//! `tests/perception.rs` checks against): 8-bit RGB → float / 255 → unless the image is 256x256,
//! bilinear antialiased resize (`align_corners = false`) so that the shorter side is 256 and the
//! longer one `round(long · 256 / short)` → the centre 224x224 → `(x · 255 − 127) / 128` (the
//! EfficientNet-Lite convention, not ImageNet mean/std).

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use tch::{CModule, Device, Kind, Tensor};

use super::perception::{ClassifierInfo, Classify};
use crate::io::image::Image;

/// File name of the default classifier.
pub const DEFAULT_CLASSIFIER: &str = "efficientnet-lite0.ts";
/// Folder (in the source tree or beside the binary) where the set-up script puts it.
pub const CLASSIFIER_DIR: &str = ".perception";
/// Side of the network input.
pub const INPUT_SIZE: i64 = 224;
/// Shorter side images are resized to before the centre crop.
pub const RESIZE_SHORT: i64 = 256;
/// Longest side accepted after the resize (keeps absurd aspect ratios from allocating gigabytes).
const MAX_RESIZED_LONG: i64 = 16384;
const PREPROCESSING: &str = "RGB/255; shorter side to 256 by bilinear antialiased resize unless \
                             256x256; centre 224x224; (x*255-127)/128";

#[derive(Debug, thiserror::Error)]
pub enum ClassifierError {
    #[error(
        "classifier {name} not found (looked in {searched}): run scripts/setup-perception.sh \
             to export it, or pass --classifier FILE.ts (or set LIC_CLASSIFIER)"
    )]
    NotFound { name: String, searched: String },
    #[error("{path}: cannot read: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{path}: not a loadable TorchScript module ({source}); re-run scripts/setup-perception.sh"
    )]
    Load {
        path: PathBuf,
        #[source]
        source: tch::TchError,
    },
    #[error("image is {width}x{height}: {reason}")]
    BadImage {
        width: u32,
        height: u32,
        reason: String,
    },
    #[error("classifier forward pass failed: {0}")]
    Forward(#[source] tch::TchError),
    #[error("classifier output has shape {0:?}, expected [1, classes]")]
    Shape(Vec<i64>),
}

/// A TorchScript image classifier on the CPU.
pub struct TorchClassifier {
    module: CModule,
    path: PathBuf,
    sha256: String,
}

impl TorchClassifier {
    /// Finds a classifier file: `name` itself when it is an existing file, else
    /// `$LIC_CLASSIFIER`, else `name` (default [`DEFAULT_CLASSIFIER`]) in `.perception/` beside
    /// the binary, of the working directory, or of the source tree.
    pub fn find(name: Option<&str>) -> Result<PathBuf, ClassifierError> {
        if let Some(n) = name {
            let p = Path::new(n);
            if p.is_file() {
                return Ok(p.to_path_buf());
            }
        }
        let mut candidates: Vec<PathBuf> = Vec::new();
        if name.is_none() {
            if let Some(p) = std::env::var_os("LIC_CLASSIFIER") {
                candidates.push(PathBuf::from(p));
            }
        }
        let file = name.unwrap_or(DEFAULT_CLASSIFIER);
        let mut dirs: Vec<PathBuf> = Vec::new();
        if let Ok(exe) = std::env::current_exe() {
            if let Some(d) = exe.parent() {
                for up in ["", "../..", "../../.."] {
                    dirs.push(d.join(up).join(CLASSIFIER_DIR));
                }
            }
        }
        dirs.push(PathBuf::from(CLASSIFIER_DIR));
        dirs.push(Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../..")).join(CLASSIFIER_DIR));
        if !file.contains('/') {
            candidates.extend(dirs.iter().map(|d| d.join(file)));
        }
        if let Some(p) = candidates.iter().find(|p| p.is_file()) {
            return Ok(p.clone());
        }
        Err(ClassifierError::NotFound {
            name: file.to_string(),
            searched: candidates
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
        })
    }

    /// Loads a TorchScript file (CPU, eval mode).
    pub fn load(path: &Path) -> Result<TorchClassifier, ClassifierError> {
        let bytes = std::fs::read(path).map_err(|source| ClassifierError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let sha256 = crate::util::hex(&Sha256::digest(&bytes));
        let mut module =
            CModule::load_data_on_device(&mut std::io::Cursor::new(bytes), Device::Cpu).map_err(
                |source| ClassifierError::Load {
                    path: path.to_path_buf(),
                    source,
                },
            )?;
        module.set_eval();
        Ok(TorchClassifier {
            module,
            path: path.to_path_buf(),
            sha256,
        })
    }

    /// The network input for `img`: a 1x3x224x224 float tensor (see the module documentation).
    pub fn preprocess(img: &Image) -> Result<Tensor, ClassifierError> {
        let bad = |reason: &str| ClassifierError::BadImage {
            width: img.width,
            height: img.height,
            reason: reason.to_string(),
        };
        let (w, h) = (img.width as i64, img.height as i64);
        if w == 0 || h == 0 || img.data.len() as i64 != w * h * 3 {
            return Err(bad("empty image or wrong buffer size"));
        }
        let x = crate::nn::rgb_tensor(&img.data, h, w);
        let x = if (h, w) == (RESIZE_SHORT, RESIZE_SHORT) {
            x
        } else {
            let (short, long) = (h.min(w), h.max(w));
            let new_long = (long * RESIZE_SHORT + short / 2) / short;
            if new_long > MAX_RESIZED_LONG {
                return Err(bad("aspect ratio too extreme to classify"));
            }
            let size = if h <= w {
                [RESIZE_SHORT, new_long]
            } else {
                [new_long, RESIZE_SHORT]
            };
            x.f_internal_upsample_bilinear2d_aa(size, false, None, None)
                .map_err(ClassifierError::Forward)?
        };
        let (hh, ww) = (x.size()[2], x.size()[3]);
        let (top, left) = ((hh - INPUT_SIZE) / 2, (ww - INPUT_SIZE) / 2);
        let x = x.narrow(2, top, INPUT_SIZE).narrow(3, left, INPUT_SIZE);
        Ok((x * 255.0 - 127.0) / 128.0)
    }

    /// Class logits of `img`.
    pub fn classify(&self, img: &Image) -> Result<Vec<f32>, ClassifierError> {
        let x = Self::preprocess(img)?;
        let out =
            tch::no_grad(|| self.module.forward_ts(&[x])).map_err(ClassifierError::Forward)?;
        let size = out.size();
        if size.len() != 2 || size[0] != 1 || size[1] < 1 {
            return Err(ClassifierError::Shape(size));
        }
        Vec::<f32>::try_from(out.to_kind(Kind::Float).flatten(0, -1))
            .map_err(ClassifierError::Forward)
    }

    /// The model file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// SHA-256 of the model file (hex).
    pub fn sha256(&self) -> &str {
        &self.sha256
    }
}

impl Classify for TorchClassifier {
    fn info(&self) -> ClassifierInfo {
        let stem = self
            .path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        ClassifierInfo {
            name: stem,
            file: self.path.display().to_string(),
            sha256: Some(self.sha256.clone()),
            preprocessing: PREPROCESSING.to_string(),
        }
    }
    fn logits(&self, image: &Image) -> anyhow::Result<Vec<f32>> {
        Ok(self.classify(image)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preprocess_crops_resizes_and_normalises() {
        // 256x256 is only cropped: the centre pixel values map through (v - 127) / 128.
        let data: Vec<u8> = (0..256 * 256)
            .flat_map(|i| {
                let (x, y) = (i % 256, i / 256);
                [x as u8, y as u8, 127]
            })
            .collect();
        let t = TorchClassifier::preprocess(&Image::new(256, 256, data)).unwrap();
        assert_eq!(t.size(), vec![1, 3, 224, 224]);
        let at = |c: i64, y: i64, x: i64| t.double_value(&[0, c, y, x]);
        assert!((at(0, 0, 0) - (16.0 - 127.0) / 128.0).abs() < 1e-6);
        assert!((at(1, 5, 0) - (21.0 - 127.0) / 128.0).abs() < 1e-6);
        assert!(at(2, 100, 100).abs() < 1e-6);
        // A flat 300x100 image: resized to 768x256, cropped; a constant stays constant.
        let t =
            TorchClassifier::preprocess(&Image::new(300, 100, vec![200; 300 * 100 * 3])).unwrap();
        assert_eq!(t.size(), vec![1, 3, 224, 224]);
        let want = (200.0 - 127.0) / 128.0;
        assert!((t.max().double_value(&[]) - want).abs() < 1e-5);
        assert!((t.min().double_value(&[]) - want).abs() < 1e-5);
        // Tiny and extreme images.
        assert!(TorchClassifier::preprocess(&Image::new(1, 1, vec![9; 3])).is_ok());
        let e = TorchClassifier::preprocess(&Image::new(1000, 1, vec![0; 3000])).unwrap_err();
        assert!(e.to_string().contains("aspect ratio"), "{e}");
    }

    #[test]
    fn missing_or_broken_classifier_is_a_clear_error() {
        let e = TorchClassifier::find(Some("no-such-classifier.ts")).unwrap_err();
        assert!(e.to_string().contains("setup-perception.sh"), "{e}");
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("broken.ts");
        std::fs::write(&p, b"not a zip").unwrap();
        assert_eq!(TorchClassifier::find(p.to_str()).unwrap(), p);
        let e = TorchClassifier::load(&p).err().unwrap();
        assert!(e.to_string().contains("setup-perception.sh"), "{e}");
    }
}
