//! `lic-mcw`: a motion-compensated wavelet video codec, pure Rust, no libtorch, bit-exact.
//!
//! The video family that compresses: low-delay P coding of 8-bit YCbCr 4:2:0 frames (the
//! source's own planes), with
//! - **intra frames** coded by `lic-dwt`'s wavelet coder ([`crate::dwt`]: the CDF 9/7
//!   transform, its rate–distortion quantization and its context-adaptive coefficient coder
//!   with the trained prior) on the Y, Cb and Cr planes at their own sizes;
//! - **inter frames** predicted from the previous decoded frame by block motion (a quadtree of
//!   64×64 down to 8×8 blocks, quarter-sample vectors, [`motion`]) with overlapped block
//!   motion compensation, so that the residual has no block edges; per block a skip, merge,
//!   inter or intra mode chosen by `D + λR` (`search`); the block field coded with neighbour
//!   and temporal contexts ([`side`]);
//! - **the residual** through the same wavelet coder, whose coefficient contexts gain a
//!   spatiotemporal bucket: the magnitude of the co-located coefficient of the motion-compensated
//!   prediction's own wavelet transform, and whether the previous frame's residual had a
//!   nonzero coefficient there. The adaptive models carry over from frame to frame within an
//!   intra period.
//! - **an in-loop restoration filter** (`lic-dwt`'s least-squares 5×5 filter) per frame and
//!   plane where it pays, applied before the frame becomes the reference;
//! - **rate allocation**: one quality for the clip, the intra frame and every fourth P frame at
//!   a finer step (a periodic cascade), chroma at a finer step than luma; each frame's step
//!   index is in its data.
//!
//! `docs/mcw.md` has the design in a table, the ablation and the block-DCT comparison ([`Tools`]
//! switches each tool off).
//!
//! The decoder's arithmetic is integer (prediction, entropy coding) or fixed-order `f32`
//! without fused or transcendental operations (the wavelet transforms), so every machine,
//! thread count and ISA reconstructs the same frames and the reference loop cannot drift.
mod dct;
pub mod motion;
mod search;
pub mod side;

use rayon::prelude::*;
use sha2::{Digest, Sha256};

use crate::coder::CoderError;
use crate::dwt::code::{code_planes, Layout, Models, Rdo, RECON_CLASSES};
use crate::dwt::model::{Decoder, Encoder, SymbolCoder};
use crate::dwt::transform::{band_norms, bands, default_levels, Band};
use crate::dwt::{self, prior, OFFSET_SCALE};
use crate::format::video::{
    parse_video, stream_bytes, FrameChunk, FrameKind, VideoColour, VideoHeader,
};
use crate::format::Limits;
use crate::video::colour::{chroma_size, Yuv420};
use crate::video::stream::{decode_frames, DecodeReport, StreamError};
use motion::{obmc_plane, Padded, Plane};
use side::SideModels;

/// Model id in the `.licv` header.
pub const MODEL_ID: &str = "lic-mcw";
/// Quality range: the frame step is `2^(8 − q / 2)` sample levels, as in `lic-dwt`.
pub const QUALITY_RANGE: (f32, f32) = (0.0, 16.0);
/// Quality used when none is given.
pub const DEFAULT_QUALITY: f32 = 8.0;
/// Default intra period.
pub const DEFAULT_GOP: u32 = 32;
/// Largest frame side and area the decoder accepts.
pub const MAX_SIDE: u32 = 8192;
/// Largest frame area (8K UHD).
pub const MAX_PIXELS: u64 = 7680 * 4320;
/// Luma block size of the motion field.
pub const BLOCK: usize = 8;
/// Version of the frame syntax (in the weights hash, so a stream of another version is
/// refused by its header).
const SYNTAX_VERSION: u8 = 1;
/// Chroma step multiplier. YUV-PSNR averages the planes' PSNRs, so a chroma plane's error
/// weighs in proportion to 1 / its own (small) MSE: finer chroma steps pay (0.4 measured best
/// on the shared clips, against 1.25 at first: −12.7 points of mean BD-rate).
const CHROMA_GAIN: f64 = 0.4;
/// Bucket edges of the prediction's coefficient magnitude, in steps (tuned on the shared clips:
/// edges at 1 and 4 steps measured 1.2 points worse in mean BD-rate).
const TEMPORAL_EDGES: [f32; 2] = [0.25, 1.0];
/// Temporal context buckets of the residual coefficients.
const EXTRA: usize = 6;

/// Errors of the video family (the libtorch-free families' error type).
pub type McwError = crate::family::FamilyError;

fn bad(msg: impl Into<String>) -> McwError {
    McwError::params(MODEL_ID, msg)
}

/// A motion vector in quarter luma samples.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Mv {
    pub x: i32,
    pub y: i32,
}

