//! Training-only fast kernels: bf16 convolutions on channels-last tensors, fp32 master weights.
//!
//! libtorch's CPU autocast is not reachable through `tch` (its `autocast` is CUDA-only), so the
//! layers of [`super::ops`] do what autocast would do for a convolution, by hand: cast input,
//! weight and bias to bf16, convolve, cast the result back to fp32. Everything that is not a
//! convolution (GDN's division, likelihoods, the loss) stays fp32; the gradients reach the fp32
//! weights through the casts. Channels-last (NHWC strides) lets oneDNN use its fastest kernels.
//!
//! The mode is thread-local and off unless a [`FastGuard`] is alive, which only the trainer
//! creates around its forward and backward pass: encoding and decoding never see it, so the
//! coding path keeps its exact fp32 arithmetic (and its thread-count stable 1x1 products).

use std::cell::Cell;

use tch::{Kind, Tensor};

/// Which fast kernels a training step uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Fast {
    /// bf16 convolutions (fp32 in and out).
    pub bf16: bool,
    /// Channels-last (NHWC) memory layout for convolution inputs and weights.
    pub channels_last: bool,
}

impl Fast {
    /// Plain fp32, NCHW: the reference path.
    pub const FP32: Fast = Fast {
        bf16: false,
        channels_last: false,
    };
    /// bf16 + channels-last (`TrainOptions::new`'s default; `lic train` measures with
    /// [`fastest_mode`] instead).
    pub const BF16_CL: Fast = Fast {
        bf16: true,
        channels_last: true,
    };

    /// Whether this mode changes anything at all.
    pub fn is_plain(self) -> bool {
        !self.bf16 && !self.channels_last
    }

    /// `t` in this mode's arithmetic type (bf16 or as it is).
    pub fn cast(self, t: &Tensor) -> Tensor {
        if self.bf16 && t.kind() != Kind::BFloat16 {
            t.to_kind(Kind::BFloat16)
        } else {
            t.shallow_clone()
        }
    }

    /// Input, weight and bias of a convolution, converted for this mode.
    pub fn operands(
        self,
        x: &Tensor,
        w: &Tensor,
        b: Option<&Tensor>,
    ) -> (Tensor, Tensor, Option<Tensor>) {
        let (mut xi, mut wi) = (self.cast(x), self.cast(w));
        if self.channels_last {
            xi = channels_last(&xi);
            wi = channels_last(&wi);
        }
        (xi, wi, b.map(|b| self.cast(b)))
    }

    /// `w [cout, cin] · x [B, cin, H, W] + b` as one matrix product on the NHWC view of a
    /// channels-last `x` (no layout change), in this mode's type; the result is channels-last.
    pub fn matmul_1x1_nhwc(self, x: &Tensor, w: &Tensor, b: Option<&Tensor>) -> Tensor {
        let nhwc = channels_last(&self.cast(x)).permute([0, 2, 3, 1]);
        let y = nhwc.matmul(&self.cast(w).transpose(0, 1));
        let y = match b {
            Some(b) => y + self.cast(b),
            None => y,
        };
        self.output(y.permute([0, 3, 1, 2]))
    }

    /// A convolution's result, back in fp32 (layout kept).
    pub fn output(self, y: Tensor) -> Tensor {
        if self.bf16 {
            y.to_kind(Kind::Float)
        } else {
            y
        }
    }
}

/// The faster of fp32 and bf16 convolutions (both channels-last) on this machine, measured: a few
/// forward + backward passes of a 5x5 stride-2 128-channel convolution and its transpose in each
/// mode, best of three. bf16 pays where the CPU's bf16 dot products have twice the fp32 FMA
/// throughput (AMD Zen 4/5, Intel with AMX); on AVX-512 Intel cores without AMX
/// (`vdpbf16ps` on one port, FMAs on two) it does not, and the casts make it slower.
pub fn fastest_mode() -> Fast {
    use std::time::Instant;
    let vs = tch::nn::VarStore::new(tch::Device::Cpu);
    let c = super::conv(vs.root() / "c", 128, 128, 5, 2);
    let d = super::deconv(vs.root() / "d", 128, 128, 5, 2);
    let x = Tensor::randn([4, 128, 32, 32], (Kind::Float, tch::Device::Cpu));
    let time = |mode: Fast| {
        let _g = FastGuard::new(mode);
        let run = || {
            let y = tch::nn::Module::forward(&d, &tch::nn::Module::forward(&c, &x));
            y.square().mean(Kind::Float).backward();
        };
        run();
        (0..3)
            .map(|_| {
                let t = Instant::now();
                run();
                t.elapsed().as_secs_f64()
            })
            .fold(f64::INFINITY, f64::min)
    };
    let fp32 = Fast {
        bf16: false,
        channels_last: true,
    };
    if time(Fast::BF16_CL) < time(fp32) {
        Fast::BF16_CL
    } else {
        fp32
    }
}

