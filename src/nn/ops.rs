//! Small differentiable helpers.

use tch::{nn, Tensor};

/// PyTorch's default weight initialization for convolutions (Kaiming uniform with a = √5, i.e.
/// bound 1/√fan_in). tch's default (ReLU gain) is 2.4x wider, which makes deep GDN stacks start
/// with outputs far out of range.
const TORCH_DEFAULT_INIT: nn::Init = nn::Init::Kaiming {
    dist: nn::init::NormalOrUniform::Uniform,
    fan: nn::init::FanInOut::FanIn,
    non_linearity: nn::init::NonLinearity::ExplicitGain(0.577_350_269_189_625_8),
};

/// A `k`x`k` convolution with "same" padding and the given stride.
pub fn conv(p: nn::Path, cin: i64, cout: i64, k: i64, stride: i64) -> nn::Conv2D {
    let cfg = nn::ConvConfig {
        stride,
        padding: k / 2,
        ws_init: TORCH_DEFAULT_INIT,
        ..Default::default()
    };
    nn::conv2d(p, cin, cout, k, cfg)
}

/// A `k`x`k` transposed convolution that multiplies the resolution by `stride` exactly.
pub fn deconv(p: nn::Path, cin: i64, cout: i64, k: i64, stride: i64) -> nn::ConvTranspose2D {
    let cfg = nn::ConvTransposeConfig {
        stride,
        padding: k / 2,
        output_padding: stride - 1,
        ws_init: TORCH_DEFAULT_INIT,
        ..Default::default()
    };
    nn::conv_transpose2d(p, cin, cout, k, cfg)
}

/// `max(x, bound)` in the forward pass; the gradient passes through unchanged (straight-through),
/// so a parameter that falls under the bound can still be pulled back.
pub fn lower_bound(x: &Tensor, bound: f64) -> Tensor {
    x + (x.clamp_min(bound) - x).detach()
}

/// `round(x)` in the forward pass, identity gradient.
pub fn ste_round(x: &Tensor) -> Tensor {
    x + (x.round() - x).detach()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Kind;

    #[test]
    fn ste_round_passes_gradient() {
        let x = Tensor::from_slice(&[0.2f32, 0.7, -1.6]).set_requires_grad(true);
        let y = ste_round(&x);
        assert_eq!(Vec::<f32>::try_from(&y).unwrap(), vec![0.0, 1.0, -2.0]);
        y.sum(Kind::Float).backward();
        assert_eq!(Vec::<f32>::try_from(x.grad()).unwrap(), vec![1.0, 1.0, 1.0]);
    }

    #[test]
    fn lower_bound_clamps_forward_only() {
        let x = Tensor::from_slice(&[0.01f32, 0.5]).set_requires_grad(true);
        let y = lower_bound(&x, 0.11);
        assert_eq!(Vec::<f32>::try_from(&y).unwrap(), vec![0.11, 0.5]);
        y.sum(Kind::Float).backward();
        assert_eq!(Vec::<f32>::try_from(x.grad()).unwrap(), vec![1.0, 1.0]);
    }

    #[test]
    fn deconv_doubles_resolution() {
        let vs = nn::VarStore::new(tch::Device::Cpu);
        let d = deconv(vs.root() / "d", 4, 3, 5, 2);
        let c = conv(vs.root() / "c", 3, 4, 5, 2);
        let x = Tensor::zeros([1, 3, 12, 20], (Kind::Float, tch::Device::Cpu));
        let y = x.apply(&c);
        assert_eq!(y.size(), vec![1, 4, 6, 10]);
        assert_eq!(y.apply(&d).size(), vec![1, 3, 12, 20]);
    }
}
