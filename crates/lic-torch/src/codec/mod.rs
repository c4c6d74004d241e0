//! The public image codec: [`encode`] an [`Image`] into `.lic` bytes and [`decode`] them back,
//! and [`encode_latents`] / [`decode_latents`] for the dequantized latent alone.
//!
//! Per tile (raster order; one tile unless the image is larger than the tile size, so memory is
//! bounded for any image): pad to the model's multiple (64 for ELIC, 32 for WaLLoC; edge
//! replication), `y = g_a(x)·gain(q)`, `z = h_a(y)`, code `round(z − median)` with the factorized
//! tables (substream 0). Then, for the ELIC family, for each channel slice two substreams: the
//! checkerboard anchors, then the non-anchors; for the WaLLoC family one substream with the whole
//! latent, (μ, σ) from `h_s(ẑ)`. Each latent is coded as `round(y − μ)` under the Gaussian table
//! picked by σ (`coder::quantize`). Decoded values are rebuilt as `symbol + μ` in f32 by the same
//! function on both sides, so the encoder's reconstruction equals the decoder's output when the
//! networks compute identical floats (same machine and thread count; see the determinism tests).

pub mod family;
pub mod latent;
pub mod model;
pub mod refine;
pub mod trace;

use std::time::Instant;

use tch::{Device, Kind, Tensor};

use crate::coder::{self, CoderError};
use crate::format::{Container, FormatError, Header, Limits, StreamKind};
use crate::io::image::Image;
use crate::util::hex;
use crate::zoo::elic::{checkerboard, IntElic};
pub use crate::zoo::IntEntropy;
use latent::{
    channel_indexes, check_quality, coding_inputs, dequantize, fixed_values, place, quantize_all,
    to_f32, to_f64, z_fixed,
};
pub use model::{CodecModel, ModelError, DEFAULT_MODEL};
pub use trace::{Mismatch, SymbolTrace, TraceRecord};

/// Default tile side in pixels: images up to this size are coded in one piece.
pub const DEFAULT_TILE: u32 = 1024;

#[derive(Clone, Debug)]
pub struct EncodeOptions {
    /// Continuous quality in the model's range (`[1, L]`).
    pub quality: f64,
    /// Tile side in pixels (a multiple of 64); larger images are split.
    pub tile: u32,
    /// Encode-time refinement steps on each tile's latents ([`refine`]); 0 = none.
    pub refine: usize,
}

