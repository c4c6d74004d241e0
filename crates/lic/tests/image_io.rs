//! Image input edge cases: gray, alpha, 16-bit, tiny and odd sizes, EXIF orientation, broken files.

use std::path::Path;

use image::{ImageBuffer, Luma, LumaA, Rgb, Rgba};
use lic::io::image::{load, load_from_memory, save, AlphaPolicy, Image, ImageIoError, LoadOptions};

fn png_bytes<P: image::PixelWithColorType>(img: &ImageBuffer<P, Vec<P::Subpixel>>) -> Vec<u8>
where
    [P::Subpixel]: image::EncodableLayout,
{
    let mut c = std::io::Cursor::new(Vec::new());
    img.write_to(&mut c, image::ImageFormat::Png).unwrap();
    c.into_inner()
}

fn opts() -> LoadOptions {
    LoadOptions::default()
}

#[test]
fn gray_becomes_rgb_and_is_saved_gray() {
    let g = ImageBuffer::from_fn(7, 4, |x, y| Luma([(x * 30 + y) as u8]));
    let l = load_from_memory(&png_bytes(&g), Path::new("g.png"), &opts()).unwrap();
    assert!(l.image.gray);
    assert_eq!((l.image.width, l.image.height), (7, 4));
    assert_eq!(&l.image.data[3 * 8..3 * 8 + 3], &[31, 31, 31]); // pixel (1,1)
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("g.png");
    save(&l.image, &out).unwrap();
    let back = image::open(&out).unwrap();
    assert_eq!(back.color(), image::ColorType::L8);
    assert_eq!(back.to_luma8(), g);
}

#[test]
fn alpha_refused_unless_dropped_and_opaque_alpha_accepted() {
    let a = ImageBuffer::from_fn(3, 3, |x, _| {
        Rgba([10u8, 20, 30, if x == 1 { 128 } else { 255 }])
    });
    let bytes = png_bytes(&a);
    let e = load_from_memory(&bytes, Path::new("a.png"), &opts()).unwrap_err();
    assert!(matches!(e, ImageIoError::Alpha { .. }));
    assert!(e.to_string().contains("--alpha drop"), "{e}");
    let o = LoadOptions {
        alpha: AlphaPolicy::Drop,
        ..opts()
    };
    let l = load_from_memory(&bytes, Path::new("a.png"), &o).unwrap();
    assert_eq!(&l.image.data[..3], &[10, 20, 30]);
    assert!(!l.notices.is_empty());
    let opaque = ImageBuffer::from_fn(2, 2, |_, _| Rgba([1u8, 2, 3, 255]));
    let l = load_from_memory(&png_bytes(&opaque), Path::new("o.png"), &opts()).unwrap();
    assert_eq!(l.image.data, vec![1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2, 3]);
    let ga = ImageBuffer::from_fn(2, 1, |_, _| LumaA([9u8, 0]));
    assert!(load_from_memory(&png_bytes(&ga), Path::new("ga.png"), &opts()).is_err());
}

#[test]
fn sixteen_bit_is_rounded_with_notice() {
    let img = ImageBuffer::from_fn(2, 1, |x, _| {
        Rgb([if x == 0 { 65535u16 } else { 257 * 100 + 128 }, 0, 32896])
    });
    let l = load_from_memory(&png_bytes(&img), Path::new("16.png"), &opts()).unwrap();
    assert_eq!(&l.image.data[..3], &[255, 0, 128]);
    assert_eq!(l.image.data[3], 100);
    assert!(l.notices.iter().any(|n| n.contains("16-bit")));
}

#[test]
fn one_by_one_and_odd_sizes_round_trip() {
    let d = tempfile::tempdir().unwrap();
    for (w, h) in [(1u32, 1u32), (3, 5), (5, 3)] {
        let data: Vec<u8> = (0..w * h * 3).map(|i| (i * 37 % 251) as u8).collect();
        let img = Image::new(w, h, data);
        let p = d.path().join(format!("i{w}x{h}.png"));
        save(&img, &p).unwrap();
        let l = load(&p, &opts()).unwrap();
        assert_eq!(l.image, img);
        assert!(l.notices.is_empty());
    }
}

#[test]
fn truncated_png_is_an_error() {
    let img = ImageBuffer::from_fn(16, 16, |x, y| Rgb([x as u8 * 9, y as u8 * 7, 3]));
    let bytes = png_bytes(&img);
    for cut in [8, 20, bytes.len() / 2, bytes.len() - 13] {
        let e = load_from_memory(&bytes[..cut], Path::new("t.png"), &opts());
        assert!(
            matches!(e, Err(ImageIoError::Decode { .. })),
            "cut {cut}: {e:?}"
        );
    }
}

#[test]
fn text_file_named_png_is_refused() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("notes.png");
    std::fs::write(&p, "this is not an image\n").unwrap();
    let e = load(&p, &opts()).unwrap_err();
    assert!(matches!(e, ImageIoError::UnknownFormat { .. }));
    assert!(e.to_string().contains("notes.png"));
    let e = load(&d.path().join("missing.png"), &opts()).unwrap_err();
    assert!(matches!(e, ImageIoError::Read { .. }));
}

