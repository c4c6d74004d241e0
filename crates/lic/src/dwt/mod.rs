//! `lic-dwt`: a wavelet codec with context-adaptive entropy coding, pure Rust, no libtorch.
//!
//! It is the codec that works on day one: a fixed colour transform and CDF 9/7 wavelet
//! ([`transform`]), dead-zone quantization with per-band steps that equalize the pixel-domain
//! error and a rate–distortion choice of each level ([`encode`]), and adaptive context models
//! over the already coded neighbours, the parent band and luma ([`code`], [`model`]). The
//! decoder's symbol path is integer arithmetic end to end (the bitstream decodes identically
//! everywhere) and its float inverse transform uses no fused or transcendental operations, so
//! the pixels are the same on every machine as well.
//!
//! Two parts are learned: the prior every adaptive model starts from ([`prior`], trained on
//! the training crops in CPU-minutes and compiled in), and a restoration filter the encoder
//! fits to each image by least squares ([`filter`]; per class of 4 × 4 blocks where that pays,
//! [`alf`]).
pub mod alf;
pub mod cfl;
pub mod code;
pub mod filter;
pub mod model;
pub mod prior;
pub mod transform;
pub mod tune;

use rayon::prelude::*;
use sha2::{Digest, Sha256};

use crate::coder::CoderError;
use crate::format::{Container, Header, Limits};
use crate::io::image::Image;
use code::{CflRdo, Layout, Models, Rdo, RECON_CLASSES};
use model::{Counter, Decoder, Encoder, SymbolCoder};
use transform::{band_norms, bands, Band, MAX_LEVELS};

/// Model id in the container header.
pub const MODEL_ID: &str = "lic-dwt";
/// Version of the parameter blob: 4 when step weights are sent ([`tune`]: a weight table, then
/// a blob of version 1 to 3), else 3 when the classified restoration filter is used ([`alf`]),
/// else 2 when chroma from luma is used ([`cfl`]), else 1 (the decoder reads all four; a stream
/// that uses none of them is written as version 1, one without the classified filter as
/// version 2 and one without weights as version 1 to 3, the same bytes as before the later
/// versions existed).
pub const BLOB_VERSION: u8 = 4;
/// Quality range: the step is `2^(8 − q / 2)` pixel levels (q = 16: a step of one level).
pub const QUALITY_RANGE: (f32, f32) = (0.0, 16.0);
/// Default largest image the decoder accepts (pixels).
pub const DEFAULT_MAX_PIXELS: u64 = 1 << 26;
/// Quality used when none is given (`lic encode`; about 0.4 bpp, 31 dB on Kodak).
pub const DEFAULT_QUALITY: f32 = 6.0;
/// Reconstruction offsets are stored in units of `1 / OFFSET_SCALE` of a step.
pub(crate) const OFFSET_SCALE: f32 = 64.0;

/// Errors of the `lic-dwt` codec: the libtorch-free families' shared error type.
pub type DwtError = crate::family::FamilyError;

fn bad(msg: impl Into<String>) -> DwtError {
    DwtError::params(MODEL_ID, msg)
}

/// Encoder settings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EncodeOptions {
    /// Quality in [`QUALITY_RANGE`] (higher is better).
    pub quality: f32,
    /// Dead-zone rounding offset: `q = floor(|c| / Δ + rounding)`.
    pub rounding: f32,
    /// Chroma step multiplier.
    pub chroma: f32,
    /// Rate–distortion trade-off of the coefficient choice (squared steps per bit; 0: plain
    /// dead-zone quantization).
    pub kappa: f32,
    /// Fit and send the restoration filter ([`filter`]).
    pub filter: bool,
    /// Try chroma from luma ([`cfl`]; needs `kappa > 0`), sent for the bands where it pays.
    pub cfl: bool,
    /// Try the classified restoration filter ([`alf`]; needs `filter`), sent where it pays
    /// over the single filter.
    pub alf: bool,
    /// Quantizer step weights per component, level and orientation ([`tune`]; sent in the
    /// stream, blob version 4, when any differs from one).
    pub weights: tune::BandWeights,
}

impl EncodeOptions {
    /// Defaults at a quality.
    pub fn new(quality: f32) -> Self {
        EncodeOptions {
            quality,
            rounding: 0.38,
            chroma: 1.0,
            kappa: 0.12,
            filter: true,
            cfl: true,
            alf: true,
            weights: tune::BandWeights::ONE,
        }
    }

    /// Defaults of a tuning at a quality ([`tune::Tune`]).
    pub fn tuned(quality: f32, tune: tune::Tune) -> Self {
        let mut o = Self::new(quality);
        if tune == tune::Tune::Machine {
            // The restoration filter serves PSNR: off (the classifier's KL is unchanged, the
            // filter's bytes are saved).
            o.weights = tune::MACHINE;
            o.kappa = tune::MACHINE_KAPPA;
            o.filter = false;
            o.alf = false;
        }
        o
    }
}

/// What the decoder needs besides the coefficients (the parameter blob).
#[derive(Clone, Debug, PartialEq)]
pub struct Params {
    /// Decomposition levels.
    pub levels: usize,
    /// Base step in pixel levels.
    pub step: f32,
    /// Chroma step multiplier.
    pub chroma: f32,
    /// Reconstruction offsets per class, in `1/64` of a step.
    pub offsets: [i8; RECON_CLASSES],
    /// Restoration filter per output channel (R, G, B or gray), or none at all.
    pub filters: Vec<filter::ChannelFilter>,
    /// Chroma-from-luma scales, three per detail band ([`cfl::scales`]); empty when none is
    /// used (blob version 1).
    pub cfl: Vec<i8>,
    /// Classified restoration filter per output channel ([`alf`]; blob version 3, `filters`
    /// then empty), or empty.
    pub alf: Vec<alf::Channel>,
    /// Quantizer step weights per component and band (components in order, bands in the order
    /// of [`bands`]), in sixteenths ([`tune::WEIGHT_ONE`]), 1 to 255 (blob version 4), or empty
    /// (all one).
    pub weights: Vec<u8>,
}

