//! Variable rate from one model: `L` trained rate levels (λ values) and a continuous quality
//! `q ∈ [1, L]` that selects per-channel gain vectors, interpolated geometrically between levels
//! (Cui et al. 2021). The encoder multiplies the latent by `gain(q)` before quantization and the
//! decoder by `inv_gain(q)` before synthesis; level `k` is trained with `lambdas[k]`.

use tch::{nn, Tensor};

/// Number of levels, validated elsewhere to be at least 2.
fn levels(lambdas: &[f64]) -> usize {
    lambdas.len()
}

/// Range of the continuous quality: `[1, L]`.
pub fn quality_range(lambdas: &[f64]) -> (f64, f64) {
    (1.0, levels(lambdas) as f64)
}

/// `(lower level index, interpolation weight)` for quality `q` (clamped to the range).
pub fn level_weights(lambdas: &[f64], q: f64) -> (usize, f64) {
    let (lo, hi) = quality_range(lambdas);
    let x = q.clamp(lo, hi) - 1.0;
    let i = (x.floor() as usize).min(levels(lambdas).saturating_sub(2));
    (i, x - i as f64)
}

/// λ at a continuous quality (geometric interpolation between levels).
pub fn lambda_at(lambdas: &[f64], q: f64) -> f64 {
    let (i, t) = level_weights(lambdas, q);
    let j = (i + 1).min(levels(lambdas) - 1);
    (lambdas[i].ln() * (1.0 - t) + lambdas[j].ln() * t).exp()
}

/// Initial per-level gains `sqrt(λ_k / λ_mean)` (geometric mean): the MSE-optimal quantization
/// step shrinks like `λ^(-1/2)`, so every level codes at its own rate from the first step.
pub fn initial_gains(lambdas: &[f64]) -> Vec<f64> {
    let mean_log = lambdas.iter().map(|l| l.ln()).sum::<f64>() / levels(lambdas) as f64;
    lambdas
        .iter()
        .map(|l| (0.5 * (l.ln() - mean_log)).exp())
        .collect()
}

/// At least two increasing λ values.
pub fn validate(lambdas: &[f64]) -> Result<(), String> {
    if lambdas.len() < 2 || lambdas.windows(2).any(|w| w[0] >= w[1]) || lambdas[0] <= 0.0 {
        return Err("lambdas must be at least two increasing positive values".into());
    }
    Ok(())
}

/// The trainable `[L, C]` gain and inverse-gain tables (`gain`, `inv_gain` under `p`).
#[derive(Debug)]
pub struct GainVectors {
    lambdas: Vec<f64>,
    channels: i64,
    pub gain: Tensor,
    pub inv_gain: Tensor,
}

impl GainVectors {
    pub fn new(p: &nn::Path, lambdas: &[f64], channels: i64) -> Self {
        let l = lambdas.len() as i64;
        let g0: Vec<f32> = initial_gains(lambdas).iter().map(|&g| g as f32).collect();
        let g0 = Tensor::from_slice(&g0)
            .to_device(p.device())
            .view([l, 1])
            .repeat([1, channels]);
        GainVectors {
            lambdas: lambdas.to_vec(),
            channels,
            gain: p.var_copy("gain", &g0),
            inv_gain: p.var_copy("inv_gain", &g0.reciprocal()),
        }
    }

    /// Rows of `table` for per-sample qualities, `[B, C, 1, 1]`.
    fn rows(&self, table: &Tensor, q: &[f64]) -> Tensor {
        let rows: Vec<Tensor> = q
            .iter()
            .map(|&qv| {
                let (i, t) = level_weights(&self.lambdas, qv);
                let j = (i + 1).min(self.lambdas.len() - 1);
                let a = table.get(i as i64).abs().clamp_min(1e-4).log();
                let b = table.get(j as i64).abs().clamp_min(1e-4).log();
                (a * (1.0 - t) + b * t).exp()
            })
            .collect();
        Tensor::stack(&rows, 0).view([q.len() as i64, self.channels, 1, 1])
    }

    /// Encoder-side gains for per-sample qualities, `[B, C, 1, 1]`.
    pub fn gains(&self, q: &[f64]) -> Tensor {
        self.rows(&self.gain, q)
    }
    /// Decoder-side inverse gains, `[B, C, 1, 1]`.
    pub fn inv_gains(&self, q: &[f64]) -> Tensor {
        self.rows(&self.inv_gain, q)
    }

    /// Multiplies the gains by [`initial_gains`] (and the inverse gains by their reciprocals):
    /// for checkpoints whose gains started at 1.
    pub fn rescale(&self) {
        let l = self.lambdas.len() as i64;
        let g0: Vec<f32> = initial_gains(&self.lambdas)
            .iter()
            .map(|&g| g as f32)
            .collect();
        let g0 = Tensor::from_slice(&g0)
            .to_device(self.gain.device())
            .view([l, 1]);
        tch::no_grad(|| {
            let _ = self.gain.shallow_clone().g_mul_(&g0);
            let _ = self.inv_gain.shallow_clone().g_mul_(&g0.reciprocal());
        });
    }
}
