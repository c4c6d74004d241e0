//! Trainable entropy models (libtorch): the factorized [`EntropyBottleneck`] for the hyper-latent
//! and the [`gaussian`] conditional for the latent, with the quantization proxies used in training.
//! Their frozen integer tables for the `coder` come from [`EntropyBottleneck::export_pmfs`] and
//! from `coder`'s fixed scale table.
pub mod bottleneck;
pub mod gaussian;

pub use bottleneck::EntropyBottleneck;

use tch::Tensor;

/// Smallest likelihood used in rate terms (avoids log(0)).
pub const LIKELIHOOD_BOUND: f64 = 1e-9;

/// Adds uniform noise in [-0.5, 0.5): the training-time proxy for rounding.
pub fn add_noise(x: &Tensor) -> Tensor {
    x + x.rand_like() - 0.5
}

/// What the rate term of a forward pass measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RateProxy {
    /// Likelihood of `x` plus uniform noise (training).
    Noise,
    /// Likelihood of the rounded value, no gradient (validation).
    Rounded,
    /// Likelihood of the rounded value with a straight-through gradient (encode-time
    /// refinement: the rate of what will really be coded).
    Straight,
}

impl RateProxy {
    /// `Noise` for training, `Rounded` otherwise.
    pub fn from_train(train: bool) -> RateProxy {
        if train {
            RateProxy::Noise
        } else {
            RateProxy::Rounded
        }
    }

    /// The values whose likelihood is the rate, given `x` and its straight-through rounding
    /// `x_hat` (value of the rounding, gradient of `x`).
    pub fn rate_input(self, x: &Tensor, x_hat: &Tensor) -> Tensor {
        match self {
            RateProxy::Noise => add_noise(x),
            RateProxy::Rounded => x_hat.detach(),
            RateProxy::Straight => x_hat.shallow_clone(),
        }
    }
}

/// Bits (−Σ log2 p) of a likelihood tensor, as a 0-d tensor.
pub fn bits(likelihoods: &Tensor) -> Tensor {
    likelihoods.log2().sum(tch::Kind::Float).neg()
}

/// Bits per sample of a batch: −Σ log2 p over all but the first dimension, shape `[B]`.
pub fn bits_per_sample(likelihoods: &Tensor) -> Tensor {
    let b = likelihoods.size()[0];
    likelihoods
        .log2()
        .reshape([b, -1])
        .sum_dim_intlist([1i64].as_slice(), false, tch::Kind::Float)
        .neg()
}