impl Params {
    /// Serializes the blob: with step weights, version 4 (4, their count, the weights, then the
    /// blob of the rest), else the blob of version 1 to 3.
    pub fn to_bytes(&self) -> Vec<u8> {
        let rest = self.to_bytes_unweighted();
        if self.weights.is_empty() {
            return rest;
        }
        let mut v = vec![4, self.weights.len() as u8];
        v.extend(&self.weights);
        v.extend(rest);
        v
    }

    /// The blob without the step weights (version 1 to 3).
    fn to_bytes_unweighted(&self) -> Vec<u8> {
        let version = if !self.alf.is_empty() {
            3
        } else if self.cfl.is_empty() {
            1
        } else {
            2
        };
        let mut v = vec![version, self.levels as u8];
        v.extend(self.step.to_le_bytes());
        v.extend(self.chroma.to_le_bytes());
        v.extend(self.offsets.iter().map(|&o| o as u8));
        if version == 3 {
            v.push(self.alf.len() as u8);
            for c in &self.alf {
                c.to_bytes(&mut v);
            }
            v.push(u8::from(!self.cfl.is_empty()));
            if !self.cfl.is_empty() {
                cfl::to_bytes(&self.cfl, &mut v);
            }
            return v;
        }
        v.push(self.filters.len() as u8);
        for f in &self.filters {
            match f {
                None => v.push(0),
                Some(c) => {
                    v.push(1);
                    v.extend(c.iter().map(|&k| k as u8));
                }
            }
        }
        if !self.cfl.is_empty() {
            cfl::to_bytes(&self.cfl, &mut v);
        }
        v
    }

    /// Parses and checks a blob.
    pub fn parse(b: &[u8]) -> Result<Self, DwtError> {
        if b.first() != Some(&4) {
            return Self::parse_unweighted(b);
        }
        let count = usize::from(*b.get(1).ok_or_else(|| bad("parameter blob truncated"))?);
        let weights = b
            .get(2..2 + count)
            .ok_or_else(|| bad("parameter blob truncated in the step weights"))?;
        if let Some(i) = weights.iter().position(|&v| v == 0) {
            return Err(bad(format!("step weight {i} is zero")));
        }
        if b.get(2 + count) == Some(&4) {
            return Err(bad("step weights given twice in the parameter blob"));
        }
        let mut p = Self::parse_unweighted(&b[2 + count..])?;
        let per_plane = 1 + 3 * p.levels;
        if count != per_plane && count != 3 * per_plane {
            return Err(bad(format!(
                "{count} step weights for {} levels (expected {per_plane} or {})",
                p.levels,
                3 * per_plane
            )));
        }
        p.weights = weights.to_vec();
        Ok(p)
    }

    /// Parses and checks a blob of version 1 to 3.
    fn parse_unweighted(b: &[u8]) -> Result<Self, DwtError> {
        let n = 2 + 8 + RECON_CLASSES + 1;
        if b.len() < n {
            return Err(bad(format!(
                "parameter blob of {} bytes, at least {n} expected",
                b.len()
            )));
        }
        if !(1..=BLOB_VERSION).contains(&b[0]) {
            return Err(bad(format!(
                "parameter blob version {} (this build reads 1 to {BLOB_VERSION})",
                b[0]
            )));
        }
        let levels = usize::from(b[1]);
        if levels > MAX_LEVELS {
            return Err(bad(format!("{levels} levels (at most {MAX_LEVELS})")));
        }
        let f = |i: usize| f32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        let (step, chroma) = (f(2), f(6));
        for (what, v) in [("step", step), ("chroma multiplier", chroma)] {
            if !(v.is_finite() && (1e-3..=1e4).contains(&v)) {
                return Err(bad(format!("{what} {v} out of range")));
            }
        }
        let mut offsets = [0i8; RECON_CLASSES];
        for (o, &x) in offsets.iter_mut().zip(&b[10..]) {
            *o = x as i8;
            if f32::from(*o).abs() > OFFSET_SCALE / 2.0 {
                return Err(bad(format!("reconstruction offset {o} out of range")));
            }
        }
        let count = usize::from(b[n - 1]);
        if count > 3 {
            return Err(bad(format!("{count} restoration filters (at most 3)")));
        }
        let mut pos = n;
        let mut filters = Vec::with_capacity(count);
        let mut classified = Vec::new();
        if b[0] == 3 {
            if count == 0 {
                return Err(bad("classified restoration filter for no channel"));
            }
            for _ in 0..count {
                let (c, k) = alf::Channel::parse(&b[pos..]).map_err(bad)?;
                classified.push(c);
                pos += k;
            }
        }
        for _ in 0..if b[0] == 3 { 0 } else { count } {
            match b.get(pos) {
                Some(0) => {
                    filters.push(None);
                    pos += 1;
                }
                Some(1) => {
                    let c = b
                        .get(pos + 1..pos + 1 + filter::TAPS)
                        .ok_or_else(|| bad("parameter blob truncated in a restoration filter"))?;
                    filters.push(Some(std::array::from_fn(|k| c[k] as i8)));
                    pos += 1 + filter::TAPS;
                }
                Some(f) => return Err(bad(format!("restoration filter flag {f}"))),
                None => return Err(bad("parameter blob truncated in a restoration filter")),
            }
        }
        let mut table = Vec::new();
        let has_cfl = match b[0] {
            2 => true,
            3 => match b.get(pos) {
                Some(&f @ (0 | 1)) => {
                    pos += 1;
                    f == 1
                }
                Some(f) => return Err(bad(format!("chroma-from-luma flag {f}"))),
                None => {
                    return Err(bad(
                        "parameter blob truncated before the chroma-from-luma flag",
                    ))
                }
            },
            _ => false,
        };
        if has_cfl {
            let (t, n) = cfl::parse(&b[pos..], cfl::slots(levels)).map_err(bad)?;
            table = t;
            pos += n;
        }
        if pos != b.len() {
            return Err(bad(format!(
                "{} trailing bytes in the parameter blob",
                b.len() - pos
            )));
        }
        Ok(Params {
            levels,
            step,
            chroma,
            offsets,
            filters,
            cfl: table,
            alf: classified,
            weights: Vec::new(),
        })
    }
}

