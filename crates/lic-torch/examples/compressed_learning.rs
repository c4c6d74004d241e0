//! Compressed-domain learning: the same small CNN trained on a codec's latents and on pixels
//! downsampled to the same number of values, on tasks built from the shared datasets.
//!
//! ```text
//! cargo run --release --example compressed_learning -- [--model lic-walloc] [--quality 3] \
//!     [--folds 5] [--epochs 30] [--seed 0] [-o out/compressed-learning.json]
//! ```
//!
//! Tasks (labels come with the data; no image is used for more than one task):
//! - `animal`: imagenet-sample (250 photos, one per 4th ImageNet class), animal (class index
//!   < 398, the WordNet animal subtree) vs everything else. These photos are never training data
//!   for the codec.
//! - `scene`: the training crops' source collections as scene types: Urban100 (city
//!   architecture) vs USC-SIPI aerial vs the first 100 BSDS500 crops (natural photos). The codec
//!   was trained on these crops, which favours neither input.
//!
//! Every image and its mirror image are encoded (the mirror as data augmentation, in the same
//! fold as the original). k-fold cross-validation, so every image is tested once; accuracy with a
//! Wilson 95% interval. Inputs are standardized per channel with training-fold statistics.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use tch::{nn, nn::Module, nn::OptimizerConfig, Device, Kind, Tensor};

use lic::io::image::{load, Image, LoadOptions};
use lic_torch::codec::{self, CodecModel, EncodeOptions};
use lic_torch::eval::perception::wilson_interval;

struct Sample {
    latent: Tensor,
    pixels: Tensor,
    label: i64,
    group: usize,
}

fn mirror(img: &Image) -> Image {
    let (w, h) = (img.width as usize, img.height as usize);
    let mut data = vec![0u8; img.data.len()];
    for y in 0..h {
        for x in 0..w {
            let (s, d) = ((y * w + x) * 3, (y * w + (w - 1 - x)) * 3);
            data[d..d + 3].copy_from_slice(&img.data[s..s + 3]);
        }
    }
    Image::new(img.width, img.height, data)
}

/// Pixels area-averaged to `side`x`side`, `[3, side, side]` in [0, 1].
fn small_pixels(img: &Image, side: i64) -> Tensor {
    let t = lic_torch::nn::rgb_tensor(&img.data, img.height as i64, img.width as i64);
    t.adaptive_avg_pool2d([side, side]).squeeze_dim(0)
}

fn task_files(task: &str) -> Result<Vec<(PathBuf, i64)>> {
    match task {
        "animal" => {
            let dir = lic::datasets::find("imagenet-sample").map_err(anyhow::Error::msg)?;
            let tsv = std::fs::read_to_string(dir.join("labels.tsv"))
                .with_context(|| format!("{}/labels.tsv", dir.display()))?;
            let mut v = Vec::new();
            for line in tsv.lines().skip(1) {
                let f: Vec<&str> = line.split('\t').collect();
                anyhow::ensure!(f.len() >= 2, "labels.tsv: bad line `{line}`");
                let class: i64 = f[1].parse()?;
                v.push((dir.join(f[0]), i64::from(class < 398)));
            }
            Ok(v)
        }
        "scene" => {
            let mut v = Vec::new();
            let mut bsds = 0;
            for set in ["train", "train2"] {
                let dir = lic::datasets::find(set).map_err(anyhow::Error::msg)?;
                for p in lic::io::image::image_files(&dir, &["png"])? {
                    let name = p.file_name().unwrap().to_string_lossy().to_string();
                    let label = if name.starts_with("urban100_") {
                        0
                    } else if name.starts_with("uscaerial_") {
                        1
                    } else if name.starts_with("bsds500_") && bsds < 100 {
                        bsds += 1;
                        2
                    } else {
                        continue;
                    };
                    v.push((p, label));
                }
            }
            Ok(v)
        }
        other => anyhow::bail!("unknown task {other}"),
    }
}

