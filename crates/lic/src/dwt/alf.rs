//! The classified restoration filter of `lic-dwt` (parameter blob version 3): the 4 × 4 blocks
//! of the reconstruction are classified by the direction and activity of their gradients, and
//! each channel gets one least-squares filter per group of classes (the encoder merges the
//! classes by rate–distortion and switches groups off where they do not pay).
//!
//! The filter shape and arithmetic are those of [`filter`] (12 point-symmetric tap pairs in
//! units of 1/256, clamped borders); only the taps change from block to block. Classification
//! reads the unfiltered reconstruction, on the integer proxy `R + 2G + B` (or `4 · gray`), and is
//! integer arithmetic throughout, like the filter.

use super::filter::{self, BORDER, OFFSETS, SHIFT, TAPS};

/// Side of the classified blocks in pixels.
pub const BLOCK: usize = 4;
/// Direction classes: none, horizontal gradient, vertical gradient, the two diagonals.
pub const DIRS: usize = 5;
/// Activity classes.
pub const ACTS: usize = 7;
/// Number of classes.
pub const CLASSES: usize = DIRS * ACTS;
/// Activity thresholds on the block's `|Δh| + |Δv|` sum (proxy units, 16 pixels): one level per
/// doubling from 1 pixel level per pixel.
const ACT_THRESHOLDS: [u64; ACTS - 1] = [64, 128, 256, 512, 1024, 2048];

/// One channel's classified filter: per class the group it uses (0: off, `g`: `taps[g - 1]`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Channel {
    /// Group of each class (0: unfiltered).
    pub map: [u8; CLASSES],
    /// Taps of each group.
    pub taps: Vec<[i8; TAPS]>,
}

impl Channel {
    /// No filter.
    pub fn off() -> Self {
        Channel {
            map: [0; CLASSES],
            taps: Vec::new(),
        }
    }

    /// One filter for every class (the unclassified filter).
    pub fn single(taps: [i8; TAPS]) -> Self {
        Channel {
            map: [1; CLASSES],
            taps: vec![taps],
        }
    }

    fn is_off(&self) -> bool {
        self.taps.is_empty()
    }

    fn is_single(&self) -> bool {
        self.taps.len() == 1 && self.map.iter().all(|&g| g == 1)
    }

    /// Whether the filter depends on the class (written as mode 2).
    pub fn is_classified(&self) -> bool {
        !self.is_off() && !self.is_single()
    }

    /// Bits of the map entries.
    fn map_bits(groups: usize) -> u32 {
        usize::BITS - groups.leading_zeros()
    }

    /// Signalled size in bits.
    pub fn bits(&self) -> usize {
        if self.is_off() {
            8
        } else if self.is_single() {
            8 + 8 * TAPS
        } else {
            16 + (CLASSES * Self::map_bits(self.taps.len()) as usize).div_ceil(8) * 8
                + 8 * TAPS * self.taps.len()
        }
    }

    /// Appends the channel: a mode byte (0 off, 1 one filter, 2 classified); for mode 2 the
    /// number of groups, the class map (`CLASSES` entries of `ceil(log2(groups + 1))` bits,
    /// most significant first, zero-padded to a byte) and the taps of each group.
    pub fn to_bytes(&self, out: &mut Vec<u8>) {
        if self.is_off() {
            out.push(0);
        } else if self.is_single() {
            out.push(1);
            out.extend(self.taps[0].iter().map(|&k| k as u8));
        } else {
            out.push(2);
            out.push(self.taps.len() as u8);
            let nb = Self::map_bits(self.taps.len());
            let mut acc = 0u32;
            let mut have = 0u32;
            for &g in &self.map {
                acc = acc << nb | u32::from(g);
                have += nb;
                while have >= 8 {
                    have -= 8;
                    out.push((acc >> have) as u8);
                    acc &= (1 << have) - 1;
                }
            }
            if have > 0 {
                out.push((acc << (8 - have)) as u8);
            }
            for t in &self.taps {
                out.extend(t.iter().map(|&k| k as u8));
            }
        }
    }

