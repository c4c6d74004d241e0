//! The encoder's motion search and mode decision (nothing here is normative: the decoder
//! only reads the chosen field).
//!
//! Per 8×8 luma block in raster order (so that the vector predictor of the coder is known):
//! 1. candidates: zero, the predictor, the left, top and top-right vectors, the previous
//!    frame's co-located vector and a coarse vector from a full search at quarter resolution
//!    over 16×16 areas (the hierarchical stage, ±48 samples);
//! 2. a whole-sample refinement around the best candidate (a ±1 square, repeated while it
//!    improves), then half- and quarter-sample refinement with the interpolation filter;
//! 3. intra (flat DC prediction) against inter by `SAD + λ · bits`;
//! 4. per 64×64 unit, bottom-up, whether a 16×16, 32×32 or 64×64 leaf with one vector (the best
//!    of its children's, the temporal candidate and zero, refined to a quarter sample) costs less
//!    than its four children;
//! 5. in coding order with the real predictors, a leaf whose vector is not worth its bits
//!    against the spatial (skip) or temporal (merge) candidate is snapped to that mode.
use super::motion::{half, luma_block, sad, sad_int, Padded, Plane, MAX_MV};
use super::side::{leaves, predictor, temporal, Coded, UNIT};
use super::{Block, Mode, Mv, VideoOptions, BLOCK};

const NEIGHBOURS: [(i32, i32); 8] = [
    (-1, -1),
    (0, -1),
    (1, -1),
    (-1, 0),
    (1, 0),
    (-1, 1),
    (0, 1),
    (1, 1),
];

/// One refinement step: the 8 neighbours of the best vector at distance `step` (quarter
/// samples), keeping any that costs less; returns whether the best moved.
fn step_around(best: &mut (f32, Mv), step: i32, mut cost: impl FnMut(Mv) -> f32) -> bool {
    let centre = best.1;
    for (dx, dy) in NEIGHBOURS {
        let m = clamp_mv(Mv {
            x: centre.x + step * dx,
            y: centre.y + step * dy,
        });
        let j = cost(m);
        if j < best.0 {
            *best = (j, m);
        }
    }
    best.1 != centre
}

/// Approximate bits of a vector difference component (an Exp-Golomb-like length).
#[inline]
fn comp_bits(d: i32) -> f32 {
    if d == 0 {
        1.0
    } else {
        2.0 * (32 - d.unsigned_abs().leading_zeros()) as f32 + 1.0
    }
}

#[inline]
fn mv_bits(mv: Mv, pred: Mv) -> f32 {
    comp_bits(mv.x - pred.x) + comp_bits(mv.y - pred.y)
}

fn clamp_mv(m: Mv) -> Mv {
    Mv {
        x: m.x.clamp(-MAX_MV, MAX_MV),
        y: m.y.clamp(-MAX_MV, MAX_MV),
    }
}

/// Coarse vectors (quarter samples) per 16×16 area from a full search on quarter-resolution
/// planes.
fn coarse(src: &Plane, rf: &Plane, cols16: usize, rows16: usize) -> Vec<Mv> {
    let s4 = half(&half(src));
    let r4 = Padded::new(&half(&half(rf)));
    const R: i32 = 12;
    let mut out = Vec::with_capacity(cols16 * rows16);
    for by in 0..rows16 {
        for bx in 0..cols16 {
            let (x, y) = (bx * 4, by * 4);
            if x >= s4.w || y >= s4.h {
                out.push(Mv::default());
                continue;
            }
            let mut best = (u32::MAX, 0, 0);
            for dy in -R..=R {
                for dx in -R..=R {
                    let c = sad_int(&s4, &r4, x, y, 4, 4, dx, dy)
                        + (dx.unsigned_abs() + dy.unsigned_abs()) / 2;
                    if c < best.0 {
                        best = (c, dx, dy);
                    }
                }
            }
            out.push(Mv {
                x: best.1 * 16,
                y: best.2 * 16,
            });
        }
    }
    out
}

