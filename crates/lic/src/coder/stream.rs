//! Chunked encoding and decoding of `i32` symbols under [`CdfTable`] models.
//!
//! Each symbol comes with a table index. A value inside the table's `[lo, hi]` range is coded as
//! its alphabet entry; a value outside is coded as the escape entry on its side followed by the
//! magnitude `m >= 0` of its distance to the range (`v = lo - 1 - m` or `v = hi + 1 + m`) in
//! Elias-gamma form under uniform models: the bit length `L` of `m + 1` (5 bits, `L <= 32`),
//! then the `L - 1` bits below its leading one in pieces of at most 16 bits. So any `i32`
//! round-trips, at a cost of `2L + 4` bits beyond the escape entry.
//!
//! Chunks are independent byte streams (little-endian `u32` words), coded in parallel with rayon.
//! Two constriction backends are available: ANS (a stack: symbols are encoded in reverse and
//! decoded forward) and a range coder (a queue). [`DEFAULT_BACKEND`] is the one the `.lic`
//! format uses. The ANS encoder starts from state 1 and, thanks to the tables' sentinel entry,
//! the decoder can check that a stream holds exactly the expected number of symbols (it must end
//! at state 1 with no words left); the range decoder can only check that no whole word is left.
//! An empty chunk is an empty stream.
use constriction::stream::model::UniformModel;
use constriction::stream::queue::{DefaultRangeDecoder, DefaultRangeEncoder};
use constriction::stream::stack::DefaultAnsCoder;
use constriction::stream::{Decode, Encode};
use rayon::prelude::*;

use super::table::{CdfTable, PRECISION, TOTAL};
use super::CoderError;

/// One chunk to encode: the symbols and, per symbol, the index of its table.
pub type Chunk<'a> = (&'a [i32], &'a [u16]);

/// Entropy coder backend.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// Asymmetric numeral systems (constriction's `DefaultAnsCoder`, 32-bit words, 64-bit state).
    Ans,
    /// Range coding (constriction's `DefaultRangeEncoder`/`DefaultRangeDecoder`).
    Range,
}

/// Backend used by the `.lic` format (chosen by measurement, see `benches/coder.rs`).
pub const DEFAULT_BACKEND: Backend = Backend::Ans;

type Uniform = UniformModel<u32, PRECISION>;
const LEN_SYMBOLS: usize = 32;
const PIECE_BITS: u32 = 16;

/// One coding operation: an entry of the symbol's table or a uniform value.
#[derive(Clone, Copy)]
enum Op {
    Table(usize),
    Uniform { value: usize, range: usize },
}

/// Maps a value to its coding operations (in decoding order); returns how many.
#[inline]
fn symbol_ops(table: &CdfTable, v: i32, ops: &mut [Op; 4]) -> usize {
    let (lo, hi) = (table.lo(), table.hi());
    // Coding symbols: 0 sentinel (never coded), 1 escape low, 2.. values, last escape high.
    let (entry, m) = if v < lo {
        (1, (i64::from(lo) - 1 - i64::from(v)) as u64)
    } else if v > hi {
        (
            table.alphabet_size(),
            (i64::from(v) - i64::from(hi) - 1) as u64,
        )
    } else {
        ops[0] = Op::Table((v - lo) as usize + 2);
        return 1;
    };
    ops[0] = Op::Table(entry);
    // m <= 2^32 - 2, so m + 1 has 1..=32 bits.
    let x = m + 1;
    let len = 64 - x.leading_zeros();
    ops[1] = Op::Uniform {
        value: len as usize - 1,
        range: LEN_SYMBOLS,
    };
    let mut count = 2;
    let mut rest = len - 1;
    while rest > 0 {
        let w = rest.min(PIECE_BITS);
        rest -= w;
        ops[count] = Op::Uniform {
            value: ((x >> rest) & ((1 << w) - 1)) as usize,
            range: 1 << w,
        };
        count += 1;
    }
    count
}

fn check_chunk(tables: &[CdfTable], symbols: &[i32], indexes: &[u16]) -> Result<(), CoderError> {
    if symbols.len() != indexes.len() {
        return Err(CoderError::LengthMismatch {
            symbols: symbols.len(),
            indexes: indexes.len(),
        });
    }
    check_indexes(tables, indexes)
}