    /// Parses a channel from `b`; returns it and the bytes read, or what is wrong.
    pub fn parse(b: &[u8]) -> Result<(Self, usize), String> {
        const TRUNC: &str = "parameter blob truncated in a classified filter";
        let taps_at = |pos: usize| -> Result<[i8; TAPS], String> {
            let c = b.get(pos..pos + TAPS).ok_or(TRUNC)?;
            Ok(std::array::from_fn(|k| c[k] as i8))
        };
        match b.first() {
            Some(0) => Ok((Channel::off(), 1)),
            Some(1) => Ok((Channel::single(taps_at(1)?), 1 + TAPS)),
            Some(2) => {
                let groups = usize::from(*b.get(1).ok_or(TRUNC)?);
                if !(1..=CLASSES).contains(&groups) {
                    return Err(format!(
                        "classified filter with {groups} groups (1 to {CLASSES})"
                    ));
                }
                let nb = Self::map_bits(groups) as usize;
                let len = (CLASSES * nb).div_ceil(8);
                let m = b.get(2..2 + len).ok_or(TRUNC)?;
                let bit = |i: usize| u32::from(m[i / 8] >> (7 - i % 8) & 1);
                let mut map = [0u8; CLASSES];
                for (k, g) in map.iter_mut().enumerate() {
                    let v = (0..nb).fold(0u32, |a, j| a << 1 | bit(k * nb + j));
                    if v as usize > groups {
                        return Err(format!("class {k} mapped to group {v} of {groups}"));
                    }
                    *g = v as u8;
                }
                if (CLASSES * nb..len * 8).any(|i| bit(i) != 0) {
                    return Err("nonzero padding in a classified filter's class map".into());
                }
                for g in 1..=groups {
                    if !map.contains(&(g as u8)) {
                        return Err(format!("classified filter group {g} is used by no class"));
                    }
                }
                let mut pos = 2 + len;
                let mut taps = Vec::with_capacity(groups);
                for _ in 0..groups {
                    taps.push(taps_at(pos)?);
                    pos += TAPS;
                }
                Ok((Channel { map, taps }, pos))
            }
            Some(f) => Err(format!("classified filter mode {f}")),
            None => Err(TRUNC.into()),
        }
    }
}

