//! The `lic-overfit` bitstream: parameter blob, substreams and the decoder.
//!
//! Layout (see `docs/format.md`): the container's parameter blob holds the architecture and,
//! per tensor, its fraction bits and the scale index of the Laplace table its integers are
//! coded with; substream 0 holds all weights, substream `1 + l` the latent grid of level `l` in
//! raster order, each symbol coded with the table the integer ARM picks from the already
//! decoded neighbours.
use constriction::stream::model::UniformModel;
use constriction::stream::stack::DefaultAnsCoder;
use constriction::stream::Decode;
use rayon::prelude::*;
use sha2::{Digest, Sha256};

use super::fixed::{parent_grids, ArmScratch, QNet, QTensor, MAX_FRAC, MAX_LATENT, MAX_WEIGHT};
use super::laplace;
use super::model::{Arch, Layout, Upsampling, MAX_CTX, MAX_HIDDEN_LAYERS, MAX_LEVELS, MAX_WIDTH};
use super::simd::multiversion;
use super::OverfitError;
use crate::coder::{encode_chunk, Backend, CdfTable, CoderError, PRECISION};
use crate::format::{Container, Header, Limits};

/// Model id in the container header.
pub const MODEL_ID: &str = "lic-overfit";
/// Version of the parameter blob's layout (2 added the upsampling kernel, 3 the ARM's parent
/// inputs, 4 a byte of flags for the linear paths of the ARM and the synthesis, 5 the
/// inter-level features and their level count; every older version is still read). The
/// writer uses the lowest version that describes the architecture, so a network without
/// linear paths is written as version 3, as before.
pub const BLOB_VERSION: u8 = 5;
/// Largest decoder cost accepted from a stream, in multiply-accumulates per pixel.
pub const MAX_MACS_PER_PIXEL: usize = 8192;
/// Default largest image the decoder accepts (pixels).
pub const DEFAULT_MAX_PIXELS: u64 = 1 << 26;

/// What a stream carries besides the latents.
#[derive(Clone, Debug)]
pub struct Params {
    /// Architecture.
    pub arch: Arch,
    /// Per tensor: fraction bits and weight-table scale index.
    pub tensors: Vec<(u8, u8)>,
}

fn bad(msg: impl Into<String>) -> OverfitError {
    OverfitError::params(MODEL_ID, msg)
}

impl Params {
    /// Serializes the blob.
    pub fn to_bytes(&self) -> Vec<u8> {
        let a = &self.arch;
        let version = if a.ifce > 0 || a.arm_residual {
            5
        } else if a.arm_skip || a.syn_skip {
            4
        } else {
            3
        };
        let mut v = vec![version, a.levels as u8, a.ctx as u8];
        v.push(a.arm_hidden.len() as u8);
        v.extend(a.arm_hidden.iter().map(|&w| w as u8));
        v.push(a.syn_hidden.len() as u8);
        v.extend(a.syn_hidden.iter().map(|&w| w as u8));
        v.push(u8::from(a.conv));
        v.push(a.upsampling.code());
        v.push(a.parents as u8);
        if version >= 4 {
            v.push(
                u8::from(a.arm_skip) | u8::from(a.syn_skip) << 1 | u8::from(a.arm_residual) << 2,
            );
        }
        if version >= 5 {
            v.extend([a.ifce as u8, a.ifce_levels as u8]);
        }
        for &(f, k) in &self.tensors {
            v.extend([f, k]);
        }
        v
    }

