//! Context-adaptive coding of quantized wavelet coefficients, written once for the encoder, the
//! decoder and the rate counter ([`SymbolCoder`]).
//!
//! Order: band by band as in `bands` (LL, then coarse to fine HL, LH, HH), within a band the
//! components Y, Cb, Cr, within a component raster order. Each coefficient's magnitude is coded
//! as a token (values below 16 directly, larger ones as exponent and first mantissa bit, the
//! remaining bits raw) under an adaptive model chosen by its context, then its sign:
//! - the *class*: component (luma / chroma), level (1, 2, 3, ≥ 4) and orientation (HL or LH /
//!   HH);
//! - the *local activity*: a weighted sum of the already coded neighbours in the same band
//!   (west, north twice; north-west, north-east, west-west, north-north once), in 15 buckets;
//! - the *inter-band activity*: the parent (same orientation, next coarser level), the
//!   co-located coefficients of the bands of the same level coded before (HL for LH; HL and LH
//!   for HH) and, for chroma, of luma, in 4 buckets.
//!
//! The LL band is coded as the residual of the median edge predictor of its west, north and
//! north-west neighbours, with the gradient around it as the context. Only integers enter the
//! contexts, so the decoder selects the same models as the encoder everywhere.
use super::model::{Adaptive, Rates, SymbolCoder, RATES};

/// Weights of the local activity, in 64ths (the along-edge neighbour of HL/LH bands counts
/// three times the across-edge one), and its scale before bucketing (tuned on Kodak, a 0.3–1%
/// effect each; see the model card).
const W_ALONG: u32 = 24;
const W_ACROSS: u32 = 8;
const W_DIAG: u32 = 8;
const W_FAR: u32 = 8;
const LOCAL_SCALE: u32 = 11;
/// Weights of the inter-band activity: parent, earlier sibling bands, luma.
const W_PARENT: u32 = 2;
const W_SIBLING: u32 = 1;
const W_LUMA: u32 = 1;

use super::transform::{Band, Orient};
use crate::coder::CoderError;

/// Magnitudes below this are their own token.
const DIRECT: u32 = 16;
/// Largest exponent (bit index of the leading one) of a coded magnitude.
const MAX_EXP: u32 = 23;
/// Number of magnitude tokens.
pub const TOKENS: usize = DIRECT as usize + 2 * (MAX_EXP as usize - 3);
/// Largest magnitude a coefficient may have.
pub const MAX_MAGNITUDE: u32 = (1 << (MAX_EXP + 1)) - 1;
/// Local-activity buckets.
const LOCAL_BUCKETS: usize = 15;
/// Inter-band buckets.
const CROSS_BUCKETS: usize = 4;
/// Detail classes: 2 component groups × 4 level groups × 2 orientation groups.
const DETAIL_CLASSES: usize = 16;
/// Neighbour magnitudes are capped before they enter a context.
const CAP: u32 = 1 << 12;

/// Number of reconstruction-offset classes (the detail classes plus LL per component group).
pub const RECON_CLASSES: usize = DETAIL_CLASSES + 2;

/// Splits a magnitude into (token, raw bits, number of raw bits).
#[inline]
pub fn tokenize(m: u32) -> (usize, u32, u32) {
    if m < DIRECT {
        return (m as usize, 0, 0);
    }
    let e = 31 - m.leading_zeros();
    let mant = (m >> (e - 1)) & 1;
    let tok = DIRECT + 2 * (e - 4) + mant;
    let n = e - 1;
    (tok as usize, m & ((1 << n) - 1), n)
}

/// Number of raw bits after token `t`.
#[inline]
fn token_bits(t: usize) -> u32 {
    if t < DIRECT as usize {
        0
    } else {
        (t as u32 - DIRECT) / 2 + 3
    }
}

/// Inverse of [`tokenize`].
#[inline]
fn detokenize(t: usize, raw: u32) -> u32 {
    if t < DIRECT as usize {
        return t as u32;
    }
    let e = (t as u32 - DIRECT) / 2 + 4;
    let mant = (t as u32 - DIRECT) & 1;
    (1 << e) | (mant << (e - 1)) | raw
}

