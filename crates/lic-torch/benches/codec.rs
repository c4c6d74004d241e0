//! Encode and decode time of the default model on a 256x256 picture, with 1 and 2 libtorch
//! threads. Run: `cargo bench --bench codec` (needs models/ with the default model).
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use lic::io::image::Image;
use lic_torch::codec::{self, CodecModel, EncodeOptions, DEFAULT_MODEL};
use std::time::Duration;

fn picture(w: u32, h: u32) -> Image {
    let data = (0..w * h)
        .flat_map(|i| {
            let (x, y) = (i % w, i / w);
            [
                (x * 255 / w) as u8,
                (y * 255 / h) as u8,
                ((x ^ y) & 255) as u8,
            ]
        })
        .collect();
    Image::new(w, h, data)
}

fn bench(c: &mut Criterion) {
    let path = CodecModel::find(DEFAULT_MODEL).expect("default model");
    let model = CodecModel::load(&path, tch::Device::Cpu).expect("load model");
    let img = picture(256, 256);
    let opts = EncodeOptions::default();
    let bytes = codec::encode(&img, &model, &opts).expect("encode").bytes;
    let mut g = c.benchmark_group("codec_256x256");
    g.throughput(Throughput::Elements(img.pixels()));
    g.measurement_time(Duration::from_secs(10)).sample_size(10);
    for threads in [1, 2] {
        tch::set_num_threads(threads);
        g.bench_with_input(BenchmarkId::new("encode", threads), &img, |b, img| {
            b.iter(|| codec::encode(img, &model, &opts).expect("encode"))
        });
        g.bench_with_input(BenchmarkId::new("decode", threads), &bytes, |b, bytes| {
            b.iter(|| codec::decode(bytes, &model).expect("decode"))
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
