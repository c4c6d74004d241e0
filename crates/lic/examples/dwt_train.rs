//! Trains the `lic-dwt` prior: `cargo run --release --example dwt_train -- OUT.safetensors
//! ROUNDS DIR [DIR ...]` (every PNG of the folders, or every EVERY-th, at qualities 1, 3, ..., 11).
use std::collections::HashMap;
use std::path::Path;

use lic::dwt::prior::{self, TrainImage};
use lic::io::image::{image_files, load, LoadOptions};

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let out = Path::new(&a[1]);
    let rounds: usize = a[2].parse().unwrap();
    let every: usize = std::env::var("EVERY").map_or(1, |v| v.parse().unwrap());
    let mut images = Vec::new();
    for d in &a[3..] {
        for f in image_files(Path::new(d), &["png"])
            .unwrap()
            .into_iter()
            .step_by(every)
        {
            let img = load(&f, &LoadOptions::default()).unwrap().image;
            images.push(TrainImage {
                data: img.data,
                width: img.width,
                height: img.height,
                gray: img.gray,
            });
        }
    }
    let px: f64 = images.iter().map(|i| f64::from(i.width * i.height)).sum();
    let qualities: Vec<f32> = (0..6).map(|k| 1.0 + 2.0 * k as f32).collect();
    eprintln!(
        "{} images, {:.1} Mpx, qualities {qualities:?}",
        images.len(),
        px / 1e6
    );
    let mut models = lic::dwt::code::Models::analytic();
    let t = std::time::Instant::now();
    for r in 0..rounds {
        let (next, bits) = prior::train_round(&images, &qualities, &models, 8.0).unwrap();
        eprintln!(
            "round {r}: {:.4} bpp per quality under the previous prior ({:.0} s)",
            bits / px / qualities.len() as f64,
            t.elapsed().as_secs_f64()
        );
        models = next;
    }
    let meta = HashMap::from([
        ("format".to_string(), "lic-dwt prior".to_string()),
        ("images".to_string(), images.len().to_string()),
        ("rounds".to_string(), rounds.to_string()),
        ("qualities".to_string(), format!("{qualities:?}")),
        ("sources".to_string(), a[3..].join(" ")),
    ]);
    std::fs::write(out, prior::to_safetensors(&models, meta).unwrap()).unwrap();
    eprintln!("wrote {}", out.display());
}
