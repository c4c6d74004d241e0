//! Coding of the block field, written once for encoder, decoder and rate counter.
//!
//! The field is a grid of 8×8 luma cells ([`Block`]), coded as a quadtree over 64×64 units in
//! raster order: per node a split flag (64 → 32 → 16 → 8), per leaf a mode, and the leaf's vector
//! or DC values apply to all its cells (the OBMC of [`super::motion`] works on the cells, so a
//! large block is predicted as one).
//!
//! - **Modes**: skip (the spatial predictor's vector, nothing else coded), merge (the previous
//!   frame's co-located vector), inter (a coded difference to the spatial predictor), intra
//!   (flat DC per plane).
//! - **Spatial prediction**: the median of the left, top and top-right (top-left when the
//!   top-right is not coded yet) cells' vectors; a single available inter neighbour is taken as
//!   it is.
//! - **Vector differences** are coded per component with the coefficient coder's magnitude
//!   tokens, under a context of the neighbours' difference magnitudes (4 buckets) and of how far
//!   the previous frame's co-located vector is from the prediction (3 buckets).
use super::{Block, Mode, Mv};
use crate::coder::CoderError;
use crate::dwt::code::{code_value, TOKENS};
use crate::dwt::model::{Adaptive, SymbolCoder, RATES};

const NB: usize = 4;
const TB: usize = 3;
/// Cells per side of a quadtree unit (64×64 luma samples; 32×32 units measured 0.24 points of
/// mean BD-rate worse).
pub const UNIT: usize = 8;

/// The adaptive models of the block field (carried from frame to frame within an intra period).
#[derive(Clone)]
pub struct SideModels {
    split: Vec<Adaptive>,
    mode: Vec<Adaptive>,
    mvd: Vec<Adaptive>,
    mv_sign: Vec<Adaptive>,
    dc: Vec<Adaptive>,
    dc_sign: Adaptive,
}

fn geometric(mean: f64, n: usize) -> Adaptive {
    let theta = mean / (1.0 + mean);
    let mut p = 1.0f64;
    let w: Vec<f64> = (0..n)
        .map(|t| {
            let v = p.max(1e-9) * if t >= 16 { 2.0 } else { 1.0 };
            p *= theta;
            v
        })
        .collect();
    Adaptive::new(&w)
}

impl Default for SideModels {
    fn default() -> Self {
        SideModels {
            split: (0..6).map(|_| Adaptive::uniform(2)).collect(),
            mode: (0..6)
                .map(|k| Adaptive::new(&[1.0 + (k / 2) as f64 * 2.0, 1.0, 2.0, 0.05]))
                .collect(),
            mvd: (0..2 * NB * TB)
                .map(|k| geometric(0.5 + ((k / TB) % NB) as f64 * 2.0, TOKENS))
                .collect(),
            mv_sign: (0..2).map(|_| Adaptive::uniform(2)).collect(),
            dc: (0..3).map(|_| geometric(8.0, TOKENS)).collect(),
            dc_sign: Adaptive::uniform(2),
        }
    }
}

/// The cells already coded in this frame, for the predictors.
pub struct Coded {
    cols: usize,
    rows: usize,
    done: Vec<bool>,
}

impl Coded {
    pub fn new(cols: usize, rows: usize) -> Self {
        Coded {
            cols,
            rows,
            done: vec![false; cols * rows],
        }
    }
    fn get(&self, x: isize, y: isize) -> Option<usize> {
        if x < 0 || y < 0 || x >= self.cols as isize || y >= self.rows as isize {
            return None;
        }
        let i = y as usize * self.cols + x as usize;
        self.done[i].then_some(i)
    }
    /// Marks the leaf at `(x, y)` of `s` cells as coded.
    pub fn mark(&mut self, x: usize, y: usize, s: usize) {
        for yy in y..(y + s).min(self.rows) {
            for xx in x..(x + s).min(self.cols) {
                self.done[yy * self.cols + xx] = true;
            }
        }
    }
}

