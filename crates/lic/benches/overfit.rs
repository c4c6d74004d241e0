//! Time per training iteration of the overfitted codec (`lic-overfit`) on a 768×512 Kodak
//! image (or a synthetic one of that size when the dataset is absent), whole step and its two
//! passes, plus the integer decoder. Threads: rayon's default (set `RAYON_NUM_THREADS=2` to
//! match the project's 2-thread figures); ISA: the best available (`LIC_OVERFIT_ISA=avx2|base`
//! to compare).
use criterion::{criterion_group, criterion_main, Criterion};

use lic::overfit::model::Model;
use lic::overfit::train::default_arch;
use lic::overfit::{self, EncodeOptions};

fn image() -> (u32, u32, Vec<u8>) {
    let p = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
        .join("../shared/datasets/kodak/kodim01.png");
    if let Ok(l) = lic::io::image::load(&p, &Default::default()) {
        return (l.image.width, l.image.height, l.image.data);
    }
    let (w, h) = (768u32, 512u32);
    let data = (0..w * h * 3)
        .map(|i| ((i * 2654435761u32) >> 24) as u8)
        .collect();
    (w, h, data)
}

fn bench(c: &mut Criterion) {
    let (w, h, rgb) = image();
    let m = Model::new(default_arch(4.0), w as usize, h as usize, &rgb);
    let mut sb = m.step_bench();
    let mut g = c.benchmark_group("overfit");
    g.sample_size(10);
    g.bench_function("train_step_768x512", |b| b.iter(|| sb.run(&m)));
    g.finish();
    // Where a step's time goes, per kernel variant (same run, so the ratios hold under load).
    let n = 10.0;
    for isa in overfit::simd::available() {
        overfit::simd::set_isa(Some(isa));
        sb.scratch.timing = [0.0; 2];
        let t = std::time::Instant::now();
        for _ in 0..n as usize {
            sb.run(&m);
        }
        eprintln!(
            "{isa:?}: {:.1} ms/step: ARM pass {:.1} ms, synthesis pass {:.1} ms",
            t.elapsed().as_secs_f64() * 1e3 / n,
            sb.scratch.timing[0] * 1e3 / n,
            sb.scratch.timing[1] * 1e3 / n
        );
    }
    overfit::simd::set_isa(None);
    // The integer decoder on a short fit of a crop (the stream's content matters little).
    let (cw, ch) = (256u32, 256u32);
    let crop: Vec<u8> = (0..ch)
        .flat_map(|y| {
            let row = (y * w * 3) as usize;
            rgb[row..row + (cw * 3) as usize].to_vec()
        })
        .collect();
    let opts = EncodeOptions {
        iterations: Some((20, 5)),
        ..Default::default()
    };
    let e = overfit::encode(&crop, cw, ch, false, &opts, &mut |_| {}).unwrap();
    let mut g = c.benchmark_group("overfit");
    g.sample_size(10);
    g.bench_function("decode_256x256", |b| {
        b.iter(|| overfit::decode(&e.bytes, u64::MAX).unwrap())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
