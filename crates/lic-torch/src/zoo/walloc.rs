//! `walloc`: a WaLLoC-style codec (Jacobellis & Yoon, "Learned Compression for Compressed
//! Learning", 2024) whose latents are small tensors that ML models can use directly.
//!
//! - A fixed `J`-level CDF 9/7 wavelet packet transform ([`Wpt`]) turns RGB (centred on 0) into
//!   `3·4^J` coefficient channels at `1/2^J` resolution; it is exactly invertible.
//! - A shallow, linear encoder: one 1x1 convolution to `latent` channels (× the rate gain), so
//!   encoding costs little more than the wavelet transform.
//! - Entropy model: a mean-scale hyperprior (better than WaLLoC's lossless-WebP storage of
//!   latents): `h_a` → `z` at `1/2^(J+2)` (factorized [`EntropyBottleneck`]), `h_s` → (μ, σ)
//!   for every latent, coded in one pass.
//! - A deeper decoder back to wavelet coefficients: a linear 1x1 path plus a residual
//!   convolutional refinement (`blocks` residual blocks of width `hidden`), then the inverse WPT.
//! - Variable rate with the same gain vectors as the ELIC model ([`GainVectors`]).

use serde::{Deserialize, Serialize};
use tch::{nn, nn::Module, Tensor};

use super::hyper::HyperSynthesis;
use super::rate::{self, GainVectors};
use super::ConfigFamily;
use crate::entropy::{bits_per_sample, gaussian, EntropyBottleneck, RateProxy};
use crate::nn::int::IntSeq;
use crate::nn::{conv, conv1x1, ste_round, Conv1x1};
use crate::transforms::Wpt;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WallocConfig {
    /// Wavelet packet levels `J`.
    pub wavelet_levels: u32,
    /// Latent channels `C`.
    pub latent: i64,
    /// Channels of the hyperprior (and of `z`).
    pub hyper: i64,
    /// Width of the decoder's residual refinement.
    pub hidden: i64,
    /// Residual blocks in the decoder.
    pub blocks: i64,
    /// λ of each trained rate level (loss = R + λ·255²·MSE), increasing.
    pub lambdas: Vec<f64>,
}

impl WallocConfig {
    /// The shipped configuration: J = 3 (192 coefficient channels at 1/8), 16 latent channels
    /// (12x fewer values than pixels).
    pub fn small() -> Self {
        WallocConfig {
            wavelet_levels: 3,
            latent: 16,
            hyper: 64,
            hidden: 128,
            blocks: 4,
            lambdas: vec![0.0018, 0.0040, 0.0087, 0.0193, 0.0424, 0.0932],
        }
    }
    /// A tiny configuration for tests.
    pub fn tiny() -> Self {
        WallocConfig {
            wavelet_levels: 2,
            latent: 8,
            hyper: 8,
            hidden: 16,
            blocks: 1,
            lambdas: vec![0.004, 0.02, 0.08],
        }
    }
    /// Spatial factor of the latent, `2^J`.
    pub fn latent_stride(&self) -> i64 {
        1 << self.wavelet_levels
    }
    /// Coefficient channels `3·4^J`.
    pub fn coefficients(&self) -> i64 {
        3 * 4i64.pow(self.wavelet_levels)
    }
}

#[derive(Debug)]
struct ResBlock {
    a: crate::nn::Conv,
    b: crate::nn::Conv,
}

impl Module for ResBlock {
    fn forward(&self, x: &Tensor) -> Tensor {
        x + self.b.forward(&self.a.forward(x).relu())
    }
}

#[derive(Debug)]
pub struct WallocModel {
    pub config: WallocConfig,
    wpt: Wpt,
    encoder: Conv1x1,
    dec_linear: Conv1x1,
    dec_refine: nn::Sequential,
    h_a: nn::Sequential,
    h_s: HyperSynthesis,
    pub entropy_bottleneck: EntropyBottleneck,
    pub gains: GainVectors,
}

/// Training-time outputs (shared with the ELIC model's).
pub use super::elic::TrainOut;

