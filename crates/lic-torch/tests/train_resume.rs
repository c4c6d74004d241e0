//! Training resumes exactly: 2 steps + checkpoint + 2 resumed steps = 4 uninterrupted steps.
//! Alone in its own test binary, because libtorch's random generator is global: other tests
//! drawing random numbers in parallel would change the noise this test draws.

use std::path::Path;

use lic_torch::train::{data::Dataset, run, TrainOptions, Trainer};
use lic_torch::zoo::ElicConfig;
use tch::{Device, Kind, Tensor};

fn tiny_data(dir: &Path) -> Dataset {
    // A synthetic dataset: 4 smooth 64x64 images.
    let imgs: Vec<Tensor> = (0..4)
        .map(|i| {
            let r =
                Tensor::arange(64, (Kind::Float, Device::Cpu)).view([1, 64, 1]) * (i + 1) as f64;
            let c = Tensor::arange(64, (Kind::Float, Device::Cpu)).view([1, 1, 64]) * 2.0;
            ((r + c).remainder(256.0))
                .expand([3, 64, 64], true)
                .to_kind(Kind::Uint8)
        })
        .collect();
    Dataset {
        images: imgs,
        files: vec![dir.to_path_buf(); 4],
    }
}

fn tiny_trainer() -> Trainer {
    let mut o = TrainOptions::new(ElicConfig::tiny(), vec![]);
    o.batch = 2;
    o.crop = 64;
    o.steps = 4;
    o.warmup = 2;
    o.log_every = 1;
    o.checkpoint_every = 2;
    Trainer::new(o, Device::Cpu).unwrap()
}

#[test]
fn resume_is_exact() {
    tch::set_num_threads(1);
    let d = tempfile::tempdir().unwrap();
    // Uninterrupted: 4 steps.
    let data = tiny_data(d.path());
    let a = run(
        tiny_trainer(),
        &data,
        &d.path().join("a"),
        None,
        None,
        |_| {},
    )
    .unwrap();
    // Interrupted after 2 steps, then resumed for 2 more.
    let mut t = tiny_trainer();
    t.opts.steps = 2;
    let t = run(t, &data, &d.path().join("b"), None, None, |_| {}).unwrap();
    drop(t);
    let mut b = Trainer::resume(&d.path().join("b/checkpoint.safetensors"), Device::Cpu).unwrap();
    b.opts.steps = 4;
    let b = run(b, &data, &d.path().join("b"), None, None, |_| {}).unwrap();
    assert_eq!(b.progress.step, 4);
    let va = a.vs.variables();
    for (name, tb) in b.vs.variables() {
        assert!(
            va[&name].equal(&tb),
            "parameter {name} differs after resume"
        );
    }
    let lines = std::fs::read_to_string(d.path().join("a/train_log.jsonl")).unwrap();
    assert_eq!(lines.lines().count(), 4);
}
