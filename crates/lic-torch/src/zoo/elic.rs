//! `elic`: a learned image codec of the ELIC family, sized for modest compute.
//!
//! - Analysis `g_a` / synthesis `g_s`: four 5x5 stride-2 (transposed) convolutions with
//!   (inverse) simplified GDN; latent `y` has `m` channels at 1/16 resolution.
//! - Hyperprior: `h_a` (3x3, then two 5x5 stride-2 convs) gives `z` (`n` channels, 1/64) coded
//!   with a factorized [`EntropyBottleneck`]; `h_s` gives hyper features ψ (`2m` channels).
//! - Context model (ELIC's space-channel context): `y` is split in uneven channel slices; each
//!   slice's μ and σ come from ψ, the already decoded slices (channel context) and, for the
//!   second half of a checkerboard, the decoded anchors of the same slice (spatial context).
//!   Two passes per slice; no pixel-serial autoregression.
//! - Variable rate: a continuous quality `q ∈ [1, L]` selects per-channel gain vectors
//!   (interpolated geometrically between the `L` trained levels, Cui et al. 2021) applied to `y`
//!   before quantization and undone before synthesis; level `k` is trained with `lambdas[k]`.

use serde::{Deserialize, Serialize};
use tch::{nn, nn::Module, Device, Kind, Tensor};

use super::hyper::HyperSynthesis;
use super::rate::{self, GainVectors};
use super::ConfigFamily;
use crate::entropy::{bits_per_sample, gaussian, EntropyBottleneck, RateProxy};
use crate::nn::int::{IntLayer, IntSeq};
use crate::nn::{conv, conv1x1, deconv, ste_round, Conv1x1, Gdn};

/// Architecture hyper-parameters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ElicConfig {
    /// Channels of the transforms and of `z`.
    pub n: i64,
    /// Channels of `y`.
    pub m: i64,
    /// Channel slice sizes, summing to `m`.
    pub slices: Vec<i64>,
    /// Hidden width of the per-slice parameter networks.
    pub hidden: i64,
    /// λ of each trained rate level (loss = R + λ·255²·MSE), increasing.
    pub lambdas: Vec<f64>,
    /// A linear, exactly invertible wavelet path around the learned transforms (AuxT-style):
    /// `y = g_a(x) + A·WPT₄(x)`, `x̂ = g_s(ŷ) + WPT₄⁻¹(B·ŷ)` with a 4-level CDF 9/7 packet
    /// transform (768 bands at 1/16 resolution) and 1x1 projections `A` (768→m), `B` (m→768).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub wavelet_shortcut: bool,
}

impl ElicConfig {
    /// The default small model.
    pub fn small() -> Self {
        ElicConfig {
            n: 128,
            m: 192,
            slices: vec![16, 16, 32, 64, 64],
            hidden: 192,
            lambdas: vec![0.0018, 0.0040, 0.0087, 0.0193, 0.0424, 0.0932],
            wavelet_shortcut: false,
        }
    }
    /// The small model with the wavelet shortcut.
    pub fn small_wavelet() -> Self {
        ElicConfig {
            wavelet_shortcut: true,
            ..Self::small()
        }
    }
    /// A tiny configuration for tests.
    pub fn tiny() -> Self {
        ElicConfig {
            n: 16,
            m: 24,
            slices: vec![4, 8, 12],
            hidden: 32,
            lambdas: vec![0.004, 0.02, 0.08],
            wavelet_shortcut: false,
        }
    }
    pub fn levels(&self) -> usize {
        self.lambdas.len()
    }
    /// `(lower level index, interpolation weight)` for quality `q` (clamped to the range).
    pub fn level_weights(&self, q: f64) -> (usize, f64) {
        rate::level_weights(&self.lambdas, q)
    }
}

/// One slice's parameter network.
#[derive(Debug)]
struct SliceNet {
    /// Channel context on the decoded earlier slices (absent for the first slice): conv 3x3,
    /// ReLU, conv 3x3.
    channel: Option<(crate::nn::Conv, crate::nn::Conv)>,
    /// Spatial (checkerboard) context on the slice's decoded anchors.
    spatial: crate::nn::Conv,
    /// 1x1 aggregation of [ψ, channel ctx, spatial ctx] → (μ, σ), ReLU between.
    agg: [Conv1x1; 3],
}