/// Per component and band, the quantizer step in coefficient units.
fn band_steps(p: &Params, comps: usize, bands: &[Band]) -> Vec<Vec<f32>> {
    let norms = band_norms(p.levels);
    // RGB error per unit error of Y, Cb, Cr (columns of the inverse colour matrix, squared and
    // summed), so that the steps equalize the RGB-domain error slope.
    let gains: [f64; 3] = if comps == 1 {
        [1.0; 3]
    } else {
        [
            1.0,
            (3.0 / (0.344_136 * 0.344_136 + 1.772 * 1.772f64)).sqrt(),
            (3.0 / (1.402 * 1.402 + 0.714_136 * 0.714_136f64)).sqrt(),
        ]
    };
    let weight = |c: usize, b: usize| match p.weights.get(c * bands.len() + b) {
        Some(&v) => f64::from(v) / f64::from(tune::WEIGHT_ONE),
        None => 1.0,
    };
    (0..comps)
        .map(|c| {
            let mult = if c == 0 { 1.0 } else { f64::from(p.chroma) };
            bands
                .iter()
                .zip(&norms)
                .enumerate()
                .map(|(b, (_, &n))| (f64::from(p.step) * gains[c] * mult * weight(c, b) / n) as f32)
                .collect()
        })
        .collect()
}

/// Result of encoding.
#[derive(Clone, Debug)]
pub struct Encoded {
    /// The `.lic` bytes.
    pub bytes: Vec<u8>,
    /// Information content of the coefficients under the adaptive models, in bits.
    pub estimated_bits: f64,
}

/// Splits an image into centred float planes (Y, Cb, Cr or gray).
fn to_planes(data: &[u8], gray: bool) -> Vec<Vec<f32>> {
    if gray {
        let mut p = Vec::new();
        transform::gray_to_plane(data, &mut p);
        vec![p]
    } else {
        let mut planes = [Vec::new(), Vec::new(), Vec::new()];
        transform::rgb_to_ycc(data, &mut planes);
        planes.into_iter().collect()
    }
}

/// The header's weights hash of every `lic-dwt` stream: the first 16 bytes of the SHA-256 of
/// the embedded prior ([`prior::EMBEDDED`], `models/lic-dwt.safetensors`), the only learned
/// part of the codec.
pub fn weights_hash() -> [u8; 16] {
    static HASH: std::sync::OnceLock<[u8; 16]> = std::sync::OnceLock::new();
    *HASH.get_or_init(|| {
        let d = Sha256::digest(prior::EMBEDDED);
        let mut h = [0u8; 16];
        h.copy_from_slice(&d[..16]);
        h
    })
}

/// Encodes an 8-bit image (`data` is RGB or, when `gray`, one byte per pixel).
pub fn encode(
    data: &[u8],
    width: u32,
    height: u32,
    gray: bool,
    opts: &EncodeOptions,
) -> Result<Encoded, DwtError> {
    let (w, h) = (width as usize, height as usize);
    let comps = if gray { 1 } else { 3 };
    // The container's default limits: a larger image would make a file no reader accepts.
    let lim = Limits::default();
    if width > lim.max_side
        || height > lim.max_side
        || u64::from(width) * u64::from(height) > lim.max_pixels
    {
        return Err(bad(format!(
            "image {width}x{height} is larger than a .lic file holds ({} per side, {} pixels)",
            lim.max_side, lim.max_pixels
        )));
    }
    if w == 0 || h == 0 || data.len() != w * h * comps {
        return Err(bad(format!(
            "image data of {} bytes does not match {width}x{height}x{comps}",
            data.len()
        )));
    }
    let (qlo, qhi) = QUALITY_RANGE;
    if !(qlo..=qhi).contains(&opts.quality) {
        return Err(bad(format!(
            "quality {} outside [{qlo}, {qhi}]",
            opts.quality
        )));
    }
    if !(0.0..=0.5).contains(&opts.rounding) || !(0.25..=8.0).contains(&opts.chroma) {
        return Err(bad("rounding must be in [0, 0.5] and chroma in [0.25, 8]"));
    }
    let prep = prepare(data, w, h, gray, opts);
    let bands = prep.bands.clone();
    let mut enc = Encoder::default();
    let (mut params, _, q) = code_prepared_models(prep, opts, &prior::models(), &mut enc)?;
    if opts.filter {
        let rec = reconstruct(&params, &q, w, h, &bands);
        choose_filters(&mut params, data, &rec, w, h, comps, opts);
    }
    finish(enc, &params, width, height, gray, opts.quality)
}

