//! Gaussian conditional: the likelihood of a quantization bin of width 1 around `y` under
//! N(μ, σ²), with a lower bound on σ (the smallest entry of the coder's scale table) and on the
//! likelihood.

use tch::Tensor;

use crate::nn::lower_bound;

use super::LIKELIHOOD_BOUND;

/// Lower bound on σ; equals the first entry of `coder`'s scale table.
pub const SCALE_BOUND: f64 = 0.11;

/// Standard normal CDF.
pub fn std_normal_cdf(x: &Tensor) -> Tensor {
    (x * (-std::f64::consts::FRAC_1_SQRT_2)).erfc() * 0.5
}

/// P(bin around `y`) under N(`mu`, `sigma`²). Uses the symmetric form (upper tail at |y − μ|)
/// for numerical accuracy far from the mean.
pub fn likelihood(y: &Tensor, mu: &Tensor, sigma: &Tensor) -> Tensor {
    let sigma = lower_bound(sigma, SCALE_BOUND);
    let v = (y - mu).abs();
    let upper = std_normal_cdf(&((-&v + 0.5) / &sigma));
    let lower = std_normal_cdf(&((-&v - 0.5) / &sigma));
    lower_bound(&(upper - lower), LIKELIHOOD_BOUND)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bins_sum_to_one() {
        let ys = Tensor::arange_start(-40, 41, (tch::Kind::Float, tch::Device::Cpu));
        let mu = Tensor::from(0.3f32);
        let sigma = Tensor::from(2.5f32);
        let l = likelihood(&ys, &mu, &sigma);
        let s = l.sum(tch::Kind::Double).double_value(&[]);
        assert!((s - 1.0).abs() < 1e-5, "{s}");
        // Peak bin at y=0 (nearest to 0.3): Φ(0.2/2.5)−Φ(−0.8/2.5).
        let p0 = l.double_value(&[40]);
        assert!((p0 - 0.157_401).abs() < 1e-4, "{p0}");
    }
}
