//! Simplified generalized divisive normalization (Johnston et al. 2019):
//! `y_i = x_i / (β_i + Σ_j γ_ij |x_j|)`, and its inverse `y_i = x_i · (β_i + Σ_j γ_ij |x_j|)`.
//!
//! β and γ are kept non-negative by the usual reparametrization: the stored value `v` maps to
//! `max(v, √(bound + p))² − p` with a small pedestal `p`, so gradients stay well-behaved near 0.

use tch::{nn, Kind, Tensor};

use super::ops::lower_bound;

const PEDESTAL: f64 = 1.0 / (1u64 << 36) as f64;

#[derive(Debug)]
pub struct Gdn {
    beta: Tensor,
    gamma: Tensor,
    inverse: bool,
    channels: i64,
}

fn reparam(v: &Tensor, min: f64) -> Tensor {
    let bound = (min + PEDESTAL).sqrt();
    lower_bound(v, bound).square() - PEDESTAL
}

impl Gdn {
    pub fn new(p: nn::Path, channels: i64, inverse: bool) -> Gdn {
        let init_beta = (1.0f64 + PEDESTAL).sqrt();
        let beta = p.var("beta", &[channels], nn::Init::Const(init_beta));
        let eye = Tensor::eye(channels, (Kind::Float, p.device())) * 0.1 + PEDESTAL;
        let gamma = p.var_copy("gamma", &eye.sqrt());
        Gdn {
            beta,
            gamma,
            inverse,
            channels,
        }
    }
}

impl nn::Module for Gdn {
    fn forward(&self, x: &Tensor) -> Tensor {
        let beta = reparam(&self.beta, 1e-6);
        let gamma = reparam(&self.gamma, 0.0);
        let c = self.channels;
        let norm = super::ops::matmul_1x1(&x.abs(), &gamma, Some(&beta), c, c);
        if self.inverse {
            x * norm
        } else {
            x / norm
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::nn::Module;

    #[test]
    fn inverse_undoes_forward_at_init_for_small_inputs() {
        let vs = nn::VarStore::new(tch::Device::Cpu);
        let g = Gdn::new(vs.root() / "g", 4, false);
        let ig = Gdn::new(vs.root() / "ig", 4, true);
        let x = Tensor::from_slice(&[0.5f32, -0.25, 0.1, 0.0]).view([1, 4, 1, 1]);
        let y = g.forward(&x);
        // y = x / (1 + 0.1|x|): check one value exactly.
        let y0 = y.double_value(&[0, 0, 0, 0]);
        assert!((y0 - 0.5 / 1.05).abs() < 1e-6, "{y0}");
        let names: Vec<String> = vs.variables().keys().cloned().collect();
        assert!(names.contains(&"g.beta".to_string()) && names.contains(&"ig.gamma".to_string()));
        let _ = ig.forward(&y);
    }
}
