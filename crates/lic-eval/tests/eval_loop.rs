//! The evaluation loop end to end: a pure-Rust codec (always) and the system JPEG/WebP tools (when
//! installed), on a tiny synthetic dataset.

use std::path::Path;

use anyhow::Result;
use lic::io::image::{load, save, Image, LoadOptions};
use lic::metrics::{ms_ssim, psnr_rgb};
use lic_eval::codec::{Codec, EncodeStats};
use lic_eval::conventional::{conventional_codec, find_tool};
use lic_eval::results::{ImageRow, RdResults};
use lic_eval::run::{evaluate, list_images, EvalOptions};

/// A toy lossy codec: keeps the top `q` bits of every sample and stores the result as PNG.
struct Posterize;

/// [`Posterize`] that fails on one image (an interrupted run).
struct FailsOn(&'static str);

impl Codec for FailsOn {
    fn name(&self) -> String {
        Posterize.name()
    }
    fn bitstream_extension(&self) -> String {
        Posterize.bitstream_extension()
    }
    fn encode(&self, input: &Path, out: &Path, q: f64) -> Result<EncodeStats> {
        anyhow::ensure!(!input.ends_with(self.0), "interrupted");
        Posterize.encode(input, out, q)
    }
    fn decode(&self, bitstream: &Path, out: &Path) -> Result<()> {
        Posterize.decode(bitstream, out)
    }
    fn default_qualities(&self, points: usize) -> Vec<f64> {
        Posterize.default_qualities(points)
    }
}

impl Codec for Posterize {
    fn name(&self) -> String {
        "posterize".into()
    }
    fn bitstream_extension(&self) -> String {
        "png".into()
    }
    fn check_quality(&self, q: f64) -> Result<()> {
        anyhow::ensure!(
            (1.0..=8.0).contains(&q) && q == q.trunc(),
            "bits {q} out of range"
        );
        Ok(())
    }
    fn encode(&self, input: &Path, out: &Path, q: f64) -> Result<EncodeStats> {
        let mut img = load(input, &LoadOptions::default())?.image;
        let drop = 8 - q as u32;
        for v in &mut img.data {
            *v = ((*v >> drop) << drop) | ((1u8 << drop) >> 1);
        }
        save(&img, out)?;
        // What an encoder reports lands in the row (the overfitted codec's iterations).
        Ok(EncodeStats::from([(
            "dropped_bits".to_string(),
            f64::from(drop),
        )]))
    }
    fn decode(&self, bitstream: &Path, out: &Path) -> Result<()> {
        std::fs::copy(bitstream, out)?;
        Ok(())
    }
    fn default_qualities(&self, points: usize) -> Vec<f64> {
        (0..points).map(|i| (2 + i).min(8) as f64).collect()
    }
}

fn synthetic(w: u32, h: u32, seed: u32) -> Image {
    let mut s = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    let mut data = Vec::with_capacity((w * h * 3) as usize);
    for y in 0..h {
        for x in 0..w {
            for c in 0..3u32 {
                s ^= s << 13;
                s ^= s >> 17;
                s ^= s << 5;
                let smooth = (x * 255 / w + y * 255 / h + 40 * c) / 2;
                data.push((smooth + (s % 24)).min(255) as u8);
            }
        }
    }
    Image::new(w, h, data)
}

fn dataset() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    save(&synthetic(200, 176, 1), &d.path().join("b.png")).unwrap();
    save(&synthetic(176, 208, 2), &d.path().join("a.png")).unwrap();
    save(&synthetic(180, 180, 3), &d.path().join("c.png")).unwrap();
    std::fs::write(d.path().join("notes.txt"), "not an image").unwrap();
    d
}