/// The first magnitude of token `t`.
fn token_start(t: usize) -> u32 {
    detokenize(t, 0)
}

#[inline]
fn local_bucket(a: u32) -> usize {
    // Roughly √2 spacing in the weighted sum (weights add up to 8).
    const EDGES: [u32; LOCAL_BUCKETS - 1] = [1, 2, 3, 5, 7, 10, 14, 20, 28, 40, 56, 80, 112, 160];
    EDGES.iter().take_while(|&&e| a >= e).count()
}

#[inline]
fn cross_bucket(a: u32) -> usize {
    const EDGES: [u32; CROSS_BUCKETS - 1] = [1, 3, 7];
    EDGES.iter().take_while(|&&e| a >= e).count()
}

/// Class of a detail band.
pub fn detail_class(comp: usize, level: usize, orient: Orient) -> usize {
    let g = usize::from(comp > 0);
    let lg = level.clamp(1, 4) - 1;
    let og = usize::from(orient == Orient::Hh);
    (g * 4 + lg) * 2 + og
}

/// Reconstruction class of a band (detail class, or LL).
pub fn recon_class(comp: usize, band: &Band) -> usize {
    match band.orient {
        Some(o) => detail_class(comp, band.level, o),
        None => DETAIL_CLASSES + usize::from(comp > 0),
    }
}

/// All adaptive models of one image.
#[derive(Clone)]
pub struct Models {
    detail: Vec<Adaptive>,
    /// Extra context buckets per detail context (1 for images; the video family's temporal
    /// buckets, see [`Layout::extra`]).
    extra: usize,
    ll: Vec<Adaptive>,
    sign: Vec<Adaptive>,
    ll_sign: Adaptive,
    rates: Rates,
}

/// `x^k` by binary exponentiation: a fixed sequence of IEEE multiplications, so bit-identical
/// everywhere (unlike `powf`).
fn pow(mut x: f64, mut k: u32) -> f64 {
    let mut acc = 1.0;
    while k > 0 {
        if k & 1 == 1 {
            acc *= x;
        }
        x *= x;
        k >>= 1;
    }
    acc
}

fn initial(mean: f64) -> Adaptive {
    // Geometric distribution with the bucket's typical magnitude.
    let theta = mean / (1.0 + mean);
    let w: Vec<f64> = (0..TOKENS)
        .map(|t| {
            let (a, b) = (token_start(t), token_start(t + 1));
            let p = pow(theta, a) * (1.0 - pow(theta, b - a));
            p.max(1e-9)
        })
        .collect();
    Adaptive::new(&w)
}

/// Number of models of each kind, in the order of [`Models::iter_mut`].
pub const MODEL_COUNTS: [(&str, usize, usize); 4] = [
    (
        "detail",
        DETAIL_CLASSES * LOCAL_BUCKETS * CROSS_BUCKETS,
        TOKENS,
    ),
    ("ll", 2 * LOCAL_BUCKETS, TOKENS),
    ("sign", 27, 2),
    ("ll_sign", 1, 2),
];

impl Models {
    /// Analytic starting point (geometric distributions per bucket, uniform signs): what a
    /// prior is trained from.
    pub fn analytic() -> Self {
        let mean_local = |b: usize| 0.05 * pow(1.41, b as u32);
        let mut detail = Vec::with_capacity(MODEL_COUNTS[0].1);
        for _ in 0..DETAIL_CLASSES {
            for lb in 0..LOCAL_BUCKETS {
                for cb in 0..CROSS_BUCKETS {
                    detail.push(initial(mean_local(lb) * (1.0 + cb as f64)));
                }
            }
        }
        let ll = (0..MODEL_COUNTS[1].1)
            .map(|k| initial(0.5 + pow(1.41, (k % LOCAL_BUCKETS) as u32)))
            .collect();
        Models {
            detail,
            extra: 1,
            ll,
            sign: (0..MODEL_COUNTS[2].1)
                .map(|_| Adaptive::uniform(2))
                .collect(),
            ll_sign: Adaptive::uniform(2),
            rates: RATES,
        }
    }

