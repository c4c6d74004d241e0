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
pub fn conv(p: nn::Path, cin: i64, cout: i64, k: i64, stride: i64) -> Conv {
    let cfg = nn::ConvConfig {
        stride,
        padding: k / 2,
        ws_init: TORCH_DEFAULT_INIT,
        ..Default::default()
    };
    let c = nn::conv2d(p, cin, cout, k, cfg);
    Conv {
        ws: c.ws,
        bs: c.bs,
        stride,
        padding: k / 2,
    }
}

/// A convolution (`weight [cout, cin, k, k]`, `bias [cout]`, as PyTorch's `Conv2d`). In the
/// coding path it is plain fp32; inside a training step with [`super::precision::Fast`] active it
/// runs in bf16 on channels-last tensors (see [`super::precision`]).
#[derive(Debug)]
pub struct Conv {
    pub ws: Tensor,
    pub bs: Option<Tensor>,
    stride: i64,
    padding: i64,
}

impl nn::Module for Conv {
    fn forward(&self, x: &Tensor) -> Tensor {
        let s = [self.stride, self.stride];
        let p = [self.padding, self.padding];
        super::precision::apply(x, &self.ws, self.bs.as_ref(), |x, w, b| {
            x.conv2d(w, b, s, p, [1, 1], 1)
        })
    }
}

/// A transposed convolution (`weight [cin, cout, k, k]`, as PyTorch's `ConvTranspose2d`), with
/// the same precision rule as [`Conv`].
#[derive(Debug)]
pub struct ConvT {
    pub ws: Tensor,
    pub bs: Option<Tensor>,
    stride: i64,
    padding: i64,
    output_padding: i64,
}

impl nn::Module for ConvT {
    fn forward(&self, x: &Tensor) -> Tensor {
        let s = [self.stride, self.stride];
        let p = [self.padding, self.padding];
        let op = [self.output_padding, self.output_padding];
        super::precision::apply(x, &self.ws, self.bs.as_ref(), |x, w, b| {
            x.conv_transpose2d(w, b, s, p, op, 1, [1, 1])
        })
    }
}

/// A 1x1 convolution computed as a matrix product. libtorch's CPU 1x1 convolution gives
/// different bits with 1 and 2 threads, while its matrix product does not (measured with
/// `examples/detcheck.rs`); decoders must not depend on the thread count. Parameters are named
/// and shaped like `Conv2d(cin, cout, 1)`: `weight [cout, cin, 1, 1]`, `bias [cout]`.
#[derive(Debug)]
pub struct Conv1x1 {
    pub ws: Tensor,
    pub bs: Tensor,
    cin: i64,
    cout: i64,
}

pub fn conv1x1(p: nn::Path, cin: i64, cout: i64) -> Conv1x1 {
    let bound = 1.0 / (cin as f64).sqrt();
    let ws = p.var("weight", &[cout, cin, 1, 1], TORCH_DEFAULT_INIT);
    let bs = p.var(
        "bias",
        &[cout],
        nn::Init::Uniform {
            lo: -bound,
            up: bound,
        },
    );
    Conv1x1 { ws, bs, cin, cout }
}

/// `w [cout, cin] · x [B, cin, H, W] + b` as a batched matrix product (thread-count stable).
/// Inside a training step with [`super::precision::Fast`] the product may run in bf16 and on
/// channels-last tensors (training does not need thread-count stability).
pub fn matmul_1x1(x: &Tensor, w: &Tensor, b: Option<&Tensor>, cin: i64, cout: i64) -> Tensor {
    match super::precision::fast() {
        Some(mode) if mode.channels_last => mode.matmul_1x1_nhwc(x, &w.view([cout, cin]), b),
        Some(mode) => {
            let b = b.map(|b| mode.cast(b));
            mode.output(matmul_1x1_nchw(
                &mode.cast(x),
                &mode.cast(w),
                b.as_ref(),
                cin,
                cout,
            ))
        }
        None => matmul_1x1_nchw(x, w, b, cin, cout),
    }
}