impl WallocModel {
    pub fn new(p: &nn::Path, config: WallocConfig) -> Self {
        config.validate().expect("invalid WallocConfig");
        let (k, c, h, n) = (
            config.coefficients(),
            config.latent,
            config.hyper,
            config.hidden,
        );
        let encoder = conv1x1(p / "encoder", k, c);
        let dec_linear = conv1x1(p / "decoder" / "linear", c, k);
        low_band_init(&encoder, &dec_linear);
        let mut dec_refine = nn::seq()
            .add(conv(p / "decoder" / "refine" / 0, c, n, 3, 1))
            .add_fn(|x| x.relu());
        for i in 0..config.blocks {
            let bp = p / "decoder" / "refine" / (2 + i);
            dec_refine = dec_refine.add(ResBlock {
                a: conv(&bp / "a", n, n, 3, 1),
                b: conv(&bp / "b", n, n, 3, 1),
            });
        }
        let last = conv(p / "decoder" / "refine" / (2 + config.blocks), n, k, 3, 1);
        tch::no_grad(|| {
            // Start as the linear path alone.
            let _ = last.ws.shallow_clone().g_mul_scalar_(0.1);
        });
        dec_refine = dec_refine.add(last);
        let h_a = nn::seq()
            .add(conv(p / "h_a" / 0, c, h, 3, 1))
            .add_fn(|x| x.relu())
            .add(conv(p / "h_a" / 2, h, h, 5, 2))
            .add_fn(|x| x.relu())
            .add(conv(p / "h_a" / 4, h, h, 5, 2));
        let h_s = HyperSynthesis::new(p / "h_s", h, h * 3 / 2, 2 * c);
        let entropy_bottleneck = EntropyBottleneck::new(p / "entropy_bottleneck", h);
        let gains = GainVectors::new(p, &config.lambdas, c);
        WallocModel {
            wpt: Wpt::new(config.wavelet_levels),
            config,
            encoder,
            dec_linear,
            dec_refine,
            h_a,
            h_s,
            entropy_bottleneck,
            gains,
        }
    }

    /// The padding multiple of the input (total stride down to `z`).
    pub fn multiple(&self) -> i64 {
        self.config.latent_stride() * 4
    }

    /// Wavelet coefficients of `x` in [0, 1].
    pub fn wavelet(&self, x: &Tensor) -> Tensor {
        self.wpt.forward(&(x - 0.5))
    }

    /// (μ, σ) of every latent from the decoded hyper-latent.
    pub fn hyper_synthesis(&self, z_hat: &Tensor) -> (Tensor, Tensor) {
        let out = self.h_s.forward(z_hat);
        let c = self.config.latent;
        (out.narrow(1, 0, c), out.narrow(1, c, c))
    }

    /// The exact integer copy of `h_s` (for coding): fixed-point ẑ → fixed-point (μ, σ).
    pub fn hyper_synthesis_int(&self) -> IntSeq {
        self.h_s.to_int()
    }
}

/// Starts the linear encoder as a selection of the lowest-frequency packet bands (the decoder's
/// linear path as its transpose), so training starts from a blurred but recognisable image
/// rather than noise. Bands are ordered by their coarsest split first; every colour gets the
/// same bands round-robin.
pub(crate) fn low_band_init(encoder: &Conv1x1, decoder: &Conv1x1) {
    let (c, k) = (encoder.ws.size()[0], encoder.ws.size()[1]);
    let per_colour = k / 3;
    let mut chosen = Vec::new();
    // Band index within a colour's group, in order of increasing frequency of the coarse splits.
    let mut band = 0;
    while (chosen.len() as i64) < c && band < per_colour {
        for colour in 0..3 {
            if (chosen.len() as i64) < c {
                chosen.push(colour * per_colour + band);
            }
        }
        band += 1;
    }
    tch::no_grad(|| {
        let mut e = encoder.ws.shallow_clone();
        let mut d = decoder.ws.shallow_clone();
        let _ = e.zero_();
        let _ = d.zero_();
        let _ = encoder.bs.shallow_clone().zero_();
        let _ = decoder.bs.shallow_clone().zero_();
        for (i, &ch) in chosen.iter().enumerate() {
            let _ = e.get(i as i64).get(ch).fill_(1.0);
            let _ = d.get(ch).get(i as i64).fill_(1.0);
        }
    });
}

impl super::ConfigFamily for WallocConfig {
    fn arch(&self) -> &'static str {
        "walloc"
    }
    fn to_json(&self) -> String {
        serde_json::to_string(self).expect("config serializes")
    }
    fn lambdas(&self) -> &[f64] {
        &self.lambdas
    }
    fn validate(&self) -> Result<(), String> {
        rate::validate(&self.lambdas)?;
        if !(1..=4).contains(&self.wavelet_levels) {
            return Err("wavelet_levels must be 1 to 4".into());
        }
        if self.latent < 1 || self.hyper < 1 || self.hidden < 1 || self.blocks < 0 {
            return Err("channel counts must be positive".into());
        }
        crate::nn::int::check_fan_in(&[
            ("h_s.0", self.hyper * 25),
            ("h_s.2", self.hyper * 25),
            ("h_s.4", self.hyper * 3 / 2 * 9),
        ])?;
        Ok(())
    }
    fn z_channels(&self) -> i64 {
        self.hyper
    }
    fn latent_channels(&self) -> i64 {
        self.latent
    }
    fn latent_stride(&self) -> i64 {
        WallocConfig::latent_stride(self)
    }
    /// `z`, then the whole latent.
    fn streams_per_tile(&self) -> usize {
        2
    }
    fn summary(&self) -> &'static str {
        "CDF 9/7 wavelet packet transform + linear 1x1 encoder; mean-scale hyperprior \
         (factorized z); linear + residual-CNN decoder to wavelet coefficients, inverse WPT; gain-vector variable rate"
    }
    fn arch_arg(&self) -> String {
        if *self == Self::tiny() {
            "walloc-tiny".into()
        } else if self.latent == Self::small().latent {
            "walloc".into()
        } else {
            format!("walloc --latent {}", self.latent)
        }
    }
    fn build(&self, p: &nn::Path) -> super::Network {
        super::Network::Walloc(WallocModel::new(p, self.clone()))
    }
}

