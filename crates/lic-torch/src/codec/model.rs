//! A model ready to code: network weights plus the frozen integer entropy tables.
//!
//! `TrainedModel → CodecModel` is a type-level step: a [`CodecModel`] exists only with its
//! exported factorized tables (built by [`CodecModel::export`] or read from a shipped file), so a
//! model that cannot code cannot be constructed.
//!
//! On disk: `NAME.safetensors` holds the float parameters (state_dict names, f16 or f32), the
//! integer tables as the u8 tensor `entropy_bottleneck.tables` (the `coder` serialization), and
//! metadata `lic.arch`, `lic.config`, `lic.model_id`. The weights hash stored in every bitstream
//! is the first 16 bytes of the SHA-256 of the file.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use tch::{nn, Device, Kind, Tensor};

use crate::coder::{FactorizedCoder, FactorizedTables};
use crate::nn::int;
use crate::nn::weights::{self, FloatStorage, TensorFile};
use crate::util::hex;
use crate::zoo::{IntEntropy, ModelConfig, Network};

const TABLES: &str = "entropy_bottleneck.tables";
/// Longest factorized table (symbols), the escape path covers the rest.
const MAX_TABLE_LEN: usize = 1023;

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error(transparent)]
    Weights(#[from] weights::WeightsError),
    #[error("{path}: {reason}")]
    Invalid { path: PathBuf, reason: String },
    #[error("model `{name}` not found (looked in: {searched})")]
    NotFound { name: String, searched: String },
    #[error("entropy tables: {0}")]
    Tables(#[from] crate::coder::CoderError),
}

/// A trained network that has not been frozen for coding yet.
pub struct TrainedModel<'a> {
    pub vs: &'a nn::VarStore,
    pub net: &'a Network,
}

pub struct CodecModel {
    pub id: String,
    /// First 16 bytes of [`CodecModel::sha256`]: the weights hash stored in bitstreams.
    pub hash: [u8; 16],
    /// SHA-256 of the model file.
    pub sha256: [u8; 32],
    /// Size of the model file in bytes.
    pub file_bytes: usize,
    pub config: ModelConfig,
    pub device: Device,
    // Keeps the parameters alive.
    _vs: nn::VarStore,
    pub net: Network,
    pub z_tables: FactorizedTables,
    pub z_coder: FactorizedCoder,
    /// Per-channel medians of the hyper-latent (f32, as used by the coder).
    pub z_medians: Vec<f32>,
    /// The medians in fixed point (`round(median · 2^FRAC)`), for the integer networks.
    pub z_medians_fixed: Vec<f64>,
    /// The exact integer entropy-parameter networks, derived from the float weights.
    pub int: IntEntropy,
}

impl CodecModel {
    /// Freezes a trained network: exports the bottleneck's integer tables, then writes the
    /// shipped file at `path` and loads it back (so the result is exactly what decoders get).
    pub fn export(
        trained: TrainedModel<'_>,
        id: &str,
        path: &Path,
        storage: FloatStorage,
    ) -> Result<CodecModel, ModelError> {
        let pmfs = trained.net.entropy_bottleneck().export_pmfs(MAX_TABLE_LEN);
        let offsets: Vec<i32> = pmfs.iter().map(|(o, _)| *o).collect();
        let probs: Vec<Vec<f64>> = pmfs.into_iter().map(|(_, p)| p).collect();
        let tables = FactorizedTables::from_pmfs(&probs, &offsets)?;
        let mut tensors = weights::named_vars(trained.vs, "");
        tensors.push((TABLES.to_string(), Tensor::from_slice(&tables.to_bytes())));
        let mut meta = HashMap::new();
        let config = trained.net.config();
        meta.insert("lic.arch".to_string(), config.arch().to_string());
        meta.insert("lic.config".to_string(), config.to_json());
        meta.insert("lic.model_id".to_string(), id.to_string());
        weights::save(path, &tensors, storage, &meta)?;
        CodecModel::load(path, Device::Cpu)
    }