/// A block's mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// The spatially predicted vector, nothing coded.
    Skip,
    /// The previous frame's co-located vector, nothing coded.
    Merge,
    /// A coded vector.
    Inter,
    /// A flat prediction per plane (coded DC values).
    Intra,
}

/// One block of the motion field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Block {
    pub mode: Mode,
    pub mv: Mv,
    /// Intra DC of Y, Cb, Cr.
    pub dc: [u8; 3],
    /// Side of the quadtree leaf this cell belongs to, in cells (1, 2, 4 or 8).
    pub size: u8,
}

impl Default for Block {
    fn default() -> Self {
        Block {
            mode: Mode::Skip,
            mv: Mv::default(),
            dc: [128; 3],
            size: side::UNIT as u8,
        }
    }
}

/// Coding tools, each of which can be switched off (the ablation; the defaults are the codec).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tools {
    /// Motion search (off: every vector is zero).
    pub motion: bool,
    /// Overlapped block motion compensation (off: plain block copies).
    pub obmc: bool,
    /// Quarter-sample vectors (off: whole samples).
    pub subpel: bool,
    /// Skip blocks.
    pub skip: bool,
    /// Intra blocks in inter frames.
    pub intra_blocks: bool,
    /// Temporal contexts of the residual coefficients.
    pub temporal: bool,
    /// The periodic quality cascade among P frames.
    pub cascade: bool,
    /// 16×16 to 64×64 blocks (off: 8×8 only).
    pub tree: bool,
    /// Block-DCT residual of inter frames instead of the wavelet (the comparison; off).
    pub dct: bool,
    /// The in-loop restoration filter (per frame and plane, where it pays).
    pub filter: bool,
    /// Inter frames at all (off: every frame intra, the all-intra row).
    pub inter: bool,
}

impl Default for Tools {
    fn default() -> Self {
        Tools {
            motion: true,
            obmc: true,
            subpel: true,
            skip: true,
            intra_blocks: true,
            temporal: true,
            cascade: true,
            tree: true,
            dct: false,
            filter: true,
            inter: true,
        }
    }
}

/// Encoder settings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct VideoOptions {
    /// Quality in [`QUALITY_RANGE`].
    pub quality: f32,
    /// Intra period (≥ 1).
    pub gop: u32,
    /// The tools.
    pub tools: Tools,
    /// Motion λ: SAD units per bit, per unit of the step.
    pub lambda: f32,
    /// Rate–distortion trade-off of the coefficient choice (squared steps per bit).
    pub kappa: f32,
    /// Quality added to intra frames.
    pub intra_boost: f32,
    /// Quality added to every fourth P frame (with the cascade).
    pub cascade_boost: f32,
}

impl VideoOptions {
    /// The defaults at a quality.
    pub fn new(quality: f32) -> Self {
        VideoOptions {
            quality,
            gop: DEFAULT_GOP,
            tools: Tools::default(),
            lambda: 0.25,
            kappa: 0.14,
            intra_boost: 3.0,
            cascade_boost: 1.0,
        }
    }
}

/// The header's weights hash of every `lic-mcw` stream: it binds the stream to the wavelet
/// coder's trained prior and to this frame syntax.
pub fn weights_hash() -> [u8; 16] {
    let mut h = Sha256::new();
    h.update(b"lic-mcw");
    h.update([SYNTAX_VERSION]);
    h.update(dwt::weights_hash());
    let d = h.finalize();
    let mut out = [0u8; 16];
    out.copy_from_slice(&d[..16]);
    out
}

/// The step of step index `qidx`: `2^(8 − qidx / 8)`, from exact constants (no `powf`).
pub fn step_of(qidx: u8) -> f32 {
    const FRAC: [f32; 8] = [
        1.0,
        0.917_004_04,
        0.840_896_4,
        0.771_105_4,
        0.707_106_77,
        0.648_419_8,
        0.594_603_55,
        0.545_253_9,
    ];
    let n = i32::from(qidx / 8);
    FRAC[usize::from(qidx % 8)] * 256.0 / (1u64 << n.min(40)) as f32
}

/// Step index of a quality: `round(4 q)`, clamped.
fn qidx_of(quality: f32) -> u8 {
    (quality * 4.0).round().clamp(0.0, 255.0) as u8
}

/// The residual transform of a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// `lic-dwt`'s CDF 9/7 wavelet.
    Wavelet,
    /// 8×8 block DCT in a pyramid layout ([`dct`]).
    Dct,
}

/// Geometry of one plane's transform coding.
#[derive(Clone, Debug)]
struct Geo {
    w: usize,
    h: usize,
    /// Transform size (the DCT pads to whole blocks).
    tw: usize,
    th: usize,
    kind: Kind,
    levels: usize,
    bands: Vec<Band>,
    /// Step of each band per unit of the frame step.
    gains: Vec<f32>,
}

