//! Round-trip, rate, error and determinism tests of the libtorch-free entropy coder.
use lic::coder::{
    self, decode_chunks, encode_chunks, gaussian_tables, quantize, quantize_pmf, Backend,
    CoderError, FactorizedCoder, FactorizedTables,
};
use proptest::prelude::*;
use sha2::{Digest, Sha256};

const BACKENDS: [Backend; 2] = [Backend::Ans, Backend::Range];

/// Small deterministic PRNG (xorshift64*) with a Box–Muller normal sampler.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn uniform(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn normal(&mut self) -> f64 {
        let u = self.uniform().max(1e-300);
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * self.uniform()).cos()
    }
}

/// Splits `len` items into chunks at the given (unsorted, arbitrary) cut points.
fn cuts(len: usize, raw: &[usize]) -> Vec<(usize, usize)> {
    let mut c: Vec<usize> = raw.iter().map(|&x| x % (len + 1)).collect();
    c.push(0);
    c.push(len);
    c.sort_unstable();
    c.windows(2).map(|w| (w[0], w[1])).collect()
}

fn round_trip(tables: &[coder::CdfTable], symbols: &[i32], indexes: &[u16], raw_cuts: &[usize]) {
    let parts = cuts(symbols.len(), raw_cuts);
    let chunks: Vec<_> = parts
        .iter()
        .map(|&(a, b)| (&symbols[a..b], &indexes[a..b]))
        .collect();
    let idx: Vec<&[u16]> = parts.iter().map(|&(a, b)| &indexes[a..b]).collect();
    for backend in BACKENDS {
        let streams = encode_chunks(tables, &chunks, backend).unwrap();
        assert!(streams.iter().all(|s| s.len() % 4 == 0));
        let refs: Vec<&[u8]> = streams.iter().map(Vec::as_slice).collect();
        let decoded = decode_chunks(tables, &refs, &idx, backend).unwrap();
        let flat: Vec<i32> = decoded.concat();
        assert_eq!(flat, symbols, "{backend:?}");
    }
}

fn any_symbol() -> impl Strategy<Value = i32> {
    prop_oneof![
        4 => -40i32..40,
        1 => any::<i32>(),
        1 => prop_oneof![Just(i32::MIN), Just(i32::MAX), Just(i32::MIN + 1), Just(i32::MAX - 1)],
    ]
}

fn any_float() -> impl Strategy<Value = f32> {
    prop_oneof![
        8 => -300.0f32..300.0,
        1 => any::<f32>(),
        1 => prop_oneof![Just(f32::NAN), Just(f32::INFINITY), Just(f32::NEG_INFINITY), Just(0.0)],
    ]
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 200,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn gaussian_round_trip(
        latents in prop::collection::vec((any_float(), any_float(), 0.0f32..400.0), 0..600),
        extra in prop::collection::vec((any_symbol(), 0u16..64), 0..100),
        raw_cuts in prop::collection::vec(any::<usize>(), 0..5),
    ) {
        let (mut symbols, mut indexes): (Vec<i32>, Vec<u16>) =
            latents.iter().map(|&(y, mu, s)| quantize(y, mu, s)).unzip();
        for (s, k) in extra {
            symbols.push(s);
            indexes.push(k);
        }
        round_trip(gaussian_tables(), &symbols, &indexes, &raw_cuts);
    }

    #[test]
    fn factorized_round_trip(
        channels in prop::collection::vec(
            (prop::collection::vec(0u32..1000, 1..40), any::<i32>()), 1..6),
        symbols in prop::collection::vec((any_symbol(), any::<u16>()), 0..600),
        raw_cuts in prop::collection::vec(any::<usize>(), 0..5),
    ) {
        let tables = FactorizedTables {
            channels: channels.iter().map(|(w, offset)| {
                let w: Vec<f64> = w.iter().map(|&x| f64::from(x)).collect();
                let probs = quantize_pmf(&w).unwrap();
                // Keep the last in-range value inside i32.
                let max_offset = i32::MAX - (probs.len() as i32 - 3);
                coder::ChannelTable { offset: (*offset).min(max_offset), probs }
            }).filter(|c| c.probs.len() >= 3).collect(),
        };
        prop_assume!(!tables.channels.is_empty());
        let coder = FactorizedCoder::new(&tables).unwrap();
        let n = tables.channels.len() as u16;
        let (syms, idx): (Vec<i32>, Vec<u16>) = symbols
            .iter()
            .map(|&(s, c)| {
                let c = c % n;
                // Half of the symbols near the channel's range, half arbitrary.
                let ch = &tables.channels[c as usize];
                let near = ch.offset.saturating_add(s % 50);
                (if s % 2 == 0 { near } else { s }, c)
            })
            .unzip();
        round_trip(coder.models(), &syms, &idx, &raw_cuts);
        // The public wrappers agree with the generic path.
        let streams = coder.encode_chunks(&[(&syms, &idx)]).unwrap();
        let refs: Vec<&[u8]> = streams.iter().map(Vec::as_slice).collect();
        prop_assert_eq!(&coder.decode_chunks(&refs, &[&idx]).unwrap()[0], &syms);
    }
}