impl SliceNet {
    fn to_int(&self) -> IntSlice {
        let c1 = |c: &Conv1x1, relu| IntLayer::conv(&c.ws, Some(&c.bs), 1, relu);
        IntSlice {
            channel: self.channel.as_ref().map(|(a, b)| {
                IntSeq(vec![
                    IntLayer::conv(&a.ws, a.bs.as_ref(), 1, true),
                    IntLayer::conv(&b.ws, b.bs.as_ref(), 1, false),
                ])
            }),
            spatial: IntLayer::conv(&self.spatial.ws, self.spatial.bs.as_ref(), 1, false),
            agg: IntSeq(vec![
                c1(&self.agg[0], true),
                c1(&self.agg[1], true),
                c1(&self.agg[2], false),
            ]),
        }
    }
}

/// Integer copy of a slice's parameter network.
#[derive(Debug)]
pub struct IntSlice {
    channel: Option<IntSeq>,
    spatial: IntLayer,
    agg: IntSeq,
}

/// The exact integer entropy-parameter networks of an [`ElicModel`]: `h_s` and every slice's
/// context and aggregation networks. Inputs and outputs are fixed point (see [`crate::nn::int`]).
#[derive(Debug)]
pub struct IntElic {
    pub h_s: IntSeq,
    slices: Vec<IntSlice>,
    sizes: Vec<i64>,
}

impl IntElic {
    /// Fixed-point channel context of slice `i` from the decoded earlier slices (`None` for the
    /// first slice). It does not depend on the checkerboard pass, so it is computed once.
    pub fn channel_context(&self, i: usize, prev: Option<&Tensor>) -> Option<Tensor> {
        match (&self.slices[i].channel, prev) {
            (Some(net), Some(prev)) => Some(net.forward(prev)),
            _ => None,
        }
    }

    /// Fixed-point (μ, σ) of slice `i` at the flat positions `pos` (`[P]`, raster order), as
    /// `[C_i, P]` each: the values the full-resolution networks give there, computing the 1x1
    /// aggregation only where it is needed. `anchors` is `None` in the anchor pass (no spatial
    /// context yet: the spatial layer then outputs its bias everywhere).
    pub fn slice_params_at(
        &self,
        i: usize,
        psi: &Tensor,
        channel_ctx: Option<&Tensor>,
        anchors: Option<&Tensor>,
        pos: &Tensor,
    ) -> (Tensor, Tensor) {
        let s = &self.slices[i];
        let cols = |t: &Tensor| {
            let c = t.size()[1];
            t.reshape([c, -1]).index_select(1, pos)
        };
        let mut feats = vec![cols(psi)];
        if let Some(ctx) = channel_ctx {
            feats.push(cols(ctx));
        }
        feats.push(match anchors {
            Some(a) => cols(&s.spatial.forward(a)),
            None => {
                let b = s.spatial.zero_input_output().to_device(pos.device());
                let c = b.size()[1];
                b.view([c, 1]).expand([c, pos.size()[0]], false)
            }
        });
        let out = s.agg.forward_columns(&Tensor::cat(&feats, 0));
        let c = self.sizes[i];
        (out.narrow(0, 0, c), out.narrow(0, c, c))
    }
}

/// Levels of the shortcut's wavelet packet transform: its stride, 16, is the latent's.
pub const SHORTCUT_LEVELS: u32 = 4;

/// The linear wavelet path of [`ElicConfig::wavelet_shortcut`] (parameters `shortcut.encoder.*`,
/// `shortcut.decoder.*`).
#[derive(Debug)]
pub struct Shortcut {
    wpt: crate::transforms::Wpt,
    pub encoder: Conv1x1,
    pub decoder: Conv1x1,
}