fn check_indexes(tables: &[CdfTable], indexes: &[u16]) -> Result<(), CoderError> {
    match indexes.iter().find(|&&k| usize::from(k) >= tables.len()) {
        Some(&k) => Err(CoderError::IndexOutOfRange {
            index: k,
            tables: tables.len(),
        }),
        None => Ok(()),
    }
}

fn words_to_bytes(words: Vec<u32>) -> Vec<u8> {
    words.iter().flat_map(|w| w.to_le_bytes()).collect()
}

fn bytes_to_words(bytes: &[u8]) -> Result<Vec<u32>, CoderError> {
    if !bytes.len().is_multiple_of(4) {
        return Err(CoderError::MisalignedStream(bytes.len()));
    }
    Ok(bytes
        .chunks_exact(4)
        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect())
}

fn encode_err<E: std::fmt::Debug>(e: E) -> CoderError {
    CoderError::Encode(format!("{e:?}"))
}

/// Encodes one chunk into a byte stream.
pub fn encode_chunk(
    tables: &[CdfTable],
    symbols: &[i32],
    indexes: &[u16],
    backend: Backend,
) -> Result<Vec<u8>, CoderError> {
    check_chunk(tables, symbols, indexes)?;
    let mut ops = [Op::Table(0); 4];
    let words = match backend {
        Backend::Ans => {
            if symbols.is_empty() {
                return Ok(Vec::new());
            }
            // Start from state 1 (see `table.rs`: every symbol then strictly grows the state).
            let mut coder = DefaultAnsCoder::from_raw_parts(Vec::new(), 1);
            for (&v, &k) in symbols.iter().zip(indexes).rev() {
                let table = &tables[usize::from(k)];
                let n = symbol_ops(table, v, &mut ops);
                for op in ops[..n].iter().rev() {
                    match *op {
                        Op::Table(s) => coder.encode_symbol(s, table),
                        Op::Uniform { value, range } => {
                            coder.encode_symbol(value, Uniform::new(range))
                        }
                    }
                    .map_err(encode_err)?;
                }
            }
            coder.into_compressed().map_err(encode_err)?
        }
        Backend::Range => {
            let mut coder = DefaultRangeEncoder::new();
            for (&v, &k) in symbols.iter().zip(indexes) {
                let table = &tables[usize::from(k)];
                let n = symbol_ops(table, v, &mut ops);
                for op in &ops[..n] {
                    match *op {
                        Op::Table(s) => coder.encode_symbol(s, table),
                        Op::Uniform { value, range } => {
                            coder.encode_symbol(value, Uniform::new(range))
                        }
                    }
                    .map_err(encode_err)?;
                }
            }
            coder.into_compressed().map_err(encode_err)?
        }
    };
    Ok(words_to_bytes(words))
}

/// The decoding side of a backend, so the decoding loop is written once.
trait Source {
    fn table(&mut self, table: &CdfTable) -> Result<usize, CoderError>;
    fn uniform(&mut self, range: usize) -> Result<usize, CoderError>;
    /// Whether the stream was consumed exactly (ANS) or may have been (range coder).
    fn exhausted(self) -> bool;
}

impl Source for DefaultAnsCoder {
    #[inline]
    fn table(&mut self, table: &CdfTable) -> Result<usize, CoderError> {
        self.decode_symbol(table).map_err(|_| CoderError::Corrupt)
    }
    fn uniform(&mut self, range: usize) -> Result<usize, CoderError> {
        self.decode_symbol(Uniform::new(range))
            .map_err(|_| CoderError::Corrupt)
    }
    fn exhausted(self) -> bool {
        let (bulk, state) = self.into_raw_parts();
        bulk.is_empty() && state == 1
    }
}

impl Source for DefaultRangeDecoder {
    #[inline]
    fn table(&mut self, table: &CdfTable) -> Result<usize, CoderError> {
        self.decode_symbol(table).map_err(|_| CoderError::Corrupt)
    }
    fn uniform(&mut self, range: usize) -> Result<usize, CoderError> {
        self.decode_symbol(Uniform::new(range))
            .map_err(|_| CoderError::Corrupt)
    }
    fn exhausted(self) -> bool {
        self.maybe_exhausted()
    }
}