    /// Models from a list in the order of [`Models::iter_mut`] (checked against
    /// [`MODEL_COUNTS`]).
    pub fn from_list(mut list: Vec<Adaptive>) -> Option<Self> {
        let total: usize = MODEL_COUNTS.iter().map(|c| c.1).sum();
        let mut at = 0;
        for &(_, n, symbols) in &MODEL_COUNTS {
            if list.get(at..at + n)?.iter().any(|m| m.len() != symbols) {
                return None;
            }
            at += n;
        }
        if list.len() != total {
            return None;
        }
        let ll_sign = list.pop()?;
        let sign = list.split_off(total - 1 - MODEL_COUNTS[2].1);
        let ll = list.split_off(MODEL_COUNTS[0].1);
        Some(Models {
            detail: list,
            extra: 1,
            ll,
            sign,
            ll_sign,
            rates: RATES,
        })
    }

    /// These models with every detail context split into `n` copies, selected by the
    /// per-coefficient bucket of [`Layout::extra`] (each copy starts from the context's state).
    pub fn with_extra(&self, n: usize) -> Self {
        assert!(self.extra == 1 && n >= 1, "models are split once");
        let detail = self
            .detail
            .iter()
            .flat_map(|m| std::iter::repeat_n(m.clone(), n))
            .collect();
        Models {
            detail,
            extra: n,
            ll: self.ll.clone(),
            sign: self.sign.clone(),
            ll_sign: self.ll_sign.clone(),
            rates: self.rates,
        }
    }

    /// Every model, in a fixed order: detail, LL, sign, LL sign.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut Adaptive> {
        self.detail
            .iter_mut()
            .chain(self.ll.iter_mut())
            .chain(self.sign.iter_mut())
            .chain(std::iter::once(&mut self.ll_sign))
    }
}

/// Geometry of the coefficient planes.
pub struct Layout<'a> {
    /// Plane width (samples per row).
    pub w: usize,
    /// Bands in coding order.
    pub bands: &'a [Band],
    /// Number of levels.
    pub levels: usize,
    /// Component index of `q[0]`: 0 when luma comes first; 1 when only the chroma planes are
    /// coded (the video family codes 4:2:0 luma and chroma in separate calls).
    pub comp_base: usize,
    /// Per component, a context bucket for every coefficient (Mallat layout), below the
    /// models' [`Models::with_extra`] count; `None`: bucket 0.
    pub extra: Option<&'a [Vec<u8>]>,
}

impl<'a> Layout<'a> {
    /// The layout of a plane of width `w` with `bands` (luma first, no extra contexts).
    pub fn plane(w: usize, bands: &'a [Band], levels: usize) -> Self {
        Layout {
            w,
            bands,
            levels,
            comp_base: 0,
            extra: None,
        }
    }
}

impl Layout<'_> {
    fn band(&self, level: usize, orient: Orient) -> Option<&Band> {
        self.bands
            .iter()
            .find(|b| b.level == level && b.orient == Some(orient))
    }
}

#[inline]
fn mag(v: i32) -> u32 {
    v.unsigned_abs().min(CAP)
}

/// Codes one value (magnitude token, raw bits, sign) under `m` and `sign`.
#[inline]
pub(crate) fn code_value<C: SymbolCoder>(
    coder: &mut C,
    m: &mut Adaptive,
    sign: &mut Adaptive,
    rates: Rates,
    v: &mut i32,
) -> Result<(), CoderError> {
    let (mut tok, mut raw, _) = tokenize(v.unsigned_abs().min(MAX_MAGNITUDE));
    coder.symbol(m, &mut tok, rates)?;
    coder.bits(&mut raw, token_bits(tok))?;
    let a = detokenize(tok, raw);
    if a == 0 {
        *v = 0;
        return Ok(());
    }
    let mut neg = usize::from(*v < 0);
    coder.symbol(sign, &mut neg, rates)?;
    // a ≤ MAX_MAGNITUDE < 2^31.
    *v = if neg == 1 { -(a as i32) } else { a as i32 };
    Ok(())
}