#[test]
fn oversized_dimensions_are_refused() {
    let img = ImageBuffer::from_fn(40, 2, |_, _| Rgb([0u8, 0, 0]));
    let o = LoadOptions {
        max_side: 32,
        ..opts()
    };
    let e = load_from_memory(&png_bytes(&img), Path::new("w.png"), &o).unwrap_err();
    assert!(matches!(e, ImageIoError::TooLarge { .. }), "{e:?}");
}

/// A JPEG with an EXIF APP1 segment saying "rotate 90° clockwise" (orientation 6).
fn jpeg_with_orientation(img: &ImageBuffer<Rgb<u8>, Vec<u8>>, orientation: u16) -> Vec<u8> {
    let mut c = std::io::Cursor::new(Vec::new());
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut c, 100)
        .encode_image(img)
        .unwrap();
    let jpeg = c.into_inner();
    let mut tiff = Vec::new();
    tiff.extend_from_slice(b"II*\0");
    tiff.extend_from_slice(&8u32.to_le_bytes());
    tiff.extend_from_slice(&1u16.to_le_bytes()); // one entry
    tiff.extend_from_slice(&0x0112u16.to_le_bytes()); // Orientation
    tiff.extend_from_slice(&3u16.to_le_bytes()); // SHORT
    tiff.extend_from_slice(&1u32.to_le_bytes());
    tiff.extend_from_slice(&orientation.to_le_bytes());
    tiff.extend_from_slice(&[0, 0]);
    tiff.extend_from_slice(&0u32.to_le_bytes()); // no next IFD
    let mut app1 = b"Exif\0\0".to_vec();
    app1.extend_from_slice(&tiff);
    let mut out = jpeg[..2].to_vec(); // SOI
    out.extend_from_slice(&[0xFF, 0xE1]);
    out.extend_from_slice(&((app1.len() + 2) as u16).to_be_bytes());
    out.extend_from_slice(&app1);
    out.extend_from_slice(&jpeg[2..]);
    out
}

#[test]
fn exif_orientation_is_applied() {
    // 32x16, left half dark, right half bright.
    let img = ImageBuffer::from_fn(32, 16, |x, _| {
        if x < 16 {
            Rgb([0u8, 0, 0])
        } else {
            Rgb([255u8, 255, 255])
        }
    });
    let bytes = jpeg_with_orientation(&img, 6);
    let l = load_from_memory(&bytes, Path::new("r.jpg"), &opts()).unwrap();
    assert_eq!(
        (l.image.width, l.image.height),
        (16, 32),
        "rotated to portrait"
    );
    // After a 90° clockwise rotation the dark half is on top.
    let top = l.image.data[3 * (2 * 16 + 8)];
    let bottom = l.image.data[3 * (29 * 16 + 8)];
    assert!(top < 40 && bottom > 215, "top {top} bottom {bottom}");
    assert!(l.notices.iter().any(|n| n.contains("orientation")));
}

#[test]
fn float_tiffs_are_rounded_like_the_readme_says() {
    let d = tempfile::tempdir().unwrap();
    // RGB and gray 32-bit float TIFFs (values in [0, 1]), as scientific tools write them.
    let rgb = image::Rgb32FImage::from_fn(6, 4, |x, y| {
        image::Rgb([x as f32 / 5.0, y as f32 / 3.0, 0.5])
    });
    let p = d.path().join("rgb.tif");
    image::DynamicImage::ImageRgb32F(rgb).save(&p).unwrap();
    let l = lic::io::image::load(&p, &Default::default()).unwrap();
    assert_eq!((l.image.width, l.image.height), (6, 4));
    assert_eq!(&l.image.data[..3], &[0, 0, 128]);
    assert_eq!(&l.image.data[l.image.data.len() - 3..], &[255, 255, 128]);
    assert!(l.notices.iter().any(|n| n.contains("floating-point")));
    // Gray 32-bit float (what PIL writes for mode F), which the image crate does not decode.
    let p = d.path().join("gray.tif");
    let mut e = tiff::encoder::TiffEncoder::new(std::fs::File::create(&p).unwrap()).unwrap();
    let v: Vec<f32> = (0..12).map(|i| i as f32 / 11.0 * 1.2 - 0.1).collect();
    e.write_image::<tiff::encoder::colortype::Gray32Float>(4, 3, &v)
        .unwrap();
    let l = lic::io::image::load(&p, &Default::default()).unwrap();
    assert!(l.image.gray);
    assert_eq!((l.image.width, l.image.height), (4, 3));
    assert_eq!(&l.image.data[..3], &[0, 0, 0]);
    assert_eq!(&l.image.data[33..], &[255, 255, 255]);
    assert!(l.notices.iter().any(|n| n.contains("floating-point")));
}