/// Spatial vector predictor of the leaf at cell `(x, y)` of `s` cells (missing or intra
/// neighbours count as zero; the previous frame's vector in their place measured worse).
pub fn predictor(blocks: &[Block], coded: &Coded, x: usize, y: usize, s: usize) -> Mv {
    let (x, y) = (x as isize, y as isize);
    let get = |xx: isize, yy: isize| -> Option<Mv> {
        coded
            .get(xx, yy)
            .map(|j| &blocks[j])
            .filter(|b| b.mode != Mode::Intra)
            .map(|b| b.mv)
    };
    let a = get(x - 1, y);
    let b = get(x, y - 1);
    let c = if coded.get(x + s as isize, y - 1).is_some() {
        get(x + s as isize, y - 1)
    } else {
        get(x - 1, y - 1)
    };
    let avail: Vec<Mv> = [a, b, c].into_iter().flatten().collect();
    match avail.len() {
        0 => Mv::default(),
        1 => avail[0],
        _ => {
            let (a, b, c) = (
                a.unwrap_or_default(),
                b.unwrap_or_default(),
                c.unwrap_or_default(),
            );
            Mv {
                x: median(a.x, b.x, c.x),
                y: median(a.y, b.y, c.y),
            }
        }
    }
}

/// The temporal (merge) candidate of the leaf at cell `(x, y)`.
pub fn temporal(prev: Option<&[Block]>, cols: usize, x: usize, y: usize) -> Mv {
    prev.map(|p| &p[y * cols + x])
        .filter(|b| b.mode != Mode::Intra)
        .map_or(Mv::default(), |b| b.mv)
}

#[inline]
fn median(a: i32, b: i32, c: i32) -> i32 {
    a.max(b).min(a.min(b).max(c))
}

fn nb_bucket(v: u32) -> usize {
    match v {
        0 => 0,
        1..=2 => 1,
        3..=8 => 2,
        _ => 3,
    }
}

fn tb_bucket(v: u32) -> usize {
    match v {
        0 => 0,
        1..=4 => 1,
        _ => 2,
    }
}

/// The leaves of the field in coding order: `(x, y, size)` in cells. A node is split when the
/// size stored in its top-left cell is smaller than the node.
pub fn leaves(blocks: &[Block], cols: usize, rows: usize) -> Vec<(usize, usize, usize)> {
    let mut out = Vec::with_capacity(blocks.len());
    fn walk(
        blocks: &[Block],
        cols: usize,
        rows: usize,
        x: usize,
        y: usize,
        s: usize,
        out: &mut Vec<(usize, usize, usize)>,
    ) {
        if x >= cols || y >= rows {
            return;
        }
        if s > 1 && usize::from(blocks[y * cols + x].size) < s {
            let h = s / 2;
            for (dx, dy) in [(0, 0), (h, 0), (0, h), (h, h)] {
                walk(blocks, cols, rows, x + dx, y + dy, h, out);
            }
        } else {
            out.push((x, y, s));
        }
    }
    for uy in (0..rows).step_by(UNIT) {
        for ux in (0..cols).step_by(UNIT) {
            walk(blocks, cols, rows, ux, uy, UNIT, &mut out);
        }
    }
    out
}

/// Predicted DC of an intra leaf: the left or top intra neighbour's, else 128.
fn dc_pred(blocks: &[Block], coded: &Coded, x: usize, y: usize) -> [u8; 3] {
    for (xx, yy) in [(x as isize - 1, y as isize), (x as isize, y as isize - 1)] {
        if let Some(j) = coded.get(xx, yy) {
            if blocks[j].mode == Mode::Intra {
                return blocks[j].dc;
            }
        }
    }
    [128; 3]
}

struct Ctx<'a> {
    cols: usize,
    rows: usize,
    prev: Option<&'a [Block]>,
    coded: Coded,
    mvd: Vec<Mv>,
}

