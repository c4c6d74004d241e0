//! Exact integer inference for the networks that choose the entropy coder's tables.
//!
//! A float network computes slightly different bits on different machines, thread counts and
//! instruction sets (summation order, fused multiply-adds, vendor kernels); if a σ that selects a
//! CDF table moves by one float step between encoder and decoder, decoding derails. Here every
//! layer computes with integers held in f64 tensors, in the spirit of Ballé et al., "Integer
//! Networks for Data Compression with Latent-Variable Models" (2019):
//!
//! - activations are fixed-point integers with [`FRAC`] fraction bits, clamped to ±[`ACT_MAX`];
//! - weights are integers `round(w · 2^s_c)` with a per-output-channel power-of-two scale `s_c`
//!   chosen so that `|w_int| ≤` [`WEIGHT_MAX`]; biases are `round(b · 2^(s_c + FRAC))`;
//! - a layer is `floor(Σ w_int·a + b_int) / 2^s_c + ½)`, then ReLU, then the clamp.
//!
//! Every product and every partial sum is an integer below 2^53 (|w| ≤ 2^13, |a| ≤ 2^24, fan-in
//! ≤ 2^14, bias < 2^51), so f64 arithmetic is exact and **any summation order gives the same
//! result**; division by a power of two, the half-offset and `floor` are exact as well. The
//! integer weights are derived from the shipped float weights by exact operations only (powers
//! of two, comparisons, round-half-even), so every machine derives the same ones.

use tch::{Kind, Tensor};

/// Fraction bits of the fixed-point activations (μ and σ have a resolution of 1/256).
pub const FRAC: i32 = 8;
/// Largest weight magnitude (14-bit signed integers).
pub const WEIGHT_MAX: f64 = 8191.0;
/// Largest activation magnitude in fixed-point units (2^24 − 1, i.e. 65536 in real units).
pub const ACT_MAX: f64 = 16_777_215.0;
/// Largest per-channel weight scale exponent (for all-zero or tiny channels).
const MAX_SHIFT: i32 = 30;
/// Largest fan-in (input channels × kernel taps) for which the exactness bound holds:
/// 2^13 · 2^24 · 2^14 = 2^51, plus a bias below 2^51, stays below 2^53. Model configs are
/// validated against it ([`check_fan_in`]), so a model file cannot exceed it.
pub const MAX_FAN_IN: i64 = 16_384;

/// Checks the fan-ins of a model's integer layers.
pub fn check_fan_in(layers: &[(&str, i64)]) -> Result<(), String> {
    match layers.iter().find(|(_, f)| *f > MAX_FAN_IN) {
        Some((name, f)) => Err(format!(
            "integer layer {name} has fan-in {f}, above the exactness limit {MAX_FAN_IN}"
        )),
        None => Ok(()),
    }
}

/// Converts real values to fixed point: `round(x · 2^FRAC)`, clamped. Exact for f32 inputs.
pub fn to_fixed(x: &Tensor) -> Tensor {
    (x.to_kind(Kind::Double) * f64::from(1 << FRAC))
        .round()
        .clamp(-ACT_MAX, ACT_MAX)
}