/// [`matmul_1x1`]'s product on the NCHW layout.
fn matmul_1x1_nchw(x: &Tensor, w: &Tensor, b: Option<&Tensor>, cin: i64, cout: i64) -> Tensor {
    let (bsz, _, h, wd) = x.size4().expect("4-d input");
    let y = w
        .view([1, cout, cin])
        .matmul(&x.reshape([bsz, cin, h * wd]));
    let y = match b {
        Some(b) => y + b.view([1, cout, 1]),
        None => y,
    };
    y.view([bsz, cout, h, wd])
}

impl nn::Module for Conv1x1 {
    fn forward(&self, x: &Tensor) -> Tensor {
        matmul_1x1(x, &self.ws, Some(&self.bs), self.cin, self.cout)
    }
}

/// A `k`x`k` transposed convolution that multiplies the resolution by `stride` exactly.
pub fn deconv(p: nn::Path, cin: i64, cout: i64, k: i64, stride: i64) -> ConvT {
    let cfg = nn::ConvTransposeConfig {
        stride,
        padding: k / 2,
        output_padding: stride - 1,
        ws_init: TORCH_DEFAULT_INIT,
        ..Default::default()
    };
    let c = nn::conv_transpose2d(p, cin, cout, k, cfg);
    ConvT {
        ws: c.ws,
        bs: c.bs,
        stride,
        padding: k / 2,
        output_padding: stride - 1,
    }
}

/// `max(x, bound)` in the forward pass; the gradient passes through unchanged (straight-through),
/// so a parameter that falls under the bound can still be pulled back.
pub fn lower_bound(x: &Tensor, bound: f64) -> Tensor {
    x + (x.clamp_min(bound) - x).detach()
}

/// One Adam update of parameter `p` in place from its gradient `g`, with moment buffers `m`, `v`
/// at step `t` (1-based, for the bias correction): `m ← β₁m + (1−β₁)g`, `v ← β₂v + (1−β₂)g²`,
/// `p ← p − lr·(m/(1−β₁ᵗ)) / (√(v/(1−β₂ᵗ)) + ε)`. Call without gradient tracking.
pub fn adam_update(
    p: &Tensor,
    m: &mut Tensor,
    v: &mut Tensor,
    g: &Tensor,
    lr: f64,
    (b1, b2, eps): (f64, f64, f64),
    t: u64,
) {
    let bc1 = 1.0 - b1.powi(t as i32);
    let bc2 = 1.0 - b2.powi(t as i32);
    let _ = m.g_mul_scalar_(b1).g_add_(&(g * (1.0 - b1)));
    let _ = v.g_mul_scalar_(b2).g_add_(&(g.square() * (1.0 - b2)));
    let denom = (&*v / bc2).sqrt() + eps;
    let upd = (&*m / bc1) / denom * lr;
    let _ = p.shallow_clone().g_sub_(&upd);
}

/// `round(x)` in the forward pass, identity gradient.
pub fn ste_round(x: &Tensor) -> Tensor {
    x + (x.round() - x).detach()
}

/// Interleaved 8-bit RGB (`height × width × 3` bytes) as a `[1, 3, H, W]` f32 tensor in [0, 1].
pub fn rgb_tensor(data: &[u8], height: i64, width: i64) -> Tensor {
    Tensor::from_slice(data)
        .view([height, width, 3])
        .permute([2, 0, 1])
        .unsqueeze(0)
        .to_kind(tch::Kind::Float)
        / 255.0
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
    fn conv1x1_matches_conv2d_and_ignores_thread_count() {
        let vs = nn::VarStore::new(tch::Device::Cpu);
        let c = conv1x1(vs.root() / "c", 64, 48);
        let x = Tensor::randn([2, 64, 24, 40], (Kind::Float, tch::Device::Cpu));
        let reference = x.conv2d(&c.ws, Some(&c.bs), [1, 1], [0, 0], [1, 1], 1);
        let y1 = {
            tch::set_num_threads(1);
            nn::Module::forward(&c, &x)
        };
        let y2 = {
            tch::set_num_threads(2);
            nn::Module::forward(&c, &x)
        };
        assert!(y1.equal(&y2), "1x1 convolution depends on the thread count");
        let err = (&y1 - reference).abs().max().double_value(&[]);
        assert!(err < 1e-4, "{err}");
        let names: Vec<String> = vs.variables().keys().cloned().collect();
        assert!(names.contains(&"c.weight".to_string()) && names.contains(&"c.bias".to_string()));
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
