//! The temporal prior of the video mode: a spatiotemporal entropy model in latent space, in the
//! spirit of "Spatiotemporal Entropy Model is All You Need for Learned Video Compression"
//! (Sheng et al., 2021), without motion estimation.
//!
//! Every frame goes through the image model's transforms and hyperprior unchanged. For an inter
//! frame `t`, the entropy parameters of its latent are
//!
//! `(μ, σ) = h_s(ẑ_t) + P([h_s(ẑ_t), ŷ_{t−1}, ŷ_{t−2}])`
//!
//! where `P` is a small convolutional network (3x3 convolutions at latent resolution, a 7x7
//! latent receptive field, i.e. ±24 pixels of motion for a stride-8 latent) and `ŷ` are the
//! *decoded* latents of the previous frames (with the rate gain, exactly what the decoder has).
//! The last layer starts at zero, so an untrained prior is the image model's hyperprior. For
//! coding, `P` runs as exact integer layers ([`IntSeq`]) on fixed-point inputs, and the sum with
//! the integer hyperprior output is exact, so every machine selects the same tables.

use serde::{Deserialize, Serialize};
use tch::{nn, nn::Module, Tensor};

use crate::nn::conv;
use crate::nn::int::{IntLayer, IntSeq};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TemporalConfig {
    /// Latent channels `C` of the base image model.
    pub latent: i64,
    /// Width of the prior network.
    pub hidden: i64,
    /// Previous decoded latents used (1 or 2).
    pub refs: i64,
}

impl TemporalConfig {
    /// The shipped configuration for a base model with `latent` channels.
    pub fn small(latent: i64) -> Self {
        TemporalConfig {
            latent,
            hidden: 96,
            refs: 2,
        }
    }
    /// Input channels of the network: the hyperprior's (μ, σ) and `refs` previous latents.
    pub fn inputs(&self) -> i64 {
        (2 + self.refs) * self.latent
    }
    pub fn validate(&self) -> Result<(), String> {
        if !(1..=2).contains(&self.refs) {
            return Err("refs must be 1 or 2".into());
        }
        if self.latent < 1 || self.hidden < 1 {
            return Err("channel counts must be positive".into());
        }
        crate::nn::int::check_fan_in(&[
            ("prior.0", self.inputs() * 9),
            ("prior.2", self.hidden * 9),
            ("prior.4", self.hidden * 9),
            ("prior.6", self.hidden),
            ("skip", self.inputs()),
        ])
    }
}

#[derive(Debug)]
pub struct TemporalPrior {
    pub config: TemporalConfig,
    layers: [crate::nn::Conv; 4],
    /// A linear 1x1 path from the input to the output (zero at the start): predictions such as
    /// "μ = a·ŷ(t−1) + b·μ_h" are linear, and the ReLU stack learns them slowly.
    skip: crate::nn::Conv,
    /// Per-channel powers of two (not trained, `prior.input_scale [1, I, 1, 1]` and
    /// `prior.output_scale [1, 2C, 1, 1]`): the network works on unit-scale values although
    /// latents and σ reach tens, and Adam's steps (about the learning rate per weight) then have
    /// the same effect on every channel. Set from data by [`TemporalPrior::set_scales`] before
    /// training; folded into the first and last layers' weights for the integer copy (exact:
    /// powers of two).
    input_scale: Tensor,
    output_scale: Tensor,
}