fn code_node<C: SymbolCoder>(
    coder: &mut C,
    m: &mut SideModels,
    blocks: &mut [Block],
    cx: &mut Ctx<'_>,
    x: usize,
    y: usize,
    s: usize,
) -> Result<(), CoderError> {
    let (cols, rows) = (cx.cols, cx.rows);
    if x >= cols || y >= rows {
        return Ok(());
    }
    let i = y * cols + x;
    if s > 1 {
        let smaller = [(x as isize - 1, y as isize), (x as isize, y as isize - 1)]
            .iter()
            .filter_map(|&(xx, yy)| cx.coded.get(xx, yy))
            .filter(|&j| usize::from(blocks[j].size) < s)
            .count();
        let ctx = usize::from(s == UNIT) * 3 + smaller;
        let mut split = usize::from(usize::from(blocks[i].size) < s);
        coder.symbol(&mut m.split[ctx], &mut split, RATES)?;
        if split == 1 {
            let h = s / 2;
            for (dx, dy) in [(0, 0), (h, 0), (0, h), (h, h)] {
                code_node(coder, m, blocks, cx, x + dx, y + dy, h)?;
            }
            return Ok(());
        }
    }
    // A leaf.
    let (left, top) = (
        cx.coded.get(x as isize - 1, y as isize),
        cx.coded.get(x as isize, y as isize - 1),
    );
    let skips = [left, top]
        .iter()
        .flatten()
        .filter(|&&j| matches!(blocks[j].mode, Mode::Skip | Mode::Merge))
        .count();
    let intra = [left, top]
        .iter()
        .flatten()
        .any(|&j| blocks[j].mode == Mode::Intra);
    let mctx = skips * 2 + usize::from(intra);
    let pred = predictor(blocks, &cx.coded, x, y, s);
    let tmv = temporal(cx.prev, cols, x, y);
    let mut b = blocks[i];
    let mut mode = match b.mode {
        Mode::Skip => 0,
        Mode::Merge => 1,
        Mode::Inter => 2,
        Mode::Intra => 3,
    };
    coder.symbol(&mut m.mode[mctx], &mut mode, RATES)?;
    let mut d = Mv::default();
    match mode {
        0 => {
            b.mode = Mode::Skip;
            b.mv = pred;
        }
        1 => {
            b.mode = Mode::Merge;
            b.mv = tmv;
        }
        2 => {
            b.mode = Mode::Inter;
            let mut dv = [b.mv.x - pred.x, b.mv.y - pred.y];
            for (k, dk) in dv.iter_mut().enumerate() {
                let comp = |v: Mv| if k == 0 { v.x } else { v.y };
                let n = [left, top]
                    .iter()
                    .flatten()
                    .map(|&j| comp(cx.mvd[j]).unsigned_abs())
                    .sum::<u32>();
                let t = tb_bucket(comp(tmv).abs_diff(comp(pred)));
                let ctx = (k * NB + nb_bucket(n)) * TB + t;
                code_value(coder, &mut m.mvd[ctx], &mut m.mv_sign[k], RATES, dk)?;
            }
            let mv = Mv {
                x: pred.x.wrapping_add(dv[0]),
                y: pred.y.wrapping_add(dv[1]),
            };
            if mv.x.abs() > super::motion::MAX_MV || mv.y.abs() > super::motion::MAX_MV {
                return Err(CoderError::OutOfRange(format!(
                    "motion vector ({}, {})",
                    mv.x, mv.y
                )));
            }
            d = Mv { x: dv[0], y: dv[1] };
            b.mv = mv;
        }
        _ => {
            b.mode = Mode::Intra;
            b.mv = Mv::default();
            let p = dc_pred(blocks, &cx.coded, x, y);
            for (c, &pc) in p.iter().enumerate() {
                let mut dd = i32::from(b.dc[c]) - i32::from(pc);
                code_value(coder, &mut m.dc[c], &mut m.dc_sign, RATES, &mut dd)?;
                let v = i32::from(pc).wrapping_add(dd);
                if !(0..=255).contains(&v) {
                    return Err(CoderError::OutOfRange(format!("intra DC {v}")));
                }
                b.dc[c] = v as u8;
            }
        }
    }
    b.size = s as u8;
    for yy in y..(y + s).min(rows) {
        for xx in x..(x + s).min(cols) {
            blocks[yy * cols + xx] = b;
            cx.mvd[yy * cols + xx] = d;
        }
    }
    cx.coded.mark(x, y, s);
    Ok(())
}

/// Codes (or decodes into) the block field of a frame. `prev` is the previous frame's field
/// (same geometry) for the merge mode and the temporal contexts. Encoders give every cell of a
/// leaf the leaf's size, mode, vector and DC; a leaf coded as inter whose vector equals the
/// spatial or temporal candidate should be marked skip or merge beforehand.
pub fn code_blocks<C: SymbolCoder>(
    coder: &mut C,
    m: &mut SideModels,
    blocks: &mut [Block],
    cols: usize,
    rows: usize,
    prev: Option<&[Block]>,
) -> Result<(), CoderError> {
    let mut cx = Ctx {
        cols,
        rows,
        prev,
        coded: Coded::new(cols, rows),
        mvd: vec![Mv::default(); blocks.len()],
    };
    for uy in (0..rows).step_by(UNIT) {
        for ux in (0..cols).step_by(UNIT) {
            code_node(coder, m, blocks, &mut cx, ux, uy, UNIT)?;
        }
    }
    Ok(())
}