fn decode_escape<S: Source>(src: &mut S) -> Result<u64, CoderError> {
    let len = src.uniform(LEN_SYMBOLS)? as u32 + 1;
    let mut x = 1u64;
    let mut rest = len - 1;
    while rest > 0 {
        let w = rest.min(PIECE_BITS);
        rest -= w;
        x = (x << w) | src.uniform(1 << w)? as u64;
    }
    Ok(x - 1)
}

fn decode_with<S: Source>(
    mut src: S,
    tables: &[CdfTable],
    indexes: &[u16],
) -> Result<Vec<i32>, CoderError> {
    let mut out = Vec::with_capacity(indexes.len());
    for &k in indexes {
        let table = &tables[usize::from(k)];
        let s = src.table(table)?;
        let v = if s >= 2 && s < table.alphabet_size() {
            i64::from(table.lo()) + s as i64 - 2
        } else if s == 1 {
            let m = decode_escape(&mut src)?;
            i64::from(table.lo()) - 1 - m as i64
        } else if s == 0 {
            return Err(CoderError::Corrupt);
        } else {
            let m = decode_escape(&mut src)?;
            i64::from(table.hi()) + 1 + m as i64
        };
        out.push(i32::try_from(v).map_err(|_| CoderError::EscapeOutOfRange)?);
    }
    if !src.exhausted() {
        return Err(CoderError::TrailingData);
    }
    Ok(out)
}

/// Decodes one chunk; `indexes` gives the table of each symbol (and so the symbol count).
pub fn decode_chunk(
    tables: &[CdfTable],
    bytes: &[u8],
    indexes: &[u16],
    backend: Backend,
) -> Result<Vec<i32>, CoderError> {
    check_indexes(tables, indexes)?;
    let words = bytes_to_words(bytes)?;
    match backend {
        Backend::Ans => {
            if indexes.is_empty() {
                return match words.is_empty() {
                    true => Ok(Vec::new()),
                    false => Err(CoderError::TrailingData),
                };
            }
            let src = DefaultAnsCoder::from_compressed(words).map_err(|_| CoderError::Corrupt)?;
            decode_with(src, tables, indexes)
        }
        Backend::Range => {
            let src =
                DefaultRangeDecoder::from_compressed(words).map_err(|_| CoderError::Corrupt)?;
            decode_with(src, tables, indexes)
        }
    }
}

/// Encodes independent chunks in parallel (rayon), one byte stream per chunk.
pub fn encode_chunks(
    tables: &[CdfTable],
    chunks: &[Chunk<'_>],
    backend: Backend,
) -> Result<Vec<Vec<u8>>, CoderError> {
    chunks
        .par_iter()
        .map(|&(symbols, indexes)| encode_chunk(tables, symbols, indexes, backend))
        .collect()
}

/// Decodes independent chunks in parallel; `indexes[i]` lists the tables of chunk `i`.
pub fn decode_chunks(
    tables: &[CdfTable],
    streams: &[&[u8]],
    indexes: &[&[u16]],
    backend: Backend,
) -> Result<Vec<Vec<i32>>, CoderError> {
    if streams.len() != indexes.len() {
        return Err(CoderError::ChunkCountMismatch {
            streams: streams.len(),
            expected: indexes.len(),
        });
    }
    streams
        .par_iter()
        .zip(indexes.par_iter())
        .map(|(&bytes, &idx)| decode_chunk(tables, bytes, idx, backend))
        .collect()
}

/// Information content `-Σ log2 p` in bits of `symbols` under the integer tables, escape bits
/// included: the size an ideal entropy coder would reach.
pub fn ideal_bits(
    tables: &[CdfTable],
    symbols: &[i32],
    indexes: &[u16],
) -> Result<f64, CoderError> {
    check_chunk(tables, symbols, indexes)?;
    let mut ops = [Op::Table(0); 4];
    let mut bits = 0.0f64;
    let total = f64::from(TOTAL);
    for (&v, &k) in symbols.iter().zip(indexes) {
        let table = &tables[usize::from(k)];
        let n = symbol_ops(table, v, &mut ops);
        for op in &ops[..n] {
            bits += match *op {
                Op::Table(s) => (total / f64::from(table.prob(s))).log2(),
                Op::Uniform { range, .. } => (range as f64).log2(),
            };
        }
    }
    Ok(bits)
}