impl Geo {
    fn new(w: usize, h: usize, chroma: bool, kind: Kind) -> Self {
        let g = if chroma { CHROMA_GAIN } else { 1.0 };
        let (tw, th, levels) = match kind {
            Kind::Wavelet => (w, h, default_levels(w, h)),
            Kind::Dct => (w.div_ceil(8) * 8, h.div_ceil(8) * 8, dct::LEVELS),
        };
        let bands = bands(tw, th, levels);
        let gains = match kind {
            Kind::Wavelet => band_norms(levels).iter().map(|&n| (g / n) as f32).collect(),
            // Orthonormal: every coefficient has unit norm.
            Kind::Dct => vec![g as f32; bands.len()],
        };
        Geo {
            w,
            h,
            tw,
            th,
            kind,
            levels,
            bands,
            gains,
        }
    }
    fn steps(&self, step: f32) -> Vec<f32> {
        self.gains.iter().map(|&g| g * step).collect()
    }
    /// The transform of a `w × h` plane (`tw × th` coefficients).
    fn forward(&self, mut p: Vec<f32>) -> Vec<f32> {
        match self.kind {
            Kind::Wavelet => {
                dwt::transform::forward(&mut p, self.w, self.h, self.levels);
                p
            }
            Kind::Dct => {
                let mut padded = vec![0.0f32; self.tw * self.th];
                for y in 0..self.th {
                    let sy = y.min(self.h - 1);
                    for x in 0..self.tw {
                        padded[y * self.tw + x] = p[sy * self.w + x.min(self.w - 1)];
                    }
                }
                dct::forward(&padded, self.tw, self.th)
            }
        }
    }
    /// The inverse transform, cropped to `w × h`.
    fn inverse(&self, mut c: Vec<f32>) -> Vec<f32> {
        match self.kind {
            Kind::Wavelet => {
                dwt::transform::inverse(&mut c, self.w, self.h, self.levels);
                c
            }
            Kind::Dct => {
                let full = dct::inverse(&c, self.tw, self.th);
                (0..self.h)
                    .flat_map(|y| full[y * self.tw..y * self.tw + self.w].iter().copied())
                    .collect()
            }
        }
    }
}

/// The decoder's state between frames (the encoder keeps the same).
#[derive(Clone)]
struct State {
    /// Wavelet geometry of luma and chroma.
    geo: [Geo; 2],
    /// Block-DCT geometry of luma and chroma.
    dct: [Geo; 2],
    /// The transform of the previous inter frame's residual.
    prev_kind: Kind,
    cols: usize,
    rows: usize,
    /// Reference planes (the previous decoded frame).
    refs: Option<[Padded; 3]>,
    /// The previous frame's block field (inter frames only).
    field: Option<Vec<Block>>,
    /// The previous frame's quantized residual (inter frames only).
    prev_q: Option<[Vec<i32>; 3]>,
    /// Adaptive models of inter frames, carried within an intra period.
    inter: Option<(Models, SideModels)>,
}

impl State {
    fn new(width: u32, height: u32) -> Self {
        let (w, h) = (width as usize, height as usize);
        let (cw, ch) = chroma_size(width, height);
        State {
            geo: [
                Geo::new(w, h, false, Kind::Wavelet),
                Geo::new(cw as usize, ch as usize, true, Kind::Wavelet),
            ],
            dct: [
                Geo::new(w, h, false, Kind::Dct),
                Geo::new(cw as usize, ch as usize, true, Kind::Dct),
            ],
            prev_kind: Kind::Wavelet,
            cols: w.div_ceil(BLOCK),
            rows: h.div_ceil(BLOCK),
            refs: None,
            field: None,
            prev_q: None,
            inter: None,
        }
    }
    /// After a frame: its reconstruction becomes the reference; an intra frame resets the inter
    /// models, an inter frame hands its field, residual and models on.
    #[allow(clippy::too_many_arguments)]
    fn update(
        &mut self,
        rec: &[Plane; 3],
        intra: bool,
        blocks: Option<Vec<Block>>,
        q: Planes<i32>,
        kind: Kind,
        models: Models,
        side: Option<SideModels>,
    ) {
        self.refs = Some([
            Padded::new(&rec[0]),
            Padded::new(&rec[1]),
            Padded::new(&rec[2]),
        ]);
        match side {
            Some(side) if !intra => {
                self.field = blocks;
                self.prev_q = Some(q);
                self.prev_kind = kind;
                self.inter = Some((models, side));
            }
            _ => {
                self.field = None;
                self.prev_q = None;
                self.inter = Some((prior::models().with_extra(EXTRA), SideModels::default()));
            }
        }
    }

    fn geo(&self, c: usize, kind: Kind) -> &Geo {
        match kind {
            Kind::Wavelet => &self.geo[usize::from(c > 0)],
            Kind::Dct => &self.dct[usize::from(c > 0)],
        }
    }
}