fn gaussian_sample(n: usize, seed: u64) -> (Vec<i32>, Vec<u16>) {
    let mut rng = Rng(seed);
    (0..n)
        .map(|_| {
            // Scales log-uniform in 0.05..60, means anywhere: only y - mu matters.
            let sigma = (0.05f64.ln() + rng.uniform() * (60f64 / 0.05).ln()).exp();
            let mu = (rng.uniform() - 0.5) * 20.0;
            let y = mu + sigma * rng.normal();
            quantize(y as f32, mu as f32, sigma as f32)
        })
        .unzip()
}

#[test]
fn gaussian_rate_matches_ideal() {
    let (symbols, indexes) = gaussian_sample(100_000, 7);
    let ideal = coder::gaussian_ideal_bits(&symbols, &indexes).unwrap();
    for backend in BACKENDS {
        let real = coder::encode_chunk(gaussian_tables(), &symbols, &indexes, backend).unwrap();
        let real_bits = 8.0 * real.len() as f64;
        eprintln!(
            "gaussian {backend:?}: ideal {:.0} bytes, real {} bytes ({:+.4}%), {:.4} bits/symbol",
            ideal / 8.0,
            real.len(),
            100.0 * (real_bits / ideal - 1.0),
            ideal / symbols.len() as f64
        );
        assert!(
            real_bits <= ideal * 1.01 + 64.0,
            "{backend:?}: {real_bits} vs {ideal}"
        );
        assert!(
            real_bits >= ideal - 64.0,
            "{backend:?}: {real_bits} vs {ideal}"
        );
    }
}

#[test]
fn factorized_rate_matches_ideal() {
    // 16 channels of discretized logistic-like pmfs with different widths and offsets.
    let pmfs: Vec<Vec<f64>> = (0..16)
        .map(|c| {
            let s = 0.3 + c as f64 * 0.5;
            (-30..=30)
                .map(|i| {
                    let f = |x: f64| 1.0 / (1.0 + (-x / s).exp());
                    f(i as f64 + 0.5) - f(i as f64 - 0.5)
                })
                .collect()
        })
        .collect();
    let offsets: Vec<i32> = (0..16).map(|c| -30 + c % 3).collect();
    let coder =
        FactorizedCoder::new(&FactorizedTables::from_pmfs(&pmfs, &offsets).unwrap()).unwrap();
    let mut rng = Rng(99);
    let (symbols, channels): (Vec<i32>, Vec<u16>) = (0..50_000)
        .map(|i| {
            let c = (i % 16) as u16;
            // Inverse-CDF sampling of the logistic (with rare outliers to exercise escapes).
            let s = 0.3 + f64::from(c) * 0.5;
            let u = rng.uniform().clamp(1e-12, 1.0 - 1e-12);
            let v = (s * (u / (1.0 - u)).ln()).round() as i32;
            (if i % 5000 == 0 { v * 1000 } else { v }, c)
        })
        .unzip();
    let ideal = coder.ideal_bits(&symbols, &channels).unwrap();
    let real = coder.encode_chunks(&[(&symbols, &channels)]).unwrap();
    let real_bits = 8.0 * real[0].len() as f64;
    eprintln!(
        "factorized: ideal {:.0} bytes, real {} bytes",
        ideal / 8.0,
        real[0].len()
    );
    assert!(real_bits <= ideal * 1.01 + 64.0 && real_bits >= ideal - 64.0);
}