    /// Parses and checks a blob.
    pub fn parse(b: &[u8]) -> Result<Self, OverfitError> {
        let mut pos = 0;
        let mut byte = |what: &str| -> Result<u8, OverfitError> {
            let v = *b
                .get(pos)
                .ok_or_else(|| bad(format!("parameter blob truncated at {what}")))?;
            pos += 1;
            Ok(v)
        };
        let version = byte("version")?;
        if !(1..=BLOB_VERSION).contains(&version) {
            return Err(bad(format!(
                "parameter blob version {version} (this build reads 1..={BLOB_VERSION})"
            )));
        }
        let levels = usize::from(byte("levels")?);
        let ctx = usize::from(byte("context")?);
        let mut widths = |what: &str| -> Result<Vec<usize>, OverfitError> {
            let n = usize::from(byte(what)?);
            if n > MAX_HIDDEN_LAYERS {
                return Err(bad(format!(
                    "{n} {what} layers (at most {MAX_HIDDEN_LAYERS})"
                )));
            }
            (0..n).map(|_| byte(what).map(usize::from)).collect()
        };
        let arm_hidden = widths("ARM hidden")?;
        let syn_hidden = widths("synthesis hidden")?;
        let conv = match byte("conv flag")? {
            0 => false,
            1 => true,
            v => return Err(bad(format!("conv flag {v}"))),
        };
        let upsampling = if version >= 2 {
            let c = byte("upsampling kernel")?;
            Upsampling::from_code(c).ok_or_else(|| bad(format!("upsampling kernel {c}")))?
        } else {
            Upsampling::Bilinear
        };
        let parents = if version >= 3 {
            usize::from(byte("parent inputs")?)
        } else {
            0
        };
        let flags = if version >= 4 {
            byte("linear-path flags")?
        } else {
            0
        };
        if flags > if version >= 5 { 7 } else { 3 } {
            return Err(bad(format!("linear-path flags {flags}")));
        }
        let (ifce, ifce_levels) = if version >= 5 {
            (
                usize::from(byte("inter-level features")?),
                usize::from(byte("inter-level feature levels")?),
            )
        } else {
            (0, 0)
        };
        let arch = Arch {
            levels,
            ctx,
            parents,
            arm_hidden,
            syn_hidden,
            conv,
            upsampling,
            arm_skip: flags & 1 != 0,
            syn_skip: flags & 2 != 0,
            ifce,
            ifce_levels,
            arm_residual: flags & 4 != 0,
        };
        arch.check().map_err(bad)?;
        let _ = (MAX_CTX, MAX_LEVELS, MAX_WIDTH);
        let macs = arch.macs_per_pixel();
        if macs > MAX_MACS_PER_PIXEL {
            return Err(bad(format!(
                "decoder cost {macs} MAC/pixel exceeds {MAX_MACS_PER_PIXEL}"
            )));
        }
        let count = Layout::new(&arch).tensors().len();
        let mut tensors = Vec::with_capacity(count);
        for _ in 0..count {
            let f = byte("tensor fraction bits")?;
            let k = byte("tensor table")?;
            if f > MAX_FRAC {
                return Err(bad(format!("{f} fraction bits (at most {MAX_FRAC})")));
            }
            if usize::from(k) >= laplace::SCALES {
                return Err(bad(format!(
                    "weight table {k} (fewer than {})",
                    laplace::SCALES
                )));
            }
            tensors.push((f, k));
        }
        if pos != b.len() {
            return Err(bad(format!(
                "{} bytes after the parameter blob",
                b.len() - pos
            )));
        }
        Ok(Self { arch, tensors })
    }
}

/// Level sizes of a `width × height` image.
pub fn level_dims(width: usize, height: usize, levels: usize) -> Vec<(usize, usize)> {
    (0..levels)
        .map(|l| (width.div_ceil(1 << l), height.div_ceil(1 << l)))
        .collect()
}

/// Weight symbols and table indexes of the quantized network.
fn weight_symbols(net: &QNet, tables: &[(u8, u8)]) -> (Vec<i32>, Vec<u16>) {
    let mut sym = Vec::new();
    let mut idx = Vec::new();
    for (t, &(_, k)) in net.tensors.iter().zip(tables) {
        sym.extend(&t.values);
        idx.extend(std::iter::repeat_n(
            laplace::table_index(usize::from(k), 0),
            t.values.len(),
        ));
    }
    (sym, idx)
}

/// The best weight-table scale index for integers `v` (fewest ideal bits) and those bits.
pub fn best_weight_table(v: &[i32]) -> (u8, f64) {
    let tables = laplace::tables();
    let mut best = (0u8, f64::INFINITY);
    for k in 0..laplace::SCALES {
        let idx = vec![laplace::table_index(k, 0); v.len()];
        let bits = crate::coder::ideal_bits(tables, v, &idx).unwrap_or(f64::INFINITY);
        if bits < best.1 {
            best = (k as u8, bits);
        }
    }
    best
}

