//! RD of `lic-dwt` on a folder of images (real files): `cargo run --release --example dwt_rd --
//! DIR N_IMAGES Q1,Q2,... [ANCHOR.json]`. Prints per-quality mean bpp / PSNR and, with an
//! anchor, the BD-rate against it. Options through env: DWT_ROUNDING, DWT_CHROMA.
use std::path::Path;

use lic::dwt::{self, EncodeOptions};
use lic::io::image::{image_files, load, LoadOptions};

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let dir = Path::new(&a[1]);
    let n: usize = a[2].parse().unwrap();
    let qs: Vec<f32> = a[3].split(',').map(|s| s.parse().unwrap()).collect();
    let env = |k: &str, d: f32| std::env::var(k).ok().map_or(d, |v| v.parse().unwrap());
    let files: Vec<_> = image_files(dir, &["png"])
        .unwrap()
        .into_iter()
        .take(n)
        .collect();
    let imgs: Vec<_> = files
        .iter()
        .map(|f| load(f, &LoadOptions::default()).unwrap().image)
        .collect();
    let (mut rates, mut psnrs) = (vec![], vec![]);
    for &q in &qs {
        let mut opts = EncodeOptions::new(q);
        opts.rounding = env("DWT_ROUNDING", opts.rounding);
        opts.chroma = env("DWT_CHROMA", opts.chroma);
        opts.kappa = env("DWT_KAPPA", opts.kappa);
        opts.filter = env("DWT_FILTER", 1.0) > 0.5;
        let (mut bpp, mut est, mut psnr, mut t_enc, mut t_dec) = (0.0, 0.0, 0.0, 0.0, 0.0);
        for img in &imgs {
            let t = std::time::Instant::now();
            let e = dwt::encode_image(img, &opts).unwrap();
            t_enc += t.elapsed().as_secs_f64();
            let t = std::time::Instant::now();
            let out = dwt::decode_image(&e.bytes).unwrap();
            t_dec += t.elapsed().as_secs_f64();
            let px = f64::from(img.width * img.height);
            bpp += e.bytes.len() as f64 * 8.0 / px;
            est += e.estimated_bits / px;
            psnr += lic::metrics::psnr_rgb(img, &out).unwrap();
        }
        let k = imgs.len() as f64;
        println!(
            "q {q:5.2}: {:.4} bpp (est {:.4})  {:.3} dB  enc {:.0} ms dec {:.0} ms /img",
            bpp / k,
            est / k,
            psnr / k,
            t_enc / k * 1e3,
            t_dec / k * 1e3
        );
        rates.push(bpp / k);
        psnrs.push(psnr / k);
    }
    for anchor in a
        .get(4)
        .map(|s| s.split(',').collect::<Vec<_>>())
        .unwrap_or_default()
    {
        let r = lic_eval::results::RdResults::read(Path::new(anchor)).unwrap();
        let (ar, aq) = (r.results.bpp.clone(), r.results.psnr_rgb.clone());
        let bd = lic_eval::bdrate::bd_rate(&ar, &aq, &rates, &psnrs, Default::default()).unwrap();
        println!("BD-rate vs {anchor}: {:+.2}%", bd.value);
    }
}