/// Chooses the restoration filter: per channel the classified filter ([`alf`]) where it lowers
/// squared error + rate (at the RDO's trade-off, in RGB squared error per bit) below the
/// unclassified one ([`filter`]); the unclassified filters alone (blob version 1 or 2) when no
/// channel gains from the classes.
fn choose_filters(
    params: &mut Params,
    data: &[u8],
    rec: &[u8],
    w: usize,
    h: usize,
    comps: usize,
    opts: &EncodeOptions,
) {
    if !opts.alf {
        params.filters = filter::fit(data, rec, w, h, comps);
        if params.filters.iter().all(Option::is_none) {
            params.filters.clear();
        }
        return;
    }
    let classes = alf::classify(rec, w, h, comps);
    // Squared error per bit in the RGB domain: a luma error of one step is three RGB errors.
    let step = f64::from(params.step);
    let lambda =
        ALF_LAMBDA * f64::from(opts.kappa) * step * step * if comps == 3 { 3.0 } else { 1.0 };
    let choices = alf::fit(data, rec, w, h, comps, &classes, lambda);
    let single_bits =
        |f: &filter::ChannelFilter| if f.is_some() { 8 + 8 * filter::TAPS } else { 8 };
    let alf_wins = |c: &alf::Choice| {
        if !c.alf.is_classified() {
            return false;
        }
        let classified = c.alf_sse as f64 + lambda * c.alf.bits() as f64;
        let single = c.single_sse as f64 + lambda * single_bits(&c.single) as f64;
        classified < single
    };
    let use_alf = choices.iter().any(alf_wins);
    if use_alf {
        params.alf = choices
            .iter()
            .map(|c| {
                if alf_wins(c) {
                    c.alf.clone()
                } else {
                    c.single
                        .map_or_else(alf::Channel::off, alf::Channel::single)
                }
            })
            .collect();
    } else {
        params.filters = choices.iter().map(|c| c.single).collect();
        if params.filters.iter().all(Option::is_none) {
            params.filters.clear();
        }
    }
}

/// Counting passes with the look-ahead choice ([`code::code_planes_rdoq`]) between the first
/// pass and the real one, each starting from the previous one's values (1: Kodak-24 −0.29%
/// BD-rate for 0.14 s of CPU time per image).
const LOOK_PASSES: usize = 1;

/// Multiplier of the classified filter's rate–distortion trade-off.
const ALF_LAMBDA: f64 = 1.0;

/// An image transformed and dead-zone quantized, before entropy coding.
struct Prepared {
    params: Params,
    bands: Vec<Band>,
    w: usize,
    /// Coefficients in units of their step.
    u: Vec<Vec<f32>>,
    /// Dead-zone quantized values.
    q: Vec<Vec<i32>>,
}

fn prepare(data: &[u8], w: usize, h: usize, gray: bool, opts: &EncodeOptions) -> Prepared {
    let comps = if gray { 1 } else { 3 };
    let levels = transform::default_levels(w, h);
    let params = Params {
        levels,
        step: 2f32.powf(8.0 - opts.quality / 2.0),
        chroma: opts.chroma,
        offsets: [0; RECON_CLASSES],
        filters: Vec::new(),
        cfl: Vec::new(),
        alf: Vec::new(),
        weights: Vec::new(),
    };
    let bands = bands(w, h, levels);
    let params = Params {
        weights: opts.weights.table(comps, &bands, w, h),
        ..params
    };
    let steps = band_steps(&params, comps, &bands);
    let mut planes = to_planes(data, gray);
    planes
        .par_iter_mut()
        .for_each(|p| transform::forward(p, w, h, levels));
    let (u, q): (Vec<Vec<f32>>, Vec<Vec<i32>>) = planes
        .iter()
        .enumerate()
        .map(|(c, plane)| quantize_plane(plane, w, &bands, &steps[c], opts.rounding))
        .unzip();
    Prepared {
        params,
        bands,
        w,
        u,
        q,
    }
}

/// Dead-zone quantization of a transformed plane (Mallat layout, width `w`) with a step per
/// band: returns the coefficients in units of their step and the quantized values (the LL band
/// is rounded, the details use `rounding`).
pub(crate) fn quantize_plane(
    plane: &[f32],
    w: usize,
    bands: &[Band],
    steps: &[f32],
    rounding: f32,
) -> (Vec<f32>, Vec<i32>) {
    let mut u = vec![0.0f32; plane.len()];
    let mut q = vec![0i32; plane.len()];
    for (b, band) in bands.iter().enumerate() {
        let inv = 1.0 / steps[b];
        let r = if band.orient.is_none() { 0.5 } else { rounding };
        for y in band.y0..band.y0 + band.h {
            for x in band.x0..band.x0 + band.w {
                let v = plane[y * w + x] * inv;
                u[y * w + x] = v;
                let m = (v.abs() + r).floor().min(code::MAX_MAGNITUDE as f32);
                q[y * w + x] = if v < 0.0 { -(m as i32) } else { m as i32 };
            }
        }
    }
    (u, q)
}

