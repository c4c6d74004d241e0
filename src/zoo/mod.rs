//! Model architectures. Each has a serializable config (stored in the model card `models/NAME.json`)
//! and a network whose parameter names follow PyTorch `state_dict` conventions.
//!
//! - [`elic`]: the main image codec (ELIC-style transforms, hyperprior, channel + checkerboard
//!   context).
//! - [`walloc`]: the WaLLoC-style codec (wavelet packet transform, linear encoder, hyperprior).
//! - [`temporal`]: the video mode's temporal prior over a base image model's latents.
pub mod elic;
pub mod hyper;
pub mod rate;
pub mod temporal;
pub mod walloc;

use serde::{Deserialize, Serialize};
use tch::{nn, Tensor};

pub use elic::{ElicConfig, ElicModel, TrainOut};
pub use rate::GainVectors;
pub use walloc::{WallocConfig, WallocModel};

use crate::entropy::EntropyBottleneck;

/// Any architecture's configuration. Serialized without a tag (the field sets differ), so
/// configs written before the enum existed still read as [`ModelConfig::Elic`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ModelConfig {
    Elic(ElicConfig),
    Walloc(WallocConfig),
}

impl From<ElicConfig> for ModelConfig {
    fn from(c: ElicConfig) -> Self {
        ModelConfig::Elic(c)
    }
}
impl From<WallocConfig> for ModelConfig {
    fn from(c: WallocConfig) -> Self {
        ModelConfig::Walloc(c)
    }
}

impl ModelConfig {
    /// Architecture family name (`lic.arch` in model files).
    pub fn arch(&self) -> &'static str {
        match self {
            ModelConfig::Elic(_) => "elic",
            ModelConfig::Walloc(_) => "walloc",
        }
    }
    /// Parses a config for a named family.
    pub fn from_json(arch: &str, json: &str) -> Result<ModelConfig, String> {
        let c = match arch {
            "elic" => ModelConfig::Elic(serde_json::from_str(json).map_err(|e| e.to_string())?),
            "walloc" => ModelConfig::Walloc(serde_json::from_str(json).map_err(|e| e.to_string())?),
            other => return Err(format!("unknown architecture `{other}`")),
        };
        c.validate()?;
        Ok(c)
    }
    pub fn to_json(&self) -> String {
        match self {
            ModelConfig::Elic(c) => serde_json::to_string(c),
            ModelConfig::Walloc(c) => serde_json::to_string(c),
        }
        .expect("config serializes")
    }
    pub fn lambdas(&self) -> &[f64] {
        match self {
            ModelConfig::Elic(c) => &c.lambdas,
            ModelConfig::Walloc(c) => &c.lambdas,
        }
    }
    pub fn validate(&self) -> Result<(), String> {
        match self {
            ModelConfig::Elic(c) => c.validate(),
            ModelConfig::Walloc(c) => c.validate(),
        }
    }
    pub fn quality_range(&self) -> (f64, f64) {
        rate::quality_range(self.lambdas())
    }
    pub fn lambda_at(&self, q: f64) -> f64 {
        rate::lambda_at(self.lambdas(), q)
    }
    pub fn initial_gains(&self) -> Vec<f64> {
        rate::initial_gains(self.lambdas())
    }
    /// Channels of the hyper-latent `z`.
    pub fn z_channels(&self) -> i64 {
        match self {
            ModelConfig::Elic(c) => c.n,
            ModelConfig::Walloc(c) => c.hyper,
        }
    }
    /// Channels of the latent `y`.
    pub fn latent_channels(&self) -> i64 {
        match self {
            ModelConfig::Elic(c) => c.m,
            ModelConfig::Walloc(c) => c.latent,
        }
    }
    /// Spatial factor from pixels to the latent `y`.
    pub fn latent_stride(&self) -> i64 {
        match self {
            ModelConfig::Elic(_) => 16,
            ModelConfig::Walloc(c) => c.latent_stride(),
        }
    }
    /// Padding multiple of the input: the stride down to `z` (`y`'s stride × 4).
    pub fn multiple(&self) -> i64 {
        self.latent_stride() * 4
    }
}

/// A network of any architecture.
#[derive(Debug)]
pub enum Network {
    Elic(ElicModel),
    Walloc(WallocModel),
}

impl Network {
    pub fn new(p: &nn::Path, config: ModelConfig) -> Network {
        match config {
            ModelConfig::Elic(c) => Network::Elic(ElicModel::new(p, c)),
            ModelConfig::Walloc(c) => Network::Walloc(WallocModel::new(p, c)),
        }
    }
    pub fn config(&self) -> ModelConfig {
        match self {
            Network::Elic(m) => m.config.clone().into(),
            Network::Walloc(m) => m.config.clone().into(),
        }
    }
    pub fn forward(&self, x: &Tensor, q: &[f64], train: bool) -> TrainOut {
        match self {
            Network::Elic(m) => m.forward(x, q, train),
            Network::Walloc(m) => m.forward(x, q, train),
        }
    }
    /// The training forward pass from a gained latent `y` and hyper-latent `z`.
    pub fn forward_latents(
        &self,
        y: &Tensor,
        z: &Tensor,
        q: &[f64],
        proxy: crate::entropy::RateProxy,
    ) -> TrainOut {
        match self {
            Network::Elic(m) => m.forward_latents(y, z, q, proxy),
            Network::Walloc(m) => m.forward_latents(y, z, q, proxy),
        }
    }
    pub fn entropy_bottleneck(&self) -> &EntropyBottleneck {
        match self {
            Network::Elic(m) => &m.entropy_bottleneck,
            Network::Walloc(m) => &m.entropy_bottleneck,
        }
    }
    pub fn gains(&self) -> &GainVectors {
        match self {
            Network::Elic(m) => &m.gains,
            Network::Walloc(m) => &m.gains,
        }
    }
    /// The latent before the rate gain.
    pub fn analysis(&self, x: &Tensor) -> Tensor {
        match self {
            Network::Elic(m) => m.analysis(x),
            Network::Walloc(m) => m.analysis(x),
        }
    }
    pub fn hyper_analysis(&self, y: &Tensor) -> Tensor {
        match self {
            Network::Elic(m) => m.hyper_analysis(y),
            Network::Walloc(m) => m.hyper_analysis(y),
        }
    }
    /// Pixels (unclamped, [0, 1] range) from the gain-normalized dequantized latent.
    pub fn synthesis(&self, y_hat: &Tensor) -> Tensor {
        match self {
            Network::Elic(m) => m.synthesis(y_hat),
            Network::Walloc(m) => m.synthesis(y_hat),
        }
    }
}