/// What a frame's entropy-coded data holds besides the coefficients.
struct FrameHead {
    qidx: u8,
    obmc: bool,
    temporal: bool,
    /// Block-DCT residual (inter frames only).
    dct: bool,
    /// Reconstruction offsets (1/64 step): all classes for intra frames; for inter frames luma
    /// and chroma details share one each.
    offsets: [i8; RECON_CLASSES],
}

fn code_head<C: SymbolCoder>(
    coder: &mut C,
    intra: bool,
    h: &mut FrameHead,
) -> Result<(), CoderError> {
    let mut q = u32::from(h.qidx);
    coder.bits(&mut q, 8)?;
    h.qidx = q as u8;
    let mut flags = u32::from(h.obmc) | (u32::from(h.temporal) << 1) | (u32::from(h.dct) << 2);
    coder.bits(&mut flags, 3)?;
    h.obmc = flags & 1 == 1;
    h.temporal = flags & 2 == 2;
    h.dct = flags & 4 == 4;
    if intra && h.dct {
        return Err(CoderError::OutOfRange(
            "block-DCT flag on an intra frame".into(),
        ));
    }
    let mut code_off = |o: &mut i8| -> Result<(), CoderError> {
        let mut v = (i32::from(*o) + 32).clamp(0, 64) as u32;
        coder.bits(&mut v, 7)?;
        if v > 64 {
            return Err(CoderError::OutOfRange(format!("reconstruction offset {v}")));
        }
        *o = (v as i32 - 32) as i8;
        Ok(())
    };
    if intra {
        for o in h.offsets.iter_mut() {
            code_off(o)?;
        }
    } else {
        let (mut l, mut c) = (h.offsets[0], h.offsets[8]);
        code_off(&mut l)?;
        code_off(&mut c)?;
        h.offsets = inter_offsets(l, c);
    }
    Ok(())
}

/// Codes the in-loop restoration filters (one per plane, or none): a flag, then 12 taps of 8
/// bits each (`lic-dwt`'s filter, [`dwt::filter`]).
fn code_filters<C: SymbolCoder>(
    coder: &mut C,
    f: &mut [dwt::filter::ChannelFilter; 3],
) -> Result<(), CoderError> {
    for ch in f.iter_mut() {
        let mut on = u32::from(ch.is_some());
        coder.bits(&mut on, 1)?;
        if on == 0 {
            *ch = None;
            continue;
        }
        let mut taps = ch.unwrap_or([0; dwt::filter::TAPS]);
        for t in taps.iter_mut() {
            let mut v = u32::from(*t as u8);
            coder.bits(&mut v, 8)?;
            *t = v as u8 as i8;
        }
        *ch = Some(taps);
    }
    Ok(())
}

/// Applies the planes' restoration filters in place.
fn apply_filters(rec: &mut [Plane; 3], f: &[dwt::filter::ChannelFilter; 3]) {
    rec.par_iter_mut().zip(f.par_iter()).for_each(|(p, f)| {
        if f.is_some() {
            dwt::filter::apply(&mut p.data, p.w, p.h, 1, std::slice::from_ref(f));
        }
    });
}

/// Whether reconstruction class `k` is luma's (its 8 detail classes and its LL, see
/// [`crate::dwt::code::recon_class`]).
fn luma_class(k: usize) -> bool {
    matches!(k, 0..=7 | 16)
}

/// The offsets table of an inter frame from its luma and chroma values.
fn inter_offsets(l: i8, c: i8) -> [i8; RECON_CLASSES] {
    std::array::from_fn(|k| if luma_class(k) { l } else { c })
}

/// Per plane, the quantized residual in the Mallat layout.
type Planes<T> = [Vec<T>; 3];

/// Codes the three planes' coefficients: luma, then the two chroma planes together.
#[allow(clippy::too_many_arguments)]
fn code_residual<C: SymbolCoder>(
    coder: &mut C,
    models: &mut Models,
    st: &State,
    kind: Kind,
    q: &mut Planes<i32>,
    extra: Option<&Planes<u8>>,
    rdo: Option<(&Planes<f32>, [f32; RECON_CLASSES], f32)>,
) -> Result<(), CoderError> {
    // Luma is q[0..1], chroma q[1..3]: the planes are coded in place, slices of the arrays.
    for (range, comp_base) in [(0..1, 0), (1..3, 1)] {
        let g = st.geo(comp_base, kind);
        let layout = Layout {
            w: g.tw,
            bands: &g.bands,
            levels: g.levels,
            comp_base,
            extra: extra.map(|e| &e[range.clone()]),
        };
        let r = rdo.map(|(u, offsets, kappa)| Rdo {
            u: &u[range.clone()],
            offsets,
            kappa,
        });
        code_planes(coder, models, &layout, &mut q[range], r.as_ref())?;
    }
    Ok(())
}