#[test]
fn loop_with_a_pure_rust_codec() {
    let ds = dataset();
    assert_eq!(
        list_images(ds.path())
            .unwrap()
            .iter()
            .map(|p| p.file_name().unwrap().to_owned())
            .collect::<Vec<_>>(),
        ["a.png", "b.png", "c.png"]
    );
    let opts = EvalOptions {
        limit: Some(2),
        ..Default::default()
    };
    let r = evaluate(ds.path(), &Posterize, &[3.0, 6.0], &opts).unwrap();
    assert_eq!(r.name, "posterize");
    assert_eq!(r.results.quality, vec![3.0, 6.0]);
    assert_eq!(r.points.len(), 2);
    for p in &r.points {
        let names: Vec<&str> = p.per_image.iter().map(|row| row.image.as_str()).collect();
        assert_eq!(names, ["a.png", "b.png"]);
    }
    // Per-image values are real: recompute one row by hand.
    let src = load(&ds.path().join("b.png"), &LoadOptions::default())
        .unwrap()
        .image;
    let mut rec = src.clone();
    for v in &mut rec.data {
        *v = ((*v >> 2) << 2) | 2;
    }
    let row: &ImageRow = &r.points[1].per_image[1];
    assert!((row.psnr_rgb - psnr_rgb(&src, &rec).unwrap()).abs() < 1e-12);
    assert!((row.ms_ssim.unwrap() - ms_ssim(&src, &rec).unwrap()).abs() < 1e-12);
    let png_len = lic::io::image::encode_to_vec(&rec, image::ImageFormat::Png)
        .unwrap()
        .len();
    assert_eq!(row.bytes as usize, png_len);
    assert!((row.bpp - png_len as f64 * 8.0 / (200.0 * 176.0)).abs() < 1e-12);
    assert!(row.encoding_time > 0.0 && row.decoding_time > 0.0);
    assert_eq!(row.encoder.get("dropped_bits"), Some(&2.0));
    // Means are the mean of per-image values; more bits, better quality and more rate.
    let mean_psnr = (r.points[0].per_image[0].psnr_rgb + r.points[0].per_image[1].psnr_rgb) / 2.0;
    assert!((r.results.psnr_rgb[0] - mean_psnr).abs() < 1e-12);
    assert!(r.results.psnr_rgb[1] > r.results.psnr_rgb[0]);
    assert!(r.results.bpp[1] > r.results.bpp[0]);
    assert_eq!(r.run.as_ref().unwrap().images, 2);
    // Round trip through the results file.
    let out = ds.path().join("r.json");
    r.write(&out).unwrap();
    // (serde_json's default float parser may be off by one ulp, so compare with a tolerance.)
    let back = RdResults::read(&out).unwrap();
    assert_eq!(
        (&back.name, &back.codec, &back.run),
        (&r.name, &r.codec, &r.run)
    );
    let close = |a: &[f64], b: &[f64]| {
        a.len() == b.len()
            && a.iter()
                .zip(b)
                .all(|(x, y)| (x - y).abs() <= 1e-12 * y.abs())
    };
    assert!(close(&back.results.bpp, &r.results.bpp));
    assert!(close(&back.results.psnr_rgb, &r.results.psnr_rgb));
    assert!(close(&back.results.ms_ssim, &r.results.ms_ssim));
    assert!(close(&back.results.encoding_time, &r.results.encoding_time));
    assert_eq!(back.points.len(), 2);
    assert_eq!(back.points[1].per_image[1].bytes, row.bytes);
    assert_eq!(back.points[1].per_image[1].encoder, row.encoder);
    // Bad quality fails before any work.
    assert!(evaluate(ds.path(), &Posterize, &[9.0], &opts).is_err());
    assert!(evaluate(
        Path::new("/nonexistent-lic-dataset"),
        &Posterize,
        &[3.0],
        &opts
    )
    .is_err());
}

#[test]
fn loop_with_system_jpeg_and_webp() {
    let ds = dataset();
    for (name, tool) in [("jpeg", "cjpeg"), ("webp", "cwebp")] {
        if find_tool(tool).is_none() {
            eprintln!("skipping {name}: {tool} is not installed (scripts/setup.sh installs it)");
            continue;
        }
        let codec = conventional_codec(name).unwrap();
        let q = codec.default_qualities(2);
        let r = evaluate(ds.path(), codec.as_ref(), &q, &EvalOptions::default()).unwrap();
        let res = &r.results;
        assert_eq!(res.bpp.len(), 2);
        assert!(res.bpp[0] < res.bpp[1], "{name}: {:?}", res.bpp);
        assert!(
            res.psnr_rgb[0] < res.psnr_rgb[1],
            "{name}: {:?}",
            res.psnr_rgb
        );
        assert!(res.ms_ssim.iter().all(|&m| m > 0.5 && m < 1.0));
        assert!(r.codec.as_ref().unwrap().version.is_some());
    }
}

#[test]
fn measured_per_image_anchor_rows_parse() {
    let dir = Path::new("/work/shared/anchors/measured/kodak/per_image");
    if !dir.is_dir() {
        eprintln!("skipping: {} not present", dir.display());
        return;
    }
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        let rows: Vec<ImageRow> = serde_json::from_str(&std::fs::read_to_string(&p).unwrap())
            .unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        assert!(
            rows.len() >= 24 && rows.iter().all(|r| r.bpp > 0.0),
            "{}",
            p.display()
        );
    }
}