/// The class of every `BLOCK × BLOCK` block of an interleaved image with `stride` channels
/// (row-major, `ceil(w / BLOCK)` per row).
pub fn classify(img: &[u8], w: usize, h: usize, stride: usize) -> Vec<u8> {
    let (bw, bh) = (w.div_ceil(BLOCK), h.div_ceil(BLOCK));
    if w == 0 || h == 0 {
        return Vec::new();
    }
    // The proxy with a clamped border of one pixel.
    let pw = w + 2;
    let mut p = vec![0i32; pw * (h + 2)];
    for (py, row) in p.chunks_exact_mut(pw).enumerate() {
        let y = py.saturating_sub(1).min(h - 1);
        for (px, v) in row.iter_mut().enumerate() {
            let i = (y * w + px.saturating_sub(1).min(w - 1)) * stride;
            *v = if stride == 3 {
                i32::from(img[i]) + 2 * i32::from(img[i + 1]) + i32::from(img[i + 2])
            } else {
                4 * i32::from(img[i])
            };
        }
    }
    // Per pixel the four 1-D Laplacian magnitudes, summed per block.
    let mut sums = vec![[0u64; 4]; bw * bh];
    for y in 0..h {
        let row = &mut sums[(y / BLOCK) * bw..][..bw];
        let r = (y + 1) * pw + 1;
        for x in 0..w {
            let i = r + x;
            let c = 2 * p[i];
            let l = [
                (c - p[i - 1] - p[i + 1]).unsigned_abs(),
                (c - p[i - pw] - p[i + pw]).unsigned_abs(),
                (c - p[i - pw - 1] - p[i + pw + 1]).unsigned_abs(),
                (c - p[i - pw + 1] - p[i + pw - 1]).unsigned_abs(),
            ];
            let s = &mut row[x / BLOCK];
            for k in 0..4 {
                s[k] += u64::from(l[k]);
            }
        }
    }
    let mut classes = vec![0u8; bw * bh];
    for (i, (s, c)) in sums.iter().zip(classes.iter_mut()).enumerate() {
        let (bx, by) = (i % bw, i / bw);
        let n = ((w - bx * BLOCK).min(BLOCK) * (h - by * BLOCK).min(BLOCK)) as u64;
        let [gh, gv, gd0, gd1] = *s;
        let act_sum = (gh + gv) * (BLOCK * BLOCK) as u64 / n;
        let act = ACT_THRESHOLDS.iter().filter(|&&t| act_sum >= t).count();
        let (hv_hi, hv_lo) = (gh.max(gv), gh.min(gv));
        let (d_hi, d_lo) = (gd0.max(gd1), gd0.min(gd1));
        let dir = if hv_hi * d_lo >= d_hi * hv_lo {
            if hv_hi > 2 * hv_lo {
                if gh > gv {
                    1
                } else {
                    2
                }
            } else {
                0
            }
        } else if d_hi > 2 * d_lo {
            if gd0 > gd1 {
                3
            } else {
                4
            }
        } else {
            0
        };
        *c = (act * DIRS + dir) as u8;
    }
    classes
}

/// Channel `c` of an interleaved image as a plane with a clamped border of `BORDER` pixels
/// (`w + 2 * BORDER` wide).
fn padded(img: &[u8], w: usize, h: usize, stride: usize, c: usize) -> Vec<i32> {
    let pw = w + 2 * BORDER;
    let mut plane = vec![0i32; pw * (h + 2 * BORDER)];
    for (py, row) in plane.chunks_exact_mut(pw).enumerate() {
        let y = py.saturating_sub(BORDER).min(h - 1);
        for (px, v) in row.iter_mut().enumerate() {
            let x = px.saturating_sub(BORDER).min(w - 1);
            *v = i32::from(img[(y * w + x) * stride + c]);
        }
    }
    plane
}

/// The offsets of the tap pairs in a padded plane `pw` wide.
fn plane_offsets(pw: usize) -> [isize; TAPS] {
    std::array::from_fn(|k| OFFSETS[k].1 * pw as isize + OFFSETS[k].0)
}

/// Applies classified filters (one per channel) to an interleaved image in place, with the
/// block classes of [`classify`] computed on the unfiltered image.
///
/// Output `c` at `p` is `x + (Σₖ aₖ · (x[p + oₖ] + x[p − oₖ] − 2x[p]) + 128) >> 8`, clamped to
/// 0..=255, where `aₖ` are the taps of the group of the block's class (the pixel is unchanged
/// where the class is off); each channel reads only itself, unfiltered.
pub fn apply(img: &mut [u8], w: usize, h: usize, stride: usize, chans: &[Channel], classes: &[u8]) {
    if w == 0 || h == 0 {
        return;
    }
    let bw = w.div_ceil(BLOCK);
    let pw = w + 2 * BORDER;
    let offs = plane_offsets(pw);
    let mut acc = vec![0i32; w];
    // Per tap, the coefficient of every pixel of the current block row.
    let mut coef = vec![vec![0i32; w]; TAPS];
    for (c, ch) in chans.iter().enumerate() {
        if ch.is_off() {
            continue;
        }
        // Only channel `c` is read, and it is still unfiltered here.
        let plane = padded(img, w, h, stride, c);
        for y in 0..h {
            if y % BLOCK == 0 {
                let crow = &classes[(y / BLOCK) * bw..][..bw];
                for (t, ct) in coef.iter_mut().enumerate() {
                    for (seg, &cl) in ct.chunks_mut(BLOCK).zip(crow) {
                        let g = usize::from(ch.map[usize::from(cl)]);
                        let k = if g == 0 {
                            0
                        } else {
                            i32::from(ch.taps[g - 1][t])
                        };
                        seg.fill(k);
                    }
                }
            }
            let base = (y + BORDER) * pw + BORDER;
            let centre = &plane[base..base + w];
            acc.fill(0);
            for (&off, ct) in offs.iter().zip(&coef) {
                let fwd = &plane[(base as isize + off) as usize..][..w];
                let back = &plane[(base as isize - off) as usize..][..w];
                for ((((a, &p), &q), &m), &k) in
                    acc.iter_mut().zip(fwd).zip(back).zip(centre).zip(ct)
                {
                    *a += (p + q - 2 * m) * k;
                }
            }
            for (x, (&a, &m)) in acc.iter().zip(centre).enumerate() {
                let v = m + ((a + (1 << (SHIFT - 1))) >> SHIFT);
                img[(y * w + x) * stride + c] = v.clamp(0, 255) as u8;
            }
        }
    }
}

