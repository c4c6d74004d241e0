//! Decoding harness shared by the `decode_container` fuzz target and
//! `tests/fuzz_regressions.rs`, so that a crash input replays the exact same code path.
//!
//! The container's parameter blob drives the coder:
//! `[flags: u8][seed: u8][symbol count of each substream: u16 LE …][factorized tables …]`
//! - flags bit 0: factorized coder (else Gaussian), bit 1: range backend (else ANS),
//!   bit 2: factorized tables read from the rest of the blob (else built-in tables);
//! - a missing count means 0; counts are capped at [`MAX_SYMBOLS`];
//! - the table index of symbol `j` of substream `i` is `(seed + 7 j + i) % tables`.
//!
//! When a stream decodes, its symbols are re-encoded and decoded again, and must round-trip.
//! Since random mutations almost never keep the CRCs right, [`run_fuzz`] also runs the input
//! with its CRCs repaired ([`repair_crcs`]), so the coder sees mutated payloads too.
#![allow(dead_code)]
use lic::coder::{self, Backend, CdfTable, FactorizedCoder, FactorizedTables};
use lic::format::{Container, Header, StreamKind};

/// Largest number of symbols decoded per substream.
pub const MAX_SYMBOLS: usize = 4096;

/// Built-in factorized tables: 4 channels of different widths.
pub fn default_tables() -> FactorizedTables {
    let pmfs: Vec<Vec<f64>> = (1..=4)
        .map(|c| {
            (-8..=8)
                .map(|i: i32| 1.0 / (1.0 + f64::from(i * i) / f64::from(c)))
                .collect()
        })
        .map(|w: Vec<f64>| {
            let s: f64 = w.iter().sum::<f64>() * 1.001;
            w.iter().map(|x| x / s).collect()
        })
        .collect();
    FactorizedTables::from_pmfs(&pmfs, &[-8, -8, -7, 0]).expect("valid built-in tables")
}

/// Table indexes of substream `chunk` with `count` symbols.
pub fn plan_indexes(seed: u8, chunk: usize, count: usize, tables: usize) -> Vec<u16> {
    (0..count)
        .map(|j| ((usize::from(seed) + 7 * j + chunk) % tables) as u16)
        .collect()
}

/// Parses `data` as a container and decodes its substreams as the blob says; returns the number
/// of symbols decoded, or `None` if parsing or decoding failed. Never panics unless a decoded
/// stream fails to round-trip (a coder bug).
pub fn run(data: &[u8]) -> Option<usize> {
    let c = Container::parse(data).ok()?;
    let blob = &c.header.params;
    let flags = blob.first().copied().unwrap_or(0);
    let seed = blob.get(1).copied().unwrap_or(0);
    let n = c.substreams.len();
    let counts: Vec<usize> = (0..n)
        .map(|i| match blob.get(2 + 2 * i..4 + 2 * i) {
            Some(b) => usize::from(u16::from_le_bytes([b[0], b[1]])).min(MAX_SYMBOLS),
            None => 0,
        })
        .collect();
    let backend = if flags & 2 != 0 {
        Backend::Range
    } else {
        Backend::Ans
    };
    let models: Vec<CdfTable> = if flags & 1 == 0 {
        coder::gaussian_tables().to_vec()
    } else {
        let tables = if flags & 4 != 0 {
            FactorizedTables::from_bytes(blob.get(2 + 2 * n..).unwrap_or(&[])).ok()?
        } else {
            default_tables()
        };
        FactorizedCoder::new(&tables).ok()?.models().to_vec()
    };
    let indexes: Vec<Vec<u16>> = counts
        .iter()
        .enumerate()
        .map(|(i, &k)| plan_indexes(seed, i, k, models.len()))
        .collect();
    let streams: Vec<&[u8]> = c.substreams.iter().map(Vec::as_slice).collect();
    let idx: Vec<&[u16]> = indexes.iter().map(Vec::as_slice).collect();
    let decoded = coder::decode_chunks(&models, &streams, &idx, backend).ok()?;
    let chunks: Vec<(&[i32], &[u16])> = decoded
        .iter()
        .zip(&idx)
        .map(|(s, &i)| (s.as_slice(), i))
        .collect();
    let again = coder::encode_chunks(&models, &chunks, backend).expect("re-encoding succeeds");
    let again: Vec<&[u8]> = again.iter().map(Vec::as_slice).collect();
    let twice = coder::decode_chunks(&models, &again, &idx, backend).expect("re-decoding succeeds");
    assert_eq!(twice, decoded, "decoded symbols do not round-trip");
    coder::ideal_bits(&models, &decoded.concat(), &idx.concat()).expect("valid indexes");
    Some(decoded.iter().map(Vec::len).sum())
}

/// Recomputes the substream and header CRCs of a container-shaped input in place (`None` if it
/// is too short to hold them). Follows the layout of `docs/format.md`.
pub fn repair_crcs(data: &[u8]) -> Option<Vec<u8>> {
    let mut d = data.to_vec();
    let u32_at = |d: &[u8], p: usize| -> Option<u32> {
        Some(u32::from_le_bytes(d.get(p..p + 4)?.try_into().ok()?))
    };
    let id_len = usize::from(*d.get(9)?);
    let params_len_at = 10 + id_len + 16 + 20;
    let params_len = u32_at(&d, params_len_at)? as usize;
    let count_at = params_len_at + 4 + params_len;
    let count = u32_at(&d, count_at)? as usize;
    let table_at = count_at + 4;
    let crc_at = table_at.checked_add(count.checked_mul(8)?)?;
    if crc_at + 4 > d.len() {
        return None;
    }
    let mut pos = crc_at + 4;
    for i in 0..count {
        let len = u32_at(&d, table_at + 8 * i)? as usize;
        let end = pos.checked_add(len)?.min(d.len());
        let crc = crc32fast::hash(&d[pos..end]);
        d[table_at + 8 * i + 4..table_at + 8 * i + 8].copy_from_slice(&crc.to_le_bytes());
        pos = end;
    }
    let crc = crc32fast::hash(&d[..crc_at]);
    d[crc_at..crc_at + 4].copy_from_slice(&crc.to_le_bytes());
    Some(d)
}