/// The block field of an inter frame.
pub fn estimate(
    src: &[Plane; 3],
    refs: &[Padded; 3],
    cols: usize,
    rows: usize,
    prev: Option<&[Block]>,
    step: f32,
    o: &VideoOptions,
) -> Vec<Block> {
    let t = o.tools;
    let y = &src[0];
    let r = &refs[0];
    let lambda = o.lambda * step;
    let mut blocks = vec![
        Block {
            size: 1,
            ..Block::default()
        };
        cols * rows
    ];
    let mut costs = vec![0f32; cols * rows];
    if !t.motion {
        return blocks
            .into_iter()
            .map(|b| Block {
                mode: Mode::Skip,
                ..b
            })
            .collect();
    }
    // Reconstruct the unpadded reference for the coarse search.
    let rplane = Plane::new(
        r.w,
        r.h,
        (0..r.h)
            .flat_map(|yy| {
                let s = (yy + r.pad) * r.stride + r.pad;
                r.data[s..s + r.w].iter().copied()
            })
            .collect(),
    );
    let (c16, r16) = (cols.div_ceil(2), rows.div_ceil(2));
    let coarse = coarse(y, &rplane, c16, r16);
    let mut buf = [0u8; BLOCK * BLOCK];
    let mut raster = Coded::new(cols, rows);
    for i in 0..cols * rows {
        let (bx, by) = (i % cols, i / cols);
        let (x, yy) = (bx * BLOCK, by * BLOCK);
        let pred = predictor(&blocks, &raster, bx, by, 1);
        let cost_int = |m: Mv| -> f32 {
            sad_int(y, r, x, yy, BLOCK, BLOCK, m.x >> 2, m.y >> 2) as f32
                + lambda * mv_bits(m, pred)
        };
        let mut cands = vec![Mv::default(), pred, coarse[(by / 2) * c16 + bx / 2]];
        if bx > 0 {
            cands.push(blocks[i - 1].mv);
        }
        if by > 0 {
            cands.push(blocks[i - cols].mv);
            if bx + 1 < cols {
                cands.push(blocks[i - cols + 1].mv);
            }
        }
        if let Some(p) = prev {
            cands.push(p[i].mv);
        }
        // Whole-sample search.
        let mut best = (f32::INFINITY, Mv::default());
        for c in cands {
            let m = clamp_mv(Mv {
                x: (c.x + 2) & !3,
                y: (c.y + 2) & !3,
            });
            let m = clamp_mv(m);
            let j = cost_int(m);
            if j < best.0 {
                best = (j, m);
            }
        }
        for _ in 0..16 {
            if !step_around(&mut best, 4, cost_int) {
                break;
            }
        }
        // Sub-sample refinement with the real interpolation.
        let mut cost_sub = |m: Mv| -> f32 {
            luma_block(r, x as isize, yy as isize, m, BLOCK, BLOCK, &mut buf);
            sad(y, x, yy, BLOCK, BLOCK, &buf) as f32 + lambda * mv_bits(m, pred)
        };
        if t.subpel {
            for s in [2, 1] {
                step_around(&mut best, s, &mut cost_sub);
            }
        }
        let mut block = Block {
            mode: Mode::Inter,
            mv: best.1,
            dc: [128; 3],
            size: 1,
        };
        let mut best_j = best.0 + lambda;
        if t.intra_blocks {
            let (bw, bh) = (BLOCK.min(y.w - x), BLOCK.min(y.h - yy));
            let mean = block_mean(y, x, yy, BLOCK);
            let dev: u32 = (0..bh)
                .flat_map(|j| (0..bw).map(move |i2| (j, i2)))
                .map(|(j, i2)| u32::from(y.data[(yy + j) * y.w + x + i2].abs_diff(mean)))
                .sum();
            let j = dev as f32 + lambda * 24.0;
            if j < best_j {
                let dc = |p: &Plane| block_mean(p, bx * BLOCK / 2, by * BLOCK / 2, BLOCK / 2);
                block = Block {
                    mode: Mode::Intra,
                    mv: Mv::default(),
                    dc: [mean, dc(&src[1]), dc(&src[2])],
                    size: 1,
                };
                best_j = j;
            }
        }
        blocks[i] = block;
        costs[i] = best_j;
        raster.mark(bx, by, 1);
    }
    let ctx = Node {
        y,
        r,
        cols,
        rows,
        lambda,
        prev,
        subpel: t.subpel,
        refine: true,
    };
    if t.tree {
        for uy in (0..rows).step_by(UNIT) {
            for ux in (0..cols).step_by(UNIT) {
                ctx.decide(&mut blocks, &costs, ux, uy, UNIT);
            }
        }
    }
    ctx.snap(&mut blocks, t.skip);
    blocks
}

/// The encoder's view of the field while deciding the tree.
struct Node<'a> {
    y: &'a Plane,
    r: &'a Padded,
    cols: usize,
    rows: usize,
    lambda: f32,
    prev: Option<&'a [Block]>,
    subpel: bool,
    refine: bool,
}