/// A vector of the three planes' values as an array.
fn three<T>(v: Vec<T>) -> [T; 3] {
    let n = v.len();
    v.try_into()
        .unwrap_or_else(|_| unreachable!("{n} planes, 3 expected"))
}

/// Temporal context buckets: from the prediction's wavelet coefficient (in steps) and the
/// previous inter frame's residual.
fn extra_buckets(st: &State, kind: Kind, pred: &[Plane; 3], step: f32) -> Planes<u8> {
    let out: Vec<Vec<u8>> = (0..3)
        .into_par_iter()
        .map(|c| {
            let g = st.geo(c, kind);
            let p = &pred[c];
            let t = g.forward(p.data.iter().map(|&v| f32::from(v) - 128.0).collect());
            let steps = g.steps(step);
            let prev = st
                .prev_q
                .as_ref()
                .filter(|_| st.prev_kind == kind)
                .map(|q| &q[c]);
            let mut e = vec![0u8; g.tw * g.th];
            for (b, band) in g.bands.iter().enumerate() {
                let inv = 1.0 / steps[b];
                for y in band.y0..band.y0 + band.h {
                    for x in band.x0..band.x0 + band.w {
                        let i = y * g.tw + x;
                        let a = (t[i] * inv).abs();
                        let ab =
                            u8::from(a >= TEMPORAL_EDGES[0]) + u8::from(a >= TEMPORAL_EDGES[1]);
                        let pb = prev.map_or(0, |q| u8::from(q[i] != 0));
                        e[i] = ab * 2 + pb;
                    }
                }
            }
            e
        })
        .collect();
    three(out)
}

/// Reconstructs the planes from the prediction and the quantized residual.
fn reconstruct(
    st: &State,
    kind: Kind,
    pred: &[Plane; 3],
    q: &Planes<i32>,
    step: f32,
    offsets: &[i8; RECON_CLASSES],
) -> [Plane; 3] {
    let out: Vec<Plane> = (0..3)
        .into_par_iter()
        .map(|c| {
            let g = st.geo(c, kind);
            let r = g.inverse(dwt::dequantize(
                offsets,
                c,
                &q[c],
                g.tw,
                &g.bands,
                &g.steps(step),
            ));
            let data = pred[c]
                .data
                .iter()
                .zip(&r)
                .map(|(&p, &v)| (f32::from(p) + v).round().clamp(0.0, 255.0) as u8)
                .collect();
            Plane::new(g.w, g.h, data)
        })
        .collect();
    three(out)
}

/// The motion-compensated prediction of every plane.
fn predict(st: &State, refs: &[Padded; 3], blocks: &[Block], obmc: bool) -> [Plane; 3] {
    let out: Vec<Plane> = (0..3)
        .into_par_iter()
        .map(|c| {
            let bs = if c == 0 { BLOCK } else { BLOCK / 2 };
            obmc_plane(&refs[c], blocks, st.cols, bs, c, c > 0, obmc)
        })
        .collect();
    three(out)
}

fn flat(st: &State) -> [Plane; 3] {
    std::array::from_fn(|c| {
        let g = st.geo(c, Kind::Wavelet);
        Plane::filled(g.w, g.h, 128)
    })
}

fn planes_of(f: &Yuv420) -> [Plane; 3] {
    let (w, h) = (f.width as usize, f.height as usize);
    let (cw, ch) = chroma_size(f.width, f.height);
    let (cw, ch) = (cw as usize, ch as usize);
    [
        Plane::new(w, h, f.y.clone()),
        Plane::new(cw, ch, f.u.clone()),
        Plane::new(cw, ch, f.v.clone()),
    ]
}

fn frame_of(p: [Plane; 3], width: u32, height: u32) -> Yuv420 {
    let [y, u, v] = p;
    Yuv420 {
        width,
        height,
        y: y.data,
        u: u.data,
        v: v.data,
    }
}

/// Checks a frame size against the decoder's caps.
pub fn check_size(width: u32, height: u32) -> Result<(), McwError> {
    if width == 0 || height == 0 {
        return Err(bad(format!("empty frame {width}x{height}")));
    }
    if width > MAX_SIDE || height > MAX_SIDE || u64::from(width) * u64::from(height) > MAX_PIXELS {
        return Err(McwError::TooLarge {
            width,
            height,
            limit: MAX_PIXELS,
        });
    }
    Ok(())
}

/// One coded frame.
#[derive(Clone, Debug)]
pub struct EncodedFrame {
    pub chunk: FrameChunk,
    /// What the decoder reconstructs.
    pub reconstruction: Yuv420,
    /// Information content of the frame's symbols under the adaptive models, in bits.
    pub estimated_bits: f64,
    /// Cells per mode (skip, merge, inter, intra) of an inter frame.
    pub modes: [usize; 4],
    /// Of `estimated_bits`, the frame head and block field.
    pub side_bits: f64,
}