/// Information content of value `v` under `m` and `sign`, in bits (what [`code_value`] would
/// spend).
#[inline]
pub(crate) fn value_bits(m: &Adaptive, sign: &Adaptive, v: i32) -> f64 {
    let (tok, _, n) = tokenize(v.unsigned_abs().min(MAX_MAGNITUDE));
    let b = m.bits(tok) + f64::from(n);
    if v == 0 {
        b
    } else {
        b + sign.bits(usize::from(v < 0))
    }
}

/// The encoder's rate–distortion choice of each detail coefficient's value, made with the
/// adaptive models' current state (greedy RDOQ): among the two levels around the coefficient
/// and zero, the one with the least `(u − û)² + κ · bits`, `u` being the coefficient in units of
/// its step and `û` its reconstruction.
pub struct Rdo<'a> {
    /// Per component, the coefficients divided by their band's step (Mallat layout).
    pub u: &'a [Vec<f32>],
    /// Reconstruction offset of each class, in steps.
    pub offsets: [f32; RECON_CLASSES],
    /// Lagrange multiplier, in squared steps per bit.
    pub kappa: f32,
}

/// Chroma from luma in the encoder's choice ([`Rdo`], [`super::cfl`]): the scales, the
/// reconstruction offsets the predictions use, and the cost of each band's choice.
pub struct CflRdo {
    /// The scales ([`super::cfl::scales`]).
    pub table: Vec<i8>,
    /// Fit each chroma band's scales by least squares to the values just coded before coding
    /// it ([`super::cfl::fit_band`]), replacing those of `table`.
    pub fit: bool,
    /// Leave the luma detail values as they are, neither chosen nor coded (a counting pass
    /// that only needs the chroma costs, its luma taken from an earlier pass).
    pub chroma_only: bool,
    /// Reconstruction offsets (1/64 of a step) of the luma prediction.
    pub offsets: [i8; RECON_CLASSES],
    /// Per band index and component, the sum of the chosen values' `(u − û)² + κ · bits`
    /// (written by [`code_planes_cfl`]).
    pub cost: Vec<[f64; 3]>,
}

impl Rdo<'_> {
    /// The value of coefficient `u` (in steps) with the least cost, and that cost.
    #[inline]
    fn choose(&self, u: f32, class: usize, bits: impl Fn(i32) -> f64) -> (i32, f64) {
        let a = u.abs();
        let rho = self.offsets[class];
        let lo = (a - rho).floor().clamp(0.0, MAX_MAGNITUDE as f32 - 1.0) as i32;
        let recon = |m: i32| if m == 0 { 0.0 } else { m as f32 + rho };
        let sgn = if u < 0.0 { -1 } else { 1 };
        let mut best = (f64::INFINITY, 0);
        for m in [0, lo, lo + 1] {
            let d = f64::from(a - recon(m)).powi(2);
            let j = d + f64::from(self.kappa) * bits(sgn * m);
            if j < best.0 {
                best = (j, m);
            }
        }
        (sgn * best.1, best.0)
    }
}

/// Median edge predictor.
#[inline]
fn med(w: i32, n: i32, nw: i32) -> i32 {
    if nw >= w.max(n) {
        w.min(n)
    } else if nw <= w.min(n) {
        w.max(n)
    } else {
        w + n - nw
    }
}

/// Codes (or decodes into) the quantized planes `q` (one per component, Mallat layout).
///
/// With `rdo` (encoders only), each detail coefficient's value is chosen by [`Rdo`] first and
/// written back into `q`.
pub fn code_planes<C: SymbolCoder>(
    coder: &mut C,
    models: &mut Models,
    layout: &Layout<'_>,
    q: &mut [Vec<i32>],
    rdo: Option<&Rdo<'_>>,
) -> Result<(), CoderError> {
    code_planes_cfl(coder, models, layout, q, rdo, None)
}