/// Entropy-codes a prepared image with `coder`, starting from `models`. With `opts.kappa > 0`
/// a counting pass first chooses the values with the dead-zone centroids; the centroids of its
/// choice are what the decoder gets, and [`LOOK_PASSES`] counting passes and the real pass
/// choose again with them, each weighing a value's effect on the later contexts at the
/// previous pass's values ([`code::code_planes_rdoq`]). Returns the
/// parameters, the models' final state and the coded values.
fn code_prepared_models<C: SymbolCoder>(
    prep: Prepared,
    opts: &EncodeOptions,
    models: &Models,
    coder: &mut C,
) -> Result<(Params, Models, Vec<Vec<i32>>), DwtError> {
    let Prepared {
        mut params,
        bands,
        w,
        u,
        mut q,
    } = prep;
    let layout = Layout::plane(w, &bands, params.levels);
    params.offsets = centroids(&u, &q, &bands, 0);
    let mut m = models.clone();
    if opts.kappa > 0.0 {
        let mut rdo = code::Rdo {
            u: &u,
            offsets: params.offsets.map(|o| f32::from(o) / OFFSET_SCALE),
            kappa: opts.kappa,
        };
        let mut trial = q.clone();
        let mut first = models.clone();
        let try_cfl = opts.cfl && q.len() == 3;
        let mut stats = CflRdo::with_table(Vec::new(), params.offsets, bands.len());
        code::code_planes_rdoq(
            &mut Counter::default(),
            &mut first,
            &layout,
            &mut trial,
            Some(&rdo),
            try_cfl.then_some(&mut stats),
            true,
        )?;
        let mut res_u = None;
        if try_cfl {
            if let Some((table, t, ru)) =
                choose_cfl(&u, &trial, &stats.cost, &params, &layout, &rdo, models)?
            {
                params.cfl = table;
                trial = t;
                res_u = Some(ru);
            }
        }
        params.offsets = centroids(res_u.as_deref().unwrap_or(&u), &trial, &bands, 0);
        rdo.offsets = params.offsets.map(|o| f32::from(o) / OFFSET_SCALE);
        let mut cfl_rdo = CflRdo::with_table(params.cfl.clone(), params.offsets, bands.len());
        // Each pass's choice stands for the values not yet coded in the next one's look-ahead.
        q = trial;
        for _ in 0..LOOK_PASSES {
            let mut stats = CflRdo::with_table(params.cfl.clone(), params.offsets, bands.len());
            let c = (!params.cfl.is_empty()).then_some(&mut stats);
            let mut counter = Counter::default();
            code::code_planes_rdoq(
                &mut counter,
                &mut models.clone(),
                &layout,
                &mut q,
                Some(&rdo),
                c,
                true,
            )?;
        }
        let c = (!params.cfl.is_empty()).then_some(&mut cfl_rdo);
        code::code_planes_rdoq(coder, &mut m, &layout, &mut q, Some(&rdo), c, true)?;
    } else {
        code::code_planes(coder, &mut m, &layout, &mut q, None)?;
    }
    Ok((params, m, q))
}

/// The chroma-from-luma choice of the encoder after the first counting pass (`trial`, with the
/// cost of each band and component in `cost`): a second counting pass fitting each chroma
/// band's scales by least squares to the values coded before it, and per band and chroma
/// component the scales kept where they lowered the cost by more than the bytes they take (and
/// all of them only when the total pays for the mask too). Returns the scales, the second
/// pass's values and the coefficients less their predictions (for the reconstruction offsets),
/// or `None` when chroma from luma does not pay.
#[allow(clippy::type_complexity)]
fn choose_cfl(
    u: &[Vec<f32>],
    trial: &[Vec<i32>],
    cost: &[[f64; 3]],
    params: &Params,
    layout: &Layout<'_>,
    rdo: &Rdo<'_>,
    models: &Models,
) -> Result<Option<(Vec<i8>, Vec<Vec<i32>>, Vec<Vec<f32>>)>, DwtError> {
    let bands = layout.bands;
    let mut second = trial.to_vec();
    let mut stats = CflRdo {
        table: vec![0; cfl::slots(params.levels)],
        fit: true,
        chroma_only: true,
        offsets: params.offsets,
        cost: vec![[0.0; 3]; bands.len()],
    };
    code::code_planes_cfl(
        &mut Counter::default(),
        &mut models.clone(),
        layout,
        &mut second,
        Some(rdo),
        Some(&mut stats),
    )?;
    let byte = 8.0 * f64::from(rdo.kappa);
    let fitted = stats.table;
    let mut chosen = fitted.clone();
    let mut gain = 0.0;
    for (b, (ca, cb)) in cost.iter().zip(&stats.cost).enumerate().skip(1) {
        let k = cfl::PER_BAND * (b - 1);
        for (comp, slots) in [(1, k..k + 1), (2, k + 1..k + 3)] {
            let n = chosen[slots.clone()].iter().filter(|&&a| a != 0).count();
            let g = ca[comp] - cb[comp] - byte * n as f64;
            if n > 0 && g > 0.0 {
                gain += g;
            } else {
                chosen[slots].fill(0);
            }
        }
    }
    if gain <= byte * chosen.len().div_ceil(8) as f64 {
        return Ok(None);
    }
    let res = residual_u(u, &fitted, &params.offsets, bands, layout.w, &second);
    Ok(Some((chosen, second, res)))
}

/// The coefficients `u` (in steps) less their chroma-from-luma predictions (in steps) from the
/// coded values `q`.
fn residual_u(
    u: &[Vec<f32>],
    table: &[i8],
    offsets: &[i8; RECON_CLASSES],
    bands: &[Band],
    w: usize,
    q: &[Vec<i32>],
) -> Vec<Vec<f32>> {
    let mut r = u.to_vec();
    for (b, band) in bands.iter().enumerate() {
        for (comp, rc) in r.iter_mut().enumerate().skip(1) {
            let Some(p) = cfl::BandPredictor::new(table, offsets, b, band, comp) else {
                continue;
            };
            for y in band.y0..band.y0 + band.h {
                for x in band.x0..band.x0 + band.w {
                    let i = y * w + x;
                    rc[i] -= p.at(q[0][i], q[1][i]) as f32 / 64.0;
                }
            }
        }
    }
    r
}

