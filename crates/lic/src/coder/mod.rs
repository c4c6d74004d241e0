//! Libtorch-free entropy coding of integer symbols.
//!
//! Design:
//! - Every probability model is an integer [`CdfTable`] (24-bit fixed point, every symbol
//!   nonzero, exact sum), with escape symbols at both ends so that any `i32` round-trips
//!   ([`table`], [`stream`]).
//! - Latents `y` use the CompressAI-style [`gaussian`] conditional: the caller turns
//!   `(y, μ, σ)` into `(round(y − μ), scale index)` with [`quantize`], the only float → integer
//!   step; the 64 tables are built deterministically from constants.
//! - The hyper-latent `z` uses [`factorized`] per-channel tables, shipped as integers with the
//!   model.
//! - Symbols are coded in independent chunks (one byte stream each) in parallel with rayon;
//!   constriction provides the ANS and range coders ([`Backend`]). Decoding untrusted bytes never
//!   panics: malformed input yields a [`CoderError`].
//! - [`ideal_bits`] gives the information content under the same integer tables, to report the
//!   rate estimate next to the real size.
pub mod factorized;
pub mod gaussian;
pub mod stream;
pub mod table;

pub use factorized::{ChannelTable, FactorizedCoder, FactorizedTables};
pub use gaussian::{
    decode_gaussian_chunks, encode_gaussian_chunks, gaussian_ideal_bits, gaussian_tables, quantize,
    quantize_symbol, scale_index, scale_table,
};
pub use stream::{
    decode_chunk, decode_chunks, encode_chunk, encode_chunks, ideal_bits, Backend, Chunk,
    DEFAULT_BACKEND,
};
pub use table::{quantize_pmf, CdfTable, PRECISION};

/// Errors of the entropy coder.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CoderError {
    /// A probability table is malformed.
    #[error("invalid probability table: {0}")]
    InvalidTable(String),
    /// A chunk has a different number of symbols and table indexes.
    #[error("chunk has {symbols} symbols but {indexes} table indexes")]
    LengthMismatch {
        /// Number of symbols.
        symbols: usize,
        /// Number of table indexes.
        indexes: usize,
    },
    /// A table index is not below the number of tables.
    #[error("table index {index} out of range ({tables} tables)")]
    IndexOutOfRange {
        /// The offending index.
        index: u16,
        /// Number of tables.
        tables: usize,
    },
    /// The number of byte streams differs from the number of chunks expected.
    #[error("{streams} substreams but {expected} chunks expected")]
    ChunkCountMismatch {
        /// Streams given.
        streams: usize,
        /// Chunks expected.
        expected: usize,
    },
    /// A byte stream is not a whole number of 32-bit words.
    #[error("stream length {0} is not a multiple of 4 bytes")]
    MisalignedStream(usize),
    /// The stream does not decode (invalid data or an impossible state).
    #[error("corrupt entropy-coded stream")]
    Corrupt,
    /// An escaped value decodes outside the `i32` range.
    #[error("escaped value outside the i32 range (corrupt stream)")]
    EscapeOutOfRange,
    /// Data remains after the expected number of symbols.
    #[error("stream not fully consumed after the expected number of symbols")]
    TrailingData,
    /// A decoded value is outside its valid range.
    #[error("decoded {0} (corrupt stream)")]
    OutOfRange(String),
    /// The encoder rejected a symbol (cannot happen with validated tables).
    #[error("encoder error: {0}")]
    Encode(String),
}