#[test]
fn an_interrupted_run_keeps_its_rows_and_resumes_without_measuring_them_again() {
    let ds = dataset();
    let out = ds.path().join("partial.json");
    let opts = EvalOptions {
        checkpoint: Some(out.clone()),
        ..Default::default()
    };
    // The run stops at b.png: a.png's rows are already on disk.
    let err = evaluate(ds.path(), &FailsOn("b.png"), &[6.0, 3.0], &opts).unwrap_err();
    assert!(format!("{err:#}").contains("interrupted"), "{err:#}");
    let partial = RdResults::read(&out).unwrap();
    assert_eq!(partial.results.quality, vec![6.0, 3.0]);
    for p in &partial.points {
        let names: Vec<&str> = p.per_image.iter().map(|r| r.image.as_str()).collect();
        assert_eq!(names, ["a.png"]);
    }
    // Resume with one more quality: only the missing pairs are measured (a.png's rows keep
    // their timings), the points come sorted, and the first run's information is kept.
    let resumed = EvalOptions {
        resume: Some(partial.clone()),
        ..opts.clone()
    };
    let r = evaluate(ds.path(), &Posterize, &[3.0, 6.0, 8.0], &resumed).unwrap();
    assert_eq!(r.results.quality, vec![3.0, 6.0, 8.0]);
    for p in &r.points {
        let names: Vec<&str> = p.per_image.iter().map(|row| row.image.as_str()).collect();
        assert_eq!(names, ["a.png", "b.png", "c.png"], "quality {}", p.quality);
    }
    let row = |r: &RdResults, q: f64, name: &str| {
        r.points
            .iter()
            .find(|p| p.quality == q)
            .and_then(|p| p.per_image.iter().find(|row| row.image == name))
            .cloned()
            .unwrap()
    };
    for q in [3.0, 6.0] {
        assert_eq!(
            row(&r, q, "a.png").encoding_time,
            row(&partial, q, "a.png").encoding_time
        );
    }
    assert!(r.missing_rows().is_empty());
    assert_eq!(r.run.as_ref().unwrap().images, 3);
    let earlier = r.extra.get(lic_eval::run::EARLIER_RUNS).unwrap();
    assert_eq!(earlier.as_array().unwrap().len(), 1);
    // The file holds the whole result, and a second resume has nothing left to do.
    let back = RdResults::read(&out).unwrap();
    assert_eq!(back.points.len(), 3);
    let again = EvalOptions {
        resume: Some(back),
        ..opts.clone()
    };
    let r2 = evaluate(ds.path(), &FailsOn("a.png"), &[3.0, 6.0, 8.0], &again).unwrap();
    assert_eq!(
        row(&r2, 8.0, "c.png").encoding_time,
        row(&r, 8.0, "c.png").encoding_time
    );
    assert_eq!(
        r2.extra
            .get(lic_eval::run::EARLIER_RUNS)
            .and_then(|v| v.as_array())
            .map(Vec::len),
        Some(2)
    );
    // Rows of other settings are refused.
    let mut other = partial;
    other.codec.as_mut().unwrap().settings = "something else".into();
    let bad = EvalOptions {
        resume: Some(other),
        ..Default::default()
    };
    let err = evaluate(ds.path(), &Posterize, &[3.0], &bad).unwrap_err();
    assert!(format!("{err}").contains("write to another file"), "{err}");
}

#[test]
fn missing_rows_name_the_gaps() {
    let ds = dataset();
    let opts = EvalOptions {
        limit: Some(2),
        ..Default::default()
    };
    let mut r = evaluate(ds.path(), &Posterize, &[3.0, 6.0], &opts).unwrap();
    assert!(r.missing_rows().is_empty());
    r.points[1].per_image.remove(0);
    assert_eq!(r.missing_rows(), vec![(6.0, "a.png".to_string())]);
}

#[test]
fn an_image_list_picks_images_by_name_or_stem() {
    let ds = dataset();
    let opts = EvalOptions {
        images: Some(vec!["c".into(), "a.png".into()]),
        ..Default::default()
    };
    let r = evaluate(ds.path(), &Posterize, &[4.0], &opts).unwrap();
    let names: Vec<&str> = r.points[0]
        .per_image
        .iter()
        .map(|row| row.image.as_str())
        .collect();
    assert_eq!(names, ["a.png", "c.png"]);
    let bad = EvalOptions {
        images: Some(vec!["a".into(), "kodim01".into()]),
        ..Default::default()
    };
    let err = evaluate(ds.path(), &Posterize, &[4.0], &bad).unwrap_err();
    assert!(format!("{err}").contains("no image kodim01"), "{err}");
}