fn build(
    task: &str,
    model: &CodecModel,
    quality: f64,
) -> Result<(Vec<Sample>, usize, Vec<i64>, f64)> {
    let files = task_files(task)?;
    let classes = files.iter().map(|f| f.1).max().unwrap_or(0) as usize + 1;
    let opts = EncodeOptions {
        quality,
        ..Default::default()
    };
    let mut samples = Vec::new();
    let mut shape = Vec::new();
    let mut bits = 0.0;
    let mut pixels = 0.0;
    for (group, (path, label)) in files.iter().enumerate() {
        let img = load(path, &LoadOptions::default())?.image;
        for (k, im) in [img.clone(), mirror(&img)].into_iter().enumerate() {
            let lat = codec::encode_latents(&im, model, &opts)?.tensor;
            if k == 0 {
                let e = codec::encode(&im, model, &opts)?;
                bits += e.bytes.len() as f64 * 8.0;
                pixels += im.pixels() as f64;
            }
            let n = lat.numel() as f64;
            // Same number of values: side = sqrt(n / 3).
            let side = (n / 3.0).sqrt().round() as i64;
            shape = lat.size();
            samples.push(Sample {
                latent: lat,
                pixels: small_pixels(&im, side),
                label: *label,
                group,
            });
        }
    }
    Ok((samples, classes, shape, bits / pixels))
}

fn classifier(p: &nn::Path, cin: i64, classes: i64) -> nn::Sequential {
    let c = |s: i64| nn::ConvConfig {
        stride: s,
        padding: 1,
        ..Default::default()
    };
    nn::seq()
        .add(nn::conv2d(p / "c1", cin, 32, 3, c(1)))
        .add_fn(|x| x.relu())
        .add(nn::conv2d(p / "c2", 32, 64, 3, c(2)))
        .add_fn(|x| x.relu())
        .add(nn::conv2d(p / "c3", 64, 64, 3, c(2)))
        .add_fn(|x| x.relu())
        .add_fn(|x| x.mean_dim([2i64, 3].as_slice(), false, Kind::Float))
        .add(nn::linear(p / "fc", 64, classes, Default::default()))
}

