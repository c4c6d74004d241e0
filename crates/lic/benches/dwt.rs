//! Encode and decode time of the wavelet codec (`lic-dwt`) on a 768×512 Kodak image (kodim01,
//! or a synthetic one of that size when the dataset is absent) at qualities 4 and 8 (about 0.2
//! and 1 bpp). Single-threaded.
use criterion::{criterion_group, criterion_main, Criterion};

use lic::dwt::{self, EncodeOptions};
use lic::io::image::Image;

fn image() -> Image {
    let p = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
        .join("../shared/datasets/kodak/kodim01.png");
    if let Ok(l) = lic::io::image::load(&p, &Default::default()) {
        return l.image;
    }
    let (w, h) = (768u32, 512u32);
    let data = (0..w * h * 3)
        .map(|i| {
            let (x, y) = ((i / 3) % w, (i / 3) / w);
            ((x / 3 + y / 2 + (x * y) % 7 + (i % 3) * 40) % 256) as u8
        })
        .collect();
    Image::new(w, h, data)
}

fn bench(c: &mut Criterion) {
    let img = image();
    let mut g = c.benchmark_group("dwt");
    g.sample_size(10);
    for q in [4.0f32, 8.0] {
        let opts = EncodeOptions::new(q);
        let e = dwt::encode_image(&img, &opts).unwrap();
        eprintln!(
            "lic-dwt q{q}: {:.4} bpp",
            e.bytes.len() as f64 * 8.0 / img.pixels() as f64
        );
        g.bench_function(format!("encode_768x512_q{q}"), |b| {
            b.iter(|| dwt::encode_image(&img, &opts).unwrap())
        });
        g.bench_function(format!("decode_768x512_q{q}"), |b| {
            b.iter(|| dwt::decode(&e.bytes, dwt::DEFAULT_MAX_PIXELS).unwrap())
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
