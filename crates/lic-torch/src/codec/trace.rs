//! Symbol traces: what the entropy coder saw for every latent substream (symbols, table indexes,
//! μ and σ), written by `lic encode --dump-symbols` and checked by `lic decode --check-symbols`,
//! which stops at the first value where the decoder's inputs or symbols differ from the
//! encoder's and says where it is and what produced it.
//!
//! On disk: a safetensors file with, per record `T.S` (tile `T`, substream `S`), the tensors
//! `T.S.symbols` (i32), `T.S.tables` (i32), `T.S.mu` and `T.S.sigma` (f32), and metadata
//! `lic.trace.shape.T.S` = `C,H,W,pass` (the latent block the record covers; `pass` is 0 for
//! checkerboard anchors, 1 for non-anchors, 2 for every position).

use std::collections::HashMap;
use std::path::Path;

use safetensors::tensor::{Dtype, TensorView};

/// One substream's worth of coding inputs and symbols.
#[derive(Clone, Debug, PartialEq)]
pub struct TraceRecord {
    pub tile: u32,
    pub stream: u32,
    /// `[C, H, W]` of the latent block and which positions are coded (0 anchors, 1 non-anchors,
    /// 2 all), to map an index back to (channel, row, column).
    pub shape: [u32; 3],
    pub pass: u8,
    pub symbols: Vec<i32>,
    pub tables: Vec<u16>,
    pub mu: Vec<f32>,
    pub sigma: Vec<f32>,
}

impl TraceRecord {
    /// (channel, row, column) of the `k`-th coded value.
    pub fn position(&self, k: usize) -> (u32, u32, u32) {
        let [c, h, w] = self.shape;
        let coded = |r: u32, col: u32| match self.pass {
            0 => (r + col).is_multiple_of(2),
            1 => (r + col) % 2 == 1,
            _ => true,
        };
        let per_channel = (0..h)
            .flat_map(|r| (0..w).map(move |col| (r, col)))
            .filter(|&(r, col)| coded(r, col))
            .count()
            .max(1);
        let ch = (k / per_channel) as u32;
        let j = k % per_channel;
        let (r, col) = (0..h)
            .flat_map(|r| (0..w).map(move |col| (r, col)))
            .filter(|&(r, col)| coded(r, col))
            .nth(j)
            .unwrap_or((0, 0));
        (ch.min(c.saturating_sub(1)), r, col)
    }
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct SymbolTrace {
    pub records: Vec<TraceRecord>,
}

#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    #[error("{path}: {reason}")]
    Io { path: String, reason: String },
    #[error("{path}: not a symbol trace: {reason}")]
    Format { path: String, reason: String },
}

fn le_bytes<T: Copy, const N: usize>(v: &[T], f: impl Fn(T) -> [u8; N]) -> Vec<u8> {
    v.iter().flat_map(|&x| f(x)).collect()
}

impl SymbolTrace {
    pub fn find(&self, tile: u32, stream: u32) -> Option<&TraceRecord> {
        self.records
            .iter()
            .find(|r| r.tile == tile && r.stream == stream)
    }

