//! A video model: a base image model (its transforms, hyperprior and factorized tables, shared
//! with still images) plus a trained temporal prior.
//!
//! On disk, `NAME.safetensors` holds only the temporal prior's parameters (`prior.*`, state_dict
//! names, strict loading) with metadata `lic.arch = "temporal"`, `lic.config`, `lic.model_id`,
//! `lic.base_model` (the base model's id, found like any model) and `lic.base_sha256` (the base
//! file's SHA-256, checked on load, so a video model can never run on other base weights). The
//! weights hash in `.licv` streams is the first 16 bytes of the video model file's SHA-256, which
//! therefore pins the base model too.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use tch::{nn, Device};

use crate::codec::{CodecModel, IntEntropy, ModelError};
use crate::nn::weights::{self, FloatStorage, TensorFile};
use crate::zoo::temporal::{IntTemporal, TemporalConfig, TemporalPrior};

/// Name of the video model used when none is given.
pub const DEFAULT_VIDEO_MODEL: &str = "lic-video";

pub struct VideoModel {
    pub id: String,
    /// First 16 bytes of the file's SHA-256 (stored in `.licv` headers).
    pub hash: [u8; 16],
    pub sha256: [u8; 32],
    pub file_bytes: usize,
    pub config: TemporalConfig,
    pub base: CodecModel,
    _vs: nn::VarStore,
    /// The float prior (training and inspection).
    pub prior: TemporalPrior,
    /// The exact integer prior (coding).
    pub int: IntTemporal,
}

fn invalid(path: &Path, reason: impl Into<String>) -> ModelError {
    ModelError::Invalid {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

/// Checks that a base model can carry a temporal prior (the WaLLoC family: one latent coded in
/// one pass from the hyperprior).
pub fn check_base(base: &CodecModel, path: &Path) -> Result<(), ModelError> {
    match base.int {
        IntEntropy::Walloc(_) => Ok(()),
        IntEntropy::Elic(_) => Err(invalid(
            path,
            format!(
                "base model `{}` is of the ELIC family; the video mode needs a WaLLoC-family base",
                base.id
            ),
        )),
    }
}

impl VideoModel {
    /// Loads a video model file strictly and its base model (found by id, SHA-256 checked).
    pub fn load(path: &Path, device: Device) -> Result<VideoModel, ModelError> {
        let bytes = std::fs::read(path).map_err(|source| weights::WeightsError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let file = TensorFile::from_bytes(&bytes, path)?;
        let meta = |k: &str| {
            file.metadata
                .get(k)
                .cloned()
                .ok_or_else(|| invalid(path, format!("not a lic video model (no {k})")))
        };
        if meta("lic.arch")? != "temporal" {
            return Err(invalid(
                path,
                "not a video model (lic.arch is not `temporal`); image models code stills only",
            ));
        }
        let config: TemporalConfig = serde_json::from_str(&meta("lic.config")?)
            .map_err(|e| invalid(path, format!("bad lic.config: {e}")))?;
        config
            .validate()
            .map_err(|e| invalid(path, format!("bad lic.config: {e}")))?;
        let id = meta("lic.model_id")?;
        let base_id = meta("lic.base_model")?;
        let base_sha = meta("lic.base_sha256")?;
        let base_path = CodecModel::find(&base_id)?;
        let base = CodecModel::load(&base_path, device)?;
        if base.sha256_hex() != base_sha {
            return Err(invalid(
                path,
                format!(
                    "was trained on base model `{base_id}` with SHA-256 {base_sha}, but {} has {}",
                    base_path.display(),
                    base.sha256_hex()
                ),
            ));
        }
        check_base(&base, path)?;
        if base.config.latent_channels() != config.latent {
            return Err(invalid(
                path,
                format!(
                    "prior has {} latent channels, base model `{base_id}` has {}",
                    config.latent,
                    base.config.latent_channels()
                ),
            ));
        }
        let mut vs = nn::VarStore::new(device);
        let prior = TemporalPrior::new(&vs.root(), config.clone());
        file.load_into(&vs, "", true)?;
        vs.freeze();
        let int = prior.to_int();
        let sha256: [u8; 32] = Sha256::digest(&bytes).into();
        let mut hash = [0u8; 16];
        hash.copy_from_slice(&sha256[..16]);
        Ok(VideoModel {
            id,
            hash,
            sha256,
            file_bytes: bytes.len(),
            config,
            base,
            _vs: vs,
            prior,
            int,
        })
    }

    /// Writes a trained prior as a video model file for `base` and loads it back.
    pub fn export(
        vs: &nn::VarStore,
        config: &TemporalConfig,
        base: &CodecModel,
        id: &str,
        path: &Path,
    ) -> Result<VideoModel, ModelError> {
        let tensors = weights::named_vars(vs, "");
        let mut meta = HashMap::new();
        meta.insert("lic.arch".to_string(), "temporal".to_string());
        meta.insert(
            "lic.config".to_string(),
            serde_json::to_string(config).expect("config serializes"),
        );
        meta.insert("lic.model_id".to_string(), id.to_string());
        meta.insert("lic.base_model".to_string(), base.id.clone());
        meta.insert("lic.base_sha256".to_string(), base.sha256_hex());
        // f32: the prior is small, and its integer copy is derived from exactly these values.
        weights::save(path, &tensors, FloatStorage::F32, &meta)?;
        VideoModel::load(path, base.device)
    }

    /// Finds a video model by name or path (like [`CodecModel::find`]).
    pub fn find(name: &str) -> Result<PathBuf, ModelError> {
        CodecModel::find(name)
    }

    pub fn hash_hex(&self) -> String {
        crate::util::hex(&self.hash)
    }
    pub fn sha256_hex(&self) -> String {
        crate::util::hex(&self.sha256)
    }
}
