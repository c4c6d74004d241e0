//! Study of a learned multi-reference entropy model for `lic-dwt` (issue #37, item 2): how many
//! bits would a predictor of each detail coefficient's magnitude from its references save over
//! today's hand-made contexts? See `docs/dwt-notes.md` ("Learned multi-reference contexts").
//!
//! Two modes:
//!
//! * `dump QUALITY OUT.bin DIR [EVERY]`: codes every (EVERY-th) PNG of DIR with the real encoder
//!   at QUALITY, entropy-decodes the stream back to its quantized values and, replaying the
//!   coefficient coder, writes for every coded detail coefficient one [`RECORD`]-byte record:
//!   its value, band, the reference features ([`F_NAMES`]) and the bits today's coder spends on
//!   it (magnitude token, raw bits, sign, under the live adaptive models). `OUT.bin.txt` gets
//!   one line per image: file bytes, LL bits, detail bits and the entropy-decoding time.
//! * `study TRAIN.bin[,TRAIN.bin...] EVAL.bin[,EVAL.bin...]`: fits, on the training dumps only,
//!   per class a linear predictor of `log2(1 + |v|)` from the log magnitudes of a set of
//!   references (the ablation: neighbours, + parent, + siblings, + luma, + non-local), quantizes
//!   its output into buckets (greedy merging of fine quantile bins by conditional entropy), and
//!   reports on each evaluation dump the bits of
//!   - today's coder (recorded, and re-simulated from the features as a check),
//!   - design A: adaptive models (the real [`Adaptive`], prior = training histograms) selected
//!     by class × predictor bucket,
//!   - design B: a static table `p(token | class, fine bin)` (what a network predicting the
//!     token distribution from the same references does, without adaptation), and its mix
//!     with A (`p = ½ p_A + ½ p_B`).
//!
//! Values are the encoder's final choices under today's models (the RDO choices are not redone
//! for the new models), the usual ideal-code-length comparison.
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::path::Path;
use std::time::Instant;

use lic::coder::CoderError;
use lic::dwt::code::{self, detail_class, tokenize, Layout, TOKENS};
use lic::dwt::model::{Adaptive, Rates, SymbolCoder, RATES};
use lic::dwt::transform::{bands, Band, Orient};
use lic::dwt::{self, EncodeOptions};
use lic::format::Container;
use lic::io::image::{image_files, load, LoadOptions};

/// Number of reference features.
const NF: usize = 19;
/// Feature names (magnitudes, capped; `*9`: sum over the 3 × 3 neighbourhood of the co-located
/// position in a band coded before; `nl`: magnitude at the best template match in the causal
/// area, `nlsad`: its template distance; `reg`: sum of magnitudes over a causal 17 × 4 + 8
/// window).
const F_NAMES: [&str; NF] = [
    "w", "n", "nw", "ne", "ww", "nn", "p", "p9", "s1", "s1_9", "s2", "s2_9", "l", "l9", "cb",
    "cb9", "nl", "nlsad", "reg",
];
const FW: usize = 0;
const FN: usize = 1;
const FNW: usize = 2;
const FNE: usize = 3;
const FWW: usize = 4;
const FNN: usize = 5;
const FP: usize = 6;
const FS1: usize = 8;
const FS2: usize = 10;
const FL: usize = 12;
/// Bytes per record.
const RECORD: usize = 2 + 3 + 4 + 4 + 2 * NF + 4 + 1 + 4;
/// Magnitude cap of single features (the coder's `CAP`).
const CAP: u32 = 1 << 12;

// ---------------------------------------------------------------------------------------------
// Replaying today's coder.

/// Bits of one coded value.
#[derive(Clone, Copy, Default)]
struct CoefBits {
    tok: u8,
    tok_bits: f32,
    raw: u8,
    sign_bits: f32,
}

/// A counting coder that keeps the bits of every value (token, raw bits, sign) in coding order.
#[derive(Default)]
struct Recorder {
    out: Vec<CoefBits>,
    cur: Option<CoefBits>,
    expect_sign: bool,
}

impl SymbolCoder for Recorder {
    fn symbol(&mut self, m: &mut Adaptive, s: &mut usize, rates: Rates) -> Result<(), CoderError> {
        let b = m.bits(*s) as f32;
        if self.expect_sign {
            let mut c = self.cur.take().expect("token before sign");
            c.sign_bits = b;
            self.out.push(c);
            self.expect_sign = false;
        } else {
            self.cur = Some(CoefBits {
                tok: *s as u8,
                tok_bits: b,
                ..Default::default()
            });
        }
        m.update(*s, rates);
        Ok(())
    }