impl Shortcut {
    fn new(p: nn::Path, m: i64) -> Shortcut {
        let wpt = crate::transforms::Wpt::new(SHORTCUT_LEVELS);
        // Packet bands per colour, times three colours.
        let k = 3 * wpt.bands();
        let encoder = conv1x1(&p / "encoder", k, m);
        let decoder = conv1x1(&p / "decoder", m, k);
        super::walloc::low_band_init(&encoder, &decoder);
        Shortcut {
            wpt,
            encoder,
            decoder,
        }
    }
    fn analysis(&self, x: &Tensor) -> Tensor {
        self.encoder.forward(&self.wpt.forward(&(x - 0.5)))
    }
    /// The wavelet path's pixels, centred on 0 (the 0.5 is in `g_s`'s last bias).
    fn synthesis(&self, y: &Tensor) -> Tensor {
        self.wpt.inverse(&self.decoder.forward(y))
    }
    /// Zeroes both projections: the model then computes exactly what it computes without the
    /// shortcut (used when the learned transforms come from a model trained without it).
    pub fn zero(&self) {
        tch::no_grad(|| {
            for t in [
                &self.encoder.ws,
                &self.encoder.bs,
                &self.decoder.ws,
                &self.decoder.bs,
            ] {
                let _ = t.shallow_clone().zero_();
            }
        });
    }
}

/// The network (float, trainable).
#[derive(Debug)]
pub struct ElicModel {
    pub config: ElicConfig,
    g_a: nn::Sequential,
    g_s: nn::Sequential,
    /// The linear wavelet path, when configured.
    pub shortcut: Option<Shortcut>,
    h_a: nn::Sequential,
    h_s: HyperSynthesis,
    pub entropy_bottleneck: EntropyBottleneck,
    slices: Vec<SliceNet>,
    /// `[L, M]` gains applied to `y` per level, and their decoder-side inverses.
    pub gains: GainVectors,
}

/// Training-time outputs.
pub struct TrainOut {
    pub x_hat: Tensor,
    /// Bits per sample of `y` and `z` (likelihood estimates), `[B]` each.
    pub y_bits: Tensor,
    pub z_bits: Tensor,
}

/// Entropy parameters of one slice and pass, as produced for coding.
pub struct SliceParams {
    pub mu: Tensor,
    pub sigma: Tensor,
}