impl TemporalPrior {
    /// Parameters `p.prior.{0,2,4,6}` (the indexes of a `Sequential` with ReLUs between).
    pub fn new(p: &nn::Path, config: TemporalConfig) -> Self {
        config.validate().expect("invalid TemporalConfig");
        let q = p / "prior";
        let (i, h, c) = (config.inputs(), config.hidden, config.latent);
        let last = conv(&q / 6, h, 2 * c, 1, 1);
        tch::no_grad(|| {
            let _ = last.ws.shallow_clone().zero_();
            if let Some(b) = &last.bs {
                let _ = b.shallow_clone().zero_();
            }
        });
        let skip = conv(p / "skip", i, 2 * c, 1, 1);
        tch::no_grad(|| {
            let _ = skip.ws.shallow_clone().zero_();
            if let Some(b) = &skip.bs {
                let _ = b.shallow_clone().zero_();
            }
        });
        let layers = [
            conv(&q / 0, i, h, 3, 1),
            conv(&q / 2, h, h, 3, 1),
            conv(&q / 4, h, h, 3, 1),
            last,
        ];
        let input_scale = q.ones_no_train("input_scale", &[1, i, 1, 1]);
        let output_scale = q.ones_no_train("output_scale", &[1, 2 * c, 1, 1]);
        TemporalPrior {
            config,
            layers,
            skip,
            input_scale,
            output_scale,
        }
    }

    /// The network's input: the hyperprior's parameters and the previous latents (most recent
    /// first; with one previous frame only, it stands in for both).
    fn input(&self, hyper: &Tensor, prev: &[&Tensor]) -> Tensor {
        assert!(!prev.is_empty(), "an inter frame needs a previous latent");
        let mut parts = vec![hyper.shallow_clone()];
        for k in 0..self.config.refs as usize {
            parts.push(prev[k.min(prev.len() - 1)].shallow_clone());
        }
        Tensor::cat(&parts, 1)
    }

    /// Float parameters `[B, 2C, h, w]` (μ then σ) from the hyperprior's `[B, 2C, h, w]` and the
    /// previous decoded latents `[B, C, h, w]` (for training).
    pub fn forward(&self, hyper: &Tensor, prev: &[&Tensor]) -> Tensor {
        let x = self.input(hyper, prev) * &self.input_scale;
        let mut a = x.shallow_clone();
        for (k, l) in self.layers.iter().enumerate() {
            a = l.forward(&a);
            if k + 1 < self.layers.len() {
                a = a.relu();
            }
        }
        hyper + (a + self.skip.forward(&x)) * &self.output_scale
    }

    /// Sets the input and output scales to the powers of two nearest the reciprocal RMS of each
    /// input channel and the RMS of each latent channel's prediction error `y − μ_h`, from a
    /// sample of hyperprior outputs `[N, 2C, h, w]`, previous latents and current latents.
    pub fn set_scales(&self, hyper: &Tensor, prev: &Tensor, y: &Tensor) {
        let pow2 = |rms: Tensor| rms.clamp_min(1e-3).log2().round().exp2();
        let rms = |t: &Tensor| {
            t.square()
                .mean_dim([0i64, 2, 3].as_slice(), true, tch::Kind::Float)
                .sqrt()
        };
        let x = self.input(hyper, &[prev]);
        let c = self.config.latent;
        let err = pow2(rms(&(y - hyper.narrow(1, 0, c))));
        tch::no_grad(|| {
            self.input_scale
                .shallow_clone()
                .copy_(&pow2(rms(&x)).reciprocal());
            self.output_scale
                .shallow_clone()
                .copy_(&Tensor::cat(&[&err, &err], 1));
        });
    }

    /// The exact integer network.
    pub fn to_int(&self) -> IntTemporal {
        let n = self.layers.len();
        IntTemporal {
            refs: self.config.refs as usize,
            skip: IntLayer::conv(
                &(&self.skip.ws
                    * self.input_scale.view([1, -1, 1, 1])
                    * self.output_scale.view([-1, 1, 1, 1])),
                self.skip
                    .bs
                    .as_ref()
                    .map(|b| b * self.output_scale.view([-1]))
                    .as_ref(),
                1,
                false,
            ),
            net: IntSeq(
                self.layers
                    .iter()
                    .enumerate()
                    .map(|(k, l)| {
                        // The scales folded into the first and last layers (exact: powers of two).
                        if k == 0 {
                            IntLayer::conv(
                                &(&l.ws * self.input_scale.view([1, -1, 1, 1])),
                                l.bs.as_ref(),
                                1,
                                true,
                            )
                        } else if k + 1 == n {
                            let b = l.bs.as_ref().map(|b| b * self.output_scale.view([-1]));
                            IntLayer::conv(
                                &(&l.ws * self.output_scale.view([-1, 1, 1, 1])),
                                b.as_ref(),
                                1,
                                false,
                            )
                        } else {
                            IntLayer::conv(&l.ws, l.bs.as_ref(), 1, true)
                        }
                    })
                    .collect(),
            ),
        }
    }
}