/// Writes the container bytes of a quantized network and integer latent grids.
pub fn write(
    width: u32,
    height: u32,
    gray: bool,
    quality: f32,
    net: &QNet,
    grids: &[Vec<i32>],
) -> Result<Vec<u8>, OverfitError> {
    let tables = laplace::tables();
    let choice: Vec<(u8, u8)> = net
        .tensors
        .iter()
        .map(|t| (t.frac, best_weight_table(&t.values).0))
        .collect();
    let (wsym, widx) = weight_symbols(net, &choice);
    let wstream = encode_chunk(tables, &wsym, &widx, Backend::Ans)?;
    let dims = level_dims(width as usize, height as usize, net.arch.levels);
    let latent_streams: Vec<Vec<u8>> = (0..grids.len())
        .into_par_iter()
        .map(|l| {
            let (sym, idx) = net.code_grid(grids, &dims, l);
            encode_chunk(tables, &sym, &idx, Backend::Ans)
        })
        .collect::<Result<_, CoderError>>()?;
    let hash = weights_hash(&wstream);
    let params = Params {
        arch: net.arch.clone(),
        tensors: choice,
    };
    let mut substreams = vec![wstream];
    substreams.extend(latent_streams);
    let c = Container {
        header: Header::image(
            MODEL_ID,
            hash,
            (width, height),
            gray,
            quality,
            params.to_bytes(),
        ),
        substreams,
    };
    Ok(c.to_bytes()?)
}

/// The header's weights hash of a weights substream: the first 16 bytes of its SHA-256.
pub fn weights_hash(weights_substream: &[u8]) -> [u8; 16] {
    let mut hash = [0u8; 16];
    hash.copy_from_slice(&Sha256::digest(weights_substream)[..16]);
    hash
}

/// Incremental ANS decoding of one substream, symbol by symbol (the tables of later symbols
/// depend on earlier ones), bit-compatible with `coder::encode_chunk` (ANS backend, escapes).
struct Reader {
    ans: Option<DefaultAnsCoder>,
}

impl Reader {
    fn new(bytes: &[u8], symbols: usize) -> Result<Self, CoderError> {
        if !bytes.len().is_multiple_of(4) {
            return Err(CoderError::MisalignedStream(bytes.len()));
        }
        if symbols == 0 {
            return if bytes.is_empty() {
                Ok(Self { ans: None })
            } else {
                Err(CoderError::TrailingData)
            };
        }
        let words: Vec<u32> = bytes
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        let ans = DefaultAnsCoder::from_compressed(words).map_err(|_| CoderError::Corrupt)?;
        Ok(Self { ans: Some(ans) })
    }

    fn uniform(ans: &mut DefaultAnsCoder, range: usize) -> Result<usize, CoderError> {
        ans.decode_symbol(UniformModel::<u32, PRECISION>::new(range))
            .map_err(|_| CoderError::Corrupt)
    }

    fn escape(ans: &mut DefaultAnsCoder) -> Result<u64, CoderError> {
        let len = Self::uniform(ans, 32)? as u32 + 1;
        let mut x = 1u64;
        let mut rest = len - 1;
        while rest > 0 {
            let w = rest.min(16);
            rest -= w;
            x = (x << w) | Self::uniform(ans, 1 << w)? as u64;
        }
        Ok(x - 1)
    }

    fn next(&mut self, table: &CdfTable) -> Result<i32, CoderError> {
        let ans = self.ans.as_mut().ok_or(CoderError::Corrupt)?;
        let s = ans.decode_symbol(table).map_err(|_| CoderError::Corrupt)?;
        let v = if s >= 2 && s < table.alphabet_size() {
            i64::from(table.lo()) + s as i64 - 2
        } else if s == 1 {
            i64::from(table.lo()) - 1 - Self::escape(ans)? as i64
        } else if s == 0 {
            return Err(CoderError::Corrupt);
        } else {
            i64::from(table.hi()) + 1 + Self::escape(ans)? as i64
        };
        i32::try_from(v).map_err(|_| CoderError::EscapeOutOfRange)
    }

    fn finish(self) -> Result<(), CoderError> {
        match self.ans {
            None => Ok(()),
            Some(a) => {
                let (bulk, state) = a.into_raw_parts();
                if bulk.is_empty() && state == 1 {
                    Ok(())
                } else {
                    Err(CoderError::TrailingData)
                }
            }
        }
    }
}