/// Trains on `train`, returns the number of correct predictions on `test` (originals only).
fn fit_and_test(
    inputs: &[&Tensor],
    labels: &[i64],
    train: &[usize],
    test: &[usize],
    classes: usize,
    epochs: usize,
    seed: u64,
) -> usize {
    tch::manual_seed(seed as i64);
    let x_train = Tensor::stack(&train.iter().map(|&i| inputs[i]).collect::<Vec<_>>(), 0);
    let mean = x_train.mean_dim([0i64, 2, 3].as_slice(), true, Kind::Float);
    let std = x_train.std_dim([0i64, 2, 3].as_slice(), true, true) + 1e-6;
    let x_train = (x_train - &mean) / &std;
    let y_train = Tensor::from_slice(&train.iter().map(|&i| labels[i]).collect::<Vec<_>>());
    let vs = nn::VarStore::new(Device::Cpu);
    let net = classifier(&vs.root(), x_train.size()[1], classes as i64);
    let mut opt = nn::AdamW::default().wd(1e-3).build(&vs, 1e-3).unwrap();
    let n = train.len() as i64;
    let batch = 32;
    let mut rng = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    for _ in 0..epochs {
        let perm = {
            let mut p: Vec<i64> = (0..n).collect();
            for i in (1..p.len()).rev() {
                rng = rng
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                p.swap(i, (rng >> 33) as usize % (i + 1));
            }
            Tensor::from_slice(&p)
        };
        for s in (0..n).step_by(batch) {
            let idx = perm.narrow(0, s, batch.min((n - s) as usize) as i64);
            let loss = net
                .forward(&x_train.index_select(0, &idx))
                .cross_entropy_for_logits(&y_train.index_select(0, &idx));
            opt.backward_step(&loss);
        }
    }
    let x_test =
        (Tensor::stack(&test.iter().map(|&i| inputs[i]).collect::<Vec<_>>(), 0) - &mean) / &std;
    let pred: Vec<i64> =
        Vec::try_from(tch::no_grad(|| net.forward(&x_test).argmax(1, false))).expect("predictions");
    pred.iter()
        .zip(test)
        .filter(|(p, &i)| **p == labels[i])
        .count()
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let get = |name: &str, default: &str| -> String {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
            .unwrap_or_else(|| default.to_string())
    };
    let model_name = get("--model", "lic-walloc");
    let quality: f64 = get("--quality", "3").parse()?;
    let folds: usize = get("--folds", "5").parse()?;
    let epochs: usize = get("--epochs", "30").parse()?;
    let seed: u64 = get("--seed", "0").parse()?;
    let out = PathBuf::from(get("-o", "out/compressed-learning.json"));
    tch::set_num_threads(get("--threads", "2").parse()?);
    let model = CodecModel::load(&CodecModel::find(&model_name)?, Device::Cpu)?;
    let mut report = BTreeMap::new();
    for task in ["animal", "scene"] {
        let t0 = std::time::Instant::now();
        let (samples, classes, shape, bpp) = build(task, &model, quality)?;
        let groups = samples.iter().map(|s| s.group).max().unwrap_or(0) + 1;
        let labels: Vec<i64> = samples.iter().map(|s| s.label).collect();
        let lat: Vec<&Tensor> = samples.iter().map(|s| &s.latent).collect();
        let pix: Vec<&Tensor> = samples.iter().map(|s| &s.pixels).collect();
        let mut correct = [0usize; 2];
        let mut tested = 0;
        for f in 0..folds {
            // Groups (an image and its mirror) are assigned to folds round-robin.
            let in_test = |i: usize| samples[i].group % folds == f;
            let train: Vec<usize> = (0..samples.len()).filter(|&i| !in_test(i)).collect();
            // Test on originals only (even indexes: the original precedes its mirror).
            let test: Vec<usize> = (0..samples.len())
                .filter(|&i| in_test(i) && i % 2 == 0)
                .collect();
            tested += test.len();
            for (k, inputs) in [&lat, &pix].into_iter().enumerate() {
                correct[k] += fit_and_test(
                    inputs,
                    &labels,
                    &train,
                    &test,
                    classes,
                    epochs,
                    seed + f as u64,
                );
            }
        }
        let majority = (0..classes as i64)
            .map(|c| labels.iter().step_by(2).filter(|&&l| l == c).count())
            .max()
            .unwrap_or(0);
        let entry = |k: usize| {
            let [lo, hi] = wilson_interval(correct[k], tested);
            serde_json::json!({
                "accuracy": correct[k] as f64 / tested as f64,
                "ci95": [lo, hi],
                "correct": correct[k],
            })
        };
        let side = pix[0].size();
        println!(
            "{task}: {groups} images, {classes} classes, {folds}-fold; latents {:?} at {bpp:.3} bpp: {}/{tested}; pixels {:?}: {}/{tested}; majority class {}/{tested} ({:.0} s)",
            shape,
            correct[0],
            side,
            correct[1],
            majority,
            t0.elapsed().as_secs_f64()
        );
        report.insert(
            task.to_string(),
            serde_json::json!({
                "images": groups,
                "classes": classes,
                "folds": folds,
                "tested": tested,
                "latent_shape": shape,
                "pixel_shape": side,
                "bpp": bpp,
                "latents": entry(0),
                "pixels": entry(1),
                "majority_baseline": majority as f64 / tested as f64,
            }),
        );
    }
    let doc = serde_json::json!({
        "model": model.id,
        "weights_hash": model.hash_hex(),
        "quality": quality,
        "epochs": epochs,
        "seed": seed,
        "tasks": report,
    });
    if let Some(d) = out.parent() {
        std::fs::create_dir_all(d)?;
    }
    lic::io::file::write_atomic(
        Path::new(&out),
        serde_json::to_string_pretty(&doc)?.as_bytes(),
    )?;
    println!("{}", out.display());
    Ok(())
}