impl ElicModel {
    pub fn new(p: &nn::Path, config: ElicConfig) -> Self {
        config.validate().expect("invalid ElicConfig");
        let (n, m) = (config.n, config.m);
        let g_a = nn::seq()
            .add(conv(p / "g_a" / 0, 3, n, 5, 2))
            .add(Gdn::new(p / "g_a" / 1, n, false))
            .add(conv(p / "g_a" / 2, n, n, 5, 2))
            .add(Gdn::new(p / "g_a" / 3, n, false))
            .add(conv(p / "g_a" / 4, n, n, 5, 2))
            .add(Gdn::new(p / "g_a" / 5, n, false));
        let a6 = conv(p / "g_a" / 6, n, m, 5, 2);
        let last_conv_a = (
            a6.ws.shallow_clone(),
            a6.bs.as_ref().map(|b| b.shallow_clone()),
        );
        let g_a = g_a.add(a6);
        let g_s = nn::seq()
            .add(deconv(p / "g_s" / 0, m, n, 5, 2))
            .add(Gdn::new(p / "g_s" / 1, n, true))
            .add(deconv(p / "g_s" / 2, n, n, 5, 2))
            .add(Gdn::new(p / "g_s" / 3, n, true))
            .add(deconv(p / "g_s" / 4, n, n, 5, 2))
            .add(Gdn::new(p / "g_s" / 5, n, true));
        let s6 = deconv(p / "g_s" / 6, n, 3, 5, 2);
        let last_deconv_s = (
            s6.ws.shallow_clone(),
            s6.bs.as_ref().map(|b| b.shallow_clone()),
        );
        let g_s = g_s.add(s6);
        let h_a = nn::seq()
            .add(conv(p / "h_a" / 0, m, n, 3, 1))
            .add_fn(|x| x.relu())
            .add(conv(p / "h_a" / 2, n, n, 5, 2))
            .add_fn(|x| x.relu())
            .add(conv(p / "h_a" / 4, n, n, 5, 2));
        let shortcut = config.wavelet_shortcut.then(|| {
            // A working codec at step 0: the learned paths' last layers start at zero, so the
            // model starts as the linear wavelet codec and learns a residual on top of it.
            // The synthesis' last bias holds the 0.5 that centres the wavelet path's output, so
            // that a zeroed shortcut adds exactly nothing (see `Shortcut::zero`).
            for (layer, bias) in [(&last_conv_a, 0.0), (&last_deconv_s, 0.5)] {
                tch::no_grad(|| {
                    let _ = layer.0.shallow_clone().zero_();
                    if let Some(b) = &layer.1 {
                        let _ = b.shallow_clone().fill_(bias);
                    }
                });
            }
            Shortcut::new(p / "shortcut", m)
        });
        let h_s = HyperSynthesis::new(p / "h_s", n, n * 3 / 2, 2 * m);
        let entropy_bottleneck = EntropyBottleneck::new(p / "entropy_bottleneck", n);
        let mut slices = Vec::new();
        let mut done = 0;
        for (i, &c) in config.slices.iter().enumerate() {
            let sp = p / "slices" / i as i64;
            let channel = (done > 0).then(|| {
                (
                    conv(&sp / "channel" / 0, done, config.hidden, 3, 1),
                    conv(&sp / "channel" / 2, config.hidden, 2 * c, 3, 1),
                )
            });
            let spatial = conv(&sp / "spatial", c, 2 * c, 5, 1);
            let agg_in = 2 * m + 2 * c + if done > 0 { 2 * c } else { 0 };
            let agg = [
                conv1x1(&sp / "agg" / 0, agg_in, config.hidden),
                conv1x1(&sp / "agg" / 2, config.hidden, config.hidden),
                conv1x1(&sp / "agg" / 4, config.hidden, 2 * c),
            ];
            slices.push(SliceNet {
                channel,
                spatial,
                agg,
            });
            done += c;
        }
        let gains = GainVectors::new(p, &config.lambdas, m);
        ElicModel {
            config,
            g_a,
            g_s,
            shortcut,
            h_a,
            h_s,
            entropy_bottleneck,
            slices,
            gains,
        }
    }

    /// The padding multiple of the input (the total stride down to `z`).
    pub const MULTIPLE: i64 = 64;

    /// Multiplies the gains by their λ-derived initialization: for checkpoints whose gains
    /// started at 1.
    pub fn rescale_gains(&self) {
        self.gains.rescale();
    }

    /// Encoder-side gain for quality `q`, `[1, M, 1, 1]`.
    pub fn gain_for(&self, q: f64) -> Tensor {
        self.gains.gains(&[q])
    }
    /// Decoder-side inverse gain for quality `q`, `[1, M, 1, 1]`.
    pub fn inv_gain_for(&self, q: f64) -> Tensor {
        self.gains.inv_gains(&[q])
    }

    pub fn hyper_synthesis(&self, z_hat: &Tensor) -> Tensor {
        self.h_s.forward(z_hat)
    }

    /// The exact integer copy of the entropy-parameter networks (for coding).
    pub fn to_int(&self) -> IntElic {
        IntElic {
            h_s: self.h_s.to_int(),
            slices: self.slices.iter().map(SliceNet::to_int).collect(),
            sizes: self.config.slices.clone(),
        }
    }

    /// μ and σ of slice `i`. `prev` holds the decoded earlier slices (`None` for slice 0);
    /// `anchors` holds the slice's decoded anchors with zeros at non-anchor positions (all zeros
    /// for the anchor pass). The encoder and the decoder call this with identical tensors.
    pub fn slice_params(
        &self,
        i: usize,
        psi: &Tensor,
        prev: Option<&Tensor>,
        anchors: &Tensor,
    ) -> SliceParams {
        let s = &self.slices[i];
        let mut feats = vec![psi.shallow_clone()];
        if let (Some((a, b)), Some(prev)) = (&s.channel, prev) {
            feats.push(b.forward(&a.forward(prev).relu()));
        }
        feats.push(s.spatial.forward(anchors));
        let h = s.agg[0].forward(&Tensor::cat(&feats, 1)).relu();
        let h = s.agg[1].forward(&h).relu();
        let out = s.agg[2].forward(&h);
        let c = self.config.slices[i];
        SliceParams {
            mu: out.narrow(1, 0, c),
            sigma: out.narrow(1, c, c),
        }
    }
}