/// Fixed point back to real values (exact: a division by a power of two).
pub fn from_fixed(x: &Tensor) -> Tensor {
    x / f64::from(1 << FRAC)
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Op {
    Conv { stride: i64, padding: i64 },
    Deconv { stride: i64, padding: i64 },
}

/// One integer convolution (or transposed convolution) with optional ReLU.
#[derive(Debug)]
pub struct IntLayer {
    op: Op,
    /// Integer-valued f64 weights, in the float layer's layout.
    w: Tensor,
    /// Integer-valued f64 bias `[1, C, 1, 1]` (scale `2^(s_c + FRAC)`).
    b: Tensor,
    /// `2^-s_c` per output channel, `[1, C, 1, 1]`.
    inv_scale: Tensor,
    relu: bool,
}

/// The largest `s` in `[0, MAX_SHIFT]` with `m · 2^s ≤ WEIGHT_MAX` (exact: powers of two).
fn shift_for(max_abs: f64) -> i32 {
    let mut s = 0;
    while s < MAX_SHIFT && max_abs * 2f64.powi(s + 1) <= WEIGHT_MAX {
        s += 1;
    }
    s
}

impl IntLayer {
    /// From a float layer's weights. `out_dim` is the output-channel dimension of `w` (0 for a
    /// convolution `[cout, cin, k, k]`, 1 for a transposed one `[cin, cout, k, k]`).
    fn new(w: &Tensor, b: Option<&Tensor>, op: Op, relu: bool) -> IntLayer {
        let out_dim = match op {
            Op::Conv { .. } => 0,
            Op::Deconv { .. } => 1,
        };
        // Kept on the weights' device, so that coding on that device copies nothing per call.
        let dev = w.device();
        let w = w.detach().to_kind(Kind::Double);
        let cout = w.size()[out_dim];
        let fan_in = w.numel() as i64 / cout;
        assert!(
            fan_in <= MAX_FAN_IN,
            "integer layer fan-in {fan_in} exceeds {MAX_FAN_IN}"
        );
        let other: Vec<i64> = (0..4).filter(|&d| d != out_dim as i64).collect();
        let max_abs: Vec<f64> = Vec::try_from(
            w.abs()
                .amax(other.as_slice(), false)
                .to_device(tch::Device::Cpu),
        )
        .expect("per-channel maxima");
        let shifts: Vec<i32> = max_abs.iter().map(|&m| shift_for(m)).collect();
        let scale: Vec<f64> = shifts.iter().map(|&s| 2f64.powi(s)).collect();
        let mut shape = vec![1i64; 4];
        shape[out_dim] = cout;
        let scale_w = Tensor::from_slice(&scale)
            .view(shape.as_slice())
            .to_device(dev);
        let w_int = (&w * &scale_w).round();
        let bias: Vec<f64> = match b {
            Some(b) => Vec::try_from(b.detach().to_kind(Kind::Double).to_device(tch::Device::Cpu))
                .expect("bias"),
            None => vec![0.0; cout as usize],
        };
        let b_int: Vec<f64> = bias
            .iter()
            .zip(&scale)
            .map(|(&v, &s)| (v * s * f64::from(1 << FRAC)).round_ties_even())
            .map(|v| v.clamp(-(2f64.powi(51)), 2f64.powi(51)))
            .collect();
        let inv: Vec<f64> = shifts.iter().map(|&s| 2f64.powi(-s)).collect();
        IntLayer {
            op,
            w: w_int,
            b: Tensor::from_slice(&b_int)
                .view([1, cout, 1, 1])
                .to_device(dev),
            inv_scale: Tensor::from_slice(&inv)
                .view([1, cout, 1, 1])
                .to_device(dev),
            relu,
        }
    }

    /// From a `conv(cin, cout, k, stride)` (padding `k/2`).
    pub fn conv(w: &Tensor, b: Option<&Tensor>, stride: i64, relu: bool) -> IntLayer {
        let k = w.size()[2];
        IntLayer::new(
            w,
            b,
            Op::Conv {
                stride,
                padding: k / 2,
            },
            relu,
        )
    }

    /// From a `deconv(cin, cout, k, stride)` (padding `k/2`, output padding `stride − 1`).
    pub fn deconv(w: &Tensor, b: Option<&Tensor>, stride: i64, relu: bool) -> IntLayer {
        let k = w.size()[2];
        IntLayer::new(
            w,
            b,
            Op::Deconv {
                stride,
                padding: k / 2,
            },
            relu,
        )
    }

    /// Fixed-point in, fixed-point out (f64 integer-valued tensors on any device).
    pub fn forward(&self, a: &Tensor) -> Tensor {
        let dev = a.device();
        let w = self.w.to_device(dev);
        let acc = match self.op {
            // 1x1: a matrix product (no im2col); exact all the same.
            Op::Conv { stride: 1, .. } if w.size()[2] == 1 && w.size()[3] == 1 => {
                let (b, cin, h, wd) = a.size4().expect("4-d input");
                let cout = w.size()[0];
                w.view([1, cout, cin])
                    .matmul(&a.reshape([b, cin, h * wd]))
                    .view([b, cout, h, wd])
            }
            Op::Conv { stride, padding } => {
                a.conv2d(&w, None::<Tensor>, [stride], [padding], [1], 1)
            }
            Op::Deconv { stride, padding } => a.conv_transpose2d(
                &w,
                None::<Tensor>,
                [stride],
                [padding],
                [stride - 1],
                1,
                [1],
            ),
        };
        self.finish(acc + self.b.to_device(dev), &self.inv_scale.to_device(dev))
    }
}

impl IntLayer {
    /// Rescale, ReLU and clamp of an accumulator (`acc` already holds the bias).
    fn finish(&self, acc: Tensor, inv_scale: &Tensor) -> Tensor {
        let out = (acc * inv_scale + 0.5).floor();
        let out = if self.relu { out.relu() } else { out };
        out.clamp(-ACT_MAX, ACT_MAX)
    }

    /// A 1x1 layer on columns: `[cin, P]` fixed point in, `[cout, P]` out. The same values as
    /// [`IntLayer::forward`] at those positions (exact either way).
    pub fn forward_columns(&self, x: &Tensor) -> Tensor {
        let dev = x.device();
        let (cout, cin) = (self.w.size()[0], self.w.size()[1]);
        assert!(
            self.w.size()[2] == 1
                && self.w.size()[3] == 1
                && matches!(self.op, Op::Conv { stride: 1, .. }),
            "forward_columns needs a 1x1 convolution"
        );
        let acc = self.w.to_device(dev).view([cout, cin]).matmul(x)
            + self.b.to_device(dev).view([cout, 1]);
        self.finish(acc, &self.inv_scale.to_device(dev).view([cout, 1]))
    }

    /// The layer's output for an all-zero input, `[1, C, 1, 1]` (bias only; what a convolution
    /// of zeros gives at every position).
    pub fn zero_input_output(&self) -> Tensor {
        self.finish(self.b.shallow_clone(), &self.inv_scale)
    }
}

/// A chain of integer layers.
#[derive(Debug, Default)]
pub struct IntSeq(pub Vec<IntLayer>);

impl IntSeq {
    pub fn forward(&self, x: &Tensor) -> Tensor {
        self.0.iter().fold(x.shallow_clone(), |a, l| l.forward(&a))
    }
    /// A chain of 1x1 layers on columns (see [`IntLayer::forward_columns`]).
    pub fn forward_columns(&self, x: &Tensor) -> Tensor {
        self.0
            .iter()
            .fold(x.shallow_clone(), |a, l| l.forward_columns(&a))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{nn, nn::Module, Device};

    #[test]
    fn shift_is_the_largest_that_fits() {
        assert_eq!(shift_for(1.0), 12); // 4096 ≤ 8191 < 8192
        assert_eq!(shift_for(0.5), 13);
        assert_eq!(shift_for(0.0), MAX_SHIFT);
        assert_eq!(shift_for(10_000.0), 0);
    }

    #[test]
    fn integer_layers_track_the_float_ones_and_are_exact_integers() {
        tch::manual_seed(3);
        let vs = nn::VarStore::new(Device::Cpu);
        let c = crate::nn::conv(vs.root() / "c", 16, 24, 3, 1);
        let d = crate::nn::deconv(vs.root() / "d", 24, 8, 5, 2);
        let x = Tensor::randn([1, 16, 12, 10], (Kind::Float, Device::Cpu)) * 3.0;
        let float = d.forward(&c.forward(&x).relu());
        let int = IntSeq(vec![
            IntLayer::conv(&c.ws, c.bs.as_ref(), 1, true),
            IntLayer::deconv(&d.ws, d.bs.as_ref(), 2, false),
        ]);
        let fixed = int.forward(&to_fixed(&x));
        assert_eq!(fixed.size(), float.size());
        assert!(fixed.equal(&fixed.round()), "not integers");
        let err = (from_fixed(&fixed) - float.to_kind(Kind::Double))
            .abs()
            .max()
            .double_value(&[]);
        assert!(err < 0.05, "max error {err}");
    }

    #[test]
    fn columns_and_zero_input_match_the_full_layer() {
        tch::manual_seed(5);
        let vs = nn::VarStore::new(Device::Cpu);
        let a = crate::nn::conv1x1(vs.root() / "a", 12, 20);
        let c = crate::nn::conv(vs.root() / "c", 6, 10, 5, 1);
        let l = IntLayer::conv(&a.ws, Some(&a.bs), 1, true);
        let x = to_fixed(&(Tensor::randn([1, 12, 5, 7], (Kind::Float, Device::Cpu)) * 9.0));
        let full = l.forward(&x).view([20, 35]);
        let pos = Tensor::from_slice(&[0i64, 3, 17, 34]);
        let cols = l.forward_columns(&x.view([12, 35]).index_select(1, &pos));
        assert!(cols.equal(&full.index_select(1, &pos)));
        let s = IntLayer::conv(&c.ws, c.bs.as_ref(), 1, false);
        let zeros = Tensor::zeros([1, 6, 4, 4], (Kind::Double, Device::Cpu));
        let z = s.forward(&zeros);
        assert!(z.equal(&s.zero_input_output().expand([1, 10, 4, 4], false)));
    }

    #[test]
    fn summation_order_does_not_matter() {
        // The same layer on a batch of one and inside a larger batch, with 1 and 3 threads,
        // and on a transposed copy of the input: bit-identical results.
        tch::manual_seed(4);
        let vs = nn::VarStore::new(Device::Cpu);
        let c = crate::nn::conv(vs.root() / "c", 64, 32, 5, 1);
        let l = IntLayer::conv(&c.ws, c.bs.as_ref(), 1, true);
        let x = to_fixed(&(Tensor::randn([3, 64, 20, 20], (Kind::Float, Device::Cpu)) * 50.0));
        let prev = tch::get_num_threads();
        tch::set_num_threads(1);
        let a = l.forward(&x);
        tch::set_num_threads(3);
        let b = l.forward(&x);
        let one = l.forward(&x.narrow(0, 1, 1));
        tch::set_num_threads(prev);
        assert!(a.equal(&b));
        assert!(a.narrow(0, 1, 1).equal(&one));
    }
}