/// A decoded image: interleaved 8-bit RGB.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decoded {
    /// Width.
    pub width: u32,
    /// Height.
    pub height: u32,
    /// Gray flag of the header.
    pub gray: bool,
    /// `width × height × 3` bytes.
    pub rgb: Vec<u8>,
}

/// Decodes a parsed container (its model id must be [`MODEL_ID`]).
pub fn decode_container(c: &Container, max_pixels: u64) -> Result<Decoded, OverfitError> {
    let h = &c.header;
    if h.model_id != MODEL_ID {
        return Err(OverfitError::model_id(&h.model_id, MODEL_ID));
    }
    if h.tile_width != 0 {
        return Err(bad("tiling is not used by lic-overfit"));
    }
    let pixels = u64::from(h.width) * u64::from(h.height);
    if pixels > max_pixels {
        return Err(OverfitError::TooLarge {
            width: h.width,
            height: h.height,
            limit: max_pixels,
        });
    }
    let params = Params::parse(&h.params)?;
    let arch = params.arch.clone();
    let expected = 1 + arch.levels;
    if c.substreams.len() != expected {
        return Err(OverfitError::Substreams {
            model: MODEL_ID,
            found: c.substreams.len(),
            expected,
        });
    }
    if weights_hash(&c.substreams[0]) != h.weights_hash {
        return Err(OverfitError::WeightsHash);
    }
    let tables = laplace::tables();
    let layout = Layout::new(&arch);
    let mut r = Reader::new(&c.substreams[0], layout.tensors().iter().map(|t| t.1).sum())?;
    let mut tensors = Vec::new();
    for ((_, len), &(frac, k)) in layout.tensors().iter().zip(&params.tensors) {
        let table = &tables[usize::from(laplace::table_index(usize::from(k), 0))];
        let mut values = Vec::with_capacity(*len);
        for _ in 0..*len {
            let v = r.next(table)?;
            if v.unsigned_abs() >= MAX_WEIGHT as u32 {
                return Err(OverfitError::WeightOutOfRange(v));
            }
            values.push(v);
        }
        tensors.push(QTensor { frac, values });
    }
    r.finish()?;
    let net = QNet::new(arch.clone(), tensors);
    let (w, hh) = (h.width as usize, h.height as usize);
    let dims = level_dims(w, hh, arch.levels);
    // The coarser grids first (level 0 stays empty here): in parallel if they are
    // independent, else from the coarsest.
    let mut grids = vec![Vec::new(); dims.len()];
    if arch.coarser_inputs() == 0 {
        let coarse: Vec<Vec<i32>> = (1..dims.len())
            .into_par_iter()
            .map(|l| decode_grid(&net, &c.substreams[1 + l], &[], &dims, l))
            .collect::<Result<_, _>>()?;
        for (g, d) in grids[1..].iter_mut().zip(coarse) {
            *g = d;
        }
    } else {
        for l in (1..dims.len()).rev() {
            grids[l] = decode_grid(&net, &c.substreams[1 + l], &grids, &dims, l)?;
        }
    }
    let rgb = decode_finest(&net, &c.substreams[1], &grids, &dims)?;
    Ok(Decoded {
        width: h.width,
        height: h.height,
        gray: h.gray,
        rgb,
    })
}

/// Rows of the finest grid per message of the pipelined decoder.
const BAND: usize = 8;