/// Checkerboard mask `[H, W]` (bool): true at anchors, where `(row + col)` is even.
pub fn checkerboard(h: i64, w: i64, device: Device) -> Tensor {
    let r = Tensor::arange(h, (Kind::Int64, device)).view([h, 1]);
    let c = Tensor::arange(w, (Kind::Int64, device)).view([1, w]);
    (r + c).remainder(2).eq(0)
}

impl super::ConfigFamily for ElicConfig {
    fn arch(&self) -> &'static str {
        "elic"
    }
    fn to_json(&self) -> String {
        serde_json::to_string(self).expect("config serializes")
    }
    fn lambdas(&self) -> &[f64] {
        &self.lambdas
    }
    fn validate(&self) -> Result<(), String> {
        if self.slices.iter().sum::<i64>() != self.m {
            return Err(format!(
                "slices {:?} do not sum to m = {}",
                self.slices, self.m
            ));
        }
        rate::validate(&self.lambdas)?;
        if self.n < 1 || self.hidden < 1 || self.slices.iter().any(|&s| s < 1) {
            return Err("channel counts must be positive".into());
        }
        let (n, m, h) = (self.n, self.m, self.hidden);
        let last = *self.slices.last().unwrap_or(&0);
        let widest = self.slices.iter().copied().max().unwrap_or(0);
        crate::nn::int::check_fan_in(&[
            ("h_s.0", n * 25),
            ("h_s.2", n * 25),
            ("h_s.4", n * 3 / 2 * 9),
            ("slices.*.channel.0", (m - last) * 9),
            ("slices.*.channel.2", h * 9),
            ("slices.*.spatial", widest * 25),
            ("slices.*.agg.0", 2 * m + 4 * widest),
            ("slices.*.agg.2", h),
        ])?;
        Ok(())
    }
    fn z_channels(&self) -> i64 {
        self.n
    }
    fn latent_channels(&self) -> i64 {
        self.m
    }
    fn latent_stride(&self) -> i64 {
        16
    }
    /// `z`, then the anchors and non-anchors of every slice.
    fn streams_per_tile(&self) -> usize {
        1 + 2 * self.slices.len()
    }
    /// `(first channel, channels)` of each slice.
    fn slice_ranges(&self) -> Vec<(i64, i64)> {
        let mut start = 0;
        self.slices
            .iter()
            .map(|&c| {
                let r = (start, c);
                start += c;
                r
            })
            .collect()
    }
    fn summary(&self) -> &'static str {
        if self.wavelet_shortcut {
            "4x stride-2 5x5 conv + simplified GDN analysis/synthesis around a linear 4-level CDF 9/7 \
             wavelet-packet path (768 bands -> M by a 1x1 projection and back); hyperprior (factorized z); \
             uneven channel slices with channel context + checkerboard spatial context; gain-vector variable rate"
        } else {
            "4x stride-2 5x5 conv + simplified GDN analysis/synthesis; hyperprior (factorized z); \
             uneven channel slices with channel context + checkerboard spatial context; gain-vector variable rate"
        }
    }
    fn arch_arg(&self) -> String {
        if *self == Self::tiny() {
            "elic-tiny".into()
        } else if self.wavelet_shortcut {
            "elic-small-wavelet".into()
        } else {
            "elic-small".into()
        }
    }
    fn build(&self, p: &nn::Path) -> super::Network {
        super::Network::Elic(ElicModel::new(p, self.clone()))
    }
}

