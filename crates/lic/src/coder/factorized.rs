//! Factorized prior coding for the hyper-latent `z`: one fixed integer table per channel.
//!
//! The learned per-channel pmfs are quantized once, at model-export time, with
//! [`FactorizedTables::from_pmfs`]; the integers are stored with the model and are all the
//! decoder needs. Tables read from files are untrusted: [`FactorizedTables::from_bytes`] and
//! [`FactorizedCoder::new`] validate them and return a typed error instead of panicking.
use super::stream::{self, Chunk, DEFAULT_BACKEND};
use super::table::{quantize_pmf, CdfTable, MAX_ALPHABET};
use super::CoderError;

/// Most channels a factorized table set may have.
pub const MAX_CHANNELS: usize = 1 << 14;

/// Integer model of one channel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChannelTable {
    /// Value of the first in-range symbol, whose probability is `probs[1]`.
    pub offset: i32,
    /// Fixed-point probabilities `[escape_low, p(offset), p(offset + 1), …, escape_high]`, all
    /// nonzero, summing to `1 << PRECISION`.
    pub probs: Vec<u32>,
}

/// Integer models of all channels of a factorized prior.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct FactorizedTables {
    /// One table per channel.
    pub channels: Vec<ChannelTable>,
}

impl FactorizedTables {
    /// Quantizes float pmfs: `pmfs[c][i]` is the probability of value `offsets[c] + i` in
    /// channel `c`; each escape entry gets half of the missing mass `1 − Σ pmfs[c]` (at least one
    /// count). Deterministic (see [`quantize_pmf`]); used at model-export time.
    pub fn from_pmfs(pmfs: &[Vec<f64>], offsets: &[i32]) -> Result<Self, CoderError> {
        if pmfs.len() != offsets.len() {
            return Err(CoderError::InvalidTable(format!(
                "{} pmfs but {} offsets",
                pmfs.len(),
                offsets.len()
            )));
        }
        let channels = pmfs
            .iter()
            .zip(offsets)
            .map(|(pmf, &offset)| {
                let sum: f64 = pmf.iter().sum();
                let tail = if sum.is_finite() {
                    ((1.0 - sum) * 0.5).max(0.0)
                } else {
                    0.0
                };
                let weights: Vec<f64> = std::iter::once(tail)
                    .chain(pmf.iter().copied())
                    .chain(std::iter::once(tail))
                    .collect();
                Ok(ChannelTable {
                    offset,
                    probs: quantize_pmf(&weights)?,
                })
            })
            .collect::<Result<Vec<_>, CoderError>>()?;
        let tables = Self { channels };
        tables.validate()?;
        Ok(tables)
    }

    /// Checks every channel (count, alphabet sizes, nonzero probabilities, exact sums, offsets).
    pub fn validate(&self) -> Result<(), CoderError> {
        self.models().map(|_| ())
    }

    fn models(&self) -> Result<Vec<CdfTable>, CoderError> {
        if self.channels.is_empty() || self.channels.len() > MAX_CHANNELS {
            return Err(CoderError::InvalidTable(format!(
                "{} channels, expected 1..={MAX_CHANNELS}",
                self.channels.len()
            )));
        }
        self.channels
            .iter()
            .enumerate()
            .map(|(c, ch)| {
                CdfTable::from_probs(ch.offset, &ch.probs).map_err(|e| match e {
                    CoderError::InvalidTable(m) => {
                        CoderError::InvalidTable(format!("channel {c}: {m}"))
                    }
                    other => other,
                })
            })
            .collect()
    }

