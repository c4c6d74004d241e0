//! Encode-time latent refinement (`lic encode --refine N`): the refined stream is an ordinary
//! bitstream (the unchanged decoder gives exactly the encoder's reconstruction), and the
//! refinement lowers the real rate–distortion cost it optimizes on a natural image.

use lic::io::image::{load, Image, LoadOptions};
use lic_torch::codec::{self, CodecModel, EncodeOptions};

#[path = "../../../tests/common/mod.rs"]
mod common;

fn kodak_crop(w: u32, h: u32) -> Option<Image> {
    let p = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
        .join("datasets/kodak/kodim23.png");
    let img = load(&p, &LoadOptions::default()).ok()?.image;
    let mut data = Vec::with_capacity((w * h * 3) as usize);
    for row in 100..100 + h {
        let s = ((row * img.width + 200) * 3) as usize;
        data.extend_from_slice(&img.data[s..s + (w * 3) as usize]);
    }
    Some(Image::new(w, h, data))
}

/// Real cost in the refinement's own units: file bits per pixel + λ·255²·MSE.
fn cost(model: &CodecModel, img: &Image, q: f64, refine: usize) -> (f64, Vec<u8>) {
    let e = codec::encode(
        img,
        model,
        &EncodeOptions {
            quality: q,
            refine,
            ..Default::default()
        },
    )
    .expect("encode");
    let dec = codec::decode(&e.bytes, model).expect("decode");
    assert_eq!(
        dec.data, e.reconstruction.data,
        "refine {refine}: the decoder must rebuild the encoder's reconstruction"
    );
    let px = (img.width * img.height) as f64;
    // MSE on 8-bit samples is 255²·MSE on [0, 1].
    let mse8 = lic::metrics::mse(img, &dec).expect("same size");
    let lambda = model.config.lambda_at(q);
    (e.bytes.len() as f64 * 8.0 / px + lambda * mse8, e.bytes)
}

#[test]
fn refinement_is_decoded_by_the_unchanged_decoder_and_lowers_the_cost() {
    tch::set_num_threads(2);
    let p = CodecModel::find("lic-walloc").expect("lic-walloc");
    let model = CodecModel::load(&p, tch::Device::Cpu).expect("load");
    // A natural image when the Kodak set is present (datasets/fetch.sh kodak), else synthetic.
    let img = kodak_crop(128, 96).unwrap_or_else(|| common::synthetic(128, 96, 7));
    let (c0, b0) = cost(&model, &img, 3.0, 0);
    let (c1, b1) = cost(&model, &img, 3.0, 40);
    assert_ne!(b0, b1, "refinement changed nothing");
    assert!(c1 < c0, "refinement raised the RD cost: {c1} vs {c0}");
}