impl super::NetworkFamily for ElicModel {
    fn config(&self) -> super::ModelConfig {
        self.config.clone().into()
    }
    /// The training forward pass from a given gained latent `y` and hyper-latent `z` (encode-time
    /// refinement optimizes them directly).
    fn forward_latents(&self, y: &Tensor, z: &Tensor, q: &[f64], proxy: RateProxy) -> TrainOut {
        let zb = self.entropy_bottleneck.forward_proxy(z, proxy);
        let psi = self.hyper_synthesis(&zb.z_hat);
        let (b, _, h, w) = y.size4().expect("4-d latent");
        let anchor = checkerboard(h, w, y.device()).view([1, 1, h, w]);
        let non_anchor = anchor.logical_not();
        let mut y_hats: Vec<Tensor> = Vec::new();
        let mut y_bits = Tensor::zeros([b], (Kind::Float, y.device()));
        for (i, (start, c)) in self.config.slice_ranges().into_iter().enumerate() {
            let yi = y.narrow(1, start, c);
            let prev = (i > 0).then(|| Tensor::cat(&y_hats, 1));
            let zeros = yi.zeros_like();
            let pa = self.slice_params(i, &psi, prev.as_ref(), &zeros);
            let anchors_hat = (ste_round(&(&yi - &pa.mu)) + &pa.mu) * &anchor;
            let pn = self.slice_params(i, &psi, prev.as_ref(), &anchors_hat);
            let mu = pa.mu.where_self(&anchor, &pn.mu);
            let sigma = pa.sigma.where_self(&anchor, &pn.sigma);
            let yi_hat = anchors_hat + (ste_round(&(&yi - &mu)) + &mu) * &non_anchor;
            let y_rate = proxy.rate_input(&yi, &yi_hat);
            let lik = gaussian::likelihood(&y_rate, &mu, &sigma);
            y_bits += bits_per_sample(&lik);
            y_hats.push(yi_hat);
        }
        let y_hat = Tensor::cat(&y_hats, 1) * self.gains.inv_gains(q);
        let x_hat = self.synthesis(&y_hat);
        TrainOut {
            x_hat,
            y_bits,
            z_bits: bits_per_sample(&zb.likelihoods),
        }
    }
    fn entropy_bottleneck(&self) -> &EntropyBottleneck {
        &self.entropy_bottleneck
    }
    fn gains(&self) -> &GainVectors {
        &self.gains
    }
    fn analysis(&self, x: &Tensor) -> Tensor {
        let y = self.g_a.forward(x);
        match &self.shortcut {
            Some(s) => y + s.analysis(x),
            None => y,
        }
    }
    fn hyper_analysis(&self, y: &Tensor) -> Tensor {
        self.h_a.forward(y)
    }
    fn synthesis(&self, y_hat: &Tensor) -> Tensor {
        let x = self.g_s.forward(y_hat);
        match &self.shortcut {
            Some(s) => x + s.synthesis(y_hat),
            None => x,
        }
    }
    fn to_int(&self) -> super::IntEntropy {
        super::IntEntropy::Elic(ElicModel::to_int(self))
    }
    /// A wavelet shortcut that the weights did not have starts at zero: the model then codes
    /// exactly like the one it was loaded from.
    fn can_complete(&self, name: &str) -> bool {
        self.shortcut.is_some() && name.starts_with("shortcut.")
    }
    fn complete_partial_init(&self, lacking: &[String]) -> Option<&'static str> {
        match &self.shortcut {
            Some(s) if !lacking.is_empty() => {
                s.zero();
                Some("wavelet shortcut starts at zero (function-preserving init)")
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::zoo::NetworkFamily;

    #[test]
    fn wavelet_shortcut_is_a_codec_at_step_0_and_zero_shortcut_changes_nothing() {
        tch::manual_seed(1);
        let config = ElicConfig {
            wavelet_shortcut: true,
            ..ElicConfig::tiny()
        };
        let vs = nn::VarStore::new(Device::Cpu);
        let model = ElicModel::new(&vs.root(), config);
        let names: Vec<String> = vs.variables().keys().cloned().collect();
        assert!(names.contains(&"shortcut.encoder.weight".to_string()));
        // A smooth image: at step 0 the learned paths are zero and the linear wavelet path keeps
        // the low bands, so the reconstruction of the unquantized latent is already close.
        let r = Tensor::arange(64, (Kind::Float, Device::Cpu)) / 64.0;
        let x = (r.view([1, 1, 1, 64]) * 0.5 + r.view([1, 1, 64, 1]) * 0.3 + 0.1)
            .expand([1, 3, 64, 64], false)
            .contiguous();
        let x_hat = tch::no_grad(|| model.synthesis(&model.analysis(&x)));
        let mse = (&x_hat - &x).square().mean(Kind::Float).double_value(&[]);
        let psnr = -10.0 * mse.log10();
        assert!(psnr > 30.0, "step-0 linear path PSNR {psnr:.1} dB");
        // Zeroed, the shortcut contributes nothing: the model equals the one without it.
        let plain_vs = nn::VarStore::new(Device::Cpu);
        let plain = ElicModel::new(&plain_vs.root(), ElicConfig::tiny());
        tch::no_grad(|| {
            for (name, t) in plain_vs.variables() {
                let mut t = t;
                t.copy_(&vs.variables()[&name]);
            }
        });
        let y = Tensor::rand([1, 3, 64, 64], (Kind::Float, Device::Cpu));
        model.shortcut.as_ref().expect("shortcut").zero();
        let (a, b) = tch::no_grad(|| (model.analysis(&y), plain.analysis(&y)));
        assert!(
            a.equal(&b),
            "max diff {}",
            (&a - &b).abs().max().double_value(&[])
        );
        let (a, b) = tch::no_grad(|| (model.synthesis(&a), plain.synthesis(&b)));
        assert!(a.equal(&b));
    }

    #[test]
    fn shapes_and_rate_terms() {
        tch::manual_seed(0);
        let vs = nn::VarStore::new(Device::Cpu);
        let model = ElicModel::new(&vs.root(), ElicConfig::tiny());
        let x = Tensor::rand([2, 3, 64, 128], (Kind::Float, Device::Cpu));
        let out = model.forward(&x, &[1.0, 2.5], true);
        assert_eq!(out.x_hat.size(), vec![2, 3, 64, 128]);
        assert_eq!(out.y_bits.size(), vec![2]);
        assert!(out.y_bits.min().double_value(&[]) > 0.0);
        assert!(out.z_bits.min().double_value(&[]) > 0.0);
        let names: Vec<String> = vs.variables().keys().cloned().collect();
        for n in [
            "g_a.0.weight",
            "g_s.6.bias",
            "h_s.4.weight",
            "slices.1.channel.0.weight",
            "slices.0.agg.4.bias",
            "gain",
        ] {
            assert!(names.contains(&n.to_string()), "missing {n}");
        }
        assert!(!names.iter().any(|n| n.starts_with("slices.0.channel")));
    }

    #[test]
    fn quality_mapping() {
        let c = ElicConfig::small();
        assert_eq!(c.level_weights(1.0), (0, 0.0));
        assert_eq!(c.level_weights(6.0), (4, 1.0));
        let (i, t) = c.level_weights(2.5);
        assert_eq!(i, 1);
        assert!((t - 0.5).abs() < 1e-12);
        assert!((c.lambda_at(3.0) - 0.0087).abs() < 1e-12);
        assert!(c.lambda_at(2.5) > 0.0040 && c.lambda_at(2.5) < 0.0087);
        assert!(ElicConfig::tiny().validate().is_ok());
        let g = c.initial_gains();
        assert!(g.windows(2).all(|w| w[0] < w[1]));
        assert!((g.iter().map(|x| x.ln()).sum::<f64>()).abs() < 1e-9);
    }

    #[test]
    fn checkerboard_pattern() {
        let m = checkerboard(2, 3, Device::Cpu);
        let v: Vec<bool> = Vec::try_from(m.flatten(0, -1)).unwrap();
        assert_eq!(v, vec![true, false, true, false, true, false]);
    }
}
