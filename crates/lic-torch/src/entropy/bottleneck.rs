//! The factorized entropy bottleneck of Ballé et al. (2018), "Variational image compression with a
//! scale hyperprior", appendix 6.1: per channel a monotone cumulative density built from small
//! matrices (filters 1→3→3→3→1), softplus-positive weights and tanh gates. The `quantiles`
//! parameter (per channel: lower tail, median, upper tail) is learned by an auxiliary loss and
//! fixes the symbol range exported to the integer coder.

use tch::{nn, Kind, Tensor};

use super::LIKELIHOOD_BOUND;
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
        self.forward_proxy(z, super::RateProxy::from_train(train))
    }

    /// [`EntropyBottleneck::forward`] with the rate measured as `proxy` says.
    pub fn forward_proxy(&self, z: &Tensor, proxy: super::RateProxy) -> BottleneckOut {
        let med = self.medians().detach().view([1, self.channels, 1, 1]);
        let z_hat = ste_round(&(z - &med)) + &med;
        let likelihoods = self.likelihood(&proxy.rate_input(z, &z_hat));
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

    /// The probability of every integer symbol `s` (value `s + median`) of each channel, as
    /// `(offset, pmf)`, in f64. The support is found from the learned density itself (not from
    /// the auxiliary quantiles, which converge slowly): all symbols within `±(max_len − 1) / 2` of
    /// the median, minus the tails that hold less than `TAIL_MASS / 2` each. Symbols outside the
    /// support use the coder's escape path.
    pub fn export_pmfs(&self, max_len: usize) -> Vec<(i32, Vec<f64>)> {
        tch::no_grad(|| {
            let half = ((max_len.max(3) - 1) / 2) as i64;
            let n = 2 * half + 1;
            let device = self.quantiles.device();
            let med = self.medians().detach().view([self.channels, 1, 1]);
            let offsets =
                Tensor::arange_start(-half, half + 1, (Kind::Float, device)).view([1, 1, n]);
            let v = &med + offsets;
            let lower = self.logits_cumulative(&(&v - 0.5), true);
            let upper = self.logits_cumulative(&(&v + 0.5), true);
            let sign = -(&lower + &upper).sign();
            let lik = ((&sign * &upper).sigmoid() - (&sign * &lower).sigmoid()).abs();
            let lik = lik
                .view([self.channels, n])
                .to_device(tch::Device::Cpu)
                .to_kind(Kind::Double);
            let all: Vec<f64> = Vec::try_from(lik.flatten(0, -1)).expect("pmf to f64");
            all.chunks(n as usize)
                .map(|p| {
                    let mut lo = 0;
                    let mut acc = 0.0;
                    while lo + 1 < p.len() && acc + p[lo] < TAIL_MASS / 2.0 {
                        acc += p[lo];
                        lo += 1;
                    }
                    let mut hi = p.len() - 1;
                    acc = 0.0;
                    while hi > lo && acc + p[hi] < TAIL_MASS / 2.0 {
                        acc += p[hi];
                        hi -= 1;
                    }
                    ((lo as i64 - half) as i32, p[lo..=hi].to_vec())
                })
                .collect()
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
        let pmfs = eb.export_pmfs(255);
        assert_eq!(pmfs.len(), 4);
        for (off, p) in &pmfs {
            assert!(*off <= 0 && *off >= -127 && !p.is_empty() && p.len() <= 255);
            let s: f64 = p.iter().sum();
            // Untrained densities are wide: only check it is a valid sub-probability.
            assert!(s > 0.0 && s <= 1.0 + 1e-9, "{s}");
        }
    }
}