/// Decodes the finest grid (level 0; `grids` holds the coarser ones) and synthesizes the
/// image. With more than one thread the two overlap: a thread decodes the grid band by band
/// (the ARM is sequential) while this one runs the synthesis MLP on the rows already decoded
/// (row `y` reads only row `y` of the finest grid); when the grid is done, the rows left are
/// synthesized in parallel. The arithmetic is the same either way, so are the pixels.
fn decode_finest(
    net: &QNet,
    bytes: &[u8],
    grids: &[Vec<i32>],
    dims: &[(usize, usize)],
) -> Result<Vec<u8>, OverfitError> {
    fn views<'a>(g0: &'a [i32], grids: &'a [Vec<i32>]) -> Vec<&'a [i32]> {
        std::iter::once(g0)
            .chain(grids[1..].iter().map(Vec::as_slice))
            .collect()
    }
    let (w, h) = dims[0];
    let syn = net.synthesis(w, h);
    let mut x0 = vec![0i32; 3 * w * h];
    if cfg!(target_arch = "wasm32") || rayon::current_num_threads() < 2 || h <= BAND {
        let g0 = decode_grid(net, bytes, grids, dims, 0)?;
        let v = views(&g0, grids);
        syn.rows(&v, 0, &mut x0);
        return Ok(syn.output(&x0));
    }
    let done = std::sync::atomic::AtomicBool::new(false);
    let mut g0 = vec![0i32; w * h];
    std::thread::scope(|sc| -> Result<(), OverfitError> {
        let (tx, rx) = std::sync::mpsc::channel::<(usize, Vec<i32>)>();
        let done = &done;
        let worker = sc.spawn(move || -> Result<(), OverfitError> {
            let mut r = Reader::new(bytes, w * h)?;
            let mut grid = vec![0i32; w * h];
            let parents = parent_grids(grids, dims, 0, net.arch.coarser_inputs());
            let mut s = net.arm_scratch(w);
            let mut y0 = 0;
            while y0 < h {
                let y1 = (y0 + BAND).min(h);
                decode_latents(net, &mut r, &mut grid, &parents, w, h, 0, y0, y1, &mut s)?;
                if tx.send((y0, grid[y0 * w..y1 * w].to_vec())).is_err() {
                    break;
                }
                y0 = y1;
            }
            r.finish()?;
            done.store(true, std::sync::atomic::Ordering::Release);
            Ok(())
        });
        // Synthesize bands as they come on this thread; once the worker is done, the rest
        // of the grid is here and the rows left run in parallel.
        let mut next = 0;
        while let Ok((y0, band)) = rx.recv() {
            let y1 = y0 + band.len() / w;
            g0[y0 * w..y1 * w].copy_from_slice(&band);
            if done.load(std::sync::atomic::Ordering::Acquire) {
                for (y0, band) in rx.try_iter() {
                    g0[y0 * w..y0 * w + band.len()].copy_from_slice(&band);
                }
                break;
            }
            let v = views(&g0, grids);
            for y in y0..y1 {
                syn.row(&v, y, &mut x0[3 * w * y..3 * w * (y + 1)]);
            }
            next = y1;
        }
        worker
            .join()
            .unwrap_or_else(|e| std::panic::resume_unwind(e))?;
        let v = views(&g0, grids);
        syn.rows(&v, next, &mut x0[3 * w * next..]);
        Ok(())
    })?;
    Ok(syn.output(&x0))
}

/// Grid `level` from its substream; `grids` holds the decoded coarser grids the ARM reads.
fn decode_grid(
    net: &QNet,
    bytes: &[u8],
    grids: &[Vec<i32>],
    dims: &[(usize, usize)],
    level: usize,
) -> Result<Vec<i32>, OverfitError> {
    let (w, h) = dims[level];
    let mut r = Reader::new(bytes, w * h)?;
    let mut grid = vec![0i32; w * h];
    let parents = parent_grids(grids, dims, level, net.arch.coarser_inputs());
    let mut s = net.arm_scratch(w);
    decode_latents(net, &mut r, &mut grid, &parents, w, h, level, 0, h, &mut s)?;
    r.finish()?;
    Ok(grid)
}

multiversion! {
    /// Rows `y0 .. y1` of the latents of one grid in raster order, each coded with the table
    /// its causal context selects (compiled per ISA: the integer ARM gives the same tables in
    /// every variant).
    fn decode_latents(net: &QNet, r: &mut Reader, grid: &mut [i32], parents: &[(&[i32], usize)], w: usize, h: usize, level: usize, y0: usize, y1: usize, s: &mut ArmScratch) -> Result<(), OverfitError> {
        let tables = laplace::tables();
        for y in y0..y1 {
            for x in 0..w {
                let (base, t) = net.arm_code(grid, parents, level, w, h, x, y, s);
                let v = i64::from(r.next(&tables[usize::from(t)])?) + i64::from(base);
                if v.unsigned_abs() > MAX_LATENT as u64 {
                    return Err(OverfitError::LatentOutOfRange { level, x, y });
                }
                grid[y * w + x] = v as i32;
            }
        }
        Ok(())
    }
}

/// Parses and decodes `.lic` bytes of the overfit model.
pub fn decode(bytes: &[u8], max_pixels: u64) -> Result<Decoded, OverfitError> {
    let c = Container::parse_with_limits(bytes, &Limits::default())?;
    decode_container(&c, max_pixels)
}