/// Normal-equation statistics of one class (exact integers).
#[derive(Clone, Copy)]
struct Stats {
    a: [[i64; TAPS]; TAPS],
    b: [i64; TAPS],
}

impl Stats {
    fn zero() -> Self {
        Stats {
            a: [[0; TAPS]; TAPS],
            b: [0; TAPS],
        }
    }

    fn add(&self, o: &Stats) -> Stats {
        let mut s = *self;
        for (x, y) in s.a.iter_mut().flatten().zip(o.a.iter().flatten()) {
            *x += y;
        }
        for (x, y) in s.b.iter_mut().zip(&o.b) {
            *x += y;
        }
        s
    }

    fn empty(&self) -> bool {
        (0..TAPS).all(|j| self.a[j][j] == 0)
    }

    /// The least-squares solution and the squared error it removes (before rounding).
    fn solve(&self) -> Option<([f64; TAPS], f64)> {
        if self.empty() {
            return None;
        }
        let a: [[f64; TAPS]; TAPS] =
            std::array::from_fn(|j| std::array::from_fn(|k| self.a[j][k] as f64));
        let b: [f64; TAPS] = std::array::from_fn(|j| self.b[j] as f64);
        let x = filter::solve(a, b)?;
        let gain: f64 = x.iter().zip(&b).map(|(x, b)| x * b).sum();
        Some((x, gain.max(0.0)))
    }
}

fn round_taps(x: &[f64; TAPS]) -> [i8; TAPS] {
    let scale = f64::from(1u32 << SHIFT);
    std::array::from_fn(|k| (x[k] * scale).round().clamp(-128.0, 127.0) as i8)
}

/// Per class, the normal equations of predicting `original − decoded` of channel `c` from the
/// filter's 12 features (integers: the sums are exact, so their total is exactly what
/// [`filter::fit`] accumulates).
#[allow(clippy::needless_range_loop)]
fn class_stats(
    original: &[u8],
    decoded: &[u8],
    w: usize,
    h: usize,
    stride: usize,
    c: usize,
    classes: &[u8],
) -> Vec<Stats> {
    let bw = w.div_ceil(BLOCK);
    let pw = w + 2 * BORDER;
    let plane = padded(decoded, w, h, stride, c);
    let offs = plane_offsets(pw);
    let mut st = vec![Stats::zero(); CLASSES];
    for y in 0..h {
        let base = (y + BORDER) * pw + BORDER;
        for x in 0..w {
            let i = base + x;
            let m = plane[i];
            let f: [i64; TAPS] = std::array::from_fn(|k| {
                i64::from(
                    plane[(i as isize + offs[k]) as usize] + plane[(i as isize - offs[k]) as usize]
                        - 2 * m,
                )
            });
            let t = i64::from(original[(y * w + x) * stride + c]) - i64::from(m);
            let s = &mut st[usize::from(classes[(y / BLOCK) * bw + x / BLOCK])];
            for j in 0..TAPS {
                s.b[j] += f[j] * t;
                for k in 0..=j {
                    s.a[j][k] += f[j] * f[k];
                }
            }
        }
    }
    for s in &mut st {
        for j in 0..TAPS {
            for k in j + 1..TAPS {
                s.a[j][k] = s.a[k][j];
            }
        }
    }
    st
}