impl Node<'_> {
    /// Luma SAD of the node at cell `(x, y)` of `s` cells with one vector.
    fn sad(&self, x: usize, y: usize, s: usize, mv: Mv) -> f32 {
        let mut buf = [0u8; BLOCK * BLOCK];
        let mut total = 0u32;
        for cy in y..(y + s).min(self.rows) {
            for cx in x..(x + s).min(self.cols) {
                let (px, py) = (cx * BLOCK, cy * BLOCK);
                if mv.x & 3 == 0 && mv.y & 3 == 0 {
                    total += sad_int(self.y, self.r, px, py, BLOCK, BLOCK, mv.x >> 2, mv.y >> 2);
                } else {
                    luma_block(self.r, px as isize, py as isize, mv, BLOCK, BLOCK, &mut buf);
                    total += sad(self.y, px, py, BLOCK, BLOCK, &buf);
                }
            }
        }
        total as f32
    }

    /// Decides the subtree at `(x, y)` of `s` cells bottom-up; returns its cost and writes the
    /// choice into `blocks`.
    fn decide(&self, blocks: &mut [Block], costs: &[f32], x: usize, y: usize, s: usize) -> f32 {
        if x >= self.cols || y >= self.rows {
            return 0.0;
        }
        if s == 1 {
            return costs[y * self.cols + x];
        }
        let h = s / 2;
        let mut split = self.lambda;
        let mut cands = vec![Mv::default(), temporal(self.prev, self.cols, x, y)];
        for (dx, dy) in [(0, 0), (h, 0), (0, h), (h, h)] {
            split += self.decide(blocks, costs, x + dx, y + dy, h);
            if x + dx < self.cols && y + dy < self.rows {
                let b = blocks[(y + dy) * self.cols + x + dx];
                if b.mode != Mode::Intra {
                    cands.push(b.mv);
                }
            }
        }
        if !self.subpel {
            for c in &mut cands {
                c.x &= !3;
                c.y &= !3;
            }
        }
        cands.sort_by_key(|m| (m.x, m.y));
        cands.dedup();
        let left = (x > 0).then(|| blocks[y * self.cols + x - 1].mv);
        let reference = left.unwrap_or_default();
        let mut best = (f32::INFINITY, Mv::default());
        let cost = |c: Mv| self.sad(x, y, s, c) + self.lambda * (3.0 + 0.5 * mv_bits(c, reference));
        for c in cands {
            let j = cost(c);
            if j < best.0 {
                best = (j, c);
            }
        }
        if self.refine {
            // Refine the merged block's vector: whole, half and quarter samples around it.
            let steps: &[i32] = if self.subpel { &[4, 2, 1] } else { &[4] };
            for &st in steps {
                step_around(&mut best, st, cost);
            }
        }
        if best.0 < split {
            let b = Block {
                mode: Mode::Inter,
                mv: best.1,
                dc: [128; 3],
                size: s as u8,
            };
            for yy in y..(y + s).min(self.rows) {
                for xx in x..(x + s).min(self.cols) {
                    blocks[yy * self.cols + xx] = b;
                }
            }
            best.0
        } else {
            // Children keep their sizes (≤ h); the top-left cell's size marks the split.
            split
        }
    }

    /// In coding order, with the coder's predictors: snaps inter leaves to skip or merge when
    /// the vector's bits are not worth its distortion gain.
    fn snap(&self, blocks: &mut [Block], skip: bool) {
        let mut coded = Coded::new(self.cols, self.rows);
        for (x, y, s) in leaves(blocks, self.cols, self.rows) {
            let i = y * self.cols + x;
            let mut b = blocks[i];
            if b.mode == Mode::Inter {
                let pred = predictor(blocks, &coded, x, y, s);
                let tmv = temporal(self.prev, self.cols, x, y);
                let own = self.sad(x, y, s, b.mv) + self.lambda * (mv_bits(b.mv, pred) + 1.0);
                let mut best = (own, Mode::Inter, b.mv);
                if skip {
                    for (mode, c) in [(Mode::Skip, pred), (Mode::Merge, tmv)] {
                        if mode == Mode::Merge && self.prev.is_none() {
                            continue;
                        }
                        let j = if c == b.mv {
                            self.sad(x, y, s, c)
                        } else {
                            self.sad(x, y, s, c) + self.lambda * 0.5
                        };
                        if j <= best.0 {
                            best = (j, mode, c);
                        }
                    }
                }
                b.mode = best.1;
                b.mv = best.2;
                for yy in y..(y + s).min(self.rows) {
                    for xx in x..(x + s).min(self.cols) {
                        blocks[yy * self.cols + xx] = Block { size: s as u8, ..b };
                    }
                }
            }
            coded.mark(x, y, s);
        }
    }
}

/// Rounded mean of the `size × size` block of `p` at `(x, y)`, clipped to the plane (the DC of
/// an intra block, luma and chroma alike).
fn block_mean(p: &Plane, x: usize, y: usize, size: usize) -> u8 {
    let (w, h) = (size.min(p.w - x), size.min(p.h - y));
    let sum: u32 = (0..h)
        .flat_map(|j| &p.data[(y + j) * p.w + x..(y + j) * p.w + x + w])
        .map(|&v| u32::from(v))
        .sum();
    let n = (w * h) as u32;
    ((sum + n / 2) / n) as u8
}