/// Codes an image with a counting coder from `models` (whose histograms are recording, for
/// [`prior::train`]) and returns the models' final state.
fn count_image(
    data: &[u8],
    width: u32,
    height: u32,
    gray: bool,
    opts: &EncodeOptions,
    models: &Models,
) -> Result<(Models, f64), DwtError> {
    let prep = prepare(data, width as usize, height as usize, gray, opts);
    let mut counter = Counter::default();
    let (_, m, _) = code_prepared_models(prep, opts, models, &mut counter)?;
    Ok((m, counter.bits))
}

/// Per reconstruction class, the mean of `|u| − |q|` over the nonzero values, in `1/64` steps
/// (`u[0]` is component `comp_base`).
pub(crate) fn centroids(
    u: &[Vec<f32>],
    q: &[Vec<i32>],
    bands: &[Band],
    comp_base: usize,
) -> [i8; RECON_CLASSES] {
    let mut sums = [(0.0f64, 0u64); RECON_CLASSES];
    let w = bands.iter().map(|b| b.x0 + b.w).max().unwrap_or(0);
    for (c, (uc, qc)) in u.iter().zip(q).enumerate() {
        for band in bands {
            let class = code::recon_class(c + comp_base, band);
            for y in band.y0..band.y0 + band.h {
                for x in band.x0..band.x0 + band.w {
                    let m = qc[y * w + x].unsigned_abs();
                    if m > 0 {
                        sums[class].0 += f64::from(uc[y * w + x].abs()) - f64::from(m);
                        sums[class].1 += 1;
                    }
                }
            }
        }
    }
    sums.map(|(s, n)| {
        if n == 0 {
            0
        } else {
            ((s / n as f64) * f64::from(OFFSET_SCALE)).round().clamp(
                -f64::from(OFFSET_SCALE) / 2.0,
                f64::from(OFFSET_SCALE) / 2.0,
            ) as i8
        }
    })
}

fn finish(
    enc: Encoder,
    params: &Params,
    width: u32,
    height: u32,
    gray: bool,
    quality: f32,
) -> Result<Encoded, DwtError> {
    let estimated_bits = enc.bits;
    let stream = enc.finish()?;
    let container = Container {
        header: Header::image(
            MODEL_ID,
            weights_hash(),
            (width, height),
            gray,
            quality,
            params.to_bytes(),
        ),
        substreams: vec![stream],
    };
    Ok(Encoded {
        bytes: container.to_bytes()?,
        estimated_bits,
    })
}

/// Information content of an image's coefficients at given options without writing a stream
/// (for tuning).
pub fn estimate_bits(q: &mut [Vec<i32>], w: usize, h: usize, levels: usize) -> f64 {
    let bands = bands(w, h, levels);
    let layout = Layout::plane(w, &bands, levels);
    let mut counter = Counter::default();
    code::code_planes(&mut counter, &mut prior::models(), &layout, q, None)
        .expect("counting never fails");
    counter.bits
}

/// Plane `c`'s quantized values back to coefficients: `(|v| + offset) · step` with the sign
/// (`offsets` in `1/64` of a step, per reconstruction class).
pub(crate) fn dequantize(
    offsets: &[i8; RECON_CLASSES],
    c: usize,
    qc: &[i32],
    w: usize,
    bands: &[Band],
    steps: &[f32],
) -> Vec<f32> {
    let mut p = vec![0.0f32; qc.len()];
    for (b, band) in bands.iter().enumerate() {
        let s = steps[b];
        let off = f32::from(offsets[code::recon_class(c, band)]) / OFFSET_SCALE;
        for y in band.y0..band.y0 + band.h {
            for x in band.x0..band.x0 + band.w {
                let v = qc[y * w + x];
                p[y * w + x] = match v.signum() {
                    0 => 0.0,
                    1 => (v as f32 + off) * s,
                    _ => (v as f32 - off) * s,
                };
            }
        }
    }
    p
}

/// Plane `c` of the coded values `q` back to coefficients ([`dequantize`]), with the
/// chroma-from-luma predictions of `params.cfl` added in the bands that have a scale (integer
/// arithmetic in 1/64 of a step, one multiplication by `step / 64` at the end).
fn dequantize_plane(
    params: &Params,
    c: usize,
    q: &[Vec<i32>],
    w: usize,
    bands: &[Band],
    steps: &[f32],
) -> Vec<f32> {
    let mut p = dequantize(&params.offsets, c, &q[c], w, bands, steps);
    if c == 0 || params.cfl.is_empty() {
        return p;
    }
    for (b, band) in bands.iter().enumerate() {
        let Some(pred) = cfl::BandPredictor::new(&params.cfl, &params.offsets, b, band, c) else {
            continue;
        };
        let off = params.offsets[code::recon_class(c, band)];
        let s = steps[b] / 64.0;
        for y in band.y0..band.y0 + band.h {
            for x in band.x0..band.x0 + band.w {
                let i = y * w + x;
                let t = cfl::reconstruct64(pred.at(q[0][i], q[1][i]), q[c][i], off);
                p[i] = t as f32 * s;
            }
        }
    }
    p
}