    /// Loads a shipped model file strictly.
    pub fn load(path: &Path, device: Device) -> Result<CodecModel, ModelError> {
        let bytes = std::fs::read(path).map_err(|source| weights::WeightsError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_bytes(&bytes, path, device)
    }

    pub fn from_bytes(bytes: &[u8], path: &Path, device: Device) -> Result<CodecModel, ModelError> {
        let invalid = |reason: String| ModelError::Invalid {
            path: path.to_path_buf(),
            reason,
        };
        let file = TensorFile::from_bytes(bytes, path)?;
        let arch = file
            .metadata
            .get("lic.arch")
            .ok_or_else(|| invalid("not a lic model file (no lic.arch)".into()))?;
        let config = ModelConfig::from_json(
            arch,
            file.metadata
                .get("lic.config")
                .ok_or_else(|| invalid("missing lic.config".into()))?,
        )
        .map_err(|e| invalid(format!("bad lic.arch/lic.config: {e}")))?;
        let id = file
            .metadata
            .get("lic.model_id")
            .cloned()
            .ok_or_else(|| invalid("missing lic.model_id".into()))?;
        let tables_t = file.tensors.get(TABLES).ok_or_else(|| {
            invalid("no exported entropy tables (a training checkpoint? export it with `lic train --export`)".into())
        })?;
        let table_bytes: Vec<u8> = Vec::try_from(tables_t.to_kind(Kind::Uint8).flatten(0, -1))
            .map_err(|e| invalid(format!("tables tensor: {e}")))?;
        let z_tables = FactorizedTables::from_bytes(&table_bytes)?;
        let mut vs = nn::VarStore::new(device);
        let net = Network::new(&vs.root(), config.clone());
        file.load_into(&vs, "", true)?;
        vs.freeze();
        if z_tables.channels.len() != config.z_channels() as usize {
            return Err(invalid(format!(
                "tables have {} channels, the model's hyper-latent has {}",
                z_tables.channels.len(),
                config.z_channels()
            )));
        }
        let z_coder = FactorizedCoder::new(&z_tables)?;
        let z_medians: Vec<f32> =
            Vec::try_from(net.entropy_bottleneck().medians().to_device(Device::Cpu))
                .map_err(|e| invalid(format!("medians: {e}")))?;
        let z_medians_fixed: Vec<f64> = z_medians
            .iter()
            .map(|&m| (f64::from(m) * f64::from(1 << int::FRAC)).round_ties_even())
            .collect();
        let int = net.to_int();
        let sha256: [u8; 32] = Sha256::digest(bytes).into();
        let mut hash = [0u8; 16];
        hash.copy_from_slice(&sha256[..16]);
        Ok(CodecModel {
            id,
            hash,
            sha256,
            file_bytes: bytes.len(),
            config,
            device,
            _vs: vs,
            net,
            z_tables,
            z_coder,
            z_medians,
            z_medians_fixed,
            int,
        })
    }

    /// Finds a model by name (or path): `NAME` as a file path, then `NAME.safetensors` (or
    /// `lic-NAME.safetensors`) in
    /// `$LIC_MODELS`, beside the executable (`models/`, also `../../models` for cargo's
    /// `target/<profile>/`), `./models`, and the source tree's `models/`.
    pub fn find(name: &str) -> Result<PathBuf, ModelError> {
        let direct = Path::new(name);
        if direct.extension().is_some_and(|e| e == "safetensors") && direct.is_file() {
            return Ok(direct.to_path_buf());
        }
        if direct.is_file() {
            // A file that exists but is no model (`--model /etc/passwd`).
            return Err(ModelError::Invalid {
                path: direct.to_path_buf(),
                reason: "not a lic model (a model is a .safetensors file made by \
                         `lic train --export`; built-in models: lic-dwt, lic-overfit, \
                         lic-elic-small, lic-walloc)"
                    .to_string(),
            });
        }
        // `walloc` also finds `lic-walloc`.
        let mut files = vec![format!("{name}.safetensors")];
        if !name.starts_with("lic-") && !name.contains('/') {
            files.push(format!("lic-{name}.safetensors"));
        }
        let mut dirs: Vec<PathBuf> = Vec::new();
        if let Some(d) = std::env::var_os("LIC_MODELS") {
            dirs.push(PathBuf::from(d));
        }
        if let Ok(exe) = std::env::current_exe() {
            if let Some(d) = exe.parent() {
                dirs.push(d.join("models"));
                dirs.push(d.join("../../models"));
                dirs.push(d.join("../../../models"));
            }
        }
        dirs.push(PathBuf::from("models"));
        dirs.push(Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../..")).join("models"));
        for file in &files {
            for d in &dirs {
                let p = d.join(file);
                if p.is_file() {
                    return Ok(p);
                }
            }
        }
        Err(ModelError::NotFound {
            name: name.to_string(),
            searched: dirs
                .iter()
                .map(|d| d.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
        })
    }

    /// Hex form of the weights hash.
    pub fn hash_hex(&self) -> String {
        hex(&self.hash)
    }

    /// Hex form of the file's SHA-256.
    pub fn sha256_hex(&self) -> String {
        hex(&self.sha256)
    }
}

/// The libtorch model used when a libtorch model is needed and none is named (`lic train
/// --export --name`, the codec benches). The command line's default model is the libtorch-free
/// `lic-dwt` (`crate::dwt`).
pub const DEFAULT_MODEL: &str = "lic-elic-small";