#[test]
fn decode_errors_are_typed() {
    let (symbols, indexes) = gaussian_sample(5_000, 3);
    let t = gaussian_tables();
    for backend in BACKENDS {
        let s = coder::encode_chunk(t, &symbols, &indexes, backend).unwrap();
        assert_eq!(
            coder::decode_chunk(t, &s[..s.len() - 1], &indexes, backend),
            Err(CoderError::MisalignedStream(s.len() - 1))
        );
        let bad_index = [64u16];
        assert!(matches!(
            coder::decode_chunk(t, &s, &bad_index, backend),
            Err(CoderError::IndexOutOfRange { index: 64, .. })
        ));
        // Truncations and garbage never panic (they may or may not be detected here; the
        // container's CRCs catch them).
        for cut in (0..s.len()).step_by(4) {
            let _ = coder::decode_chunk(t, &s[..cut], &indexes, backend);
        }
        let garbage: Vec<u8> = (0..4000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        let _ = coder::decode_chunk(t, &garbage, &indexes, backend);
    }
    // ANS checks exact consumption: a wrong symbol count is an error.
    let s = coder::encode_chunk(t, &symbols, &indexes, Backend::Ans).unwrap();
    assert!(coder::decode_chunk(t, &s, &indexes[..indexes.len() - 1], Backend::Ans).is_err());
    let mut more = indexes.clone();
    more.push(10);
    assert!(coder::decode_chunk(t, &s, &more, Backend::Ans).is_err());
    assert!(coder::decode_chunk(t, &s[..s.len() - 4], &indexes, Backend::Ans).is_err());
    // Symbols that would be free for a plain ANS coder started at state 0 (escape-low with
    // magnitude 0 at the end of the chunk) still count.
    let lo = t[5].lo();
    let tail = [3, lo - 1, lo - 1, lo - 1];
    let idx = [5u16; 4];
    let s = coder::encode_chunk(t, &tail, &idx, Backend::Ans).unwrap();
    assert_eq!(
        coder::decode_chunk(t, &s, &idx, Backend::Ans).unwrap(),
        tail
    );
    for n in [0, 1, 2, 3, 5, 8] {
        assert!(
            coder::decode_chunk(t, &s, &[5u16; 8][..n], Backend::Ans).is_err(),
            "{n}"
        );
    }
    // Encoder-side validation.
    assert!(matches!(
        coder::encode_gaussian_chunks(&[(&[1, 2], &[0])]),
        Err(CoderError::LengthMismatch {
            symbols: 2,
            indexes: 1
        })
    ));
    assert!(matches!(
        coder::decode_gaussian_chunks(&[], &[&[0]]),
        Err(CoderError::ChunkCountMismatch {
            streams: 0,
            expected: 1
        })
    ));
}

#[test]
fn empty_chunks_round_trip() {
    let streams = coder::encode_gaussian_chunks(&[(&[], &[]), (&[5], &[3])]).unwrap();
    assert!(streams[0].is_empty());
    let refs: Vec<&[u8]> = streams.iter().map(Vec::as_slice).collect();
    let out = coder::decode_gaussian_chunks(&refs, &[&[], &[3]]).unwrap();
    assert_eq!(out, vec![vec![], vec![5]]);
}

/// Golden digest of every generated integer table. If this changes, the bitstream changed:
/// bump `lic::format::FORMAT_VERSION` and update the value.
#[test]
fn gaussian_tables_are_stable() {
    let mut h = Sha256::new();
    for &s in coder::scale_table() {
        h.update(s.to_bits().to_le_bytes());
    }
    for t in gaussian_tables() {
        h.update(t.lo().to_le_bytes());
        for c in t.cdf() {
            h.update(c.to_le_bytes());
        }
    }
    let digest: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(
        digest, GOLDEN_TABLES_SHA256,
        "table math changed: bump FORMAT_VERSION"
    );
    // Version 2 changed the entropy-parameter networks (integer), version 3 added the
    // lic-overfit family (its own Laplace tables, tests/overfit.rs), version 4 the lic-dwt
    // family (its own adaptive models, tests/dwt.rs); none changed these tables.
    assert_eq!(lic::format::FORMAT_VERSION, 4);
    // Spot checks that do not depend on the digest.
    let t = &gaussian_tables()[0];
    assert_eq!((t.lo(), t.hi()), (-1, 1));
    let last = &gaussian_tables()[63];
    assert_eq!((last.lo(), last.hi()), (-1664, 1664));
}

const GOLDEN_TABLES_SHA256: &str =
    "1fafd3b18ba17c0a0fed77f83000041ae1c8c143d81672dd4f4a52e38e5352cf";