    fn bits(&mut self, _v: &mut u32, n: u32) -> Result<(), CoderError> {
        let mut c = self.cur.take().expect("token before raw bits");
        c.raw = n as u8;
        if c.tok == 0 {
            self.out.push(c);
        } else {
            self.cur = Some(c);
            self.expect_sign = true;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Features.

fn find_band(bands: &[Band], level: usize, o: Orient) -> Option<Band> {
    bands
        .iter()
        .find(|b| b.level == level && b.orient == Some(o))
        .copied()
}

#[inline]
fn mag(v: i32) -> u32 {
    v.unsigned_abs().min(CAP)
}

/// Co-located magnitude and 3 × 3 sum in band `b` of plane `p` at `(x >> s, y >> s)` (clamped).
fn colocated(b: &Band, p: &[i32], w: usize, x: usize, y: usize, s: usize) -> (u16, u16) {
    if b.w == 0 || b.h == 0 {
        return (0, 0);
    }
    let (cx, cy) = ((x >> s).min(b.w - 1), (y >> s).min(b.h - 1));
    let c = mag(p[(b.y0 + cy) * w + b.x0 + cx]);
    let mut sum = 0u32;
    for yy in cy.saturating_sub(1)..=(cy + 1).min(b.h - 1) {
        for xx in cx.saturating_sub(1)..=(cx + 1).min(b.w - 1) {
            sum += mag(p[(b.y0 + yy) * w + b.x0 + xx]);
        }
    }
    (c as u16, sum.min(65_535) as u16)
}

/// The causal template of position `(x, y)` of band `b`: W, N, NW, NE, WW, NN (0 outside).
#[inline]
fn template(b: &Band, p: &[i32], w: usize, x: isize, y: isize) -> [i32; 6] {
    let at = |dx: isize, dy: isize| {
        let (xx, yy) = (x + dx, y + dy);
        if xx < 0 || yy < 0 || xx >= b.w as isize {
            0
        } else {
            p[(b.y0 + yy as usize) * w + b.x0 + xx as usize]
        }
    };
    [
        at(-1, 0),
        at(0, -1),
        at(-1, -1),
        at(1, -1),
        at(-2, 0),
        at(0, -2),
    ]
}

/// Rows and half-width of the non-local search window.
const NL_ROWS: isize = 6;
const NL_HALF: isize = 8;

/// Non-local reference: the magnitude at the causal position (at least two samples away, within
/// [`NL_ROWS`] rows above and [`NL_HALF`] columns either side) whose template is nearest (sum of
/// absolute differences) to this position's, and that distance; `(0, 0)` for an all-zero
/// template.
fn nonlocal(b: &Band, p: &[i32], w: usize, x: usize, y: usize) -> (u16, u16) {
    let (x, y) = (x as isize, y as isize);
    let t = template(b, p, w, x, y);
    if t.iter().all(|&v| v == 0) {
        return (0, 0);
    }
    let mut best = (u32::MAX, 0u32);
    for dy in 0..=NL_ROWS {
        let cy = y - dy;
        if cy < 0 {
            break;
        }
        for dx in -NL_HALF..=NL_HALF {
            let cx = x + dx;
            if cx < 0 || cx >= b.w as isize {
                continue;
            }
            // Causal and not one of the template's own positions.
            let ok = if dy == 0 {
                dx <= -3
            } else {
                !((dy == 1 && dx.abs() <= 1) || (dy == 2 && dx == 0))
            };
            if !ok {
                continue;
            }
            let c = template(b, p, w, cx, cy);
            let sad: u32 = t.iter().zip(&c).map(|(a, b)| a.abs_diff(*b).min(CAP)).sum();
            if sad < best.0 {
                best = (sad, mag(p[(b.y0 + cy as usize) * w + b.x0 + cx as usize]));
            }
        }
    }
    if best.0 == u32::MAX {
        return (0, 0);
    }
    (best.1 as u16, best.0.min(65_535) as u16)
}

/// Sum of magnitudes over the causal window: 4 rows above, 8 columns either side, and 8 to the
/// left on this row.
fn regional(b: &Band, p: &[i32], w: usize, x: usize, y: usize) -> u16 {
    let mut s = 0u32;
    let (x0, x1) = (x.saturating_sub(8), (x + 8).min(b.w - 1));
    for yy in y.saturating_sub(4)..y {
        let row = &p[(b.y0 + yy) * w + b.x0..];
        s += row[x0..=x1].iter().map(|&v| mag(v)).sum::<u32>();
    }
    let row = &p[(b.y0 + y) * w + b.x0..];
    s += row[x0..x].iter().map(|&v| mag(v)).sum::<u32>();
    s.min(65_535) as u16
}

/// One coded detail coefficient.
#[derive(Clone, Copy, Default)]
struct Rec {
    img: u16,
    comp: u8,
    level: u8,
    orient: u8,
    x: u16,
    y: u16,
    v: i32,
    f: [u16; NF],
    tok_bits: f32,
    raw: u8,
    sign_bits: f32,
}

impl Rec {
    fn write(&self, out: &mut Vec<u8>) {
        out.extend(self.img.to_le_bytes());
        out.extend([self.comp, self.level, self.orient]);
        out.extend(self.x.to_le_bytes());
        out.extend(self.y.to_le_bytes());
        out.extend(self.v.to_le_bytes());
        for f in self.f {
            out.extend(f.to_le_bytes());
        }
        out.extend(self.tok_bits.to_le_bytes());
        out.push(self.raw);
        out.extend(self.sign_bits.to_le_bytes());
    }

    fn read(b: &[u8]) -> Self {
        let u16_at = |i: usize| u16::from_le_bytes([b[i], b[i + 1]]);
        let f32_at = |i: usize| f32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        let mut f = [0u16; NF];
        for (k, v) in f.iter_mut().enumerate() {
            *v = u16_at(13 + 2 * k);
        }
        let e = 13 + 2 * NF;
        Rec {
            img: u16_at(0),
            comp: b[2],
            level: b[3],
            orient: b[4],
            x: u16_at(5),
            y: u16_at(7),
            v: i32::from_le_bytes([b[9], b[10], b[11], b[12]]),
            f,
            tok_bits: f32_at(e),
            raw: b[e + 4],
            sign_bits: f32_at(e + 5),
        }
    }

    fn orient(&self) -> Orient {
        [Orient::Hl, Orient::Lh, Orient::Hh][self.orient as usize]
    }

    fn class(&self) -> usize {
        detail_class(self.comp as usize, self.level as usize, self.orient())
    }

    fn tok(&self) -> usize {
        tokenize(self.v.unsigned_abs().min(code::MAX_MAGNITUDE)).0
    }
}

/// Per-image summary of a dump.
struct ImageInfo {
    name: String,
    w: usize,
    h: usize,
    file_bytes: usize,
    ll_bits: f64,
    detail_bits: f64,
    decode_s: f64,
    feature_s: [f64; 2],
}

fn dump_image(idx: usize, path: &Path, quality: f32) -> (Vec<u8>, ImageInfo) {
    let img = load(path, &LoadOptions::default()).unwrap().image;
    let e = dwt::encode_image(&img, &EncodeOptions::new(quality)).unwrap();
    let c = Container::parse(&e.bytes).unwrap();
    let t = Instant::now();
    let coefs = dwt::decode_coefficients(&c, u64::MAX).unwrap();
    let decode_s = t.elapsed().as_secs_f64();
    let (w, h) = (coefs.width as usize, coefs.height as usize);
    let levels = coefs.params.levels;
    let bl = bands(w, h, levels);
    let layout = Layout::plane(w, &bl, levels);
    let mut q = coefs.q.clone();
    let mut rec = Recorder::default();
    code::code_planes(
        &mut rec,
        &mut lic::dwt::prior::models(),
        &layout,
        &mut q,
        None,
    )
    .unwrap();
    assert_eq!(q, coefs.q);
    let comps = q.len();
    let mut out = Vec::new();
    let mut it = rec.out.iter();
    let (mut ll_bits, mut detail_bits) = (0.0, 0.0);
    let mut feature_s = [0.0; 2];
    for band in &bl {
        for comp in 0..comps {
            let p = &q[comp];
            let Some(o) = band.orient else {
                for _ in 0..band.w * band.h {
                    let cb = it.next().unwrap();
                    ll_bits += f64::from(cb.tok_bits + f32::from(cb.raw) + cb.sign_bits);
                }
                continue;
            };
            let parent = find_band(&bl, band.level + 1, o);
            let sib = match o {
                Orient::Hl => [None, None],
                Orient::Lh => [find_band(&bl, band.level, Orient::Hl), None],
                Orient::Hh => [
                    find_band(&bl, band.level, Orient::Hl),
                    find_band(&bl, band.level, Orient::Lh),
                ],
            };
            for y in 0..band.h {
                for x in 0..band.w {
                    let cb = it.next().unwrap();
                    let v = p[(band.y0 + y) * w + band.x0 + x];
                    assert_eq!(
                        cb.tok as usize,
                        tokenize(v.unsigned_abs().min(code::MAX_MAGNITUDE)).0
                    );
                    let t0 = Instant::now();
                    let mut f = [0u16; NF];
                    let tp = template(band, p, w, x as isize, y as isize);
                    for (fk, &t) in f.iter_mut().zip(&tp) {
                        *fk = mag(t) as u16;
                    }
                    if let Some(pb) = &parent {
                        (f[6], f[7]) = colocated(pb, p, w, x, y, 1);
                    }
                    for (k, sb) in sib.iter().enumerate() {
                        if let Some(sb) = sb {
                            (f[8 + 2 * k], f[9 + 2 * k]) = colocated(sb, p, w, x, y, 0);
                        }
                    }
                    if comp > 0 {
                        (f[12], f[13]) = colocated(band, &q[0], w, x, y, 0);
                    }
                    if comp > 1 {
                        (f[14], f[15]) = colocated(band, &q[1], w, x, y, 0);
                    }
                    let t1 = Instant::now();
                    (f[16], f[17]) = nonlocal(band, p, w, x, y);
                    f[18] = regional(band, p, w, x, y);
                    let t2 = Instant::now();
                    feature_s[0] += (t1 - t0).as_secs_f64();
                    feature_s[1] += (t2 - t1).as_secs_f64();
                    let r = Rec {
                        img: idx as u16,
                        comp: comp as u8,
                        level: band.level as u8,
                        orient: match o {
                            Orient::Hl => 0,
                            Orient::Lh => 1,
                            Orient::Hh => 2,
                        },
                        x: x as u16,
                        y: y as u16,
                        v,
                        f,
                        tok_bits: cb.tok_bits,
                        raw: cb.raw,
                        sign_bits: cb.sign_bits,
                    };
                    detail_bits += f64::from(cb.tok_bits + f32::from(cb.raw) + cb.sign_bits);
                    r.write(&mut out);
                }
            }
        }
    }
    assert!(it.next().is_none());
    let info = ImageInfo {
        name: path.file_name().unwrap().to_string_lossy().into_owned(),
        w,
        h,
        file_bytes: e.bytes.len(),
        ll_bits,
        detail_bits,
        decode_s,
        feature_s,
    };
    (out, info)
}

/// Times the reference features of every detail coefficient of the quantized planes `q` (the
/// decoder's work on top of today's contexts), without timer calls in the loop: the co-located
/// parent, sibling and luma/Cb magnitudes with their 3 × 3 sums, and separately the non-local
/// template search. Returns seconds and the coefficient count.
fn time_features(q: &[Vec<i32>], bl: &[Band], w: usize) -> (f64, f64, usize) {
    let mut sink = 0u64;
    let mut n = 0;
    let t = Instant::now();
    for band in bl {
        let Some(o) = band.orient else { continue };
        let parent = find_band(bl, band.level + 1, o);
        let sib = match o {
            Orient::Hl => [None, None],
            Orient::Lh => [find_band(bl, band.level, Orient::Hl), None],
            Orient::Hh => [
                find_band(bl, band.level, Orient::Hl),
                find_band(bl, band.level, Orient::Lh),
            ],
        };
        for comp in 0..q.len() {
            let p = &q[comp];
            for y in 0..band.h {
                for x in 0..band.w {
                    let mut acc = 0u32;
                    if let Some(pb) = &parent {
                        let (a, b) = colocated(pb, p, w, x, y, 1);
                        acc += u32::from(a) + u32::from(b);
                    }
                    for sb in sib.iter().flatten() {
                        let (a, b) = colocated(sb, p, w, x, y, 0);
                        acc += u32::from(a) + u32::from(b);
                    }
                    if comp > 0 {
                        let (a, b) = colocated(band, &q[0], w, x, y, 0);
                        acc += u32::from(a) + u32::from(b);
                    }
                    if comp > 1 {
                        let (a, b) = colocated(band, &q[1], w, x, y, 0);
                        acc += u32::from(a) + u32::from(b);
                    }
                    sink += u64::from(acc);
                    n += 1;
                }
            }
        }
    }
    let local = t.elapsed().as_secs_f64();
    let t = Instant::now();
    for band in bl.iter().filter(|b| b.orient.is_some()) {
        for p in q {
            for y in 0..band.h {
                for x in 0..band.w {
                    let (a, b) = nonlocal(band, p, w, x, y);
                    sink += u64::from(a) + u64::from(b);
                }
            }
        }
    }
    let nl = t.elapsed().as_secs_f64();
    std::hint::black_box(sink);
    (local, nl, n)
}

/// `featime QUALITY DIR`: the feature timing of [`time_features`] on every image of DIR.
fn featime(a: &[String]) {
    let quality: f32 = a[0].parse().unwrap();
    let (mut tl, mut tn, mut td, mut n) = (0.0, 0.0, 0.0, 0usize);
    for f in image_files(Path::new(&a[1]), &["png"]).unwrap() {
        let img = load(&f, &LoadOptions::default()).unwrap().image;
        let e = dwt::encode_image(&img, &EncodeOptions::new(quality)).unwrap();
        let c = Container::parse(&e.bytes).unwrap();
        let t = Instant::now();
        let coefs = dwt::decode_coefficients(&c, u64::MAX).unwrap();
        td += t.elapsed().as_secs_f64();
        let (w, h) = (coefs.width as usize, coefs.height as usize);
        let bl = bands(w, h, coefs.params.levels);
        let (l, nl, k) = time_features(&coefs.q, &bl, w);
        (tl, tn, n) = (tl + l, tn + nl, n + k);
        let mut full = 0.0;
        let t = Instant::now();
        let _ = dwt::decode(&e.bytes, u64::MAX).unwrap();
        full += t.elapsed().as_secs_f64();
        eprintln!("{}: whole decode {:.1} ms", f.display(), 1e3 * full);
    }
    println!(
        "{n} detail coefficients: entropy decoding today {:.1} ns, parent/sibling/luma features {:.1} ns, non-local search {:.1} ns per detail coefficient",
        1e9 * td / n as f64,
        1e9 * tl / n as f64,
        1e9 * tn / n as f64
    );
}

fn dump(a: &[String]) {
    let quality: f32 = a[0].parse().unwrap();
    let out = Path::new(&a[1]);
    let every: usize = a.get(3).map_or(1, |v| v.parse().unwrap());
    let files: Vec<_> = image_files(Path::new(&a[2]), &["png"])
        .unwrap()
        .into_iter()
        .step_by(every)
        .collect();
    let mut bin = BufWriter::new(File::create(out).unwrap());
    let mut txt = File::create(format!("{}.txt", out.display())).unwrap();
    writeln!(
        txt,
        "# idx name w h file_bytes ll_bits detail_bits entropy_decode_s feat_local_s feat_nonlocal_s"
    )
    .unwrap();
    let t = Instant::now();
    for (i, f) in files.iter().enumerate() {
        let (bytes, info) = dump_image(i, f, quality);
        bin.write_all(&bytes).unwrap();
        writeln!(
            txt,
            "{i} {} {} {} {} {:.1} {:.1} {:.5} {:.5} {:.5}",
            info.name,
            info.w,
            info.h,
            info.file_bytes,
            info.ll_bits,
            info.detail_bits,
            info.decode_s,
            info.feature_s[0],
            info.feature_s[1]
        )
        .unwrap();
        eprintln!(
            "[{:.0} s] {} ({} bytes, {} records)",
            t.elapsed().as_secs_f64(),
            info.name,
            info.file_bytes,
            bytes.len() / RECORD
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Study.

/// Streams the records of dumps (in order), calling `f` on each.
fn stream(paths: &[String], mut f: impl FnMut(usize, &Rec)) {
    for (k, p) in paths.iter().enumerate() {
        let mut r = BufReader::with_capacity(1 << 22, File::open(p).unwrap());
        let mut buf = vec![0u8; RECORD * 4096];
        loop {
            let mut n = 0;
            while n < buf.len() {
                let got = r.read(&mut buf[n..]).unwrap();
                if got == 0 {
                    break;
                }
                n += got;
            }
            assert_eq!(n % RECORD, 0, "{p}: truncated");
            for c in buf[..n].chunks_exact(RECORD) {
                f(k, &Rec::read(c));
            }
            if n < buf.len() {
                break;
            }
        }
    }
}

fn read_info(path: &str) -> Vec<ImageInfo> {
    let t = BufReader::new(File::open(format!("{path}.txt")).unwrap());
    t.lines()
        .map(|l| l.unwrap())
        .filter(|l| !l.starts_with('#'))
        .map(|l| {
            let s: Vec<&str> = l.split_whitespace().collect();
            ImageInfo {
                name: s[1].to_string(),
                w: s[2].parse().unwrap(),
                h: s[3].parse().unwrap(),
                file_bytes: s[4].parse().unwrap(),
                ll_bits: s[5].parse().unwrap(),
                detail_bits: s[6].parse().unwrap(),
                decode_s: s[7].parse().unwrap(),
                feature_s: [s[8].parse().unwrap(), s[9].parse().unwrap()],
            }
        })
        .collect()
}

// Today's contexts, from the features (constants of `dwt::code`).
const W_ALONG: u32 = 24;
const W_ACROSS: u32 = 8;
const W_DIAG: u32 = 8;
const W_FAR: u32 = 8;
const LOCAL_SCALE: u32 = 11;
const LOCAL_BUCKETS: usize = 15;
const CROSS_BUCKETS: usize = 4;
const DETAIL_CLASSES: usize = 16;

fn local_raw(r: &Rec) -> u32 {
    let (a_n, a_w) = match r.orient {
        0 => (W_ALONG, W_ACROSS),
        1 => (W_ACROSS, W_ALONG),
        _ => ((W_ALONG + W_ACROSS) / 2, (W_ALONG + W_ACROSS) / 2),
    };
    let f = |k: usize| u32::from(r.f[k]);
    a_w * f(FW) + a_n * f(FN) + W_DIAG * (f(FNW) + f(FNE)) + W_FAR * (f(FWW) + f(FNN))
}

fn today_ctx(r: &Rec) -> usize {
    const LE: [u32; LOCAL_BUCKETS - 1] = [1, 2, 3, 5, 7, 10, 14, 20, 28, 40, 56, 80, 112, 160];
    const CE: [u32; CROSS_BUCKETS - 1] = [1, 3, 7];
    let a = local_raw(r) * LOCAL_SCALE / 64;
    let lb = LE.iter().take_while(|&&e| a >= e).count();
    let f = |k: usize| u32::from(r.f[k]);
    let mut cross = 2 * f(FP) + f(FS1) + f(FS2);
    if r.comp > 0 {
        cross += f(FL);
    }
    let cb = CE.iter().take_while(|&&e| cross >= e).count();
    (r.class() * LOCAL_BUCKETS + lb) * CROSS_BUCKETS + cb
}

/// Ablation steps: cumulative feature sets.
const SETS: [(&str, &[usize]); 6] = [
    ("neighbours", &[0, 1, 2, 3, 4, 5]),
    ("+parent", &[0, 1, 2, 3, 4, 5, 6, 7]),
    ("+siblings", &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]),
    (
        "+luma/cb",
        &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
    ),
    (
        "+non-local",
        &[
            0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18,
        ],
    ),
    (
        "all-but-nl",
        &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 18],
    ),
];

/// Regression groups: component (3) × level (1, 2, 3, ≥4) × orientation (3).
const GROUPS: usize = 36;

fn group(r: &Rec) -> usize {
    (r.comp.min(2) as usize * 4 + (r.level.clamp(1, 4) - 1) as usize) * 3 + r.orient as usize
}

/// `log2(1 + m)` from a table.
fn lg(m: u16) -> f64 {
    static T: std::sync::OnceLock<Vec<f64>> = std::sync::OnceLock::new();
    T.get_or_init(|| (0..=65_535u32).map(|m| f64::from(1 + m).log2()).collect())[m as usize]
}

/// The regression inputs of set `s`: 1, log local activity, log features.
fn inputs(r: &Rec, s: &[usize], x: &mut Vec<f64>) {
    x.clear();
    x.push(1.0);
    x.push(f64::from(1 + local_raw(r) / 8).log2());
    for &k in s {
        x.push(lg(r.f[k]));
    }
    // A few nonlinear terms: whether the causal neighbours are all zero, and the square of the
    // log local activity.
    let z = r.f[..6].iter().all(|&v| v == 0);
    x.push(f64::from(u8::from(z)));
    x.push(x[1] * x[1]);
}

/// Least squares with a small ridge (Cholesky).
fn solve(a: &[f64], b: &[f64], d: usize) -> Vec<f64> {
    let mut m = a.to_vec();
    let tr: f64 = (0..d).map(|i| m[i * d + i]).sum::<f64>() / d as f64;
    for i in 0..d {
        m[i * d + i] += 1e-6 * tr + 1e-9;
    }
    // Cholesky in place (lower).
    for j in 0..d {
        let mut s = m[j * d + j];
        for k in 0..j {
            s -= m[j * d + k] * m[j * d + k];
        }
        let l = s.max(1e-12).sqrt();
        m[j * d + j] = l;
        for i in j + 1..d {
            let mut s = m[i * d + j];
            for k in 0..j {
                s -= m[i * d + k] * m[j * d + k];
            }
            m[i * d + j] = s / l;
        }
    }
    let mut y = b.to_vec();
    for i in 0..d {
        for k in 0..i {
            y[i] -= m[i * d + k] * y[k];
        }
        y[i] /= m[i * d + i];
    }
    for i in (0..d).rev() {
        for k in i + 1..d {
            y[i] -= m[k * d + i] * y[k];
        }
        y[i] /= m[i * d + i];
    }
    y
}

fn entropy(h: &[f64]) -> f64 {
    let n: f64 = h.iter().sum();
    if n <= 0.0 {
        return 0.0;
    }
    h.iter()
        .filter(|&&c| c > 0.0)
        .map(|&c| -c * (c / n).log2())
        .sum()
}

/// A fitted predictor with its bucketing.
struct Predictor {
    set: &'static [usize],
    /// Per regression group, the weights.
    wts: Vec<Vec<f64>>,
    /// Per class, the fine-bin thresholds on the prediction.
    fine: Vec<Vec<f64>>,
    /// Per class, fine bin → bucket, for each bucket count tried.
    merge: Vec<Vec<Vec<usize>>>,
    /// Per context of today's coder, the thresholds splitting it into [`REFINE`] by the
    /// prediction (quantiles).
    refine: Vec<Vec<f64>>,
    /// The network, when the predictor is one (else the linear weights).
    mlp: Option<Mlp>,
}

/// Hidden units of the network predictor.
const HIDDEN: usize = 24;

/// A one-hidden-layer network predicting `log μ` of the geometric distribution: `h = relu(W x
/// + e_g)`, `η = v · h + c_g` (`g`: the regression group; `x[0] = 1`).
#[derive(Clone)]
struct Mlp {
    d: usize,
    w: Vec<f64>,
    e: Vec<f64>,
    v: Vec<f64>,
    c: Vec<f64>,
}

impl Mlp {
    fn forward(&self, x: &[f64], g: usize, mut h: Option<&mut Vec<f64>>) -> f64 {
        if let Some(h) = h.as_deref_mut() {
            h.clear();
        }
        let mut eta = self.c[g];
        for j in 0..HIDDEN {
            let row = &self.w[j * self.d..(j + 1) * self.d];
            let a: f64 =
                row.iter().zip(x).map(|(a, b)| a * b).sum::<f64>() + self.e[g * HIDDEN + j];
            let a = a.max(0.0);
            if let Some(h) = h.as_deref_mut() {
                h.push(a);
            }
            eta += self.v[j] * a;
        }
        eta
    }
}

/// Trains the network on a subsample of the training records (geometric negative
/// log-likelihood, Adam, minibatches of 256), starting from the linear fit's output bias.
fn fit_mlp(train: &[String], set: &'static [usize], d: usize) -> Mlp {
    let mut data: Vec<(Vec<f32>, u16, f32)> = Vec::new();
    let mut x = Vec::new();
    let mut k = 0usize;
    let every: usize = std::env::var("MLP_EVERY").map_or(16, |v| v.parse().unwrap());
    stream(train, |_, r| {
        k += 1;
        if k.is_multiple_of(every) {
            inputs(r, set, &mut x);
            data.push((
                x.iter().map(|&v| v as f32).collect(),
                group(r) as u16,
                r.v.unsigned_abs().min(1 << 20) as f32,
            ));
        }
    });
    let mut seed = 0x1234_5678_9abc_def0u64;
    let mut rnd = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut m = Mlp {
        d,
        w: (0..HIDDEN * d).map(|_| (rnd() - 0.5) * 0.6).collect(),
        e: vec![0.1; GROUPS * HIDDEN],
        v: (0..HIDDEN).map(|_| (rnd() - 0.5) * 0.2).collect(),
        c: vec![-2.0; GROUPS],
    };
    let n_par = m.w.len() + m.e.len() + m.v.len() + m.c.len();
    let (mut m1, mut m2) = (vec![0.0; n_par], vec![0.0; n_par]);
    let epochs: usize = std::env::var("MLP_EPOCHS").map_or(3, |v| v.parse().unwrap());
    let batch = 256;
    let mut step = 0i32;
    let mut order: Vec<usize> = (0..data.len()).collect();
    let mut h = Vec::new();
    for ep in 0..epochs {
        for i in (1..order.len()).rev() {
            let j = (rnd() * (i + 1) as f64) as usize;
            order.swap(i, j.min(i));
        }
        let lr = 3e-3 * 0.5f64.powi(ep as i32);
        let mut nll = 0.0;
        for chunk in order.chunks(batch) {
            let mut grad = vec![0.0; n_par];
            let (ow, oe, ov) = (0, m.w.len(), m.w.len() + m.e.len());
            let oc = ov + HIDDEN;
            for &i in chunk {
                let (xs, g, mm) = &data[i];
                let xd: Vec<f64> = xs.iter().map(|&v| f64::from(v)).collect();
                let g = *g as usize;
                let eta = m.forward(&xd, g, Some(&mut h)).clamp(-30.0, 30.0);
                let mm = f64::from(*mm);
                let sig = 1.0 / (1.0 + (-eta).exp());
                let ln1p = if eta > 0.0 {
                    eta + (-eta).exp().ln_1p()
                } else {
                    eta.exp().ln_1p()
                };
                nll += (1.0 + mm) * ln1p - mm * eta;
                let ge = (1.0 + mm) * sig - mm;
                grad[oc + g] += ge;
                for j in 0..HIDDEN {
                    grad[ov + j] += ge * h[j];
                    if h[j] > 0.0 {
                        let gh = ge * m.v[j];
                        grad[oe + g * HIDDEN + j] += gh;
                        for (a, b) in grad[ow + j * d..ow + (j + 1) * d].iter_mut().zip(&xd) {
                            *a += gh * b;
                        }
                    }
                }
            }
            step += 1;
            let (b1, b2) = (0.9f64, 0.999f64);
            let (c1, c2) = (1.0 - b1.powi(step), 1.0 - b2.powi(step));
            let params =
                m.w.iter_mut()
                    .chain(m.e.iter_mut())
                    .chain(m.v.iter_mut())
                    .chain(m.c.iter_mut());
            for (((p, g), a), b) in params.zip(&grad).zip(&mut m1).zip(&mut m2) {
                let g = g / chunk.len() as f64;
                *a = b1 * *a + (1.0 - b1) * g;
                *b = b2 * *b + (1.0 - b2) * g * g;
                *p -= lr * (*a / c1) / ((*b / c2).sqrt() + 1e-8);
            }
        }
        eprintln!(
            "  mlp epoch {ep}: {:.4} bits per sample ({} samples)",
            nll / std::f64::consts::LN_2 / data.len() as f64,
            data.len()
        );
    }
    m
}

impl Predictor {
    fn predict(&self, r: &Rec, x: &mut Vec<f64>) -> f64 {
        inputs(r, self.set, x);
        if let Some(m) = &self.mlp {
            return m.forward(x, group(r), None);
        }
        x.iter().zip(&self.wts[group(r)]).map(|(a, b)| a * b).sum()
    }
    /// Today's context refined by the prediction.
    fn refined(&self, r: &Rec, x: &mut Vec<f64>) -> usize {
        let c = today_ctx(r);
        let p = self.predict(r, x);
        c * REFINE + self.refine[c].partition_point(|&e| e <= p)
    }
    fn fine_bin(&self, r: &Rec, x: &mut Vec<f64>) -> usize {
        let p = self.predict(r, x);
        let t = &self.fine[r.class()];
        t.partition_point(|&e| e <= p)
    }
}

const FINE: usize = 128;
/// Sub-contexts of each of today's contexts in the refining design.
const REFINE: usize = 3;
/// Bucket counts tried for design A.
const NBS: [usize; 1] = [20];

/// Greedy merging of adjacent fine bins (histograms `h`) down to `nb`, least entropy increase
/// first. Returns fine bin → bucket.
fn merge_bins(h: &[Vec<f64>], nb: usize) -> Vec<usize> {
    let mut groups: Vec<(Vec<usize>, Vec<f64>)> = h
        .iter()
        .enumerate()
        .map(|(i, v)| (vec![i], v.clone()))
        .collect();
    while groups.len() > nb {
        let mut best = (f64::INFINITY, 0);
        for i in 0..groups.len() - 1 {
            let m: Vec<f64> = groups[i]
                .1
                .iter()
                .zip(&groups[i + 1].1)
                .map(|(a, b)| a + b)
                .collect();
            let d = entropy(&m) - entropy(&groups[i].1) - entropy(&groups[i + 1].1);
            if d < best.0 {
                best = (d, i);
            }
        }
        let i = best.1;
        let (ids, hist) = groups.remove(i + 1);
        groups[i].0.extend(ids);
        for (a, b) in groups[i].1.iter_mut().zip(hist) {
            *a += b;
        }
    }
    let mut map = vec![0; h.len()];
    for (g, (ids, _)) in groups.iter().enumerate() {
        for &i in ids {
            map[i] = g;
        }
    }
    map
}

/// The `n − 1` inner quantiles of `s` (as bin boundaries), equal ones merged.
fn quantiles(mut s: Vec<f32>, n: usize) -> Vec<f64> {
    s.sort_by(f32::total_cmp);
    let mut t: Vec<f64> = (1..n)
        .filter_map(|i| s.get(i * s.len() / n).map(|&v| f64::from(v)))
        .collect();
    t.dedup_by(|a, b| (*a - *b).abs() < 1e-9);
    t
}

fn fit(train: &[String], set: &'static [usize]) -> Predictor {
    let mut x = Vec::new();
    inputs(&Rec::default(), set, &mut x);
    let d = x.len();
    let mut ata = vec![vec![0.0; d * d]; GROUPS];
    let mut atb = vec![vec![0.0; d]; GROUPS];
    stream(train, |_, r| {
        inputs(r, set, &mut x);
        let g = group(r);
        let t = lg(r.v.unsigned_abs().min(65_535) as u16);
        let (a, b) = (&mut ata[g], &mut atb[g]);
        for i in 0..d {
            b[i] += x[i] * t;
            for j in 0..=i {
                a[i * d + j] += x[i] * x[j];
            }
        }
    });
    for a in &mut ata {
        for i in 0..d {
            for j in i + 1..d {
                a[i * d + j] = a[j * d + i];
            }
        }
    }
    let mut wts: Vec<Vec<f64>> = (0..GROUPS).map(|g| solve(&ata[g], &atb[g], d)).collect();
    if std::env::var("FIT").map_or(true, |v| v == "glm") {
        wts = fit_glm(train, set, d);
    }
    let mut p = Predictor {
        set,
        wts,
        fine: Vec::new(),
        merge: Vec::new(),
        refine: Vec::new(),
        mlp: None,
    };
    if std::env::var("FIT").is_ok_and(|v| v == "mlp") {
        p.mlp = Some(fit_mlp(train, set, d));
    }
    // Fine bins: quantiles of the prediction per class (on every 4th record).
    let mut samples = vec![Vec::new(); DETAIL_CLASSES];
    let mut by_ctx = vec![Vec::new(); DETAIL_CLASSES * LOCAL_BUCKETS * CROSS_BUCKETS];
    let mut k = 0usize;
    stream(train, |_, r| {
        k += 1;
        if k.is_multiple_of(4) {
            let v = p.predict(r, &mut x) as f32;
            samples[r.class()].push(v);
            by_ctx[today_ctx(r)].push(v);
        }
    });
    p.refine = by_ctx.into_iter().map(|s| quantiles(s, REFINE)).collect();
    p.fine = samples
        .into_iter()
        .map(|s| {
            let mut t = quantiles(s, FINE);
            // Exact ties (identical inputs) sit in one bin.
            t.truncate(FINE - 1);
            t
        })
        .collect();
    let h = fine_hist(train, &p);
    p.merge = h
        .iter()
        .map(|hc| NBS.iter().map(|&nb| merge_bins(hc, nb)).collect())
        .collect();
    p
}

/// Newton iterations of the geometric GLM.
const GLM_ITERS: usize = 12;
/// The GLM is fitted on every this-many-th training record.
const GLM_EVERY: usize = 8;

/// Maximum-likelihood fit, per regression group, of a geometric distribution of the magnitude
/// `m` with mean `μ = exp(w · x)`: the negative log-likelihood `(1 + m) log(1 + μ) − m log μ` is
/// convex in `w`; damped Newton (steps capped, halved back when the likelihood of the group
/// gets worse) on every [`GLM_EVERY`]-th training record.
fn fit_glm(train: &[String], set: &'static [usize], d: usize) -> Vec<Vec<f64>> {
    let mut w = vec![vec![0.0; d]; GROUPS];
    for g in &mut w {
        g[0] = -2.0;
    }
    let mut best_w = w.clone();
    let mut best_nll = vec![f64::INFINITY; GROUPS];
    let mut x = Vec::new();
    for it in 0..GLM_ITERS {
        let mut hs = vec![vec![0.0; d * d]; GROUPS];
        let mut gs = vec![vec![0.0; d]; GROUPS];
        let mut nll = vec![0.0; GROUPS];
        let mut k = 0usize;
        stream(train, |_, r| {
            k += 1;
            if !k.is_multiple_of(GLM_EVERY) {
                return;
            }
            inputs(r, set, &mut x);
            let gi = group(r);
            let eta: f64 = x.iter().zip(&w[gi]).map(|(a, b)| a * b).sum();
            let eta = eta.clamp(-30.0, 30.0);
            let m = f64::from(r.v.unsigned_abs().min(1 << 20));
            let sig = 1.0 / (1.0 + (-eta).exp());
            let ln1p = if eta > 0.0 {
                eta + (-eta).exp().ln_1p()
            } else {
                eta.exp().ln_1p()
            };
            nll[gi] += (1.0 + m) * ln1p - m * eta;
            let gr = (1.0 + m) * sig - m;
            // Fisher scoring: the expected Hessian (E[m] = μ) is σ, never tiny where the
            // observed one is.
            let he = sig.max(1e-4);
            let (h, g) = (&mut hs[gi], &mut gs[gi]);
            for i in 0..d {
                g[i] += gr * x[i];
                let hx = he * x[i];
                for j in 0..=i {
                    h[i * d + j] += hx * x[j];
                }
            }
        });
        let mut total = 0.0;
        let mut moved = 0;
        for gi in 0..GROUPS {
            let h = &mut hs[gi];
            if h[0] == 0.0 {
                continue;
            }
            if nll[gi] > best_nll[gi] {
                // Worse: back half-way towards the best point.
                for (a, b) in w[gi].iter_mut().zip(&best_w[gi]) {
                    *a = 0.5 * (*a + *b);
                }
                total += best_nll[gi];
                continue;
            }
            best_nll[gi] = nll[gi];
            best_w[gi] = w[gi].clone();
            total += nll[gi];
            for i in 0..d {
                for j in i + 1..d {
                    h[i * d + j] = h[j * d + i];
                }
            }
            let step = solve(h, &gs[gi], d);
            let big = step.iter().fold(0.0f64, |a, v| a.max(v.abs()));
            let scale = if big > 2.0 { 2.0 / big } else { 1.0 };
            for (a, s) in w[gi].iter_mut().zip(step) {
                *a -= scale * s;
            }
            moved += 1;
        }
        eprintln!(
            "  glm iteration {it}: nll {:.0} bits ({moved} groups stepped)",
            total / std::f64::consts::LN_2
        );
    }
    best_w
}

/// Per class and fine bin, the token histogram on `paths`.
fn fine_hist(paths: &[String], p: &Predictor) -> Vec<Vec<Vec<f64>>> {
    let mut h = vec![vec![vec![0.0; TOKENS]; FINE]; DETAIL_CLASSES];
    let mut x = Vec::new();
    stream(paths, |_, r| {
        let b = p.fine_bin(r, &mut x);
        h[r.class()][b][r.tok()] += 1.0;
    });
    h
}

/// Adaptive models from histograms (add-½ smoothing; empty ones geometric-ish).
fn models_from(h: &[Vec<f64>]) -> Vec<Adaptive> {
    h.iter()
        .map(|c| {
            let w: Vec<f64> = c
                .iter()
                .enumerate()
                .map(|(t, &n)| n + 0.5 * 0.5f64.powi(t as i32).max(1e-3))
                .collect();
            Adaptive::new(&w)
        })
        .collect()
}

/// Static probabilities from histograms (0.05 added to every count, normalized; no floor of the
/// coder's precision: the floating-point mixes that use them are bounds for a coder of more
/// than 16 bits, the integer ones quantize them).
fn static_from(h: &[Vec<f64>]) -> Vec<Vec<f64>> {
    h.iter()
        .map(|c| {
            let w: Vec<f64> = c.iter().map(|&n| n + 0.05).collect();
            let s: f64 = w.iter().sum();
            w.iter().map(|&v| v / s).collect::<Vec<f64>>()
        })
        .collect()
}

/// Bits of one evaluation dump under every design, per component: `[comp][design]`.
struct Tally {
    names: Vec<String>,
    bits: Vec<[f64; 3]>,
}

impl Tally {
    fn new() -> Self {
        Tally {
            names: Vec::new(),
            bits: Vec::new(),
        }
    }
    fn add(&mut self, name: &str, b: &[f64; 3]) {
        let i = match self.names.iter().position(|n| n == name) {
            Some(i) => i,
            None => {
                self.names.push(name.to_string());
                self.bits.push([0.0; 3]);
                self.names.len() - 1
            }
        };
        for (a, v) in self.bits[i].iter_mut().zip(b) {
            *a += v;
        }
    }
}

/// [`Adaptive`] at another precision: the same CDF adaptation (boundaries move `2^-rate` of
/// the way, every symbol keeps one unit of mass), in `prec`-bit fixed point. At 16 bits it is
/// exactly [`Adaptive`]; more bits lower the floor of the probabilities (with 56 tokens, 16 bits
/// reserve 55/65536 of the mass for the tokens other than zero: 0.0012 bits per zero).
#[derive(Clone)]
struct Hp {
    cdf: Vec<u32>,
    count: u16,
    prec: u32,
}

impl Hp {
    fn new(weights: &[f64], prec: u32) -> Self {
        let n = weights.len();
        let mass = (1u32 << prec) - n as u32;
        let total: f64 = weights.iter().sum();
        let mut cdf = vec![0u32];
        let mut acc = 0.0;
        for w in &weights[..n - 1] {
            acc += w / total;
            let c = (acc * f64::from(mass)).round() as u32;
            let prev = *cdf.last().unwrap();
            cdf.push(c.clamp(prev, mass));
        }
        cdf.push(mass);
        Hp {
            cdf,
            count: 0,
            prec,
        }
    }
    /// From a 16-bit model (its probabilities).
    fn from16(m: &Adaptive, prec: u32) -> Self {
        let w: Vec<f64> = (0..m.len()).map(|s| f64::from(m.freq(s))).collect();
        Self::new(&w, prec)
    }
    #[inline]
    fn left(&self, s: usize) -> u64 {
        u64::from(self.cdf[s]) + s as u64
    }
    #[inline]
    fn freq(&self, s: usize) -> u64 {
        self.left(s + 1) - self.left(s)
    }
    #[inline]
    fn update(&mut self, s: usize, rates: Rates) {
        let rate = (u32::from(rates.first) + u32::from(self.count >> 4)).min(u32::from(rates.last));
        self.count = self.count.saturating_add(1);
        let n = self.cdf.len() - 1;
        let mass = (1u32 << self.prec) - n as u32;
        let (below, above) = self.cdf[..n].split_at_mut(s + 1);
        for c in &mut below[1..] {
            *c -= *c >> rate;
        }
        for c in above {
            *c += (mass - *c) >> rate;
        }
    }
}

/// [`simulate`] at `prec` bits, integer arithmetic only: the adaptive models alone, and mixed
/// per context with the static rows `stat` (as in [`simulate`]'s integer mix). Returns bits
/// per component (adaptive, mixed).
fn simulate_hp(
    path: &str,
    init: &[Hp],
    ctx: &mut dyn FnMut(&Rec) -> (usize, usize),
    stat: Option<&[Hp]>,
) -> ([f64; 3], [f64; 3]) {
    let prec = f64::from(init[0].prec);
    let mut models = init.to_vec();
    let mut wi = vec![2048u64; init.len()];
    let mut cur = usize::MAX;
    let (mut a, mut mi) = ([0.0; 3], [0.0; 3]);
    stream(&[path.to_string()], |_, r| {
        if r.img as usize != cur {
            cur = r.img as usize;
            models = init.to_vec();
            wi.fill(2048);
        }
        let (c, sb) = ctx(r);
        let t = r.tok();
        let c3 = r.comp.min(2) as usize;
        let fa = models[c].freq(t);
        a[c3] += prec - (fa as f64).log2();
        if let Some(st) = stat {
            let sm = &st[sb];
            let fb = sm.freq(t);
            let (la, lb) = (models[c].left(t), sm.left(t));
            let lo = (wi[c] * la + (4096 - wi[c]) * lb) >> 12;
            let hi = (wi[c] * (la + fa) + (4096 - wi[c]) * (lb + fb)) >> 12;
            mi[c3] += prec - ((hi - lo) as f64).log2();
            let num = wi[c] * fa + (4096 - wi[c]) * fb;
            wi[c] = (4096 * wi[c] * fa / num).clamp(205, 3891);
        }
        models[c].update(t, RATES);
    });
    (a, mi)
}

/// Bits per component: adaptive, static, mixed (weight per class), mixed (weight per context),
/// mixed per context in integer arithmetic.
type Bits4 = ([f64; 3], [f64; 3], [f64; 3], [f64; 3], [f64; 3]);

/// Simulates the adaptive coding of the magnitude tokens of `path` (models reset per image)
/// with contexts `ctx`, starting from `init`; returns bits per component. Optionally mixes with
/// a static model `stat` (`p = w p_A + (1 − w) p_B`, `w` per class adapted by Bayes' rule,
/// clamped to [0.05, 0.95]) and returns those bits too.
fn simulate(
    path: &str,
    init: &[Adaptive],
    ctx: &mut dyn FnMut(&Rec) -> (usize, usize),
    stat: Option<&[Vec<f64>]>,
    rates: Rates,
) -> Bits4 {
    let mut models = init.to_vec();
    let mut cur = usize::MAX;
    let (mut a, mut b, mut m, mut mc, mut mi) = ([0.0; 3], [0.0; 3], [0.0; 3], [0.0; 3], [0.0; 3]);
    // Adaptive mixing weight of the adaptive model, per class (Bayesian update, clamped).
    let mut wa = [0.5f64; DETAIL_CLASSES];
    // The same per adaptive context.
    let mut wc = vec![0.5f64; init.len()];
    // The integer version a decoder would run: the static rows as 16-bit frequencies, the
    // weight in 1/4096 (clamped to [205, 3891]), the mixed frequency
    // `(w f_A + (4096 − w) f_B) >> 12` (at least 1, summing to 2^16), the weight updated to
    // `4096 w f_A / (w f_A + (4096 − w) f_B)`.
    let stat_q: Vec<Adaptive> =
        stat.map_or(Vec::new(), |s| s.iter().map(|r| Adaptive::new(r)).collect());
    let mut wi = vec![2048u64; init.len()];
    stream(&[path.to_string()], |_, r| {
        if r.img as usize != cur {
            cur = r.img as usize;
            models = init.to_vec();
            wa = [0.5; DETAIL_CLASSES];
            wc.fill(0.5);
            wi.fill(2048);
        }
        let (c, sb) = ctx(r);
        let t = r.tok();
        let c3 = r.comp.min(2) as usize;
        a[c3] += models[c].bits(t);
        if let Some(s) = stat {
            let ps = s[sb][t];
            b[c3] -= ps.log2();
            let pa = f64::from(models[c].freq(t)) / 65_536.0;
            let k = r.class();
            let pm = wa[k] * pa + (1.0 - wa[k]) * ps;
            m[c3] -= pm.log2();
            wa[k] = (wa[k] * pa / pm).clamp(0.05, 0.95);
            let pc = wc[c] * pa + (1.0 - wc[c]) * ps;
            mc[c3] -= pc.log2();
            wc[c] = (wc[c] * pa / pc).clamp(0.05, 0.95);
            let (fa, fb) = (u64::from(models[c].freq(t)), u64::from(stat_q[sb].freq(t)));
            let num = wi[c] * fa + (4096 - wi[c]) * fb;
            // The mixed frequency of symbol t: difference of the floored mixed boundaries.
            let left =
                |m: &Adaptive, s: usize| -> u64 { (0..s).map(|k| u64::from(m.freq(k))).sum() };
            let (la, lb) = (left(&models[c], t), left(&stat_q[sb], t));
            let lo = (wi[c] * la + (4096 - wi[c]) * lb) >> 12;
            let hi = (wi[c] * (la + fa) + (4096 - wi[c]) * (lb + fb)) >> 12;
            mi[c3] += 16.0 - ((hi - lo) as f64).log2();
            wi[c] = (4096 * wi[c] * fa / num).clamp(205, 3891);
        }
        models[c].update(t, rates);
    });
    (a, b, m, mc, mi)
}

/// One coefficient of the timed decoder: the cumulative scan up to token `k` over the mix of the
/// adaptive model `m` and the static row `row` with weight `w`; then `w` and `m` adapt. Returns
/// the scanned mass (kept so that the work is not optimized away).
fn mix_step(m: &mut Adaptive, k: usize, row: &[f64], w: &mut f64) -> f64 {
    let mut cum = 0.0;
    for (s, &pb) in row.iter().enumerate().take(k + 1) {
        let pa = f64::from(m.freq(s)) / 65_536.0;
        cum += *w * pa + (1.0 - *w) * pb;
    }
    let pa = f64::from(m.freq(k)) / 65_536.0;
    let pm = *w * pa + (1.0 - *w) * row[k];
    *w = (*w * pa / pm).clamp(0.05, 0.95);
    m.update(k, RATES);
    cum
}

/// Times, on the first image of `path` (records in memory), today's context selection and
/// model lookup and update, and that plus the predictor, its fine bin and the mix with the
/// static table (floating point here; an integer decoder would be similar or faster).
fn timing(
    path: &str,
    p: &Predictor,
    today: &[Adaptive],
    stat: &[Vec<f64>],
    own: &[Vec<f64>],
    sname: &str,
) {
    let mut recs = Vec::new();
    stream(&[path.to_string()], |_, r| {
        if r.img == 0 {
            recs.push(*r);
        }
    });
    let mut best = [f64::INFINITY; 3];
    let mut sink = 0.0;
    for _ in 0..3 {
        let mut models = today.to_vec();
        let t = Instant::now();
        for r in &recs {
            let c = today_ctx(r);
            let k = r.tok();
            sink += models[c].bits(k);
            models[c].update(k, RATES);
        }
        best[0] = best[0].min(t.elapsed().as_secs_f64());
        let mut models = today.to_vec();
        let mut wa = [0.5f64; DETAIL_CLASSES];
        let mut x = Vec::new();
        let t = Instant::now();
        for r in &recs {
            let c = today_ctx(r);
            let k = r.tok();
            let cl = r.class();
            let fb = p.fine_bin(r, &mut x);
            sink += mix_step(&mut models[c], k, &stat[cl * FINE + fb], &mut wa[cl]);
        }
        best[1] = best[1].min(t.elapsed().as_secs_f64());
        // The mix with today's own static histograms (no predictor).
        let mut models = today.to_vec();
        let mut wc = vec![0.5f64; today.len()];
        let t = Instant::now();
        for r in &recs {
            let c = today_ctx(r);
            let k = r.tok();
            sink += mix_step(&mut models[c], k, &own[c], &mut wc[c]);
        }
        best[2] = best[2].min(t.elapsed().as_secs_f64());
    }
    let n = recs.len() as f64;
    eprintln!(
        "  timing ({sname}, {} records): today {:.1} ns per coefficient, with predictor + mix {:.1} ns, with the mix of today's own static histograms {:.1} ns ({sink:.0})",
        recs.len(),
        1e9 * best[0] / n,
        1e9 * best[1] / n,
        1e9 * best[2] / n
    );
}

fn study(a: &[String]) {
    let train: Vec<String> = a[0].split(',').map(String::from).collect();
    let evals: Vec<String> = a[1].split(',').map(String::from).collect();
    let only: Option<Vec<usize>> = std::env::var("SETS")
        .ok()
        .map(|s| s.split(',').map(|v| v.parse().unwrap()).collect());
    let t0 = Instant::now();
    let log = |m: String| eprintln!("[{:.0} s] {m}", t0.elapsed().as_secs_f64());
    // Today's prior, and a prior for today's contexts re-trained on the training dumps (the
    // control for the priors of the new contexts).
    let mut prior = lic::dwt::prior::models();
    let n_detail = DETAIL_CLASSES * LOCAL_BUCKETS * CROSS_BUCKETS;
    let today: Vec<Adaptive> = prior.iter_mut().take(n_detail).map(|m| m.clone()).collect();
    let mut h_today = vec![vec![0.0; TOKENS]; n_detail];
    let mut n_train = 0u64;
    stream(&train, |_, r| {
        h_today[today_ctx(r)][r.tok()] += 1.0;
        n_train += 1;
    });
    let today_re = models_from(&h_today);
    let today_static = static_from(&h_today);
    log(format!("{n_train} training records"));
    let mut results: Vec<(String, Tally)> =
        evals.iter().map(|e| (e.clone(), Tally::new())).collect();
    for (e, tally) in results.iter_mut() {
        // Recorded bits of today's coder.
        let mut rec = [[0.0; 3]; 3];
        stream(std::slice::from_ref(e), |_, r| {
            let c = r.comp.min(2) as usize;
            rec[0][c] += f64::from(r.tok_bits);
            rec[1][c] += f64::from(r.raw);
            rec[2][c] += f64::from(r.sign_bits);
        });
        tally.add("today: token bits (recorded)", &rec[0]);
        tally.add("raw bits", &rec[1]);
        tally.add("sign bits", &rec[2]);
        let (s, ..) = simulate(e, &today, &mut |r| (today_ctx(r), 0), None, RATES);
        tally.add("today: token bits (re-simulated)", &s);
        let (s, ..) = simulate(e, &today_re, &mut |r| (today_ctx(r), 0), None, RATES);
        tally.add("today's contexts, prior re-trained here", &s);
        let slow = Rates { first: 4, last: 7 };
        let (s, ..) = simulate(e, &today, &mut |r| (today_ctx(r), 0), None, slow);
        tally.add("today's contexts, rates 4/7", &s);
        let (_, st, sm, smc, smi) = simulate(
            e,
            &today,
            &mut |r| (today_ctx(r), today_ctx(r)),
            Some(&today_static),
            RATES,
        );
        tally.add("today's contexts, static (training histograms)", &st);
        tally.add("today + its own static histograms, mix", &sm);
        tally.add("today + its own static histograms, mix per context", &smc);
        tally.add(
            "today + its own static histograms, per context, integer",
            &smi,
        );
        for prec in [16u32, 20, 24] {
            let init: Vec<Adaptive> = today.clone();
            let hp: Vec<Hp> = init.iter().map(|m| Hp::from16(m, prec)).collect();
            let own: Vec<Hp> = today_static.iter().map(|r| Hp::new(r, prec)).collect();
            let (sa, smi) = simulate_hp(e, &hp, &mut |r| (today_ctx(r), today_ctx(r)), Some(&own));
            tally.add(&format!("today's contexts at {prec} bits"), &sa);
            tally.add(
                &format!("today + its own static histograms, per context, integer, {prec} bits"),
                &smi,
            );
        }
        log(format!("{e}: today done"));
    }
    for (si, &(sname, set)) in SETS.iter().enumerate() {
        if only.as_ref().is_some_and(|o| !o.contains(&si)) {
            continue;
        }
        let names: Vec<&str> = set.iter().map(|&k| F_NAMES[k]).collect();
        log(format!("set {sname}: {}", names.join(" ")));
        let p = fit(&train, set);
        log(format!("fitted {sname}"));
        let hf = fine_hist(&train, &p);
        let time_it = |stat_tab: &[Vec<f64>]| {
            timing(
                &evals[evals.len() / 2],
                &p,
                &today,
                stat_tab,
                &today_static,
                sname,
            )
        };
        if std::env::var("TIMING_ONLY").is_ok() {
            time_it(&static_from(&hf.concat()));
            continue;
        }
        {
            let n = DETAIL_CLASSES * LOCAL_BUCKETS * CROSS_BUCKETS * REFINE;
            let mut h = vec![vec![0.0; TOKENS]; n];
            let mut x = Vec::new();
            stream(&train, |_, r| h[p.refined(r, &mut x)][r.tok()] += 1.0);
            let init = models_from(&h);
            for (e, tally) in results.iter_mut() {
                let mut x = Vec::new();
                let (sa, ..) = simulate(e, &init, &mut |r| (p.refined(r, &mut x), 0), None, RATES);
                tally.add(&format!("A-refine {sname}: today's × {REFINE}"), &sa);
            }
        }
        let stat_tab: Vec<Vec<f64>> = static_from(&hf.concat());
        for (e, tally) in results.iter_mut() {
            let mut x = Vec::new();
            let (_, _, sm, smc, smi) = simulate(
                e,
                &today,
                &mut |r| (today_ctx(r), r.class() * FINE + p.fine_bin(r, &mut x)),
                Some(&stat_tab),
                RATES,
            );
            let hp: Vec<Hp> = today.iter().map(|m| Hp::from16(m, 24)).collect();
            let st: Vec<Hp> = stat_tab.iter().map(|r| Hp::new(r, 24)).collect();
            let (_, smi24) = simulate_hp(
                e,
                &hp,
                &mut |r| (today_ctx(r), r.class() * FINE + p.fine_bin(r, &mut x)),
                Some(&st),
            );
            tally.add(
                &format!("today + B mix {sname}, per context, integer, 24 bits"),
                &smi24,
            );
            tally.add(&format!("today + B mix {sname}"), &sm);
            tally.add(&format!("today + B mix {sname}, weight per context"), &smc);
            tally.add(
                &format!("today + B mix {sname}, per context, integer"),
                &smi,
            );
        }
        for (nbi, &nb) in NBS.iter().enumerate() {
            // Histograms per class × bucket.
            let mut h = vec![vec![0.0; TOKENS]; DETAIL_CLASSES * nb];
            for (c, hc) in hf.iter().enumerate() {
                for (fb, hv) in hc.iter().enumerate() {
                    let b = p.merge[c][nbi][fb];
                    for (a, v) in h[c * nb + b].iter_mut().zip(hv) {
                        *a += v;
                    }
                }
            }
            let init = models_from(&h);
            for (e, tally) in results.iter_mut() {
                let mut x = Vec::new();
                let (sa, sb, sm, ..) = simulate(
                    e,
                    &init,
                    &mut |r| {
                        let fb = p.fine_bin(r, &mut x);
                        let c = r.class();
                        (c * nb + p.merge[c][nbi][fb], c * FINE + fb)
                    },
                    Some(&stat_tab),
                    RATES,
                );
                tally.add(&format!("A {sname} {nb} buckets"), &sa);
                if nbi == 0 {
                    tally.add(&format!("B static {sname} ({FINE} bins)"), &sb);
                }
                tally.add(&format!("A+B mix {sname} {nb} buckets"), &sm);
            }
            if nbi == 0 {
                for (e, tally) in results.iter_mut() {
                    let mut x = Vec::new();
                    let slow = Rates { first: 4, last: 7 };
                    let (sa, ..) = simulate(
                        e,
                        &init,
                        &mut |r| {
                            let fb = p.fine_bin(r, &mut x);
                            let c = r.class();
                            (c * nb + p.merge[c][nbi][fb], 0)
                        },
                        None,
                        slow,
                    );
                    tally.add(&format!("A {sname} {nb} buckets, rates 4/7"), &sa);
                }
            }
            log(format!("{sname} {nb} buckets evaluated"));
        }
        if si == 3 || si == 4 {
            time_it(&stat_tab);
        }
        if si == 4 || only.is_some() {
            // Weights of the full set, for the notes.
            for g in [0usize, 1, 2, 12, 24] {
                let w: Vec<String> = p.wts[g].iter().map(|v| format!("{v:.3}")).collect();
                eprintln!("  weights group {g} ({sname}): {}", w.join(" "));
            }
        }
    }
    // Report.
    for (e, tally) in &results {
        let info = read_info(e);
        let file_bits: f64 = info.iter().map(|i| 8.0 * i.file_bytes as f64).sum();
        let px: f64 = info.iter().map(|i| (i.w * i.h) as f64).sum();
        let base = tally.bits[0];
        let base_t: f64 = base.iter().sum();
        println!(
            "\n## {e}: {} images, {:.4} bpp file, detail token bits today {:.4} bpp (Y {:.4}, Cb {:.4}, Cr {:.4})",
            info.len(),
            file_bits / px,
            base_t / px,
            base[0] / px,
            base[1] / px,
            base[2] / px
        );
        println!(
            "| model | token bpp | Y | Cb | Cr | Δ token bits | Δ file |\n|---|---|---|---|---|---|---|"
        );
        for (n, b) in tally.names.iter().zip(&tally.bits) {
            let t: f64 = b.iter().sum();
            let rel = |x: f64, y: f64| 100.0 * (x - y) / y;
            println!(
                "| {n} | {:.4} | {:+.2}% | {:+.2}% | {:+.2}% | {:+.2}% | {:+.2}% |",
                t / px,
                rel(b[0], base[0]),
                rel(b[1], base[1]),
                rel(b[2], base[2]),
                rel(t, base_t),
                100.0 * (t - base_t) / file_bits
            );
        }
        let dec: f64 = info.iter().map(|i| i.decode_s).sum();
        println!(
            "entropy decoding today: {:.1} ms per image, {:.1} ns per coefficient (all planes)",
            1e3 * dec / info.len() as f64,
            1e9 * dec / (3.0 * px)
        );
    }
}

fn main() {
    let a: Vec<String> = std::env::args().collect();
    match a.get(1).map(String::as_str) {
        Some("dump") => dump(&a[2..]),
        Some("study") => study(&a[2..]),
        Some("featime") => featime(&a[2..]),
        _ => eprintln!(
            "usage: dwt_ctx_study dump QUALITY OUT.bin DIR [EVERY] | study TRAIN.bin[,..] EVAL.bin[,..]"
        ),
    }
}