/// [`code_planes`] for an encoder with chroma from luma: with `rdo` and `cfl`, a chroma
/// coefficient of a band with scales is chosen as the residual of its prediction from the
/// luma (and Cb) values of the band just coded, and every band's cost is summed into
/// `cfl.cost`. The coded symbols
/// do not depend on `cfl` otherwise (the decoder needs no prediction to decode them).
pub fn code_planes_cfl<C: SymbolCoder>(
    coder: &mut C,
    models: &mut Models,
    layout: &Layout<'_>,
    q: &mut [Vec<i32>],
    rdo: Option<&Rdo<'_>>,
    mut cfl: Option<&mut CflRdo>,
) -> Result<(), CoderError> {
    let w = layout.w;
    let rates = models.rates;
    for (bi, band) in layout.bands.iter().enumerate() {
        for comp in 0..q.len() {
            let cid = comp + layout.comp_base;
            match band.orient {
                None => code_ll(coder, models, band, w, cid, &mut q[comp], rates)?,
                Some(_) if cid == 0 && cfl.as_ref().is_some_and(|c| c.chroma_only) => {}
                Some(orient) => {
                    let parent = layout.band(band.level + 1, orient).copied();
                    let sib: Vec<Band> = match orient {
                        Orient::Hl => vec![],
                        Orient::Lh => layout
                            .band(band.level, Orient::Hl)
                            .into_iter()
                            .copied()
                            .collect(),
                        Orient::Hh => [Orient::Hl, Orient::Lh]
                            .iter()
                            .filter_map(|&o| layout.band(band.level, o).copied())
                            .collect(),
                    };
                    let class = detail_class(cid, band.level, orient);
                    let extra = layout.extra.map(|e| e[comp].as_slice());
                    let nx = models.extra;
                    let sign_base = match orient {
                        Orient::Hl => 0,
                        Orient::Lh => 9,
                        Orient::Hh => 18,
                    };
                    let (luma, rest) = q.split_at_mut(comp);
                    let plane = &mut rest[0];
                    let coded: Vec<&[i32]> = luma.iter().map(|p| p.as_slice()).collect();
                    let luma = coded.first().copied();
                    let mut pred = None;
                    if let (Some(c), Some(r)) = (cfl.as_deref_mut(), rdo) {
                        if (1..3).contains(&cid) && layout.comp_base == 0 {
                            if c.fit {
                                super::cfl::fit_band(
                                    &mut c.table,
                                    r.u,
                                    &coded,
                                    &c.offsets,
                                    bi,
                                    band,
                                    cid,
                                    w,
                                );
                            }
                            pred =
                                super::cfl::BandPredictor::new(&c.table, &c.offsets, bi, band, cid);
                        }
                    }
                    let mut cost = 0.0f64;
                    for y in 0..band.h {
                        for x in 0..band.w {
                            let at = |dx: isize, dy: isize, p: &[i32]| -> i32 {
                                let (xx, yy) = (x as isize + dx, y as isize + dy);
                                if xx < 0 || yy < 0 || xx >= band.w as isize {
                                    0
                                } else {
                                    p[(band.y0 + yy as usize) * w + band.x0 + xx as usize]
                                }
                            };
                            let p: &[i32] = plane;
                            let (wv, nv) = (at(-1, 0, p), at(0, -1, p));
                            let (a_n, a_w) = match orient {
                                Orient::Hl => (W_ALONG, W_ACROSS),
                                Orient::Lh => (W_ACROSS, W_ALONG),
                                Orient::Hh => ((W_ALONG + W_ACROSS) / 2, (W_ALONG + W_ACROSS) / 2),
                            };
                            let local = (a_w * mag(wv)
                                + a_n * mag(nv)
                                + W_DIAG * (mag(at(-1, -1, p)) + mag(at(1, -1, p)))
                                + W_FAR * (mag(at(-2, 0, p)) + mag(at(0, -2, p))))
                                * LOCAL_SCALE
                                / 64;
                            let colocated = |b: &Band, p: &[i32], sx: usize, sy: usize| -> u32 {
                                if b.w == 0 || b.h == 0 {
                                    return 0;
                                }
                                let (xx, yy) = ((x >> sx).min(b.w - 1), (y >> sy).min(b.h - 1));
                                mag(p[(b.y0 + yy) * w + b.x0 + xx])
                            };
                            let mut cross = 0;
                            if let Some(pb) = &parent {
                                cross += W_PARENT * colocated(pb, p, 1, 1);
                            }
                            for sb in &sib {
                                cross += W_SIBLING * colocated(sb, p, 0, 0);
                            }
                            if let Some(l) = luma {
                                cross += W_LUMA * colocated(band, l, 0, 0);
                            }
                            let idx = (band.y0 + y) * w + band.x0 + x;
                            let ctx = ((class * LOCAL_BUCKETS + local_bucket(local))
                                * CROSS_BUCKETS
                                + cross_bucket(cross))
                                * nx
                                + extra.map_or(0, |e| usize::from(e[idx]).min(nx - 1));
                            let sctx = sign_base
                                + 3 * (wv.signum() + 1) as usize
                                + (nv.signum() + 1) as usize;
                            let mut v = plane[idx];
                            if let Some(r) = rdo {
                                let (m, sg) = (&models.detail[ctx], &models.sign[sctx]);
                                let mut u = r.u[comp][idx];
                                if let Some(bp) = &pred {
                                    let cb = coded.get(1).map_or(0, |c| c[idx]);
                                    u -= bp.at(coded[0][idx], cb) as f32 / 64.0;
                                }
                                let (c, j) = r.choose(u, class, |c| value_bits(m, sg, c));
                                v = c;
                                cost += j;
                            }
                            code_value(
                                coder,
                                &mut models.detail[ctx],
                                &mut models.sign[sctx],
                                rates,
                                &mut v,
                            )?;
                            plane[idx] = v;
                        }
                    }
                    if let Some(c) = cfl.as_deref_mut() {
                        c.cost[bi][comp] += cost;
                    }
                }
            }
        }
    }
    Ok(())
}