/// The fuzz target's body: the input as given, then with repaired CRCs.
pub fn run_fuzz(data: &[u8]) {
    run(data);
    if let Some(fixed) = repair_crcs(data) {
        run(&fixed);
    }
}

/// Builds a valid container whose blob makes [`run`] decode `chunks` (for seed files).
pub fn make_container(flags: u8, seed: u8, chunks: &[Vec<i32>]) -> Vec<u8> {
    let tables = default_tables();
    let models: Vec<CdfTable> = if flags & 1 == 0 {
        coder::gaussian_tables().to_vec()
    } else {
        FactorizedCoder::new(&tables).unwrap().models().to_vec()
    };
    let backend = if flags & 2 != 0 {
        Backend::Range
    } else {
        Backend::Ans
    };
    let indexes: Vec<Vec<u16>> = chunks
        .iter()
        .enumerate()
        .map(|(i, s)| plan_indexes(seed, i, s.len(), models.len()))
        .collect();
    let pairs: Vec<(&[i32], &[u16])> = chunks
        .iter()
        .zip(&indexes)
        .map(|(s, i)| (s.as_slice(), i.as_slice()))
        .collect();
    let substreams = coder::encode_chunks(&models, &pairs, backend).unwrap();
    let mut params = vec![flags, seed];
    for s in chunks {
        params.extend_from_slice(&(s.len() as u16).to_le_bytes());
    }
    if flags & 4 != 0 {
        params.extend_from_slice(&tables.to_bytes());
    }
    let header = Header {
        kind: StreamKind::Image,
        model_id: "fuzz".into(),
        weights_hash: [0; 16],
        width: 64,
        height: 48,
        gray: flags & 8 != 0,
        bit_depth: 8,
        quality: 1.0,
        tile_width: 0,
        tile_height: 0,
        params,
    };
    Container { header, substreams }.to_bytes().unwrap()
}

/// Parses `data` as a `.licv` video stream and reads every frame chunk, as `lic video decode`
/// does before any model runs; returns (frames read, frames rejected), or `None` if the header
/// is rejected. Never panics unless the container breaks a round trip: the header must
/// re-serialize to the bytes it was read from, and the frames read must re-serialize to a stream
/// that parses back to the same chunks.
pub fn run_video(data: &[u8]) -> Option<(usize, usize)> {
    use lic::format::video::{parse_video, stream_bytes};
    let limits = lic::format::Limits::default();
    let (header, frames) = parse_video(data, &limits).ok()?;
    let head = header.to_bytes().expect("a parsed header re-serializes");
    assert_eq!(head[..], data[..head.len()], "header round trip");
    let mut good = Vec::new();
    let mut bad = 0;
    for f in frames {
        match f {
            Ok(chunk) => {
                assert!(
                    chunk.coded_len() <= data.len(),
                    "chunk larger than its input"
                );
                good.push(chunk);
            }
            Err(_) => bad += 1,
        }
    }
    assert!(
        good.len() + bad <= header.frames as usize,
        "more frames than the header says"
    );
    let again = lic::format::video::VideoHeader {
        frames: good.len() as u32,
        ..header
    };
    let bytes = stream_bytes(&again, &good).expect("frames read re-serialize");
    let (_, reread) = parse_video(&bytes, &limits).expect("a re-serialized stream parses");
    let reread: Vec<_> = reread.map(|f| f.expect("re-serialized frame")).collect();
    assert_eq!(reread, good, "frame round trip");
    Some((good.len(), bad))
}

/// Recomputes the header CRC and every frame CRC of a `.licv`-shaped input (`None` if it is too
/// short to hold a header). Follows the layout of `docs/format.md`; stops at the first chunk
/// whose substream count is invalid.
pub fn repair_video_crcs(data: &[u8]) -> Option<Vec<u8>> {
    let mut d = data.to_vec();
    let len = u32::from_le_bytes(d.get(6..10)?.try_into().ok()?) as usize;
    let crc_at = 10usize.checked_add(len)?;
    if crc_at.checked_add(4)? > d.len() {
        return None;
    }
    let crc = crc32fast::hash(&d[..crc_at]);
    d[crc_at..crc_at + 4].copy_from_slice(&crc.to_le_bytes());
    let mut pos = crc_at + 4;
    while pos + 2 <= d.len() {
        let n = usize::from(d[pos + 1]);
        if n == 0 || n > 16 {
            break;
        }
        let head_end = pos + 2 + 4 * n;
        if head_end + 4 > d.len() {
            break;
        }
        let mut total = 0usize;
        for i in 0..n {
            let at = pos + 2 + 4 * i;
            total =
                total.saturating_add(u32::from_le_bytes(d[at..at + 4].try_into().ok()?) as usize);
        }
        let payload = head_end + 4;
        let end = payload.saturating_add(total).min(d.len());
        let mut h = crc32fast::Hasher::new();
        h.update(&d[pos..head_end]);
        h.update(&d[payload..end]);
        d[head_end..head_end + 4].copy_from_slice(&h.finalize().to_le_bytes());
        pos = end;
    }
    Some(d)
}

/// The `parse_video` fuzz target's body: the input as given, then with repaired CRCs.
pub fn run_video_fuzz(data: &[u8]) {
    run_video(data);
    if let Some(fixed) = repair_video_crcs(data) {
        run_video(&fixed);
    }
}