    /// Serializes as little-endian: `u32` channel count, then per channel `i32` offset, `u32`
    /// entry count and the `u32` probabilities.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&(self.channels.len() as u32).to_le_bytes());
        for ch in &self.channels {
            out.extend_from_slice(&ch.offset.to_le_bytes());
            out.extend_from_slice(&(ch.probs.len() as u32).to_le_bytes());
            for p in &ch.probs {
                out.extend_from_slice(&p.to_le_bytes());
            }
        }
        out
    }

    /// Parses and validates the [`to_bytes`](Self::to_bytes) layout (untrusted input).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CoderError> {
        let mut pos = 0usize;
        let mut next = |what: &str| -> Result<u32, CoderError> {
            let b = bytes
                .get(pos..pos + 4)
                .ok_or_else(|| CoderError::InvalidTable(format!("truncated at {what}")))?;
            pos += 4;
            Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        };
        let count = next("channel count")? as usize;
        if count == 0 || count > MAX_CHANNELS {
            return Err(CoderError::InvalidTable(format!(
                "{count} channels, expected 1..={MAX_CHANNELS}"
            )));
        }
        let mut channels = Vec::with_capacity(count);
        for _ in 0..count {
            let offset = next("offset")? as i32;
            let n = next("entry count")? as usize;
            if !(3..=MAX_ALPHABET).contains(&n) {
                return Err(CoderError::InvalidTable(format!(
                    "alphabet size {n} not in 3..={MAX_ALPHABET}"
                )));
            }
            let probs = (0..n)
                .map(|_| next("probabilities"))
                .collect::<Result<Vec<_>, _>>()?;
            channels.push(ChannelTable { offset, probs });
        }
        if pos != bytes.len() {
            return Err(CoderError::InvalidTable(format!(
                "{} trailing bytes",
                bytes.len() - pos
            )));
        }
        let tables = Self { channels };
        tables.validate()?;
        Ok(tables)
    }
}

/// Validated, decoding-ready factorized models (`chunk indexes` are channel numbers).
#[derive(Clone, Debug)]
pub struct FactorizedCoder {
    models: Vec<CdfTable>,
}

impl FactorizedCoder {
    /// Validates the integer tables and prepares their lookup structures.
    pub fn new(tables: &FactorizedTables) -> Result<Self, CoderError> {
        Ok(Self {
            models: tables.models()?,
        })
    }

    /// The per-channel models.
    pub fn models(&self) -> &[CdfTable] {
        &self.models
    }

    /// Encodes chunks of `(symbols, channel of each symbol)` in parallel.
    pub fn encode_chunks(&self, chunks: &[Chunk<'_>]) -> Result<Vec<Vec<u8>>, CoderError> {
        stream::encode_chunks(&self.models, chunks, DEFAULT_BACKEND)
    }

    /// Decodes chunks in parallel; `channels[i]` holds the channel of each symbol of chunk `i`.
    pub fn decode_chunks(
        &self,
        streams: &[&[u8]],
        channels: &[&[u16]],
    ) -> Result<Vec<Vec<i32>>, CoderError> {
        stream::decode_chunks(&self.models, streams, channels, DEFAULT_BACKEND)
    }

    /// Ideal code length `-Σ log2 p` in bits of `symbols` under these tables.
    pub fn ideal_bits(&self, symbols: &[i32], channels: &[u16]) -> Result<f64, CoderError> {
        stream::ideal_bits(&self.models, symbols, channels)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_round_trip_and_rejects_garbage() {
        let t =
            FactorizedTables::from_pmfs(&[vec![0.2, 0.5, 0.2], vec![0.9, 0.05]], &[-1, 0]).unwrap();
        let b = t.to_bytes();
        assert_eq!(FactorizedTables::from_bytes(&b).unwrap(), t);
        for len in 0..b.len() {
            assert!(FactorizedTables::from_bytes(&b[..len]).is_err());
        }
        let mut bad = b.clone();
        bad[12] ^= 1; // first probability of channel 0: sum no longer exact
        assert!(FactorizedTables::from_bytes(&bad).is_err());
        assert!(FactorizedTables::from_pmfs(&[vec![f64::NAN]], &[0]).is_err());
        assert!(FactorizedTables::from_pmfs(&[vec![1.0]], &[0, 1]).is_err());
    }
}
