//! Model architectures. Each has a serializable config (stored in the model card `models/NAME.json`)
//! and a network whose parameter names follow PyTorch `state_dict` conventions.
//!
//! - [`elic`]: the main image codec (ELIC-style transforms, hyperprior, channel + checkerboard
//!   context).
//! - [`walloc`]: the WaLLoC-style codec (wavelet packet transform, linear encoder, hyperprior).
//! - [`temporal`]: the video mode's temporal prior over a base image model's latents.
//!
//! A family implements [`ConfigFamily`] for its configuration (names, channels, strides,
//! substreams, card text, building the network) and [`NetworkFamily`] for its network (training
//! forward, transforms, the integer entropy networks). It is registered here, in one place: a
//! variant of [`ModelConfig`] and of [`Network`] (with their `From` and the two `Deref` arms),
//! its [`IntEntropy`] variant, its line in `FAMILIES` (the `lic.arch` name and the config
//! parser) and its [`PRESETS`] (the `lic train --arch` names). The codec's per-family substream coding is `codec::encode_tile_latent` and
//! `codec::decode_tile_latent`.
pub mod elic;
pub mod hyper;
pub mod rate;
pub mod temporal;
pub mod walloc;

use serde::{Deserialize, Serialize};
use tch::{nn, Tensor};

use crate::entropy::{EntropyBottleneck, RateProxy};

pub use elic::{ElicConfig, ElicModel, TrainOut};
pub use rate::GainVectors;
pub use walloc::{WallocConfig, WallocModel};

/// Any architecture's configuration. Serialized without a tag (the field sets differ), so
/// configs written before the enum existed still read as [`ModelConfig::Elic`]. It dereferences
/// to its family's [`ConfigFamily`], so `config.lambdas()` and the rest are the family's own.
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

/// A model family, as the codec, the trainer and the CLI see it: one implementation per family
/// on its configuration type (the network's half is [`NetworkFamily`]).
pub trait ConfigFamily {
    /// Architecture family name (`lic.arch` in model files).
    fn arch(&self) -> &'static str;
    /// The configuration as JSON (`lic.config` in model files).
    fn to_json(&self) -> String;
    /// λ of each rate level.
    fn lambdas(&self) -> &[f64];
    /// Range of the continuous quality parameter: `[1, L]`.
    fn quality_range(&self) -> (f64, f64) {
        rate::quality_range(self.lambdas())
    }
    /// λ at a continuous quality (geometric interpolation between levels).
    fn lambda_at(&self, q: f64) -> f64 {
        rate::lambda_at(self.lambdas(), q)
    }
    /// Initial per-level gains (see [`rate::initial_gains`]).
    fn initial_gains(&self) -> Vec<f64> {
        rate::initial_gains(self.lambdas())
    }
    fn validate(&self) -> Result<(), String>;
    /// Channels of the hyper-latent `z`.
    fn z_channels(&self) -> i64;
    /// Channels of the latent `y`.
    fn latent_channels(&self) -> i64;
    /// Spatial factor from pixels to the latent `y`.
    fn latent_stride(&self) -> i64;
    /// Padding multiple of the input: the stride down to `z` (`y`'s stride × 4).
    fn multiple(&self) -> i64 {
        self.latent_stride() * 4
    }
    /// Entropy-coded substreams per tile of the image codec.
    fn streams_per_tile(&self) -> usize;
    /// `(first channel, channels)` of each channel slice (empty for a family without slices).
    fn slice_ranges(&self) -> Vec<(i64, i64)> {
        Vec::new()
    }
    /// The model card's one-line architecture summary.
    fn summary(&self) -> &'static str;
    /// The `lic train --arch` value (and options) that builds this configuration.
    fn arch_arg(&self) -> String;
    /// A network of this configuration with its variables under `p`.
    fn build(&self, p: &nn::Path) -> Network;
}

/// What a family's network does for training and for coding.
pub trait NetworkFamily {
    fn config(&self) -> ModelConfig;
    /// The training forward pass for a batch `x` in [0, 1] with per-sample qualities `q`: with
    /// `train`, rates are measured on noisy latents (the training proxy); without, on rounded
    /// ones (validation).
    fn forward(&self, x: &Tensor, q: &[f64], train: bool) -> TrainOut {
        let y = self.analysis(x) * self.gains().gains(q);
        let z = self.hyper_analysis(&y);
        self.forward_latents(&y, &z, q, RateProxy::from_train(train))
    }
    /// The training forward pass from a gained latent `y` and hyper-latent `z`.
    fn forward_latents(&self, y: &Tensor, z: &Tensor, q: &[f64], proxy: RateProxy) -> TrainOut;
    fn entropy_bottleneck(&self) -> &EntropyBottleneck;
    fn gains(&self) -> &GainVectors;
    /// The latent before the rate gain.
    fn analysis(&self, x: &Tensor) -> Tensor;
    fn hyper_analysis(&self, y: &Tensor) -> Tensor;
    /// Pixels (unclamped, [0, 1] range) from the gain-normalized dequantized latent.
    fn synthesis(&self, y_hat: &Tensor) -> Tensor;
    /// The exact integer entropy-parameter networks.
    fn to_int(&self) -> IntEntropy;
    /// Whether the parameter `name` has a function-preserving start that
    /// [`NetworkFamily::complete_partial_init`] gives it, so that weights without it can still
    /// initialize this network. None by default.
    fn can_complete(&self, _name: &str) -> bool {
        false
    }
    /// After loading weights that lacked the parameters `lacking` (each allowed by
    /// [`NetworkFamily::can_complete`], none when the weights had everything): gives them their
    /// function-preserving start and says what it did (for the log).
    fn complete_partial_init(&self, _lacking: &[String]) -> Option<&'static str> {
        None
    }
}