impl super::NetworkFamily for WallocModel {
    fn config(&self) -> super::ModelConfig {
        self.config.clone().into()
    }
    /// The training forward pass from a given gained latent `y` and hyper-latent `z`.
    fn forward_latents(&self, y: &Tensor, z: &Tensor, q: &[f64], proxy: RateProxy) -> TrainOut {
        let zb = self.entropy_bottleneck.forward_proxy(z, proxy);
        let (mu, sigma) = self.hyper_synthesis(&zb.z_hat);
        let y_hat = ste_round(&(y - &mu)) + &mu;
        let y_rate = proxy.rate_input(y, &y_hat);
        let y_bits = bits_per_sample(&gaussian::likelihood(&y_rate, &mu, &sigma));
        let x_hat = self.synthesis(&(y_hat * self.gains.inv_gains(q)));
        TrainOut {
            x_hat,
            y_bits,
            z_bits: bits_per_sample(&zb.likelihoods),
        }
    }
    fn entropy_bottleneck(&self) -> &EntropyBottleneck {
        &self.entropy_bottleneck
    }
    fn gains(&self) -> &GainVectors {
        &self.gains
    }
    /// The latent before the rate gain: `[B, C, H/2^J, W/2^J]`.
    fn analysis(&self, x: &Tensor) -> Tensor {
        self.encoder.forward(&self.wavelet(x))
    }
    fn hyper_analysis(&self, y: &Tensor) -> Tensor {
        self.h_a.forward(y)
    }
    /// Pixels in [0, 1] (unclamped) from a dequantized, gain-normalized latent.
    fn synthesis(&self, y_hat: &Tensor) -> Tensor {
        let coef = self.dec_linear.forward(y_hat) + self.dec_refine.forward(y_hat);
        self.wpt.inverse(&coef) + 0.5
    }
    fn to_int(&self) -> super::IntEntropy {
        super::IntEntropy::Walloc(self.hyper_synthesis_int())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::zoo::NetworkFamily;
    use tch::{Device, Kind};

    #[test]
    fn configs_beyond_the_integer_limit_are_refused() {
        let mut c = WallocConfig::small();
        c.hyper = 1024;
        assert!(c.validate().unwrap_err().contains("exactness limit"));
        let mut e = crate::zoo::ElicConfig::small();
        e.n = 1024;
        assert!(e.validate().unwrap_err().contains("h_s.0"));
        assert!(WallocConfig::small().validate().is_ok());
        assert!(crate::zoo::ElicConfig::small().validate().is_ok());
    }

    #[test]
    fn shapes_names_and_linear_start() {
        tch::manual_seed(0);
        let vs = nn::VarStore::new(Device::Cpu);
        let model = WallocModel::new(&vs.root(), WallocConfig::tiny());
        let x = Tensor::rand([2, 3, 32, 64], (Kind::Float, Device::Cpu));
        let y = model.analysis(&x);
        assert_eq!(y.size(), vec![2, 8, 8, 16]);
        let out = model.forward(&x, &[1.0, 3.0], true);
        assert_eq!(out.x_hat.size(), vec![2, 3, 32, 64]);
        assert!(out.y_bits.min().double_value(&[]) > 0.0);
        assert!(out.z_bits.min().double_value(&[]) > 0.0);
        let names: Vec<String> = vs.variables().keys().cloned().collect();
        for n in [
            "encoder.weight",
            "decoder.linear.bias",
            "decoder.refine.0.weight",
            "decoder.refine.2.a.weight",
            "decoder.refine.3.weight",
            "h_s.4.weight",
            "entropy_bottleneck.quantiles",
            "gain",
            "inv_gain",
        ] {
            assert!(names.contains(&n.to_string()), "missing {n}: {names:?}");
        }
    }
}