/// The `lic-mcw` encoder: frames in, frame chunks out.
pub struct VideoEncoder {
    opts: VideoOptions,
    width: u32,
    height: u32,
    st: State,
    index: u32,
}

impl VideoEncoder {
    /// An encoder for `width × height` frames.
    pub fn new(width: u32, height: u32, opts: VideoOptions) -> Result<Self, McwError> {
        check_size(width, height)?;
        let (lo, hi) = QUALITY_RANGE;
        if !(lo..=hi).contains(&opts.quality) {
            return Err(bad(format!(
                "quality {} outside [{lo}, {hi}]",
                opts.quality
            )));
        }
        if opts.gop == 0 {
            return Err(bad("the intra period must be at least 1"));
        }
        Ok(VideoEncoder {
            opts,
            width,
            height,
            st: State::new(width, height),
            index: 0,
        })
    }

    /// The stream header for `frames` frames.
    pub fn header(&self, frames: u32, fps: (u32, u32), colour: VideoColour) -> VideoHeader {
        VideoHeader {
            model_id: MODEL_ID.into(),
            weights_hash: weights_hash(),
            width: self.width,
            height: self.height,
            fps_num: fps.0,
            fps_den: fps.1,
            colour: VideoColour {
                chroma: 0,
                ..colour
            },
            quality: self.opts.quality,
            gop: if self.opts.tools.inter {
                self.opts.gop
            } else {
                1
            },
            frames,
        }
    }

    /// The step index of frame `index`.
    fn frame_qidx(&self, index: u32, intra: bool) -> u8 {
        let o = &self.opts;
        let pos = index % o.gop;
        let boost = if intra {
            o.intra_boost
        } else if o.tools.cascade && pos.is_multiple_of(4) {
            o.cascade_boost
        } else {
            0.0
        };
        qidx_of(o.quality + boost)
    }

    /// Encodes the next frame.
    pub fn encode_frame(&mut self, frame: &Yuv420) -> Result<EncodedFrame, McwError> {
        if frame.width != self.width || frame.height != self.height {
            return Err(bad(format!(
                "frame {}x{} in a {}x{} stream",
                frame.width, frame.height, self.width, self.height
            )));
        }
        frame
            .check()
            .map_err(|e| bad(format!("frame {}: {e}", self.index)))?;
        let o = self.opts;
        let intra = !o.tools.inter || self.index.is_multiple_of(o.gop) || self.st.refs.is_none();
        let qidx = self.frame_qidx(self.index, intra);
        let step = step_of(qidx);
        let src = planes_of(frame);
        let st = &mut self.st;
        let mut enc = Encoder::default();
        let mut modes = [0usize; 4];
        let (pred, mut models, mut side, blocks) = if intra {
            (flat(st), prior::models(), None, None)
        } else {
            let refs = st.refs.as_ref().expect("checked");
            let blocks =
                search::estimate(&src, refs, st.cols, st.rows, st.field.as_deref(), step, &o);
            let pred = predict(st, refs, &blocks, o.tools.obmc);
            let (m, s) = st.inter.clone().expect("set by the intra frame");
            (pred, m, Some(s), Some(blocks))
        };
        let kind = if !intra && o.tools.dct {
            Kind::Dct
        } else {
            Kind::Wavelet
        };
        // Residual, transformed and dead-zone quantized per plane.
        let (u, q0): (Vec<Vec<f32>>, Vec<Vec<i32>>) = (0..3)
            .into_par_iter()
            .map(|c| {
                let g = st.geo(c, kind);
                let r = g.forward(
                    src[c]
                        .data
                        .iter()
                        .zip(&pred[c].data)
                        .map(|(&s, &p)| f32::from(s) - f32::from(p))
                        .collect(),
                );
                dwt::quantize_plane(&r, g.tw, &g.bands, &g.steps(step), 0.38)
            })
            .unzip();
        let (u, mut q): (Planes<f32>, Planes<i32>) = (three(u), three(q0));
        let oy = dwt::centroids(&u[..1], &q[..1], &st.geo(0, kind).bands, 0);
        let oc = dwt::centroids(&u[1..], &q[1..], &st.geo(1, kind).bands, 1);
        let mut off: [i8; RECON_CLASSES] =
            std::array::from_fn(|k| if luma_class(k) { oy[k] } else { oc[k] });
        if !intra {
            off = inter_offsets(off[0].max(off[1]), off[8].max(off[9]));
        }
        let mut head = FrameHead {
            qidx,
            obmc: o.tools.obmc,
            temporal: o.tools.temporal,
            dct: kind == Kind::Dct,
            offsets: off,
        };
        code_head(&mut enc, intra, &mut head)?;
        let mut blocks = blocks;
        if let (Some(b), Some(s)) = (blocks.as_mut(), side.as_mut()) {
            side::code_blocks(&mut enc, s, b, st.cols, st.rows, st.field.as_deref())?;
            for blk in b.iter() {
                modes[blk.mode as usize] += 1;
            }
        }
        let side_bits = enc.bits;
        let extra = (!intra && head.temporal).then(|| extra_buckets(st, kind, &pred, step));
        let offs = head.offsets.map(|v| f32::from(v) / OFFSET_SCALE);
        code_residual(
            &mut enc,
            &mut models,
            st,
            kind,
            &mut q,
            extra.as_ref(),
            Some((&u, offs, o.kappa)),
        )?;
        let mut rec = reconstruct(st, kind, &pred, &q, step, &head.offsets);
        let mut filters: [dwt::filter::ChannelFilter; 3] = [None; 3];
        if o.tools.filter {
            // Kept where the squared error it saves is worth its 97 bits.
            let lambda = f64::from(o.kappa) * f64::from(step) * f64::from(step);
            for (c, f) in filters.iter_mut().enumerate() {
                let fit =
                    dwt::filter::fit_with_gains(&src[c].data, &rec[c].data, rec[c].w, rec[c].h, 1);
                if let Some((coef, gain)) = fit[0] {
                    let g = if c == 0 { 1.0 } else { CHROMA_GAIN.powi(-2) };
                    if gain as f64 * g > lambda * 97.0 {
                        *f = Some(coef);
                    }
                }
            }
        }
        code_filters(&mut enc, &mut filters)?;
        apply_filters(&mut rec, &filters);
        st.update(&rec, intra, blocks, q, kind, models, side);
        let estimated_bits = enc.bits;
        let bytes = enc.finish()?;
        self.index += 1;
        Ok(EncodedFrame {
            chunk: FrameChunk {
                kind: if intra {
                    FrameKind::Intra
                } else {
                    FrameKind::Inter
                },
                substreams: vec![bytes],
            },
            reconstruction: frame_of(rec, self.width, self.height),
            estimated_bits,
            modes,
            side_bits,
        })
    }
}

