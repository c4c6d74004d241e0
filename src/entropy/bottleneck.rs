//! The factorized entropy bottleneck of Ballé et al. (2018), "Variational image compression with a
//! scale hyperprior", appendix 6.1: per channel a monotone cumulative density built from small
//! matrices (filters 1→3→3→3→1), softplus-positive weights and tanh gates. The `quantiles`
//! parameter (per channel: lower tail, median, upper tail) is learned by an auxiliary loss and
//! fixes the symbol range exported to the integer coder.

use tch::{nn, Kind, Tensor};

use super::{add_noise, LIKELIHOOD_BOUND};
use crate::nn::{lower_bound, ste_round};

const FILTERS: [i64; 3] = [3, 3, 3];
const INIT_SCALE: f64 = 10.0;
/// Probability mass left outside [lower quantile, upper quantile].
pub const TAIL_MASS: f64 = 1e-9;

#[derive(Debug)]
pub struct EntropyBottleneck {
    channels: i64,
    matrices: Vec<Tensor>,
    biases: Vec<Tensor>,
    factors: Vec<Tensor>,
    /// `[C, 1, 3]`: lower tail, median, upper tail.
    pub quantiles: Tensor,
}

/// Output of the bottleneck in training.
pub struct BottleneckOut {
    /// Values passed on to the hyper-synthesis: `round(z − median) + median` (straight-through).
    pub z_hat: Tensor,
    /// Likelihoods of the noisy `z` (the rate proxy).
    pub likelihoods: Tensor,
}

impl EntropyBottleneck {
    pub fn new(p: nn::Path, channels: i64) -> Self {
        let dims: Vec<i64> = std::iter::once(1)
            .chain(FILTERS)
            .chain(std::iter::once(1))
            .collect();
        let scale = INIT_SCALE.powf(1.0 / (FILTERS.len() as f64 + 1.0));
        let mut matrices = Vec::new();
        let mut biases = Vec::new();
        let mut factors = Vec::new();
        for i in 0..dims.len() - 1 {
            let init = (1.0 / scale / dims[i + 1] as f64).exp_m1().ln();
            matrices.push(p.var(
                &format!("_matrix{i}"),
                &[channels, dims[i + 1], dims[i]],
                nn::Init::Const(init),
            ));
            biases.push(p.var(
                &format!("_bias{i}"),
                &[channels, dims[i + 1], 1],
                nn::Init::Uniform { lo: -0.5, up: 0.5 },
            ));
            if i < dims.len() - 2 {
                factors.push(p.var(
                    &format!("_factor{i}"),
                    &[channels, dims[i + 1], 1],
                    nn::Init::Const(0.0),
                ));
            }
        }
        let q =
            Tensor::from_slice(&[-INIT_SCALE as f32, 0.0, INIT_SCALE as f32]).to_device(p.device());
        let quantiles = p.var_copy("quantiles", &q.view([1, 1, 3]).repeat([channels, 1, 1]));
        EntropyBottleneck {
            channels,
            matrices,
            biases,
            factors,
            quantiles,
        }
    }

    pub fn channels(&self) -> i64 {
        self.channels
    }

    /// Cumulative logits for inputs shaped `[C, 1, N]`.
    fn logits_cumulative(&self, inputs: &Tensor, stop_gradient: bool) -> Tensor {
        let mut logits = inputs.shallow_clone();
        for i in 0..self.matrices.len() {
            let (m, b) = if stop_gradient {
                (self.matrices[i].detach(), self.biases[i].detach())
            } else {
                (
                    self.matrices[i].shallow_clone(),
                    self.biases[i].shallow_clone(),
                )
            };
            logits = m.softplus().matmul(&logits) + b;
            if i < self.factors.len() {
                let f = if stop_gradient {
                    self.factors[i].detach()
                } else {
                    self.factors[i].shallow_clone()
                };
                logits = &logits + f.tanh() * logits.tanh();
            }
        }
        logits
    }

    /// Per-channel medians, `[C]`.
    pub fn medians(&self) -> Tensor {
        self.quantiles.select(2, 1).view([self.channels])
    }

    /// Likelihood of the unit bin around each value of `z` (`[B, C, H, W]`).
    pub fn likelihood(&self, z: &Tensor) -> Tensor {
        let shape = z.size();
        let v = z.transpose(0, 1).reshape([self.channels, 1, -1]);
        let lower = self.logits_cumulative(&(&v - 0.5), false);
        let upper = self.logits_cumulative(&(&v + 0.5), false);
        let sign = -(&lower + &upper).sign().detach();
        let lik = ((&sign * &upper).sigmoid() - (&sign * &lower).sigmoid()).abs();
        let lik = lower_bound(&lik, LIKELIHOOD_BOUND);
        lik.reshape([self.channels, shape[0], shape[2], shape[3]])
            .transpose(0, 1)
    }