    pub fn save(&self, path: &Path) -> Result<(), TraceError> {
        let io = |reason: String| TraceError::Io {
            path: path.display().to_string(),
            reason,
        };
        let mut data: Vec<(String, Dtype, Vec<usize>, Vec<u8>)> = Vec::new();
        let mut meta = HashMap::new();
        for r in &self.records {
            let key = format!("{}.{}", r.tile, r.stream);
            let n = r.symbols.len();
            let tables: Vec<i32> = r.tables.iter().map(|&t| i32::from(t)).collect();
            data.push((
                format!("{key}.symbols"),
                Dtype::I32,
                vec![n],
                le_bytes(&r.symbols, i32::to_le_bytes),
            ));
            data.push((
                format!("{key}.tables"),
                Dtype::I32,
                vec![n],
                le_bytes(&tables, i32::to_le_bytes),
            ));
            data.push((
                format!("{key}.mu"),
                Dtype::F32,
                vec![n],
                le_bytes(&r.mu, f32::to_le_bytes),
            ));
            data.push((
                format!("{key}.sigma"),
                Dtype::F32,
                vec![n],
                le_bytes(&r.sigma, f32::to_le_bytes),
            ));
            let [c, h, w] = r.shape;
            meta.insert(
                format!("lic.trace.shape.{key}"),
                format!("{c},{h},{w},{}", r.pass),
            );
        }
        let views: Vec<(String, TensorView<'_>)> = data
            .iter()
            .map(|(name, dt, shape, bytes)| {
                TensorView::new(*dt, shape.clone(), bytes)
                    .map(|v| (name.clone(), v))
                    .map_err(|e| io(e.to_string()))
            })
            .collect::<Result<_, _>>()?;
        let bytes = safetensors::serialize(views, Some(meta)).map_err(|e| io(e.to_string()))?;
        crate::io::file::write_atomic(path, &bytes).map_err(|e| io(e.to_string()))
    }

    pub fn load(path: &Path) -> Result<SymbolTrace, TraceError> {
        let p = path.display().to_string();
        let bad = |reason: String| TraceError::Format {
            path: p.clone(),
            reason,
        };
        let bytes = std::fs::read(path).map_err(|e| TraceError::Io {
            path: p.clone(),
            reason: e.to_string(),
        })?;
        let (_, meta) =
            safetensors::SafeTensors::read_metadata(&bytes).map_err(|e| bad(e.to_string()))?;
        let st = safetensors::SafeTensors::deserialize(&bytes).map_err(|e| bad(e.to_string()))?;
        let md = meta.metadata().clone().unwrap_or_default();
        let mut records = Vec::new();
        let mut keys: Vec<(&String, &String)> = md
            .iter()
            .filter(|(k, _)| k.starts_with("lic.trace.shape."))
            .collect();
        keys.sort();
        for (k, v) in keys {
            let key = &k["lic.trace.shape.".len()..];
            let (tile, stream) = key
                .split_once('.')
                .and_then(|(a, b)| Some((a.parse().ok()?, b.parse().ok()?)))
                .ok_or_else(|| bad(format!("bad record key {key}")))?;
            let dims: Vec<u32> = v
                .split(',')
                .map(|x| x.parse().map_err(|_| bad(format!("bad shape {v}"))))
                .collect::<Result<_, _>>()?;
            if dims.len() != 4 || dims[3] > 2 {
                return Err(bad(format!("bad shape {v}")));
            }
            let get = |name: &str, dt: Dtype| -> Result<Vec<[u8; 4]>, TraceError> {
                let t = st
                    .tensor(&format!("{key}.{name}"))
                    .map_err(|e| bad(e.to_string()))?;
                if t.dtype() != dt {
                    return Err(bad(format!("{key}.{name}: wrong dtype")));
                }
                Ok(t.data()
                    .chunks_exact(4)
                    .map(|c| [c[0], c[1], c[2], c[3]])
                    .collect())
            };
            let symbols: Vec<i32> = get("symbols", Dtype::I32)?
                .into_iter()
                .map(i32::from_le_bytes)
                .collect();
            let tables: Vec<u16> = get("tables", Dtype::I32)?
                .into_iter()
                .map(|b| i32::from_le_bytes(b).clamp(0, i32::from(u16::MAX)) as u16)
                .collect();
            let mu: Vec<f32> = get("mu", Dtype::F32)?
                .into_iter()
                .map(f32::from_le_bytes)
                .collect();
            let sigma: Vec<f32> = get("sigma", Dtype::F32)?
                .into_iter()
                .map(f32::from_le_bytes)
                .collect();
            let n = symbols.len();
            if tables.len() != n || mu.len() != n || sigma.len() != n {
                return Err(bad(format!("{key}: field lengths differ")));
            }
            records.push(TraceRecord {
                tile,
                stream,
                shape: [dims[0], dims[1], dims[2]],
                pass: dims[3] as u8,
                symbols,
                tables,
                mu,
                sigma,
            });
        }
        records.sort_by_key(|r| (r.tile, r.stream));
        Ok(SymbolTrace { records })
    }
}

/// The first place where a decoder's inputs or symbols differ from the encoder's trace.
#[derive(Clone, Debug, PartialEq)]
pub struct Mismatch {
    pub tile: u32,
    pub stream: u32,
    pub index: usize,
    pub channel: u32,
    pub row: u32,
    pub col: u32,
    /// Which quantity differs first: "mu", "sigma", "table" or "symbol".
    pub what: &'static str,
    pub encoder: (i32, u16, f32, f32),
    /// The decoder's (symbol, table, μ, σ); the symbol is `None` when the inputs already differ.
    pub decoder: (Option<i32>, u16, f32, f32),
}

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (es, et, em, eg) = self.encoder;
        let (ds, dt, dm, dg) = self.decoder;
        write!(
            f,
            "first mismatch: tile {}, substream {}, value {} (channel {}, row {}, column {}): {} differs; \
             encoder symbol {es} table {et} mu {em:?} sigma {eg:?}; decoder symbol {} table {dt} mu {dm:?} sigma {dg:?}",
            self.tile,
            self.stream,
            self.index,
            self.channel,
            self.row,
            self.col,
            self.what,
            ds.map_or("(not decoded)".to_string(), |s| s.to_string()),
        )
    }
}