/// Dequantizes and inverse-transforms the coefficients into 8-bit pixels (before the
/// restoration filter).
fn reconstruct(params: &Params, q: &[Vec<i32>], w: usize, h: usize, bands: &[Band]) -> Vec<u8> {
    let comps = q.len();
    let steps = band_steps(params, comps, bands);
    // The planes are independent: each is dequantized and inverse-transformed on its own thread
    // (the same arithmetic in the same order on any thread count).
    let mut planes: Vec<Vec<f32>> = (0..comps)
        .into_par_iter()
        .map(|c| {
            let mut p = dequantize_plane(params, c, q, w, bands, &steps[c]);
            transform::inverse(&mut p, w, h, params.levels);
            p
        })
        .collect();
    let mut data = Vec::new();
    if comps == 1 {
        transform::plane_to_gray(&planes[0], &mut data);
    } else {
        let arr: [Vec<f32>; 3] = [
            std::mem::take(&mut planes[0]),
            std::mem::take(&mut planes[1]),
            std::mem::take(&mut planes[2]),
        ];
        transform::ycc_to_rgb(&arr, &mut data);
    }
    data
}

/// A decoded image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decoded {
    /// Width.
    pub width: u32,
    /// Height.
    pub height: u32,
    /// Gray (one byte per pixel) rather than RGB.
    pub gray: bool,
    /// Pixels.
    pub data: Vec<u8>,
}

impl Decoded {
    /// The decoded image as lic's 8-bit RGB [`Image`] (a gray image has R = G = B and the gray
    /// flag set).
    pub fn into_image(self) -> Image {
        let data = if self.gray {
            self.data.iter().flat_map(|&v| [v, v, v]).collect()
        } else {
            self.data
        };
        let mut img = Image::new(self.width, self.height, data);
        img.gray = self.gray;
        img
    }
}

/// Encodes an [`Image`] (see [`encode`]). lic's images are always RGB; a gray one (R = G = B,
/// the gray flag set) is coded as one plane of its first channel.
pub fn encode_image(img: &Image, opts: &EncodeOptions) -> Result<Encoded, DwtError> {
    if img.gray {
        let g: Vec<u8> = img.data.iter().step_by(3).copied().collect();
        encode(&g, img.width, img.height, true, opts)
    } else {
        encode(&img.data, img.width, img.height, false, opts)
    }
}

/// Decodes `.lic` bytes of `lic-dwt` into an [`Image`] (at most [`DEFAULT_MAX_PIXELS`]).
pub fn decode_image(bytes: &[u8]) -> Result<Image, DwtError> {
    Ok(decode(bytes, DEFAULT_MAX_PIXELS)?.into_image())
}

/// Decodes `.lic` bytes of `lic-dwt`, refusing images above `max_pixels`.
pub fn decode(bytes: &[u8], max_pixels: u64) -> Result<Decoded, DwtError> {
    let c = Container::parse(bytes)?;
    decode_container(&c, max_pixels)
}

/// The entropy-decoded content of a `lic-dwt` stream: its parameters and the quantized
/// wavelet coefficients, before dequantization and the inverse transforms.
#[derive(Clone, Debug)]
pub struct Coefficients {
    /// Width.
    pub width: u32,
    /// Height.
    pub height: u32,
    /// Gray (one plane: Y) rather than colour (Y, Cb, Cr).
    pub gray: bool,
    /// The stream's parameters (levels, steps, reconstruction offsets, filters).
    pub params: Params,
    /// Per plane, the quantized coefficients in the Mallat layout (`width × height`); in the
    /// chroma bands with a chroma-from-luma scale, the residuals of the prediction.
    pub q: Vec<Vec<i32>>,
}

impl Coefficients {
    /// The dequantized coefficients (the values the inverse wavelet transform receives), per
    /// plane in the Mallat layout: lic-dwt's compressed-domain representation.
    pub fn dequantized(&self) -> Vec<Vec<f32>> {
        let (w, h) = (self.width as usize, self.height as usize);
        let bands = bands(w, h, self.params.levels);
        let steps = band_steps(&self.params, self.q.len(), &bands);
        (0..self.q.len())
            .map(|c| dequantize_plane(&self.params, c, &self.q, w, &bands, &steps[c]))
            .collect()
    }
}

/// Entropy-decodes a parsed container into its [`Coefficients`] (no pixels).
pub fn decode_coefficients(c: &Container, max_pixels: u64) -> Result<Coefficients, DwtError> {
    let hd = &c.header;
    if hd.model_id != MODEL_ID {
        return Err(DwtError::model_id(&hd.model_id, MODEL_ID));
    }
    if hd.weights_hash != weights_hash() {
        return Err(bad("the header's design hash is not lic-dwt's"));
    }
    if u64::from(hd.width) * u64::from(hd.height) > max_pixels {
        return Err(DwtError::TooLarge {
            width: hd.width,
            height: hd.height,
            limit: max_pixels,
        });
    }
    let params = Params::parse(&hd.params)?;
    let (w, h) = (hd.width as usize, hd.height as usize);
    if params.levels != transform::default_levels(w, h) {
        return Err(bad(format!(
            "{} levels for a {w}x{h} image (expected {})",
            params.levels,
            transform::default_levels(w, h)
        )));
    }
    if hd.gray && !params.cfl.is_empty() {
        return Err(bad("chroma-from-luma scales in a gray image"));
    }
    let comps = if hd.gray { 1 } else { 3 };
    let nb = 1 + 3 * params.levels;
    if !params.weights.is_empty() && params.weights.len() != comps * nb {
        return Err(bad(format!(
            "{} step weights for {comps} planes of {nb} bands",
            params.weights.len()
        )));
    }
    if c.substreams.len() != 1 {
        return Err(bad(format!(
            "{} substreams, expected 1",
            c.substreams.len()
        )));
    }
    let bands = bands(w, h, params.levels);
    let layout = Layout::plane(w, &bands, params.levels);
    let mut q: Vec<Vec<i32>> = (0..comps).map(|_| vec![0; w * h]).collect();
    let mut dec = Decoder::new(&c.substreams[0])?;
    code::code_planes(&mut dec, &mut prior::models(), &layout, &mut q, None)?;
    if !dec.maybe_exhausted() {
        return Err(CoderError::TrailingData.into());
    }
    Ok(Coefficients {
        width: hd.width,
        height: hd.height,
        gray: hd.gray,
        params,
        q,
    })
}

