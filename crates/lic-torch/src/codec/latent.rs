//! The latent toolkit that the image codec (`codec`) and the video codec (`video::codec`) share:
//! moving tensors to coder inputs and back, the symbols of a latent, the fixed-point values the
//! integer context networks read, and the hyper-latent `ẑ`. Encoder and decoder call the same
//! functions, so what selects a table is computed identically on both sides.
//!
//! - [`to_f32`] / [`to_f64`] ([`to_vec`]): a tensor's values on the CPU.
//! - [`quantize_all`]: the symbols `round(y − μ)`; [`dequantize`]: `symbol + μ` back as a tensor.
//! - [`coding_inputs`]: μ, σ and the Gaussian table indexes from fixed-point μ, σ;
//!   [`channel_indexes`]: each value's channel (the factorized tables of `z`).
//! - [`fixed_values`]: fixed-point `ŷ` for the context networks; [`z_fixed`]: fixed-point `ẑ`.
//! - [`place`]: values scattered back to the positions of a mask (the checkerboard passes).
//! - [`check_quality`]: the quality range of a model.

use tch::{Device, Tensor};

use super::{CodecError, CodecModel};
use crate::coder;
use crate::nn::int;

/// A tensor's values, flattened, on the CPU, as `T` (f32 or f64).
pub(crate) fn to_vec<T: tch::kind::Element>(t: &Tensor) -> Vec<T> {
    let flat = t
        .to_device(Device::Cpu)
        .to_kind(T::KIND)
        .contiguous()
        .flatten(0, -1);
    let n = flat.numel();
    let mut v = vec![T::ZERO; n];
    flat.copy_data(&mut v, n);
    v
}

/// A tensor's values as f32 ([`to_vec`]).
pub(crate) fn to_f32(t: &Tensor) -> Vec<f32> {
    to_vec(t)
}

/// A tensor's values as f64 ([`to_vec`]).
pub(crate) fn to_f64(t: &Tensor) -> Vec<f64> {
    to_vec(t)
}

/// `values` (1-D) placed at the `true` positions of `mask` (broadcast to `shape`), zeros elsewhere.
pub(crate) fn place(values: &Tensor, mask: &Tensor, shape: &[i64]) -> Tensor {
    let zeros = Tensor::zeros(shape, (values.kind(), values.device()));
    zeros.masked_scatter(&mask.expand(shape, false), values)
}

/// Channel index of each element of a `[1, C, H, W]` tensor selected by a full mask, as u16.
pub(crate) fn channel_indexes(c: i64, h: i64, w: i64) -> Vec<u16> {
    (0..c)
        .flat_map(|ch| std::iter::repeat_n(ch as u16, (h * w) as usize))
        .collect()
}

/// The coder's inputs from fixed-point μ and σ: μ and σ as f32 (exact: integers below 2^24 times
/// 2^-8) and the Gaussian table index of each value.
pub(crate) fn coding_inputs(mu_fx: &[f64], sigma_fx: &[f64]) -> (Vec<f32>, Vec<f32>, Vec<u16>) {
    let unit = f64::from(1 << int::FRAC);
    let mu: Vec<f32> = mu_fx.iter().map(|&v| (v / unit) as f32).collect();
    let sigma: Vec<f32> = sigma_fx.iter().map(|&v| (v / unit) as f32).collect();
    let tables = sigma.iter().map(|&s| coder::scale_index(s)).collect();
    (mu, sigma, tables)
}

/// Fixed-point `ŷ = symbol + μ` for the context networks (exact integers, clamped).
pub(crate) fn fixed_values(syms: &[i32], mu_fx: &[f64]) -> Vec<f64> {
    let unit = f64::from(1 << int::FRAC);
    syms.iter()
        .zip(mu_fx)
        .map(|(&s, &u)| (f64::from(s) * unit + u).clamp(-int::ACT_MAX, int::ACT_MAX))
        .collect()
}

/// Fixed-point ẑ = symbol + median, built the same way by encoder and decoder.
pub(crate) fn z_fixed(model: &CodecModel, z_syms: &[i32], (n, hz, wz): (i64, i64, i64)) -> Tensor {
    let plane = (hz * wz) as usize;
    let unit = f64::from(1 << int::FRAC);
    let vals: Vec<f64> = z_syms
        .iter()
        .enumerate()
        .map(|(k, &s)| {
            (f64::from(s) * unit + model.z_medians_fixed[k / plane])
                .clamp(-int::ACT_MAX, int::ACT_MAX)
        })
        .collect();
    Tensor::from_slice(&vals)
        .view([1, n, hz, wz])
        .to_device(model.device)
}

/// An error unless `q` is inside the model's quality range.
pub(crate) fn check_quality(model: &CodecModel, q: f64) -> Result<(), CodecError> {
    let (lo, hi) = model.config.quality_range();
    if !(lo..=hi).contains(&q) {
        return Err(CodecError::Quality(q, lo, hi));
    }
    Ok(())
}

/// Symbols `round(y − μ)` of a latent (the tables come from σ through [`coding_inputs`]).
pub(crate) fn quantize_all(y: &[f32], mu: &[f32]) -> Vec<i32> {
    y.iter()
        .zip(mu)
        .map(|(&v, &m)| coder::quantize_symbol(v, m))
        .collect()
}

/// `symbol + μ` in f32 (the same function at encoder and decoder), as a tensor of `shape`.
pub(crate) fn dequantize(syms: &[i32], mu: &[f32], shape: &[i64], device: Device) -> Tensor {
    let vals: Vec<f32> = syms.iter().zip(mu).map(|(&s, &u)| s as f32 + u).collect();
    Tensor::from_slice(&vals).view(shape).to_device(device)
}