/// `op(x, w, b)` in the active fast mode (operands converted, result back in fp32), or as it is
/// when none is active: the one rule every layer of [`super::ops`] follows.
pub fn apply(
    x: &Tensor,
    w: &Tensor,
    b: Option<&Tensor>,
    op: impl Fn(&Tensor, &Tensor, Option<&Tensor>) -> Tensor,
) -> Tensor {
    match fast() {
        Some(mode) => {
            let (xi, wi, bi) = mode.operands(x, w, b);
            mode.output(op(&xi, &wi, bi.as_ref()))
        }
        None => op(x, w, b),
    }
}

/// The same 4-d tensor with NHWC strides (a no-op copy when it already has them).
pub fn channels_last(t: &Tensor) -> Tensor {
    if t.dim() != 4 {
        return t.shallow_clone();
    }
    t.permute([0, 2, 3, 1]).contiguous().permute([0, 3, 1, 2])
}

thread_local! {
    static MODE: Cell<Option<Fast>> = const { Cell::new(None) };
}

/// The fast mode active on this thread, if any.
pub fn fast() -> Option<Fast> {
    MODE.with(|m| m.get())
}

/// Keeps a fast mode active on this thread until dropped (then restores the previous one).
pub struct FastGuard {
    prev: Option<Fast>,
}

impl FastGuard {
    /// Activates `mode` (a plain fp32 mode activates nothing).
    pub fn new(mode: Fast) -> FastGuard {
        let next = if mode.is_plain() { None } else { Some(mode) };
        FastGuard {
            prev: MODE.with(|m| m.replace(next)),
        }
    }
}

impl Drop for FastGuard {
    fn drop(&mut self) {
        MODE.with(|m| m.set(self.prev));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::nn::{self, Module};

    #[test]
    fn guard_scopes_the_mode() {
        assert_eq!(fast(), None);
        {
            let _g = FastGuard::new(Fast::BF16_CL);
            assert_eq!(fast(), Some(Fast::BF16_CL));
            {
                let _h = FastGuard::new(Fast::FP32);
                assert_eq!(fast(), None);
            }
            assert_eq!(fast(), Some(Fast::BF16_CL));
        }
        assert_eq!(fast(), None);
    }

    #[test]
    fn bf16_conv_is_close_to_fp32_and_gradients_reach_fp32_weights() {
        tch::manual_seed(3);
        let vs = nn::VarStore::new(tch::Device::Cpu);
        let c = crate::nn::conv(vs.root() / "c", 8, 12, 5, 2);
        let d = crate::nn::deconv(vs.root() / "d", 12, 8, 5, 2);
        let x = Tensor::randn([2, 8, 16, 24], (Kind::Float, tch::Device::Cpu));
        let reference = d.forward(&c.forward(&x));
        let fast = {
            let _g = FastGuard::new(Fast::BF16_CL);
            d.forward(&c.forward(&x))
        };
        assert_eq!(fast.kind(), Kind::Float);
        assert_eq!(fast.size(), reference.size());
        let err = (&fast - &reference).abs().max().double_value(&[]);
        let scale = reference.abs().max().double_value(&[]);
        assert!(err < 0.03 * scale, "bf16 error {err} vs scale {scale}");
        assert!(err > 0.0, "the fast mode did not run in bf16");
        fast.square().sum(Kind::Float).backward();
        assert_eq!(c.ws.grad().kind(), Kind::Float);
        assert!(c.ws.grad().abs().sum(Kind::Float).double_value(&[]) > 0.0);
    }
}
