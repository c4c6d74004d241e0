//! The coding half of the `--tune machine` weight search (`scripts/perception/tune_dwt.py`):
//! `cargo run --release -p lic --example dwt_tune -- OUT.rgb IMG...` loads the images once, then
//! reads one request per line on standard input:
//!
//! `QUALITY FILTER KAPPA W1 ... W34` (the 17 luma then the 17 chroma step weights of
//! [`lic::dwt::tune::BandWeights`], FILTER 0 or 1)
//!
//! and for each encodes every image with those options, decodes the stream with the ordinary
//! decoder, writes the decoded pixels of all images one after the other (8-bit RGB) to OUT.rgb
//! and answers one line: the stream sizes in bytes, space-separated. The source pixels are
//! written once, at the start, to OUT.rgb.src, and `ready N` answered then.
use std::io::{BufRead, Write};

use lic::dwt::{self, tune, EncodeOptions};
use lic::io::image::{load, LoadOptions};
use rayon::prelude::*;

fn main() {
    let a: Vec<String> = std::env::args().collect();
    assert!(a.len() > 2, "usage: dwt_tune OUT.rgb IMG...");
    let out = &a[1];
    let imgs: Vec<_> = a[2..]
        .iter()
        .map(|f| load(f.as_ref(), &LoadOptions::default()).unwrap().image)
        .collect();
    // The source pixels, once, for the classifier's reference outputs.
    let src: Vec<u8> = imgs.iter().flat_map(|i| i.data.iter().copied()).collect();
    std::fs::write(format!("{out}.src"), &src).unwrap();
    let stdin = std::io::stdin();
    let mut stdout = std::io::stdout();
    writeln!(stdout, "ready {}", imgs.len()).unwrap();
    stdout.flush().unwrap();
    for line in stdin.lock().lines() {
        let line = line.unwrap();
        let v: Vec<f32> = line
            .split_whitespace()
            .map(|s| s.parse().unwrap())
            .collect();
        if v.is_empty() {
            continue;
        }
        assert_eq!(
            v.len(),
            3 + 2 * tune::SLOTS,
            "QUALITY FILTER KAPPA and 34 weights"
        );
        let mut opts = EncodeOptions::new(v[0]);
        opts.filter = v[1] > 0.5;
        opts.alf = opts.filter;
        opts.kappa = v[2];
        opts.weights.luma.copy_from_slice(&v[3..3 + tune::SLOTS]);
        opts.weights.chroma.copy_from_slice(&v[3 + tune::SLOTS..]);
        let res: Vec<(usize, Vec<u8>)> = imgs
            .par_iter()
            .map(|img| {
                let e = dwt::encode_image(img, &opts).unwrap();
                let d = dwt::decode_image(&e.bytes).unwrap();
                (e.bytes.len(), d.data)
            })
            .collect();
        let mut all = Vec::new();
        for (_, d) in &res {
            all.extend_from_slice(d);
        }
        std::fs::write(out, &all).unwrap();
        let sizes: Vec<String> = res.iter().map(|(n, _)| n.to_string()).collect();
        writeln!(stdout, "{}", sizes.join(" ")).unwrap();
        stdout.flush().unwrap();
    }
}