/// Squared error of channel `c` per class.
fn class_sse(
    a: &[u8],
    b: &[u8],
    w: usize,
    h: usize,
    stride: usize,
    c: usize,
    classes: &[u8],
) -> Vec<u64> {
    let bw = w.div_ceil(BLOCK);
    let mut e = vec![0u64; CLASSES];
    for y in 0..h {
        for x in 0..w {
            let i = (y * w + x) * stride + c;
            let d = (i64::from(a[i]) - i64::from(b[i])).unsigned_abs();
            e[usize::from(classes[(y / BLOCK) * bw + x / BLOCK])] += d * d;
        }
    }
    e
}

/// The encoder's choice for one channel.
pub struct Choice {
    /// The classified filter (mode 2), or off.
    pub alf: Channel,
    /// The unclassified filter of [`filter::fit`] (the same taps and decision).
    pub single: filter::ChannelFilter,
    /// Squared error with the classified filter.
    pub alf_sse: u64,
    /// Squared error with the unclassified filter (or none).
    pub single_sse: u64,
}

/// Fits the classified filters of every channel, `lambda` squared-error units per bit.
pub fn fit(
    original: &[u8],
    decoded: &[u8],
    w: usize,
    h: usize,
    stride: usize,
    classes: &[u8],
    lambda: f64,
) -> Vec<Choice> {
    (0..stride)
        .map(|c| fit_channel(original, decoded, w, h, stride, c, classes, lambda))
        .collect()
}

struct Group {
    classes: Vec<usize>,
    st: Stats,
    gain: f64,
    x: [f64; TAPS],
}

/// Greedy merging of the classes, from one group per (non-empty) class down to one: the
/// configuration of least estimated cost (groups whose gain does not pay for their taps
/// switched off).
fn merge(st: &[Stats], lambda: f64) -> Channel {
    let n = TAPS;
    let mk = |classes: Vec<usize>, st: Stats| -> Group {
        let (x, gain) = st.solve().unwrap_or(([0.0; TAPS], 0.0));
        Group {
            classes,
            st,
            gain,
            x,
        }
    };
    let mut groups: Vec<Group> = (0..CLASSES)
        .filter(|&k| !st[k].empty())
        .map(|k| mk(vec![k], st[k]))
        .collect();
    let filter_bits = (8 * n) as f64;
    let cost = |gs: &[Group]| -> (f64, Vec<bool>) {
        let on: Vec<bool> = gs.iter().map(|g| g.gain > lambda * filter_bits).collect();
        let m = on.iter().filter(|&&o| o).count();
        let gain: f64 = gs
            .iter()
            .zip(&on)
            .filter(|(_, &o)| o)
            .map(|(g, _)| g.gain)
            .sum();
        let bits = 16 + CLASSES * Channel::map_bits(m) as usize + m * 8 * n;
        (lambda * bits as f64 - gain, on)
    };
    let merged_gain = |a: &Group, b: &Group| a.st.add(&b.st).solve().map_or(0.0, |(_, g)| g);
    // pg[i][k] (i < k): the gain of groups i and k merged.
    let mut pg: Vec<Vec<f64>> = (0..groups.len())
        .map(|i| {
            (0..groups.len())
                .map(|k| {
                    if k > i {
                        merged_gain(&groups[i], &groups[k])
                    } else {
                        0.0
                    }
                })
                .collect()
        })
        .collect();
    let mut best: Option<(f64, Channel)> = None;
    loop {
        let (j, on) = cost(&groups);
        if best.as_ref().is_none_or(|b| j < b.0) {
            let mut ch = Channel::off();
            for (g, _) in groups.iter().zip(&on).filter(|(_, &o)| o) {
                ch.taps.push(round_taps(&g.x));
                for &k in &g.classes {
                    ch.map[k] = ch.taps.len() as u8;
                }
            }
            best = Some((j, ch));
        }
        let m = groups.len();
        if m <= 1 {
            break;
        }
        let mut pick = (f64::INFINITY, 0, 1);
        for i in 0..m {
            for k in i + 1..m {
                let loss = groups[i].gain + groups[k].gain - pg[i][k];
                if loss < pick.0 {
                    pick = (loss, i, k);
                }
            }
        }
        let (_, i, k) = pick;
        let gk = groups.remove(k);
        let gi = groups.remove(i);
        for row in pg.iter_mut() {
            row.remove(k);
            row.remove(i);
        }
        pg.remove(k);
        pg.remove(i);
        let mut cl = gi.classes;
        cl.extend(gk.classes);
        let merged = mk(cl, gi.st.add(&gk.st));
        for (t, row) in pg.iter_mut().enumerate() {
            row.push(merged_gain(&groups[t], &merged));
        }
        groups.push(merged);
        pg.push(vec![0.0; groups.len()]);
    }
    best.map_or_else(Channel::off, |b| b.1)
}

