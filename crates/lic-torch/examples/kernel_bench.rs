//! Forward + backward time of single layers under the training kernel modes
//! (`lic_torch::nn::precision`), CPU time of this process per iteration (robust to other load).
//!
//! cargo run --release --example kernel_bench -- [threads] [steps DATA_DIR]
//!
//! With `steps DIR`, it times whole `lic train` steps (the shipped architectures, batch 8 x 128²,
//! crops from DIR) in each mode instead, and prints kpx/s per CPU-second·threads as well.
use std::time::Instant;

use lic_torch::nn::precision::{Fast, FastGuard};
use tch::nn::{self, Module};
use tch::{Device, Kind, Tensor};

fn cpu_seconds() -> f64 {
    // utime + stime of this process, from /proc/self/stat (fields 14 and 15, in clock ticks).
    let s = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let rest = s.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let tick = 100.0;
    let u: f64 = f.get(11).and_then(|v| v.parse().ok()).unwrap_or(0.0);
    let k: f64 = f.get(12).and_then(|v| v.parse().ok()).unwrap_or(0.0);
    (u + k) / tick
}

fn time(name: &str, mode: Fast, layer: &dyn Module, x: &Tensor, iters: usize) {
    if let Ok(only) = std::env::var("BENCH_MODE") {
        let tag = format!(
            "{}{}",
            if mode.bf16 { "bf16" } else { "fp32" },
            if mode.channels_last { "-cl" } else { "" }
        );
        if tag != only {
            return;
        }
    }
    let run = || {
        let _g = FastGuard::new(mode);
        let y = layer.forward(x);
        y.square().mean(Kind::Float).backward();
    };
    run();
    let (c0, t0) = (cpu_seconds(), Instant::now());
    for _ in 0..iters {
        run();
    }
    let cpu = (cpu_seconds() - c0) / iters as f64;
    let wall = t0.elapsed().as_secs_f64() / iters as f64;
    println!(
        "{name:34} {:>9} wall {:8.1} ms  cpu {:8.1} ms",
        format!(
            "{}{}",
            if mode.bf16 { "bf16" } else { "fp32" },
            if mode.channels_last { "-cl" } else { "" }
        ),
        wall * 1e3,
        cpu * 1e3
    );
}

fn train_steps(dir: &str, threads: i32) {
    use lic_torch::train::{data::Dataset, TrainOptions, Trainer};
    let data = Dataset::load(&[dir.into()], 128).expect("training images");
    let configs: [(&str, lic_torch::zoo::ModelConfig, f64); 2] = [
        (
            "elic-small",
            lic_torch::zoo::ElicConfig::small().into(),
            0.0,
        ),
        ("walloc", lic_torch::zoo::WallocConfig::small().into(), 0.0),
    ];
    for (name, config, _) in configs {
        for mode in [
            Fast::FP32,
            Fast {
                bf16: false,
                channels_last: true,
            },
            Fast {
                bf16: true,
                channels_last: false,
            },
            Fast::BF16_CL,
        ] {
            let mut o = TrainOptions::new(config.clone(), vec![dir.into()]);
            o.batch = 8;
            o.crop = 128;
            o.fast = mode;
            let mut t = Trainer::new(o, Device::Cpu).expect("trainer");
            t.train_step(&data);
            let n = 4;
            let (c0, t0) = (cpu_seconds(), Instant::now());
            let mut loss = 0.0;
            for _ in 0..n {
                loss = t.train_step(&data).loss;
            }
            let cpu = (cpu_seconds() - c0) / n as f64;
            let wall = t0.elapsed().as_secs_f64() / n as f64;
            let px = 8.0 * 128.0 * 128.0;
            println!(
                "train step {name:11} {:>8}  wall {:7.0} ms  cpu {:7.0} ms  {:6.0} kpx/s (wall)  {:6.0} kpx/s (cpu/{threads})  loss {loss:.3}",
                format!("{}{}", if mode.bf16 { "bf16" } else { "fp32" }, if mode.channels_last { "-cl" } else { "" }),
                wall * 1e3,
                cpu * 1e3,
                px / wall / 1e3,
                px / (cpu / threads as f64) / 1e3,
            );
        }
    }
}

fn main() {
    let threads: i32 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(2);
    tch::set_num_threads(threads);
    if std::env::args().nth(2).as_deref() == Some("steps") {
        let dir = std::env::args().nth(3).expect("steps DATA_DIR");
        train_steps(&dir, threads);
        return;
    }
    let vs = nn::VarStore::new(Device::Cpu);
    let p = vs.root();
    let conv = lic_torch::nn::conv(&p / "c", 128, 128, 5, 2);
    let deconv = lic_torch::nn::deconv(&p / "d", 128, 128, 5, 2);
    let gdn = lic_torch::nn::Gdn::new(&p / "g", 128, false);
    let x = Tensor::randn([8, 128, 64, 64], (Kind::Float, Device::Cpu)).set_requires_grad(true);
    let xs = Tensor::randn([8, 128, 32, 32], (Kind::Float, Device::Cpu)).set_requires_grad(true);
    let modes = [
        Fast::FP32,
        Fast {
            bf16: true,
            channels_last: false,
        },
        Fast {
            bf16: false,
            channels_last: true,
        },
        Fast::BF16_CL,
    ];
    for m in modes {
        time("conv 5x5 s2 128->128 [8,128,64,64]", m, &conv, &x, 4);
    }
    for m in modes {
        time("deconv 5x5 s2 128->128 [8,128,32,32]", m, &deconv, &xs, 4);
    }
    for m in modes {
        time("gdn 128 [8,128,64,64]", m, &gdn, &x, 4);
    }
}
