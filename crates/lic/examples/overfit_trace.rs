//! Training curve of one `lic-overfit` fit: `cargo run --release -p lic --example
//! overfit_trace -- IMG.png Q ITERS [CROP]` prints the training bpp/PSNR every 100 iterations and
//! the final real-file bpp/PSNR. Env: OF_LR, OF_LATENT_LR, OF_SEED, OF_SYN / OF_ARM (hidden widths, `24,24`), OF_CTX, OF_LEVELS, OF_UP (`bilinear`, `catmull-rom`, `b-spline`), OF_ROUND (share of phase 2), OF_ROUND_LR (learning-rate factor of phase 2), OF_EVERY (print interval), OF_SOFT (`T0,T1` or `none`), OF_GAUSS (`S0,S1`: near-Gaussian noise; anything else: uniform), OF_FREEZE (`1`/`0`: latents fixed in the rounding phase, the default, or trained), OF_PARENTS (ARM inputs from coarser levels), OF_CAND (`count,iterations[,finalists]` of candidate initializations; ITERS then includes the dropped candidates' iterations), OF_CONV (`0`: no residual 3×3 convolution), OF_SKIP (`arm`, `syn`, `arm,syn`: linear paths beside the MLPs), OF_TEST (hard-rounded test every N iterations, best state kept), OF_CLIP (max gradient norm of the networks, `none` off), OF_SOAP (`b1,b2,shampoo_beta,frequency` of SOAP, the default optimizer of the weight matrices, or `none` for Adam), OF_OUT (write the `.lic` file there).
use lic::io::image::{load, LoadOptions};
use lic::overfit::{self, EncodeOptions};

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let mut img = load(std::path::Path::new(&a[1]), &LoadOptions::default())
        .unwrap()
        .image;
    let q: f32 = a[2].parse().unwrap();
    let iters: usize = a[3].parse().unwrap();
    if let Some(c) = a.get(4) {
        let c: u32 = c.parse().unwrap();
        let (w, h) = (c.min(img.width), c.min(img.height));
        let mut d = Vec::with_capacity((3 * w * h) as usize);
        for y in 0..h {
            let r = (y * img.width * 3) as usize;
            d.extend_from_slice(&img.data[r..r + (3 * w) as usize]);
        }
        img = lic::io::image::Image::new(w, h, d);
    }
    let env = |k: &str, d: f32| std::env::var(k).ok().map_or(d, |v| v.parse().unwrap());
    let mut opts = EncodeOptions {
        quality: q,
        ..EncodeOptions::default()
    };
    if let Ok(v) = std::env::var("OF_CAND") {
        let t: Vec<usize> = v.split(',').map(|x| x.parse().unwrap()).collect();
        opts.candidates = (t[0], t[1]);
        opts.finalists = t.get(2).copied().unwrap_or(1);
    }
    // The schedule: ITERS less the iterations of the candidates that are dropped.
    let (count, warm) = opts.candidates;
    let stage2 = if opts.finalists > 1 { warm } else { 0 };
    let iters = iters - (count.max(1) - 1) * warm - (opts.finalists.max(1) - 1) * stage2;
    let r = (env("OF_ROUND", 1.0 / 6.0) * iters as f32) as usize;
    opts.iterations = Some((iters - r, r));
    opts.lr = env("OF_LR", opts.lr);
    opts.latent_lr = env("OF_LATENT_LR", opts.latent_lr);
    opts.round_lr_scale = env("OF_ROUND_LR", opts.round_lr_scale);
    opts.seed = env("OF_SEED", 1.0) as u64;
    if let Ok(v) = std::env::var("OF_SOFT") {
        let t: Vec<f32> = v.split(',').filter_map(|x| x.parse().ok()).collect();
        opts.soft_rounding = (t.len() == 2).then(|| (t[0], t[1]));
    }
    if let Ok(v) = std::env::var("OF_GAUSS") {
        let t: Vec<f32> = v.split(',').filter_map(|x| x.parse().ok()).collect();
        opts.gaussian_noise = (t.len() == 2).then(|| (t[0], t[1]));
    }
    if let Ok(v) = std::env::var("OF_FREEZE") {
        opts.freeze_latents = v == "1";
    }
    let mut arch = opts.arch();
    if let Ok(v) = std::env::var("OF_SYN") {
        arch.syn_hidden = v.split(',').map(|s| s.parse().unwrap()).collect();
    }
    if let Ok(v) = std::env::var("OF_ARM") {
        arch.arm_hidden = v.split(',').map(|s| s.parse().unwrap()).collect();
    }
    if let Ok(v) = std::env::var("OF_CTX") {
        arch.ctx = v.parse().unwrap();
    }
    if let Ok(v) = std::env::var("OF_UP") {
        arch.upsampling = overfit::model::Upsampling::from_name(&v).expect("OF_UP kernel");
    }
    if let Ok(v) = std::env::var("OF_PARENTS") {
        arch.parents = v.parse().unwrap();
    }
    if let Ok(v) = std::env::var("OF_IFCE") {
        // `features,levels`: inter-level projections of the finest levels
        let f: Vec<usize> = v.split(',').map(|x| x.parse().unwrap()).collect();
        arch.ifce = f[0];
        arch.ifce_levels = f.get(1).copied().unwrap_or(3);
    }
    if let Ok(v) = std::env::var("OF_SOAP").map(|v| v.to_lowercase()) {
        // `b1,b2,shampoo_beta,frequency`, or `none` (Adam)
        opts.soap = if v == "none" {
            None
        } else {
            let f: Vec<f64> = v.split(',').map(|x| x.parse().unwrap()).collect();
            let d = overfit::soap::SoapConfig::default();
            Some(overfit::soap::SoapConfig {
                beta1: f.first().map_or(d.beta1, |&x| x as f32),
                beta2: f.get(1).map_or(d.beta2, |&x| x as f32),
                shampoo_beta: f.get(2).map_or(d.shampoo_beta, |&x| x),
                eps: d.eps,
                frequency: f.get(3).map_or(d.frequency, |&x| x as usize),
            })
        };
    }
    if let Ok(v) = std::env::var("OF_CONV") {
        arch.conv = v == "1";
    }
    if let Ok(v) = std::env::var("OF_SKIP") {
        // `arm`, `syn` or `arm,syn`: linear paths
        arch.arm_skip = v.contains("arm");
        arch.syn_skip = v.contains("syn");
    }
    if let Ok(v) = std::env::var("OF_LEVELS") {
        arch.levels = v.parse().unwrap();
    }
    if std::env::var("OF_RESIDUAL").is_ok_and(|v| v == "1") {
        // Residual ARM layers as wide as its inputs (the hidden count of `arm_hidden`).
        arch.arm_residual = true;
        arch.arm_hidden = vec![arch.arm_inputs(); arch.arm_hidden.len()];
    }
    opts.arch = Some(arch);
    opts.test_every = env("OF_TEST", opts.test_every as f32) as usize;
    if let Ok(v) = std::env::var("OF_CLIP") {
        opts.clip = v.parse().ok();
    }
    let every = env("OF_EVERY", 100.0).max(1.0) as usize;
    let t = std::time::Instant::now();
    let e = overfit::encode_image(&img, &opts, &mut |p| {
        if p.iteration % every == 0 {
            eprintln!(
                "{:6} {:5} bpp {:.4} psnr {:.2}",
                p.iteration, p.phase, p.bpp, p.psnr
            );
        }
    })
    .unwrap();
    if let Ok(path) = std::env::var("OF_OUT") {
        std::fs::write(&path, &e.bytes).unwrap();
    }
    let px = f64::from(img.width * img.height);
    let out = lic::io::image::Image::new(img.width, img.height, e.rgb.clone());
    let psnr = lic::metrics::psnr_rgb(&img, &out).unwrap();
    println!(
        "final {}x{} q {q}: {:.4} bpp (weights {:.4}), {:.2} dB, {} it, {:.1} ms/it (ARM {:.1}, synthesis {:.1}), quantize {:.2} s, {:.1} s",
        img.width,
        img.height,
        e.bytes.len() as f64 * 8.0 / px,
        e.weight_bits / px,
        psnr,
        e.iterations,
        e.ms_per_iteration,
        e.ms_arm,
        e.ms_synthesis,
        e.quantize_seconds,
        t.elapsed().as_secs_f64()
    );
}
