//! Codes a raw 8-bit 4:2:0 clip with `lic-mcw` and prints rate, YUV-PSNR and times (a tuning
//! harness; `lic eval --video` is the real evaluation).
//!
//! `mcw_clip FILE.yuv W H FRAMES Q [Q...]`; env: `MCW_OFF=motion,obmc,subpel,skip,intra,temporal,
//! cascade,tree,filter,inter` switches tools off (`wavelet`: the block-DCT residual instead),
//! `MCW_LAMBDA`, `MCW_KAPPA`, `MCW_IBOOST`, `MCW_CBOOST`, `MCW_GOP` set options.
use lic::format::video::{stream_bytes, VideoColour};
use lic::mcw::{VideoDecoder, VideoEncoder, VideoOptions};
use lic::video::colour::{chroma_size, yuv_psnr, Yuv420};
use std::time::Instant;

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let (w, h, n): (u32, u32, usize) = (
        a[2].parse().unwrap(),
        a[3].parse().unwrap(),
        a[4].parse().unwrap(),
    );
    let raw = std::fs::read(&a[1]).unwrap();
    let (cw, ch) = chroma_size(w, h);
    let (ys, cs) = ((w * h) as usize, (cw * ch) as usize);
    let fs = ys + 2 * cs;
    let frames: Vec<Yuv420> = (0..n.min(raw.len() / fs))
        .map(|i| {
            let f = &raw[i * fs..(i + 1) * fs];
            Yuv420::new(
                w,
                h,
                f[..ys].to_vec(),
                f[ys..ys + cs].to_vec(),
                f[ys + cs..].to_vec(),
            )
            .unwrap()
        })
        .collect();
    let env = |k: &str| std::env::var(k).ok().and_then(|v| v.parse::<f32>().ok());
    let off = std::env::var("MCW_OFF").unwrap_or_default();
    let mut pts = Vec::new();
    for q in &a[5..] {
        let mut o = VideoOptions::new(q.parse().unwrap());
        for t in off.split(',') {
            match t {
                "motion" => o.tools.motion = false,
                "obmc" => o.tools.obmc = false,
                "subpel" => o.tools.subpel = false,
                "skip" => o.tools.skip = false,
                "intra" => o.tools.intra_blocks = false,
                "temporal" => o.tools.temporal = false,
                "cascade" => o.tools.cascade = false,
                "inter" => o.tools.inter = false,
                "tree" => o.tools.tree = false,
                "wavelet" => o.tools.dct = true,
                "filter" => o.tools.filter = false,
                _ => {}
            }
        }
        if let Some(v) = env("MCW_LAMBDA") {
            o.lambda = v;
        }
        if let Some(v) = env("MCW_KAPPA") {
            o.kappa = v;
        }
        if let Some(v) = env("MCW_IBOOST") {
            o.intra_boost = v;
        }
        if let Some(v) = env("MCW_CBOOST") {
            o.cascade_boost = v;
        }
        if let Some(v) = env("MCW_GOP") {
            o.gop = v as u32;
        }
        let t = Instant::now();
        let mut enc = VideoEncoder::new(w, h, o).unwrap();
        let mut chunks = Vec::new();
        let mut recs = Vec::new();
        let mut est = 0.0;
        let mut modes = [0; 4];
        let (mut ib, mut pb, mut sb) = (0.0, 0.0, 0.0);
        for f in &frames {
            let e = enc.encode_frame(f).unwrap();
            est += e.estimated_bits;
            if e.chunk.kind == lic::format::video::FrameKind::Intra {
                ib += e.estimated_bits
            } else {
                pb += e.estimated_bits;
                sb += e.side_bits
            }
            for (m, n) in modes.iter_mut().zip(e.modes) {
                *m += n;
            }
            chunks.push(e.chunk);
            recs.push(e.reconstruction);
        }
        let te = t.elapsed().as_secs_f64();
        let header = enc.header(chunks.len() as u32, (25, 1), VideoColour::default());
        let bytes = stream_bytes(&header, &chunks).unwrap();
        let t = Instant::now();
        let (hd, rd) = lic::format::video::parse_video(&bytes, &lic::mcw::limits()).unwrap();
        let mut dec = VideoDecoder::new(&hd).unwrap();
        let mut psnr = 0.0;
        let mut ypsnr = 0.0;
        for (i, c) in rd.enumerate() {
            let d = dec.decode_frame(&c.unwrap()).unwrap();
            assert!(d == recs[i], "decoder mismatch at frame {i}");
            let p = yuv_psnr(&frames[i], &d).unwrap();
            psnr += p.yuv;
            ypsnr += p.y;
        }
        let td = t.elapsed().as_secs_f64();
        let nf = frames.len() as f64;
        let bpp = bytes.len() as f64 * 8.0 / (f64::from(w) * f64::from(h) * nf);
        println!(
            "q {q}: bpp {bpp:.5} (est {:.5}) yuv {:.3} y {:.3} enc {:.1} fps dec {:.1} fps modes {:?}",
            est / (f64::from(w) * f64::from(h) * nf),
            psnr / nf,
            ypsnr / nf,
            nf / te,
            nf / td,
            modes
        );
        println!("   bits: intra {ib:.0} inter {pb:.0} (side {sb:.0})");
        pts.push(format!("[{bpp:.6}, {:.4}]", psnr / nf));
    }
    println!("POINTS [{}]", pts.join(", "));
}
