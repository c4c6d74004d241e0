//! Time of one `lic-overfit` training step on a Kodak image, split into the ARM and synthesis
//! passes: `cargo run --release -p lic --example overfit_step -- IMG.png [Q]
//! [STEPS]`. For A/B comparisons of the kernels (run both builds in the same minute).
use lic::io::image::{load, LoadOptions};
use lic::overfit::model::Model;
use lic::overfit::train::default_arch;

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let img = load(std::path::Path::new(&a[1]), &LoadOptions::default())
        .unwrap()
        .image;
    let q: f32 = a.get(2).map_or(4.0, |v| v.parse().unwrap());
    let n: usize = a.get(3).map_or(20, |v| v.parse().unwrap());
    let m = Model::new(
        default_arch(q),
        img.width as usize,
        img.height as usize,
        &img.data,
    );
    let mut b = m.step_bench();
    b.run(&m);
    b.scratch.timing = [0.0; 2];
    let t = std::time::Instant::now();
    for _ in 0..n {
        b.run(&m);
    }
    let k = 1e3 / n as f64;
    println!(
        "q {q}: {:.2} ms/step (ARM {:.2}, synthesis {:.2}); checksum {:.6e} {:.6e}",
        t.elapsed().as_secs_f64() * k,
        b.scratch.timing[0] * k,
        b.scratch.timing[1] * k,
        b.grad_params
            .iter()
            .map(|v| f64::from(v.abs()))
            .sum::<f64>(),
        b.grad_latents
            .iter()
            .map(|v| f64::from(v.abs()))
            .sum::<f64>(),
    );
}