#[allow(clippy::too_many_arguments, clippy::needless_range_loop)]
fn fit_channel(
    original: &[u8],
    decoded: &[u8],
    w: usize,
    h: usize,
    stride: usize,
    c: usize,
    classes: &[u8],
    lambda: f64,
) -> Choice {
    let st = class_stats(original, decoded, w, h, stride, c, classes);
    let before = class_sse(original, decoded, w, h, stride, c, classes);
    let sse0: u64 = before.iter().sum();
    let trial = |ch: &Channel| -> Vec<u64> {
        let mut out = decoded.to_vec();
        let mut chans = vec![Channel::off(); stride];
        chans[c] = ch.clone();
        apply(&mut out, w, h, stride, &chans, classes);
        class_sse(original, &out, w, h, stride, c, classes)
    };
    // The unclassified filter: the sum of the class statistics is exactly `filter::fit`'s.
    let total = st.iter().fold(Stats::zero(), |a, s| a.add(s));
    let mut single = None;
    let mut single_sse = sse0;
    if let Some((x, _)) = total.solve() {
        let k = round_taps(&x);
        if k.iter().any(|&v| v != 0) {
            let e: u64 = trial(&Channel::single(k)).iter().sum();
            if e < sse0 {
                single = Some(k);
                single_sse = e;
            }
        }
    }
    let mut ch = merge(&st, lambda);
    // The integer filter, group by group: a group is kept only where its rounded taps remove
    // more squared error than they cost (the blocks of different groups do not interact).
    let mut best = None;
    if !ch.is_off() {
        let after = trial(&ch);
        let filter_bits = (8 * TAPS) as f64;
        let mut renum = vec![0u8; ch.taps.len() + 1];
        let mut taps = Vec::new();
        for g in 1..=ch.taps.len() {
            let (mut b, mut a) = (0u64, 0u64);
            for k in 0..CLASSES {
                if usize::from(ch.map[k]) == g {
                    b += before[k];
                    a += after[k];
                }
            }
            if b as f64 - a as f64 > lambda * filter_bits {
                taps.push(ch.taps[g - 1]);
                renum[g] = taps.len() as u8;
            }
        }
        for m in ch.map.iter_mut() {
            *m = renum[usize::from(*m)];
        }
        ch.taps = taps;
        if ch.is_classified() {
            let e: u64 = trial(&ch).iter().sum();
            best = Some((ch, e));
        }
    }
    let (alf, alf_sse) = best.unwrap_or((Channel::off(), sse0));
    Choice {
        alf,
        single,
        alf_sse,
        single_sse,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rng(seed: u32) -> impl FnMut() -> u32 {
        let mut s = seed;
        move || {
            s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            s >> 8
        }
    }

    fn classified(groups: usize, seed: u32) -> Channel {
        let mut next = rng(seed);
        let mut map = [0u8; CLASSES];
        for (k, m) in map.iter_mut().enumerate() {
            // Every group is used; the rest at random (some classes off).
            *m = if k < groups {
                k as u8 + 1
            } else {
                (next() % (groups as u32 + 1)) as u8
            };
        }
        let taps = (0..groups)
            .map(|_| std::array::from_fn(|_| (next() % 256) as u8 as i8))
            .collect();
        Channel { map, taps }
    }

    #[test]
    fn channels_round_trip_and_corrupt_ones_are_errors() {
        let mut cases = vec![Channel::off(), Channel::single([5; TAPS])];
        for g in [1, 2, 3, 4, 7, 8, 15, 16, CLASSES] {
            let mut c = classified(g, g as u32);
            if g == 1 {
                c.map[CLASSES - 1] = 0;
            }
            cases.push(c);
        }
        for c in &cases {
            let mut b = Vec::new();
            c.to_bytes(&mut b);
            assert_eq!(b.len() * 8, c.bits());
            let (p, n) = Channel::parse(&b).unwrap();
            assert_eq!((&p, n), (c, b.len()));
            for cut in 0..b.len() {
                assert!(Channel::parse(&b[..cut]).is_err(), "cut at {cut}");
            }
        }
        let mut b = Vec::new();
        classified(3, 9).to_bytes(&mut b);
        // Map entries are 2 bits: class 0 is group 1 (01 in the top bits of byte 2).
        let mut bad = Vec::new();
        for (at, v) in [(0, 3u8), (0, 255), (1, 0), (1, CLASSES as u8 + 1)] {
            let mut x = b.clone();
            x[at] = v;
            bad.push(x);
        }
        let mut x = b.clone();
        x[2] |= 0xC0; // class 0 to group 3 of 3: still valid; group 4 needs 3 bits
        assert!(Channel::parse(&x).is_ok());
        // 35 entries of 2 bits: the last byte has 6 padding bits.
        let mut x = b.clone();
        x[2 + (CLASSES * 2).div_ceil(8) - 1] |= 1;
        bad.push(x);
        // A group no class uses.
        let mut c = classified(3, 9);
        for m in c.map.iter_mut() {
            if *m == 2 {
                *m = 1;
            }
        }
        let mut x = Vec::new();
        c.to_bytes(&mut x);
        bad.push(x);
        // Group values above the count (3 groups, 2-bit entries cannot exceed 3; use 2 groups).
        let mut c = classified(2, 4);
        c.map[0] = 3;
        let mut x = Vec::new();
        c.to_bytes(&mut x);
        bad.push(x);
        for x in bad {
            assert!(Channel::parse(&x).is_err(), "{x:?}");
        }
    }

    #[test]
    fn classes_are_in_range_and_flat_blocks_are_class_zero() {
        let mut next = rng(3);
        for (w, h) in [(1, 1), (3, 2), (9, 7), (40, 33)] {
            let img: Vec<u8> = (0..w * h * 3).map(|_| next() as u8).collect();
            let c = classify(&img, w, h, 3);
            assert_eq!(c.len(), w.div_ceil(BLOCK) * h.div_ceil(BLOCK));
            assert!(c.iter().all(|&k| usize::from(k) < CLASSES));
            assert_eq!(classify(&vec![90; w * h], w, h, 1), vec![0; c.len()]);
        }
        // A vertical edge (horizontal gradient) of high activity: direction 1.
        let img: Vec<u8> = (0..16 * 8)
            .map(|i| if i % 16 < 8 { 0 } else { 200 })
            .collect();
        let c = classify(&img, 16, 8, 1);
        assert_eq!(usize::from(c[1]) % DIRS, 1);
        assert!(usize::from(c[1]) / DIRS > 0);
    }

    /// The plane-based `apply` against the per-pixel definition.
    #[test]
    fn apply_matches_the_per_pixel_definition() {
        let mut next = rng(77);
        for (w, h) in [(1, 1), (2, 3), (5, 1), (7, 9), (33, 17)] {
            let img: Vec<u8> = (0..w * h * 3).map(|_| next() as u8).collect();
            let classes = classify(&img, w, h, 3);
            let chans = [
                classified(4, next()),
                Channel::off(),
                Channel::single([9; TAPS]),
            ];
            let mut got = img.clone();
            apply(&mut got, w, h, 3, &chans, &classes);
            let mut want = img.clone();
            for (c, ch) in chans.iter().enumerate() {
                for y in 0..h {
                    for x in 0..w {
                        let g = usize::from(
                            ch.map
                                [usize::from(classes[(y / BLOCK) * w.div_ceil(BLOCK) + x / BLOCK])],
                        );
                        if ch.taps.is_empty() || g == 0 {
                            continue;
                        }
                        let at = |dx: isize, dy: isize| {
                            let xx = (x as isize + dx).clamp(0, w as isize - 1) as usize;
                            let yy = (y as isize + dy).clamp(0, h as isize - 1) as usize;
                            i32::from(img[(yy * w + xx) * 3 + c])
                        };
                        let acc: i32 = OFFSETS
                            .iter()
                            .zip(&ch.taps[g - 1])
                            .map(|(&(dx, dy), &k)| {
                                (at(dx, dy) + at(-dx, -dy) - 2 * at(0, 0)) * i32::from(k)
                            })
                            .sum();
                        want[(y * w + x) * 3 + c] =
                            (at(0, 0) + ((acc + 128) >> SHIFT)).clamp(0, 255) as u8;
                    }
                }
            }
            assert_eq!(got, want, "{w}x{h}");
        }
    }

    /// On a picture blurred in one half only, the fit finds class-dependent filters that beat
    /// the single filter.
    #[test]
    fn classified_fit_beats_the_single_filter_on_mixed_degradation() {
        let (w, h) = (128, 96);
        let orig: Vec<u8> = (0..w * h)
            .map(|i| {
                let (x, y) = ((i % w) as f64, (i / w) as f64);
                (128.0 + 60.0 * (x * 0.7).sin() * (y * 0.3).cos() + 40.0 * (y * 1.1).sin()) as u8
            })
            .collect();
        let dec: Vec<u8> = (0..w * h)
            .map(|i| {
                let (x, y) = (i % w, i / w);
                if x < w / 2 {
                    let g = |xx: usize| u32::from(orig[y * w + xx.min(w - 1)]);
                    ((g(x.saturating_sub(1)) + 2 * g(x) + g(x + 1) + 2) / 4) as u8
                } else {
                    orig[i]
                }
            })
            .collect();
        let classes = classify(&dec, w, h, 1);
        let ch = fit(&orig, &dec, w, h, 1, &classes, 1.0).remove(0);
        assert!(ch.alf.is_classified());
        assert!(ch.alf_sse < ch.single_sse);
        let mut out = dec.clone();
        apply(&mut out, w, h, 1, std::slice::from_ref(&ch.alf), &classes);
        let sse: u64 = out
            .iter()
            .zip(&orig)
            .map(|(&a, &b)| (i64::from(a) - i64::from(b)).unsigned_abs().pow(2))
            .sum();
        assert_eq!(sse, ch.alf_sse);
    }
}