/// Compares the decoder's inputs for one record with the encoder's (bit-exact on μ and σ).
pub fn compare_inputs(
    expected: &TraceRecord,
    tables: &[u16],
    mu: &[f32],
    sigma: &[f32],
) -> Option<Mismatch> {
    let n = expected.symbols.len().min(mu.len());
    for k in 0..n {
        let what = if expected.mu[k].to_bits() != mu[k].to_bits() {
            "mu"
        } else if expected.sigma[k].to_bits() != sigma[k].to_bits() {
            "sigma"
        } else if expected.tables[k] != tables[k] {
            "table"
        } else {
            continue;
        };
        return Some(mismatch(
            expected, k, what, None, tables[k], mu[k], sigma[k],
        ));
    }
    None
}

/// Compares decoded symbols with the encoder's.
pub fn compare_symbols(
    expected: &TraceRecord,
    symbols: &[i32],
    tables: &[u16],
    mu: &[f32],
    sigma: &[f32],
) -> Option<Mismatch> {
    (0..expected.symbols.len().min(symbols.len()))
        .find(|&k| expected.symbols[k] != symbols[k])
        .map(|k| {
            mismatch(
                expected,
                k,
                "symbol",
                Some(symbols[k]),
                tables[k],
                mu[k],
                sigma[k],
            )
        })
}

fn mismatch(
    e: &TraceRecord,
    k: usize,
    what: &'static str,
    sym: Option<i32>,
    table: u16,
    mu: f32,
    sigma: f32,
) -> Mismatch {
    let (channel, row, col) = e.position(k);
    Mismatch {
        tile: e.tile,
        stream: e.stream,
        index: k,
        channel,
        row,
        col,
        what,
        encoder: (e.symbols[k], e.tables[k], e.mu[k], e.sigma[k]),
        decoder: (sym, table, mu, sigma),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec() -> TraceRecord {
        TraceRecord {
            tile: 0,
            stream: 3,
            shape: [2, 2, 3],
            pass: 1,
            symbols: vec![1, -2, 3, 0, 5, 6],
            tables: vec![4, 5, 6, 7, 8, 9],
            mu: vec![0.5, -0.25, 1.0, 2.0, 0.0, 3.5],
            sigma: vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
        }
    }

    #[test]
    fn save_load_round_trip_and_positions() {
        let d = tempfile::tempdir().unwrap();
        let t = SymbolTrace {
            records: vec![rec()],
        };
        t.save(&d.path().join("t.safetensors")).unwrap();
        let u = SymbolTrace::load(&d.path().join("t.safetensors")).unwrap();
        assert_eq!(t, u);
        // Non-anchors of a 2x3 grid: (0,1), (1,0), (1,2) per channel.
        assert_eq!(rec().position(0), (0, 0, 1));
        assert_eq!(rec().position(2), (0, 1, 2));
        assert_eq!(rec().position(4), (1, 1, 0));
    }

    #[test]
    fn first_mismatch_is_found() {
        let r = rec();
        assert!(compare_inputs(&r, &r.tables, &r.mu, &r.sigma).is_none());
        let mut sigma = r.sigma.clone();
        sigma[4] = 5.000_001;
        let m = compare_inputs(&r, &r.tables, &r.mu, &sigma).unwrap();
        assert_eq!(
            (m.index, m.what, m.channel, m.row, m.col),
            (4, "sigma", 1, 1, 0)
        );
        let mut syms = r.symbols.clone();
        syms[1] = 7;
        let m = compare_symbols(&r, &syms, &r.tables, &r.mu, &r.sigma).unwrap();
        assert_eq!((m.index, m.what, m.decoder.0), (1, "symbol", Some(7)));
        assert!(m.to_string().contains("substream 3"));
    }
}