    /// Forward: straight-through rounded values, and likelihoods of noisy values (`train`) or of
    /// the rounded ones (validation).
    pub fn forward(&self, z: &Tensor, train: bool) -> BottleneckOut {
        let med = self.medians().detach().view([1, self.channels, 1, 1]);
        let z_hat = ste_round(&(z - &med)) + &med;
        let likelihoods = if train {
            self.likelihood(&add_noise(z))
        } else {
            self.likelihood(&z_hat.detach())
        };
        BottleneckOut { z_hat, likelihoods }
    }

    /// Auxiliary loss that moves `quantiles` to the tails and median of each channel's density.
    pub fn aux_loss(&self) -> Tensor {
        let t = (2.0 / TAIL_MASS - 1.0).ln();
        let target =
            Tensor::from_slice(&[-t as f32, 0.0, t as f32]).to_device(self.quantiles.device());
        let logits = self.logits_cumulative(
            &self
                .quantiles
                .transpose(1, 2)
                .reshape([self.channels, 1, 3]),
            true,
        );
        (logits.view([self.channels, 3]) - target.view([1, 3]))
            .abs()
            .sum(Kind::Float)
    }

    /// The probability of every integer symbol `s` (value `s + median`) in each channel's range
    /// `[floor(q_lo − med), ceil(q_hi − med)]`, as `(offset, pmf)` per channel, in f64.
    /// `max_len` caps the support (symbols outside use the coder's escape path).
    pub fn export_pmfs(&self, max_len: usize) -> Vec<(i32, Vec<f64>)> {
        tch::no_grad(|| {
            let q = self
                .quantiles
                .to_device(tch::Device::Cpu)
                .to_kind(Kind::Double)
                .view([self.channels, 3]);
            let q: Vec<f64> = Vec::try_from(q.flatten(0, -1)).expect("quantiles to f64");
            let mut out = Vec::with_capacity(self.channels as usize);
            for c in 0..self.channels as usize {
                let (lo, med, hi) = (q[3 * c], q[3 * c + 1], q[3 * c + 2]);
                let half = (max_len as i64 - 1) / 2;
                let start = ((lo - med).floor() as i64).clamp(-half, 0);
                let end = ((hi - med).ceil() as i64).clamp(0, half);
                let n = (end - start + 1) as usize;
                let vals: Vec<f32> = (0..n)
                    .map(|k| (start + k as i64) as f32 + med as f32)
                    .collect();
                let v = Tensor::from_slice(&vals).to_device(self.quantiles.device());
                // Evaluate channel c only: select its parameters through a [C,1,N] input whose other
                // channels are ignored.
                let all = v.view([1, 1, n as i64]).repeat([self.channels, 1, 1]);
                let lower = self.logits_cumulative(&(&all - 0.5), true);
                let upper = self.logits_cumulative(&(&all + 0.5), true);
                let sign = -(&lower + &upper).sign();
                let lik = ((&sign * &upper).sigmoid() - (&sign * &lower).sigmoid()).abs();
                let row = lik
                    .get(c as i64)
                    .view([n as i64])
                    .to_device(tch::Device::Cpu)
                    .to_kind(Kind::Double);
                out.push((start as i32, Vec::<f64>::try_from(row).expect("pmf to f64")));
            }
            out
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_shapes() {
        let vs = nn::VarStore::new(tch::Device::Cpu);
        let eb = EntropyBottleneck::new(vs.root() / "entropy_bottleneck", 4);
        let vars = vs.variables();
        assert_eq!(vars["entropy_bottleneck._matrix0"].size(), vec![4, 3, 1]);
        assert_eq!(vars["entropy_bottleneck._matrix3"].size(), vec![4, 1, 3]);
        assert_eq!(vars["entropy_bottleneck.quantiles"].size(), vec![4, 1, 3]);
        assert!(!vars.contains_key("entropy_bottleneck._factor3"));
        let z = Tensor::randn([2, 4, 3, 5], (Kind::Float, tch::Device::Cpu));
        let out = eb.forward(&z, true);
        assert_eq!(out.likelihoods.size(), vec![2, 4, 3, 5]);
        let l: f64 = out.likelihoods.max().double_value(&[]);
        assert!(l <= 1.0 && l > 0.0);
        let pmfs = eb.export_pmfs(4095);
        assert_eq!(pmfs.len(), 4);
        for (off, p) in &pmfs {
            assert!(*off <= 0 && !p.is_empty());
            let s: f64 = p.iter().sum();
            // Untrained densities are wide: only check it is a valid sub-probability.
            assert!(s > 0.0 && s <= 1.0 + 1e-9, "{s}");
        }
    }
}