fn code_ll<C: SymbolCoder>(
    coder: &mut C,
    models: &mut Models,
    band: &Band,
    w: usize,
    comp: usize,
    plane: &mut [i32],
    rates: Rates,
) -> Result<(), CoderError> {
    let g = usize::from(comp > 0);
    for y in 0..band.h {
        for x in 0..band.w {
            let get = |xx: usize, yy: usize| plane[yy * w + xx];
            let (pred, grad) = match (x, y) {
                (0, 0) => (0, 0),
                (_, 0) => (get(x - 1, 0), 0),
                (0, _) => (get(0, y - 1), 0),
                _ => {
                    let (wv, nv, nw) = (get(x - 1, y), get(x, y - 1), get(x - 1, y - 1));
                    (
                        med(wv, nv, nw),
                        wv.wrapping_sub(nw)
                            .unsigned_abs()
                            .saturating_add(nv.wrapping_sub(nw).unsigned_abs()),
                    )
                }
            };
            let ctx = g * LOCAL_BUCKETS + local_bucket(grad.min(CAP));
            let idx = y * w + x;
            // Wrapping: an encoder's values stay far inside i32 (|v| ≤ 2^24), a hostile stream
            // may drift further and must not panic.
            let mut r = plane[idx].wrapping_sub(pred);
            code_value(
                coder,
                &mut models.ll[ctx],
                &mut models.ll_sign,
                rates,
                &mut r,
            )?;
            plane[idx] = pred.wrapping_add(r);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip() {
        for m in (0..5000).chain([MAX_MAGNITUDE, MAX_MAGNITUDE - 1, 1 << 20]) {
            let (t, raw, n) = tokenize(m);
            assert!(t < TOKENS, "{m}");
            assert_eq!(n, token_bits(t));
            assert!(raw < (1 << n) || n == 0);
            assert_eq!(detokenize(t, raw), m);
        }
    }
}