impl Default for EncodeOptions {
    fn default() -> Self {
        EncodeOptions {
            quality: 4.0,
            tile: DEFAULT_TILE,
            refine: 0,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    #[error(transparent)]
    Format(#[from] FormatError),
    #[error(transparent)]
    Coder(#[from] CoderError),
    #[error("bitstream was made with model `{stream_id}` ({stream_hash}), but `{model_id}` ({model_hash}) is loaded")]
    ModelMismatch {
        stream_id: String,
        stream_hash: String,
        model_id: String,
        model_hash: String,
    },
    #[error("quality {0} outside the model's range [{1}, {2}]")]
    Quality(f64, f64, f64),
    #[error("invalid tile size {0} (must be a positive multiple of 64)")]
    Tile(u32),
    #[error("bitstream has {found} substreams, {expected} expected for this image and model")]
    Substreams { expected: usize, found: usize },
    #[error("not an image bitstream")]
    Kind,
    #[error("libtorch: {0}")]
    Torch(String),
    #[error("{0}")]
    Mismatch(Box<Mismatch>),
    #[error("the symbol trace has no record for tile {0}, substream {1}")]
    TraceMissing(u32, u32),
}

impl From<tch::TchError> for CodecError {
    fn from(e: tch::TchError) -> Self {
        CodecError::Torch(e.to_string())
    }
}

/// Result of [`encode`].
pub struct Encoded {
    pub bytes: Vec<u8>,
    /// Rate estimate from the model's likelihoods, in bits (the real rate is `bytes.len() · 8`).
    pub estimated_bits: f64,
    /// The encoder's reconstruction (what a decoder returns).
    pub reconstruction: Image,
    pub seconds: f64,
}

/// Substreams per tile: z, then (ELIC) anchors and non-anchors of every slice, or (WaLLoC) the
/// whole latent.
fn streams_per_tile(model: &CodecModel) -> usize {
    model.config.streams_per_tile()
}

/// Tiles `(x, y, w, h)` of an image in raster order.
fn tiles(width: u32, height: u32, tile: u32) -> Vec<(u32, u32, u32, u32)> {
    let mut v = Vec::new();
    let mut y = 0;
    while y < height {
        let h = tile.min(height - y);
        let mut x = 0;
        while x < width {
            let w = tile.min(width - x);
            v.push((x, y, w, h));
            x += w;
        }
        y += h;
    }
    v
}

/// A tile as a padded `[1, 3, H', W']` float tensor in [0, 1].
fn tile_tensor(
    img: &Image,
    (x0, y0, w, h): (u32, u32, u32, u32),
    m: i64,
    device: Device,
) -> Tensor {
    let mut buf = Vec::with_capacity((w * h * 3) as usize);
    for row in y0..y0 + h {
        let start = ((row * img.width + x0) * 3) as usize;
        buf.extend_from_slice(&img.data[start..start + (w * 3) as usize]);
    }
    let t = crate::nn::rgb_tensor(&buf, h as i64, w as i64);
    let (ph, pw) = ((m - h as i64 % m) % m, (m - w as i64 % m) % m);
    let t = if ph > 0 || pw > 0 {
        t.replication_pad2d([0, pw, 0, ph])
    } else {
        t
    };
    t.to_device(device)
}

/// Writes a decoded tile (`[1, 3, H', W']`, [0, 1]) into `out`.
fn put_tile(out: &mut [u8], width: u32, x_hat: &Tensor, (x0, y0, w, h): (u32, u32, u32, u32)) {
    let t = (x_hat
        .narrow(2, 0, h as i64)
        .narrow(3, 0, w as i64)
        .clamp(0.0, 1.0)
        * 255.0)
        .round()
        .to_kind(Kind::Uint8)
        .squeeze_dim(0)
        .permute([1, 2, 0])
        .contiguous()
        .to_device(Device::Cpu);
    let v: Vec<u8> = Vec::try_from(t.flatten(0, -1)).expect("u8 tile");
    for row in 0..h {
        let dst = (((y0 + row) * width + x0) * 3) as usize;
        let src = (row * w * 3) as usize;
        out[dst..dst + (w * 3) as usize].copy_from_slice(&v[src..src + (w * 3) as usize]);
    }
}

/// What happens to every substream's coding inputs and symbols besides coding.
enum Tracer<'a> {
    Off,
    /// Keep them (encoder dump, or decoder dump for comparisons).
    Record(&'a mut SymbolTrace),
    /// Compare them with an encoder's dump and stop at the first difference.
    Check(&'a SymbolTrace),
}

/// Where a substream is: tile, global substream index, latent block shape and pass.
#[derive(Clone, Copy)]
struct StreamAt {
    tile: u32,
    stream: u32,
    shape: [u32; 3],
    pass: u8,
}

impl Tracer<'_> {
    /// Runs `produce` (quantize or entropy-decode) for one substream, with tracing around it.
    fn traced(
        &mut self,
        at: StreamAt,
        mu: &[f32],
        sigma: &[f32],
        tables: &[u16],
        produce: impl FnOnce() -> Result<Vec<i32>, CodecError>,
    ) -> Result<Vec<i32>, CodecError> {
        // The encoder's record, when checking: looked up once, compared before and after.
        let expected = match self {
            Tracer::Check(t) => Some(
                t.find(at.tile, at.stream)
                    .ok_or(CodecError::TraceMissing(at.tile, at.stream))?,
            ),
            _ => None,
        };
        if let Some(m) = expected.and_then(|e| trace::compare_inputs(e, tables, mu, sigma)) {
            return Err(CodecError::Mismatch(Box::new(m)));
        }
        let syms = produce()?;
        if let Some(m) = expected.and_then(|e| trace::compare_symbols(e, &syms, tables, mu, sigma))
        {
            return Err(CodecError::Mismatch(Box::new(m)));
        }
        match self {
            Tracer::Off | Tracer::Check(_) => {}
            Tracer::Record(t) => t.records.push(TraceRecord {
                tile: at.tile,
                stream: at.stream,
                shape: at.shape,
                pass: at.pass,
                symbols: syms.clone(),
                tables: tables.to_vec(),
                mu: mu.to_vec(),
                sigma: sigma.to_vec(),
            }),
        }
        Ok(syms)
    }
}

/// One entropy-coded chunk of a tile's latent `y`, in its family's coding order: its substream
/// (counted within the tile, `z` being 0), the latent block shape and pass, the coding inputs,
/// and which values of `y` it codes (channels `first..first + count`, at the positions of `mask`
/// or all of them).
struct Chunk<'a> {
    local: usize,
    shape: [u32; 3],
    pass: u8,
    mu: &'a [f32],
    sigma: &'a [f32],
    tables: &'a [u16],
    channels: (i64, i64),
    mask: Option<&'a Tensor>,
}

impl Chunk<'_> {
    /// The values of `y` (`[1, C, h, w]`) that this chunk codes, in symbol order.
    fn gather(&self, y: &Tensor) -> Vec<f32> {
        let (first, c) = self.channels;
        let part = y.narrow(1, first, c);
        match self.mask {
            Some(m) => {
                let (h, w) = (part.size()[2], part.size()[3]);
                to_f32(&part.masked_select(&m.expand([1, c, h, w], false)))
            }
            None => to_f32(&part),
        }
    }
}

/// What gives a chunk's symbols: the encoder quantizes `y`, the decoder entropy-decodes.
type ChunkSource<'s> = dyn FnMut(&Chunk<'_>) -> Result<Vec<i32>, CodecError> + 's;

/// The coding order of a tile's latent, shared by encoder and decoder: from the fixed-point `ẑ`
/// (`zfx`) and the latent size `(h, w)`, each family's integer networks give every chunk's μ
/// and σ, `source` its symbols, and the decoded values feed the next contexts. Returns the float
/// `ŷ` (with the gain) for synthesis. A family's coding order is its one arm here.
fn code_latent(
    model: &CodecModel,
    zfx: &Tensor,
    (h, w): (i64, i64),
    source: &mut ChunkSource<'_>,
) -> Result<Tensor, CodecError> {
    match &model.int {
        IntEntropy::Elic(int) => {
            elic_latent(int, &model.config.slice_ranges(), zfx, (h, w), source)
        }
        IntEntropy::Walloc(hs) => {
            let c = model.config.latent_channels();
            let out = hs.forward(zfx);
            let (mu, sigma, tables) =
                coding_inputs(&to_f64(&out.narrow(1, 0, c)), &to_f64(&out.narrow(1, c, c)));
            let syms = source(&Chunk {
                local: 1,
                shape: [c as u32, h as u32, w as u32],
                pass: 2,
                mu: &mu,
                sigma: &sigma,
                tables: &tables,
                channels: (0, c),
                mask: None,
            })?;
            Ok(dequantize(&syms, &mu, &[1, c, h, w], zfx.device()))
        }
    }
}

/// The ELIC family's order: channel slices, each in two checkerboard passes (anchors, then the
/// rest with the anchors as context); the slices before one are its channel context.
fn elic_latent(
    int: &IntElic,
    ranges: &[(i64, i64)],
    zfx: &Tensor,
    (h, w): (i64, i64),
    source: &mut ChunkSource<'_>,
) -> Result<Tensor, CodecError> {
    let psi = int.h_s.forward(zfx);
    let device = psi.device();
    let anchor = checkerboard(h, w, device).view([1, 1, h, w]);
    let non_anchor = anchor.logical_not();
    let positions = |m: &Tensor| m.flatten(0, -1).nonzero().view([-1]);
    let pos = [positions(&anchor), positions(&non_anchor)];
    let mut fixed: Vec<Tensor> = Vec::new();
    let mut floats: Vec<Tensor> = Vec::new();
    for (i, &(first, c)) in ranges.iter().enumerate() {
        let shape4 = [1, c, h, w];
        let prev = (i > 0).then(|| Tensor::cat(&fixed, 1));
        let ctx = int.channel_context(i, prev.as_ref());
        let mut slice_fx = Tensor::zeros(shape4, (Kind::Double, device));
        let mut slice_f = Tensor::zeros(shape4, (Kind::Float, device));
        let mut anchors_fx = slice_fx.zeros_like();
        for (pass, mask) in [(0usize, &anchor), (1, &non_anchor)] {
            // Channel-major over the pass's positions in raster order: the order of
            // `masked_select`, which places the values back below.
            let anchors = (pass == 1).then_some(&anchors_fx);
            let (mu_t, sigma_t) = int.slice_params_at(i, &psi, ctx.as_ref(), anchors, &pos[pass]);
            let mu_fx = to_f64(&mu_t);
            let sigma_fx = to_f64(&sigma_t);
            let (mu, sigma, tables) = coding_inputs(&mu_fx, &sigma_fx);
            let syms = source(&Chunk {
                local: 1 + 2 * i + pass,
                shape: [c as u32, h as u32, w as u32],
                pass: pass as u8,
                mu: &mu,
                sigma: &sigma,
                tables: &tables,
                channels: (first, c),
                mask: Some(mask),
            })?;
            let vals: Vec<f32> = syms.iter().zip(&mu).map(|(&s, &u)| s as f32 + u).collect();
            let part_fx = place(
                &Tensor::from_slice(&fixed_values(&syms, &mu_fx)).to_device(device),
                mask,
                &shape4,
            );
            if pass == 0 {
                anchors_fx = part_fx.shallow_clone();
            }
            slice_fx += part_fx;
            slice_f += place(&Tensor::from_slice(&vals).to_device(device), mask, &shape4);
        }
        fixed.push(slice_fx);
        floats.push(slice_f);
    }
    Ok(Tensor::cat(&floats, 1))
}

/// One tile's coded latent: its substreams, the ideal rate in bits, and `ŷ` (with the rate gain,
/// exactly as the decoder rebuilds it).
struct TileLatent {
    streams: Vec<Vec<u8>>,
    bits: f64,
    y_hat: Tensor,
}

/// The z substream of a tile: where it is, and the per-value median (its "μ") and channel index
/// (its factorized table) that encoder and decoder both use.
fn z_stream(
    model: &CodecModel,
    tile: u32,
    (n, hz, wz): (i64, i64, i64),
) -> (StreamAt, Vec<f32>, Vec<u16>) {
    let plane = (hz * wz) as usize;
    let z_ch = channel_indexes(n, hz, wz);
    let z_mu = (0..z_ch.len())
        .map(|k| model.z_medians[k / plane])
        .collect();
    let at = StreamAt {
        tile,
        stream: tile * streams_per_tile(model) as u32,
        shape: [n as u32, hz as u32, wz as u32],
        pass: 2,
    };
    (at, z_mu, z_ch)
}

/// How the encoder gets a tile's latents: straight from the analysis transforms, or refined.
#[derive(Clone, Copy)]
struct LatentSource {
    /// Refinement steps (0 = the transforms' output as it is).
    refine: usize,
    /// Quality of the tile (for the refinement's λ).
    q: f64,
    /// The tile's real size `(h, w)` inside its padding.
    valid: (i64, i64),
}

/// Encoder side of one padded tile `x` at quality gain `gain`.
fn encode_tile_latent(
    model: &CodecModel,
    x: &Tensor,
    gain: &Tensor,
    tile: u32,
    source: LatentSource,
    tracer: &mut Tracer<'_>,
) -> Result<TileLatent, CodecError> {
    let y = model.net.analysis(x) * gain;
    let z = model.net.hyper_analysis(&y);
    let (y, z) = refine::refine(model, x, source.valid, source.q, (&y, &z), source.refine);
    let (_, n, hz, wz) = z.size4()?;
    // z: symbols round(z − median) per channel.
    let zv = to_f32(&z);
    let (z_at, z_mu, z_ch) = z_stream(model, tile, (n, hz, wz));
    let base = z_at.stream;
    let z_syms = tracer.traced(z_at, &z_mu, &vec![0.0; zv.len()], &z_ch, || {
        Ok(quantize_all(&zv, &z_mu))
    })?;
    let mut bits = model.z_coder.ideal_bits(&z_syms, &z_ch)?;
    let mut streams = model.z_coder.encode_chunks(&[(&z_syms, &z_ch)])?;
    let zfx = z_fixed(model, &z_syms, (n, hz, wz));
    let (_, _, h, w) = y.size4()?;
    let mut chunks: Vec<(Vec<i32>, Vec<u16>)> = Vec::new();
    let y_hat = code_latent(model, &zfx, (h, w), &mut |ch| {
        let yv = ch.gather(&y);
        let at = StreamAt {
            tile,
            stream: base + ch.local as u32,
            shape: ch.shape,
            pass: ch.pass,
        };
        let syms = tracer.traced(at, ch.mu, ch.sigma, ch.tables, || {
            Ok(quantize_all(&yv, ch.mu))
        })?;
        bits += coder::gaussian_ideal_bits(&syms, ch.tables)?;
        chunks.push((syms.clone(), ch.tables.to_vec()));
        Ok(syms)
    })?;
    let refs: Vec<(&[i32], &[u16])> = chunks
        .iter()
        .map(|(s, t)| (s.as_slice(), t.as_slice()))
        .collect();
    streams.extend(coder::encode_gaussian_chunks(&refs)?);
    Ok(TileLatent {
        streams,
        bits,
        y_hat,
    })
}

/// Decoder side of one tile of padded size `(ph, pw)` from its substreams: `ŷ` with the gain.
fn decode_tile_latent(
    model: &CodecModel,
    streams: &[Vec<u8>],
    (ph, pw): (i64, i64),
    tile: u32,
    tracer: &mut Tracer<'_>,
) -> Result<Tensor, CodecError> {
    let s = model.config.latent_stride();
    let (h, w) = (ph / s, pw / s);
    let (hz, wz) = (h / 4, w / 4);
    let n = model.config.z_channels();
    let (z_at, z_mu, z_ch) = z_stream(model, tile, (n, hz, wz));
    let base = z_at.stream;
    let z_syms = tracer.traced(z_at, &z_mu, &vec![0.0; z_ch.len()], &z_ch, || {
        Ok(model
            .z_coder
            .decode_chunks(&[streams[0].as_slice()], &[z_ch.as_slice()])?
            .pop()
            .expect("one chunk"))
    })?;
    let zfx = z_fixed(model, &z_syms, (n, hz, wz));
    code_latent(model, &zfx, (h, w), &mut |ch| {
        let at = StreamAt {
            tile,
            stream: base + ch.local as u32,
            shape: ch.shape,
            pass: ch.pass,
        };
        // The container holds `streams_per_tile` substreams per tile (checked on reading).
        let data = &streams[ch.local];
        tracer.traced(at, ch.mu, ch.sigma, ch.tables, || {
            Ok(
                coder::decode_gaussian_chunks(&[data.as_slice()], &[ch.tables])?
                    .pop()
                    .expect("one chunk"),
            )
        })
    })
}

/// Padded tile size for the model.
fn padded(model: &CodecModel, (_, _, w, h): (u32, u32, u32, u32)) -> (i64, i64) {
    let m = model.config.multiple() as u64;
    (
        (h as u64).div_ceil(m) as i64 * m as i64,
        (w as u64).div_ceil(m) as i64 * m as i64,
    )
}

/// Encodes `img` with `model`.
pub fn encode(
    img: &Image,
    model: &CodecModel,
    opts: &EncodeOptions,
) -> Result<Encoded, CodecError> {
    encode_impl(img, model, opts, &mut Tracer::Off)
}

/// [`encode`], also returning every substream's coding inputs and symbols (`lic encode
/// --dump-symbols`).
pub fn encode_traced(
    img: &Image,
    model: &CodecModel,
    opts: &EncodeOptions,
) -> Result<(Encoded, SymbolTrace), CodecError> {
    let mut trace = SymbolTrace::default();
    let e = encode_impl(img, model, opts, &mut Tracer::Record(&mut trace))?;
    Ok((e, trace))
}

fn encode_impl(
    img: &Image,
    model: &CodecModel,
    opts: &EncodeOptions,
    tracer: &mut Tracer<'_>,
) -> Result<Encoded, CodecError> {
    let t0 = Instant::now();
    check_quality(model, opts.quality)?;
    if opts.tile == 0 || !opts.tile.is_multiple_of(64) {
        return Err(CodecError::Tile(opts.tile));
    }
    let q32 = opts.quality as f32;
    let q = q32 as f64; // exactly what the decoder will read from the header
    let mut substreams: Vec<Vec<u8>> = Vec::new();
    let mut recon = vec![0u8; img.data.len()];
    let mut est_bits = 0f64;
    tch::no_grad(|| -> Result<(), CodecError> {
        let gain = model.net.gains().gains(&[q]);
        let inv_gain = model.net.gains().inv_gains(&[q]);
        for (ti, tile) in tiles(img.width, img.height, opts.tile)
            .into_iter()
            .enumerate()
        {
            let x = tile_tensor(img, tile, model.config.multiple(), model.device);
            let source = LatentSource {
                refine: opts.refine,
                q,
                valid: (tile.3 as i64, tile.2 as i64),
            };
            let t = encode_tile_latent(model, &x, &gain, ti as u32, source, tracer)?;
            est_bits += t.bits;
            substreams.extend(t.streams);
            let x_hat = model.net.synthesis(&(t.y_hat * &inv_gain));
            put_tile(&mut recon, img.width, &x_hat, tile);
        }
        Ok(())
    })?;
    let single = img.width <= opts.tile && img.height <= opts.tile;
    let header = Header {
        kind: StreamKind::Image,
        model_id: model.id.clone(),
        weights_hash: model.hash,
        width: img.width,
        height: img.height,
        gray: img.gray,
        bit_depth: 8,
        quality: q32,
        tile_width: if single { 0 } else { opts.tile },
        tile_height: if single { 0 } else { opts.tile },
        params: Vec::new(),
    };
    let bytes = Container { header, substreams }.to_bytes()?;
    let mut reconstruction = Image::new(img.width, img.height, recon);
    if img.gray {
        reconstruction = reconstruction.to_gray();
    }
    Ok(Encoded {
        bytes,
        estimated_bits: est_bits,
        reconstruction,
        seconds: t0.elapsed().as_secs_f64(),
    })
}

/// Parses the header only (for `lic info` and model selection).
pub fn read_header(bytes: &[u8], limits: &Limits) -> Result<Container, CodecError> {
    Ok(Container::parse_with_limits(bytes, limits)?)
}

/// Decodes `.lic` bytes with `model`.
pub fn decode(bytes: &[u8], model: &CodecModel) -> Result<Image, CodecError> {
    decode_with_limits(bytes, model, &Limits::default())
}

/// A parsed, checked bitstream: its container, quality and tiles.
struct Checked {
    container: Container,
    quality: f64,
    tiles: Vec<(u32, u32, u32, u32)>,
}

fn check_stream(bytes: &[u8], model: &CodecModel, limits: &Limits) -> Result<Checked, CodecError> {
    check_container(Container::parse_with_limits(bytes, limits)?, model)
}

fn check_container(c: Container, model: &CodecModel) -> Result<Checked, CodecError> {
    let hd = &c.header;
    if hd.kind != StreamKind::Image {
        return Err(CodecError::Kind);
    }
    if hd.model_id != model.id || hd.weights_hash != model.hash {
        return Err(CodecError::ModelMismatch {
            stream_id: hd.model_id.clone(),
            stream_hash: hex(&hd.weights_hash),
            model_id: model.id.clone(),
            model_hash: model.hash_hex(),
        });
    }
    let q = hd.quality as f64;
    check_quality(model, q)?;
    let tile = if hd.tile_width == 0 {
        hd.width.max(hd.height)
    } else {
        if hd.tile_width != hd.tile_height || !hd.tile_width.is_multiple_of(64) {
            return Err(CodecError::Tile(hd.tile_width));
        }
        hd.tile_width
    };
    let tl = tiles(hd.width, hd.height, tile);
    let per = streams_per_tile(model);
    if c.substreams.len() != tl.len() * per {
        return Err(CodecError::Substreams {
            expected: tl.len() * per,
            found: c.substreams.len(),
        });
    }
    Ok(Checked {
        container: c,
        quality: q,
        tiles: tl,
    })
}

pub fn decode_with_limits(
    bytes: &[u8],
    model: &CodecModel,
    limits: &Limits,
) -> Result<Image, CodecError> {
    decode_impl(bytes, model, limits, &mut Tracer::Off)
}

/// [`decode`], also returning the decoder's coding inputs and symbols (to compare machines,
/// thread counts or instruction sets: equal traces mean equal table choices and symbols).
pub fn decode_traced(bytes: &[u8], model: &CodecModel) -> Result<(Image, SymbolTrace), CodecError> {
    let mut trace = SymbolTrace::default();
    let img = decode_impl(
        bytes,
        model,
        &Limits::default(),
        &mut Tracer::Record(&mut trace),
    )?;
    Ok((img, trace))
}

/// [`decode`] against an encoder's symbol dump: stops with [`CodecError::Mismatch`] at the first
/// value whose μ, σ, table or symbol differs from the encoder's (`lic decode --check-symbols`).
pub fn decode_checked(
    bytes: &[u8],
    model: &CodecModel,
    expected: &SymbolTrace,
) -> Result<Image, CodecError> {
    decode_impl(
        bytes,
        model,
        &Limits::default(),
        &mut Tracer::Check(expected),
    )
}

fn decode_impl(
    bytes: &[u8],
    model: &CodecModel,
    limits: &Limits,
    tracer: &mut Tracer<'_>,
) -> Result<Image, CodecError> {
    decode_checked_stream(check_stream(bytes, model, limits)?, model, tracer)
}

/// Decodes a container parsed once by the caller (its limits applied there) with `model`.
pub fn decode_container(c: Container, model: &CodecModel) -> Result<Image, CodecError> {
    decode_checked_stream(check_container(c, model)?, model, &mut Tracer::Off)
}

fn decode_checked_stream(
    ck: Checked,
    model: &CodecModel,
    tracer: &mut Tracer<'_>,
) -> Result<Image, CodecError> {
    let hd = &ck.container.header;
    let per = streams_per_tile(model);
    let mut out = vec![0u8; hd.width as usize * hd.height as usize * 3];
    tch::no_grad(|| -> Result<(), CodecError> {
        let inv_gain = model.net.gains().inv_gains(&[ck.quality]);
        for (ti, &t) in ck.tiles.iter().enumerate() {
            let streams = &ck.container.substreams[ti * per..(ti + 1) * per];
            let y_hat = decode_tile_latent(model, streams, padded(model, t), ti as u32, tracer)?;
            let x_hat = model.net.synthesis(&(y_hat * &inv_gain));
            put_tile(&mut out, hd.width, &x_hat, t);
        }
        Ok(())
    })?;
    let img = Image::new(hd.width, hd.height, out);
    Ok(if hd.gray { img.to_gray() } else { img })
}

/// The dequantized latent of a whole image, gain-normalized (`ŷ · inv_gain(q)`, what the
/// synthesis transform sees), `[C, ⌈H/s⌉, ⌈W/s⌉]` f32 on the CPU, with `s` the model's latent
/// stride. Tiles are stitched in latent space.
pub struct Latents {
    pub tensor: Tensor,
    pub quality: f64,
    pub stride: i64,
}

/// Gathers per-tile latents into one `[C, ⌈H/s⌉, ⌈W/s⌉]` tensor.
fn stitch(
    model: &CodecModel,
    (width, height): (u32, u32),
    tiles: &[(u32, u32, u32, u32)],
    mut tile_latent: impl FnMut(usize, (u32, u32, u32, u32)) -> Result<Tensor, CodecError>,
) -> Result<Tensor, CodecError> {
    let s = model.config.latent_stride() as u64;
    let c = model.config.latent_channels();
    let (lh, lw) = (
        (height as u64).div_ceil(s) as i64,
        (width as u64).div_ceil(s) as i64,
    );
    let out = Tensor::zeros([c, lh, lw], (Kind::Float, Device::Cpu));
    for (i, &t) in tiles.iter().enumerate() {
        let (x0, y0, w, h) = t;
        let (th, tw) = ((h as u64).div_ceil(s) as i64, (w as u64).div_ceil(s) as i64);
        let lat = tile_latent(i, t)?
            .squeeze_dim(0)
            .narrow(1, 0, th)
            .narrow(2, 0, tw)
            .to_device(Device::Cpu)
            .to_kind(Kind::Float);
        out.narrow(1, (y0 as u64 / s) as i64, th)
            .narrow(2, (x0 as u64 / s) as i64, tw)
            .copy_(&lat);
    }
    Ok(out)
}

/// Latents of an image by the encoder alone (analysis, hyperprior, quantization; no entropy
/// coding, no synthesis). Equal to [`decode_latents`] of the image's bitstream.
pub fn encode_latents(
    img: &Image,
    model: &CodecModel,
    opts: &EncodeOptions,
) -> Result<Latents, CodecError> {
    check_quality(model, opts.quality)?;
    if opts.tile == 0 || !opts.tile.is_multiple_of(64) {
        return Err(CodecError::Tile(opts.tile));
    }
    let q = opts.quality as f32 as f64;
    let tl = tiles(img.width, img.height, opts.tile);
    let tensor = tch::no_grad(|| {
        let gain = model.net.gains().gains(&[q]);
        let inv_gain = model.net.gains().inv_gains(&[q]);
        stitch(model, (img.width, img.height), &tl, |i, t| {
            let x = tile_tensor(img, t, model.config.multiple(), model.device);
            let source = LatentSource {
                refine: opts.refine,
                q,
                valid: (t.3 as i64, t.2 as i64),
            };
            Ok(
                encode_tile_latent(model, &x, &gain, i as u32, source, &mut Tracer::Off)?.y_hat
                    * &inv_gain,
            )
        })
    })?;
    Ok(Latents {
        tensor,
        quality: q,
        stride: model.config.latent_stride(),
    })
}

/// Latents of a bitstream by entropy decoding alone (no synthesis transform).
pub fn decode_latents(bytes: &[u8], model: &CodecModel) -> Result<Latents, CodecError> {
    let ck = check_stream(bytes, model, &Limits::default())?;
    let hd = &ck.container.header;
    let per = streams_per_tile(model);
    let tensor = tch::no_grad(|| {
        let inv_gain = model.net.gains().inv_gains(&[ck.quality]);
        stitch(model, (hd.width, hd.height), &ck.tiles, |i, t| {
            let streams = &ck.container.substreams[i * per..(i + 1) * per];
            let y =
                decode_tile_latent(model, streams, padded(model, t), i as u32, &mut Tracer::Off)?;
            Ok(y * &inv_gain)
        })
    })?;
    Ok(Latents {
        tensor,
        quality: ck.quality,
        stride: model.config.latent_stride(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiling_covers_the_image() {
        let t = tiles(130, 70, 64);
        assert_eq!(t.len(), 6);
        let area: u32 = t.iter().map(|&(_, _, w, h)| w * h).sum();
        assert_eq!(area, 130 * 70);
        assert_eq!(t[2], (128, 0, 2, 64));
        assert_eq!(tiles(5, 3, 1024), vec![(0, 0, 5, 3)]);
    }
}
