//! Throughput of the entropy coder: Gaussian (scale-table) and factorized coding, ANS vs range
//! coder, 1 vs 2 rayon threads over 16 chunks.
//!
//! Run: `cargo bench -p lic --bench coder`.
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use lic::coder::{
    decode_chunks, encode_chunks, gaussian_tables, quantize, Backend, CdfTable, FactorizedCoder,
    FactorizedTables,
};
use std::time::Duration;

const N: usize = 1 << 20;
const CHUNKS: usize = 16;

/// xorshift64* uniform in [0, 1).
fn uniform(state: &mut u64) -> f64 {
    *state ^= *state >> 12;
    *state ^= *state << 25;
    *state ^= *state >> 27;
    (state.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
}

fn normal(state: &mut u64) -> f64 {
    let u = uniform(state).max(1e-300);
    (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * uniform(state)).cos()
}

/// Synthetic latents: means in ±10, scales log-uniform in 0.11..20.
fn gaussian_data() -> (Vec<i32>, Vec<u16>) {
    let mut s = 0x1234_5678_9abc_def1;
    (0..N)
        .map(|_| {
            let sigma = (0.11f64.ln() + uniform(&mut s) * (20f64 / 0.11).ln()).exp();
            let mu = (uniform(&mut s) - 0.5) * 20.0;
            let y = mu + sigma * normal(&mut s);
            quantize(y as f32, mu as f32, sigma as f32)
        })
        .unzip()
}

/// 32 channels of discretized Gaussians (σ from 0.3 to 6), channel-major.
fn factorized_data() -> (FactorizedCoder, Vec<i32>, Vec<u16>) {
    let pmfs: Vec<Vec<f64>> = (0..32)
        .map(|c| {
            let sd = 0.3 + c as f64 * 0.18;
            (-40..=40)
                .map(|i: i32| (-(f64::from(i) / sd).powi(2) / 2.0).exp())
                .collect()
        })
        .map(|w: Vec<f64>| {
            let s: f64 = w.iter().sum();
            w.iter().map(|x| x / s * (1.0 - 1e-9)).collect()
        })
        .collect();
    let coder =
        FactorizedCoder::new(&FactorizedTables::from_pmfs(&pmfs, &[-40; 32]).unwrap()).unwrap();
    let mut s = 42u64;
    let (sym, ch) = (0..N)
        .map(|i| {
            let c = (i * 32 / N) as u16;
            let sd = 0.3 + f64::from(c) * 0.18;
            ((sd * normal(&mut s)).round() as i32, c)
        })
        .unzip();
    (coder, sym, ch)
}

fn bench_set(c: &mut Criterion, name: &str, tables: &[CdfTable], symbols: &[i32], indexes: &[u16]) {
    let step = N / CHUNKS;
    let chunks: Vec<(&[i32], &[u16])> = (0..CHUNKS)
        .map(|i| {
            (
                &symbols[i * step..(i + 1) * step],
                &indexes[i * step..(i + 1) * step],
            )
        })
        .collect();
    let idx: Vec<&[u16]> = chunks.iter().map(|c| c.1).collect();
    let mut group = c.benchmark_group(name);
    group.throughput(Throughput::Elements(N as u64));
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(3));
    group.warm_up_time(Duration::from_millis(500));
    for backend in [Backend::Ans, Backend::Range] {
        let streams = encode_chunks(tables, &chunks, backend).unwrap();
        let bytes: usize = streams.iter().map(Vec::len).sum();
        eprintln!(
            "{name} {backend:?}: {:.4} bits/symbol",
            8.0 * bytes as f64 / N as f64
        );
        let refs: Vec<&[u8]> = streams.iter().map(Vec::as_slice).collect();
        for threads in [1, 2] {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            let id = format!("{backend:?}/{threads}t");
            group.bench_function(BenchmarkId::new("encode", &id), |b| {
                b.iter(|| pool.install(|| encode_chunks(tables, &chunks, backend).unwrap()))
            });
            group.bench_function(BenchmarkId::new("decode", &id), |b| {
                b.iter(|| pool.install(|| decode_chunks(tables, &refs, &idx, backend).unwrap()))
            });
        }
    }
    group.finish();
}

fn gaussian(c: &mut Criterion) {
    let (symbols, indexes) = gaussian_data();
    bench_set(c, "gaussian", gaussian_tables(), &symbols, &indexes);
}

fn factorized(c: &mut Criterion) {
    let (coder, symbols, channels) = factorized_data();
    bench_set(c, "factorized", coder.models(), &symbols, &channels);
}

criterion_group!(benches, gaussian, factorized);
criterion_main!(benches);