/// Decodes a parsed container.
pub fn decode_container(c: &Container, max_pixels: u64) -> Result<Decoded, DwtError> {
    let Coefficients {
        width,
        height,
        gray,
        params,
        q,
    } = decode_coefficients(c, max_pixels)?;
    let (w, h) = (width as usize, height as usize);
    let comps = q.len();
    let bands = bands(w, h, params.levels);
    let mut data = reconstruct(&params, &q, w, h, &bands);
    if !params.alf.is_empty() {
        if params.alf.len() != comps {
            return Err(bad(format!(
                "{} classified restoration filters for {comps} channels",
                params.alf.len()
            )));
        }
        let classes = alf::classify(&data, w, h, comps);
        alf::apply(&mut data, w, h, comps, &params.alf, &classes);
    } else if params.filters.len() == comps {
        filter::apply(&mut data, w, h, comps, &params.filters);
    } else if !params.filters.is_empty() {
        return Err(bad(format!(
            "{} restoration filters for {comps} channels",
            params.filters.len()
        )));
    }
    Ok(Decoded {
        width,
        height,
        gray,
        data,
    })
}

/// `lic-dwt` behind the codec interface ([`crate::family::ImageFamily`]).
#[derive(Clone, Copy, Debug, Default)]
pub struct Dwt;

impl crate::family::ImageFamily for Dwt {
    fn id(&self) -> &str {
        MODEL_ID
    }
    fn short_name(&self) -> &str {
        "dwt"
    }
    fn description(&self) -> &str {
        "wavelet codec, no network: CDF 9/7, RD-optimized quantization, context-adaptive range \
         coding (the default; fast)"
    }
    fn quality_range(&self) -> (f64, f64) {
        (f64::from(QUALITY_RANGE.0), f64::from(QUALITY_RANGE.1))
    }
    fn default_quality(&self) -> f64 {
        f64::from(DEFAULT_QUALITY)
    }
    fn capabilities(&self) -> crate::family::Capabilities {
        crate::family::Capabilities {
            rate_search: true,
            tune: true,
            ..Default::default()
        }
    }
    fn encode(
        &self,
        img: &Image,
        opts: &crate::family::EncodeOptions,
        progress: &mut dyn FnMut(&crate::family::Progress) -> crate::family::Control,
    ) -> Result<crate::family::Encoded, crate::family::Error> {
        crate::family::check_options(self, opts)?;
        if img.pixels() > DEFAULT_MAX_PIXELS {
            // Refused before any work: the decoder would not accept the stream.
            return Err(DwtError::TooLarge {
                width: img.width,
                height: img.height,
                limit: DEFAULT_MAX_PIXELS,
            }
            .into());
        }
        let quality = opts.quality.unwrap_or(self.default_quality());
        let report = |done, message: &str| crate::family::Progress {
            done,
            total: 2,
            message: message.to_string(),
        };
        if progress(&report(0, "coding")) == crate::family::Control::Cancel {
            return Err(DwtError::Cancelled.into());
        }
        let e = encode_image(img, &EncodeOptions::tuned(quality as f32, opts.tune))?;
        // The encoder keeps no reconstruction: the stream is decoded once, so the reported
        // reconstruction is what every decoder produces.
        if progress(&report(1, "decoding")) == crate::family::Control::Cancel {
            return Err(DwtError::Cancelled.into());
        }
        let reconstruction = decode(&e.bytes, u64::MAX)?.into_image();
        Ok(crate::family::Encoded {
            bytes: e.bytes,
            reconstruction,
            estimated_bits: e.estimated_bits,
            quality,
            details: String::new(),
        })
    }
    fn decode(
        &self,
        container: &Container,
        limits: &crate::format::Limits,
    ) -> Result<Image, crate::family::Error> {
        let cap = limits.max_pixels.min(DEFAULT_MAX_PIXELS);
        Ok(decode_container(container, cap)?.into_image())
    }
    fn describe_params(&self, c: &Container) -> Option<String> {
        Some(match Params::parse(&c.header.params) {
            Ok(p) => format!(
                "lic-dwt:        {} levels, step {} levels, chroma step ×{}, \
                 reconstruction offsets {:?}/64{}{}{}",
                p.levels,
                p.step,
                p.chroma,
                p.offsets,
                if p.cfl.is_empty() {
                    String::new()
                } else {
                    format!(", chroma-from-luma scales {:?}/64", p.cfl)
                },
                if p.alf.is_empty() {
                    String::new()
                } else {
                    format!(
                        ", classified restoration filter (groups per channel {:?})",
                        p.alf.iter().map(|c| c.taps.len()).collect::<Vec<_>>()
                    )
                },
                if p.weights.is_empty() {
                    String::new()
                } else {
                    format!(", step weights {:?}/16 (machine tuning)", p.weights)
                }
            ),
            Err(e) => format!("lic-dwt:        {e}"),
        })
    }
}