/// The `lic-mcw` decoder.
pub struct VideoDecoder {
    width: u32,
    height: u32,
    st: State,
}

impl VideoDecoder {
    /// A decoder for a stream with this header (checked: model, design hash, size, chroma).
    pub fn new(h: &VideoHeader) -> Result<Self, McwError> {
        if h.model_id != MODEL_ID {
            return Err(McwError::model_id(&h.model_id, MODEL_ID));
        }
        if h.weights_hash != weights_hash() {
            return Err(bad(
                "the header's design hash is not this build's lic-mcw (another version)",
            ));
        }
        if h.colour.chroma != 0 {
            return Err(bad("lic-mcw streams are 4:2:0 (chroma code 0)"));
        }
        check_size(h.width, h.height)?;
        Ok(VideoDecoder {
            width: h.width,
            height: h.height,
            st: State::new(h.width, h.height),
        })
    }

    /// Forgets the reference (after a damaged frame: decoding resumes at the next intra frame).
    pub fn reset(&mut self) {
        let (w, h) = (self.width, self.height);
        self.st = State::new(w, h);
    }

    /// Decodes one frame chunk.
    pub fn decode_frame(&mut self, chunk: &FrameChunk) -> Result<Yuv420, McwError> {
        if chunk.substreams.len() != 1 {
            return Err(McwError::Substreams {
                model: MODEL_ID,
                found: chunk.substreams.len(),
                expected: 1,
            });
        }
        let intra = chunk.kind == FrameKind::Intra;
        if !intra && self.st.refs.is_none() {
            return Err(bad("an inter frame without a reference frame"));
        }
        let st = &mut self.st;
        let mut dec = Decoder::new(&chunk.substreams[0])?;
        let mut head = FrameHead {
            qidx: 0,
            obmc: false,
            temporal: false,
            dct: false,
            offsets: [0; RECON_CLASSES],
        };
        code_head(&mut dec, intra, &mut head)?;
        let step = step_of(head.qidx);
        let kind = if head.dct { Kind::Dct } else { Kind::Wavelet };
        let (pred, mut models, side, blocks) = if intra {
            (flat(st), prior::models(), None, None)
        } else {
            let (m, mut s) = st.inter.clone().expect("set with the reference");
            let mut blocks = vec![Block::default(); st.cols * st.rows];
            side::code_blocks(
                &mut dec,
                &mut s,
                &mut blocks,
                st.cols,
                st.rows,
                st.field.as_deref(),
            )?;
            let refs = st.refs.as_ref().expect("checked");
            let pred = predict(st, refs, &blocks, head.obmc);
            (pred, m, Some(s), Some(blocks))
        };
        let mut q: Planes<i32> = std::array::from_fn(|c| {
            let g = st.geo(c, kind);
            vec![0; g.tw * g.th]
        });
        let extra = (!intra && head.temporal).then(|| extra_buckets(st, kind, &pred, step));
        code_residual(
            &mut dec,
            &mut models,
            st,
            kind,
            &mut q,
            extra.as_ref(),
            None,
        )?;
        let mut filters: [dwt::filter::ChannelFilter; 3] = [None; 3];
        code_filters(&mut dec, &mut filters)?;
        if !dec.maybe_exhausted() {
            return Err(CoderError::TrailingData.into());
        }
        let mut rec = reconstruct(st, kind, &pred, &q, step, &head.offsets);
        apply_filters(&mut rec, &filters);
        st.update(&rec, intra, blocks, q, kind, models, side);
        Ok(frame_of(rec, self.width, self.height))
    }
}