/// The integer temporal prior used for coding.
#[derive(Debug)]
pub struct IntTemporal {
    refs: usize,
    skip: IntLayer,
    net: IntSeq,
}

impl IntTemporal {
    /// Fixed-point parameters from the fixed-point hyperprior output and previous latents
    /// (most recent first). Exact: integer layers and an integer sum, clamped like every
    /// integer activation.
    pub fn forward(&self, hyper_fx: &Tensor, prev_fx: &[&Tensor]) -> Tensor {
        assert!(
            !prev_fx.is_empty(),
            "an inter frame needs a previous latent"
        );
        let mut parts = vec![hyper_fx.shallow_clone()];
        for k in 0..self.refs {
            parts.push(prev_fx[k.min(prev_fx.len() - 1)].shallow_clone());
        }
        let x = Tensor::cat(&parts, 1);
        let delta = self.net.forward(&x) + self.skip.forward(&x);
        (hyper_fx + delta).clamp(-crate::nn::int::ACT_MAX, crate::nn::int::ACT_MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{Device, Kind};

    #[test]
    fn starts_as_the_hyperprior_and_names_follow_state_dict() {
        let vs = nn::VarStore::new(Device::Cpu);
        let p = TemporalPrior::new(&vs.root(), TemporalConfig::small(4));
        let hyper = Tensor::randn([1, 8, 5, 6], (Kind::Float, Device::Cpu));
        let prev = Tensor::randn([1, 4, 5, 6], (Kind::Float, Device::Cpu));
        let out = p.forward(&hyper, &[&prev]);
        assert_eq!(out.size(), vec![1, 8, 5, 6]);
        assert!(out.allclose(&hyper, 0.0, 0.0, false));
        let int = p.to_int();
        let hfx = crate::nn::int::to_fixed(&hyper);
        let pfx = crate::nn::int::to_fixed(&prev);
        assert!(int.forward(&hfx, &[&pfx]).equal(&hfx));
        let mut names: Vec<String> = vs.variables().keys().cloned().collect();
        names.sort();
        assert_eq!(names[0], "prior.0.bias");
        assert_eq!(names.len(), 12);
    }

    #[test]
    fn integer_prior_tracks_the_float_one() {
        tch::manual_seed(3);
        let vs = nn::VarStore::new(Device::Cpu);
        let p = TemporalPrior::new(&vs.root(), TemporalConfig::small(4));
        tch::no_grad(|| {
            for (_, mut v) in vs.variables() {
                let _ = v.g_add_(&(v.randn_like() * 0.05));
            }
        });
        let hyper = Tensor::randn([1, 8, 6, 7], (Kind::Float, Device::Cpu)) * 3.0;
        let a = Tensor::randn([1, 4, 6, 7], (Kind::Float, Device::Cpu)) * 5.0;
        let b = Tensor::randn([1, 4, 6, 7], (Kind::Float, Device::Cpu)) * 5.0;
        let f = p.forward(&hyper, &[&a, &b]);
        let int = p.to_int();
        let fx = |t: &Tensor| crate::nn::int::to_fixed(t);
        let i = crate::nn::int::from_fixed(&int.forward(&fx(&hyper), &[&fx(&a), &fx(&b)]));
        let err = (i.to_kind(Kind::Float) - f).abs().max().double_value(&[]);
        assert!(err < 0.05, "integer prior off by {err}");
    }
}