/// The registered families: `lic.arch` name and the parser of its `lic.config`.
type ParseConfig = fn(&str) -> Result<ModelConfig, String>;
const FAMILIES: &[(&str, ParseConfig)] = &[
    ("elic", |j| Ok(ModelConfig::Elic(parse(j)?))),
    ("walloc", |j| Ok(ModelConfig::Walloc(parse(j)?))),
];

/// A named configuration that `lic train --arch NAME` starts from.
pub struct Preset {
    /// The `--arch` value.
    pub name: &'static str,
    /// Its help text.
    pub help: &'static str,
    /// The configuration, with the latent channels of `--latent` where the family has that knob
    /// (an error where it has not).
    pub build: fn(Option<i64>) -> Result<ModelConfig, String>,
}

fn fixed(config: impl Into<ModelConfig>, latent: Option<i64>) -> Result<ModelConfig, String> {
    match latent {
        None => Ok(config.into()),
        Some(_) => Err("--latent applies to the walloc architectures".into()),
    }
}

fn walloc(base: WallocConfig, latent: Option<i64>) -> Result<ModelConfig, String> {
    Ok(WallocConfig {
        latent: latent.unwrap_or(base.latent),
        ..base
    }
    .into())
}

/// The presets of every family, the first the default.
pub const PRESETS: &[Preset] = &[
    Preset {
        name: "elic-small",
        help: "The default small ELIC-style model (N=128, M=192, 5 slices).",
        build: |l| fixed(ElicConfig::small(), l),
    },
    Preset {
        name: "elic-small-wavelet",
        help: "elic-small with a linear wavelet shortcut around the transforms (AuxT-style): a \
               working codec at step 0. With --init from a model without it, the shortcut starts \
               at zero (the model then codes exactly like the one it started from).",
        build: |l| fixed(ElicConfig::small_wavelet(), l),
    },
    Preset {
        name: "elic-tiny",
        help: "A tiny model for tests and smoke runs.",
        build: |l| fixed(ElicConfig::tiny(), l),
    },
    Preset {
        name: "walloc",
        help: "The WaLLoC-style model: wavelet packet transform (J=3), linear encoder to 16 \
               channels, hyperprior, residual decoder.",
        build: |l| walloc(WallocConfig::small(), l),
    },
    Preset {
        name: "walloc-tiny",
        help: "A tiny WaLLoC-style model for tests.",
        build: |l| walloc(WallocConfig::tiny(), l),
    },
];

/// The preset named `name`.
pub fn preset(name: &str) -> Option<&'static Preset> {
    PRESETS.iter().find(|p| p.name == name)
}

fn parse<T: serde::de::DeserializeOwned>(json: &str) -> Result<T, String> {
    serde_json::from_str(json).map_err(|e| e.to_string())
}

impl std::ops::Deref for ModelConfig {
    type Target = dyn ConfigFamily;
    fn deref(&self) -> &(dyn ConfigFamily + 'static) {
        match self {
            ModelConfig::Elic(c) => c,
            ModelConfig::Walloc(c) => c,
        }
    }
}

impl ModelConfig {
    /// Parses a config for a named family.
    pub fn from_json(arch: &str, json: &str) -> Result<ModelConfig, String> {
        let (_, parse) = FAMILIES
            .iter()
            .find(|(name, _)| *name == arch)
            .ok_or_else(|| format!("unknown architecture `{arch}`"))?;
        let c = parse(json)?;
        c.validate()?;
        Ok(c)
    }
}

/// The integer networks that choose the entropy coder's tables (derived from a network's float
/// weights by [`NetworkFamily::to_int`]; exact, the same on every machine).
pub enum IntEntropy {
    Elic(elic::IntElic),
    /// The WaLLoC family's integer `h_s` (fixed-point ẑ → fixed-point μ, σ).
    Walloc(crate::nn::int::IntSeq),
}

/// A network of any architecture. It dereferences to its family's [`NetworkFamily`].
#[derive(Debug)]
pub enum Network {
    Elic(ElicModel),
    Walloc(WallocModel),
}

impl std::ops::Deref for Network {
    type Target = dyn NetworkFamily;
    fn deref(&self) -> &(dyn NetworkFamily + 'static) {
        match self {
            Network::Elic(m) => m,
            Network::Walloc(m) => m,
        }
    }
}

impl Network {
    pub fn new(p: &nn::Path, config: ModelConfig) -> Network {
        config.build(p)
    }
}