/// The default limits of a `.licv` reader for this family.
pub fn limits() -> Limits {
    Limits {
        max_side: MAX_SIDE,
        max_pixels: MAX_PIXELS,
        ..Limits::default()
    }
}

impl crate::video::stream::FrameDecoder for VideoDecoder {
    type Frame = Yuv420;
    fn decode_frame(&mut self, _index: u32, chunk: &FrameChunk) -> Result<Yuv420, String> {
        VideoDecoder::decode_frame(self, chunk).map_err(|e| e.to_string())
    }
    fn reset(&mut self) {
        VideoDecoder::reset(self);
    }
    fn blank(&self) -> Yuv420 {
        Yuv420::filled(self.width, self.height, 128, 128, 128)
    }
}

/// Decodes a whole `lic-mcw` stream, handing each frame slot to `sink(index, frame)` in order,
/// with the damaged-stream policy of [`crate::video::stream::decode_frames`] (`keep_going`).
pub fn decode_stream<E: From<StreamError>>(
    bytes: &[u8],
    keep_going: bool,
    sink: impl FnMut(u32, &Yuv420) -> Result<(), E>,
) -> Result<(VideoHeader, DecodeReport), E> {
    let (header, frames) = parse_video(bytes, &limits()).map_err(StreamError::from)?;
    let mut dec =
        VideoDecoder::new(&header).map_err(|e| StreamError::Unsupported(e.to_string()))?;
    let report = decode_frames(&header, frames, &mut dec, keep_going, sink)?;
    Ok((header, report))
}

/// Result of [`encode_stream`].
#[derive(Clone, Debug)]
pub struct EncodedStream {
    /// The `.licv` bytes.
    pub bytes: Vec<u8>,
    /// The header.
    pub header: VideoHeader,
    /// Bytes of each frame's chunk.
    pub frame_bytes: Vec<usize>,
    /// Each frame's kind.
    pub kinds: Vec<FrameKind>,
    /// Information content per frame, in bits.
    pub estimated_bits: Vec<f64>,
    /// The reconstructions, when asked for.
    pub reconstructions: Vec<Yuv420>,
}

/// Encodes frames from `frames` (stopping at the first error it yields) into a `.licv` stream.
/// `on_frame(index)` is called after each frame (progress).
pub fn encode_stream<E: From<McwError>>(
    frames: impl IntoIterator<Item = Result<Yuv420, E>>,
    opts: VideoOptions,
    fps: (u32, u32),
    colour: VideoColour,
    keep_reconstructions: bool,
    mut on_frame: impl FnMut(u32),
) -> Result<EncodedStream, E> {
    let mut enc: Option<VideoEncoder> = None;
    let mut chunks = Vec::new();
    let mut out = EncodedStream {
        bytes: Vec::new(),
        header: VideoHeader {
            model_id: MODEL_ID.into(),
            weights_hash: weights_hash(),
            width: 1,
            height: 1,
            fps_num: fps.0,
            fps_den: fps.1,
            colour,
            quality: opts.quality,
            gop: opts.gop,
            frames: 0,
        },
        frame_bytes: Vec::new(),
        kinds: Vec::new(),
        estimated_bits: Vec::new(),
        reconstructions: Vec::new(),
    };
    for f in frames {
        let f = f?;
        if enc.is_none() {
            enc = Some(VideoEncoder::new(f.width, f.height, opts)?);
        }
        let e = enc.as_mut().expect("set").encode_frame(&f)?;
        out.frame_bytes.push(e.chunk.coded_len());
        out.kinds.push(e.chunk.kind);
        out.estimated_bits.push(e.estimated_bits);
        if keep_reconstructions {
            out.reconstructions.push(e.reconstruction);
        }
        chunks.push(e.chunk);
        on_frame(chunks.len() as u32 - 1);
    }
    let enc = enc.ok_or_else(|| bad("the input has no frames"))?;
    out.header = enc.header(chunks.len() as u32, fps, colour);
    out.bytes = stream_bytes(&out.header, &chunks).map_err(McwError::from)?;
    Ok(out)
}
