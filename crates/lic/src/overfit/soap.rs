//! SOAP (Vyas et al., 2024: "Improving and stabilizing Shampoo using Adam"), for the encoder's
//! small network weight matrices: Adam run in the eigenbasis of Shampoo's two gradient
//! covariances `L = E[G Gᵀ]` and `R = E[Gᵀ G]`, the basis refreshed every few steps. Vectors
//! (the biases) get plain Adam. The matrices here are at most a few dozen on a side, so the
//! eigendecompositions (cyclic Jacobi in f64) cost nothing next to a training step.

/// Hyper-parameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SoapConfig {
    /// First-moment decay.
    pub beta1: f32,
    /// Second-moment decay (in the eigenbasis).
    pub beta2: f32,
    /// Decay of the covariances `L` and `R`.
    pub shampoo_beta: f64,
    /// Denominator floor.
    pub eps: f32,
    /// Steps between eigenbasis refreshes.
    pub frequency: usize,
}

impl Default for SoapConfig {
    fn default() -> Self {
        Self {
            beta1: 0.9,
            beta2: 0.95,
            shampoo_beta: 0.95,
            eps: 1e-8,
            frequency: 10,
        }
    }
}

/// Eigenvalues (descending) and eigenvectors (the columns of the row-major `n × n` result) of
/// the symmetric `n × n` matrix `a` (row-major), by cyclic Jacobi rotations.
pub fn sym_eigen(a: &[f64], n: usize) -> (Vec<f64>, Vec<f64>) {
    let mut a = a.to_vec();
    let mut q = vec![0.0; n * n];
    for i in 0..n {
        q[i * n + i] = 1.0;
    }
    let scale: f64 = a.iter().map(|x| x * x).sum::<f64>().sqrt();
    for _sweep in 0..50 {
        let off: f64 = (0..n)
            .flat_map(|i| (0..n).filter(move |&j| j != i).map(move |j| (i, j)))
            .map(|(i, j)| a[i * n + j] * a[i * n + j])
            .sum::<f64>()
            .sqrt();
        if off <= 1e-13 * scale || off == 0.0 {
            break;
        }
        for p in 0..n {
            for r in p + 1..n {
                let apr = a[p * n + r];
                if apr == 0.0 {
                    continue;
                }
                let theta = (a[r * n + r] - a[p * n + p]) / (2.0 * apr);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                // A ← Jᵀ A J on rows/columns p and r.
                for k in 0..n {
                    let (akp, akr) = (a[k * n + p], a[k * n + r]);
                    a[k * n + p] = c * akp - s * akr;
                    a[k * n + r] = s * akp + c * akr;
                }
                for k in 0..n {
                    let (apk, ark) = (a[p * n + k], a[r * n + k]);
                    a[p * n + k] = c * apk - s * ark;
                    a[r * n + k] = s * apk + c * ark;
                }
                for k in 0..n {
                    let (qkp, qkr) = (q[k * n + p], q[k * n + r]);
                    q[k * n + p] = c * qkp - s * qkr;
                    q[k * n + r] = s * qkp + c * qkr;
                }
            }
        }
    }
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&i, &j| a[j * n + j].total_cmp(&a[i * n + i]));
    let values = order.iter().map(|&i| a[i * n + i]).collect();
    let mut vectors = vec![0.0; n * n];
    for (col, &i) in order.iter().enumerate() {
        for k in 0..n {
            vectors[k * n + col] = q[k * n + i];
        }
    }
    (values, vectors)
}

/// `C = op(A) · op(B)` for small row-major matrices; `ta`/`tb` transpose the operands. `A` is
/// `m × k` after the transpose, `B` `k × n`.
#[allow(clippy::too_many_arguments)]
fn matmul(a: &[f64], ta: bool, b: &[f64], tb: bool, m: usize, k: usize, n: usize, c: &mut [f64]) {
    let at = |i: usize, l: usize| if ta { a[l * m + i] } else { a[i * k + l] };
    let bt = |l: usize, j: usize| if tb { b[j * k + l] } else { b[l * n + j] };
    for i in 0..m {
        for j in 0..n {
            c[i * n + j] = (0..k).map(|l| at(i, l) * bt(l, j)).sum();
        }
    }
}

/// State of one weight matrix.
#[derive(Clone, Debug)]
struct Matrix {
    off: usize,
    rows: usize,
    cols: usize,
    l: Vec<f64>,
    r: Vec<f64>,
    ql: Vec<f64>,
    qr: Vec<f64>,
    /// Moments in the eigenbasis.
    m: Vec<f64>,
    v: Vec<f64>,
}

impl Matrix {
    /// `Q_Lᵀ X Q_R`.
    fn project(&self, x: &[f64]) -> Vec<f64> {
        let (m, n) = (self.rows, self.cols);
        let mut t = vec![0.0; m * n];
        matmul(&self.ql, true, x, false, m, m, n, &mut t);
        let mut out = vec![0.0; m * n];
        matmul(&t, false, &self.qr, false, m, n, n, &mut out);
        out
    }

    /// `Q_L X Q_Rᵀ`.
    fn project_back(&self, x: &[f64]) -> Vec<f64> {
        let (m, n) = (self.rows, self.cols);
        let mut t = vec![0.0; m * n];
        matmul(&self.ql, false, x, false, m, m, n, &mut t);
        let mut out = vec![0.0; m * n];
        matmul(&t, false, &self.qr, true, m, n, n, &mut out);
        out
    }

    /// New eigenbases of `L` and `R`; the first moment is carried into them, the second
    /// keeps its (eigenvalue-ordered) positions.
    fn refresh(&mut self) {
        let m_world = if self.ql.is_empty() {
            self.m.clone()
        } else {
            self.project_back(&self.m)
        };
        self.ql = sym_eigen(&self.l, self.rows).1;
        self.qr = sym_eigen(&self.r, self.cols).1;
        self.m = self.project(&m_world);
    }
}

/// SOAP over the matrices `(offset, rows, cols)` of a parameter vector, Adam elsewhere.
#[derive(Clone, Debug)]
pub struct Soap {
    cfg: SoapConfig,
    mats: Vec<Matrix>,
    /// Adam moments of every parameter (used for those outside the matrices).
    m: Vec<f32>,
    v: Vec<f32>,
    in_matrix: Vec<bool>,
    t: i32,
}

impl Soap {
    /// An optimizer for a parameter vector of `len` values whose matrices are `mats`.
    pub fn new(len: usize, mats: &[(usize, usize, usize)], cfg: SoapConfig) -> Self {
        let mut in_matrix = vec![false; len];
        let mats = mats
            .iter()
            .map(|&(off, rows, cols)| {
                in_matrix[off..off + rows * cols].fill(true);
                Matrix {
                    off,
                    rows,
                    cols,
                    l: vec![0.0; rows * rows],
                    r: vec![0.0; cols * cols],
                    ql: Vec::new(),
                    qr: Vec::new(),
                    m: vec![0.0; rows * cols],
                    v: vec![0.0; rows * cols],
                }
            })
            .collect();
        Self {
            cfg,
            mats,
            m: vec![0.0; len],
            v: vec![0.0; len],
            in_matrix,
            t: 0,
        }
    }

    /// One step on `p` with gradient `g` at learning rate `lr`.
    pub fn step(&mut self, p: &mut [f32], g: &[f32], lr: f32) {
        let c = self.cfg;
        self.t += 1;
        let c1 = 1.0 - c.beta1.powi(self.t);
        let c2 = 1.0 - c.beta2.powi(self.t);
        for (i, ((x, &gi), (m, v))) in p
            .iter_mut()
            .zip(g)
            .zip(self.m.iter_mut().zip(self.v.iter_mut()))
            .enumerate()
        {
            if self.in_matrix[i] {
                continue;
            }
            *m = c.beta1 * *m + (1.0 - c.beta1) * gi;
            *v = c.beta2 * *v + (1.0 - c.beta2) * gi * gi;
            *x -= lr * (*m / c1) / ((*v / c2).sqrt() + c.eps);
        }
        let (b1, b2) = (f64::from(c.beta1), f64::from(c.beta2));
        let (c1, c2) = (f64::from(c1), f64::from(c2));
        for mat in &mut self.mats {
            let (rows, cols) = (mat.rows, mat.cols);
            let gm: Vec<f64> = g[mat.off..mat.off + rows * cols]
                .iter()
                .map(|&x| f64::from(x))
                .collect();
            // Covariances first, so that the first step already has a basis.
            let sb = if mat.ql.is_empty() {
                0.0
            } else {
                c.shampoo_beta
            };
            let mut ggt = vec![0.0; rows * rows];
            matmul(&gm, false, &gm, true, rows, cols, rows, &mut ggt);
            let mut gtg = vec![0.0; cols * cols];
            matmul(&gm, true, &gm, false, cols, rows, cols, &mut gtg);
            for (cov, sample) in [(&mut mat.l, &ggt), (&mut mat.r, &gtg)] {
                for (a, b) in cov.iter_mut().zip(sample) {
                    *a = sb * *a + (1.0 - sb) * b;
                }
            }
            if mat.ql.is_empty() || (self.t as usize).is_multiple_of(c.frequency.max(1)) {
                mat.refresh();
            }
            let gr = mat.project(&gm);
            let mut step = vec![0.0; rows * cols];
            for ((s, &x), (m, v)) in step
                .iter_mut()
                .zip(&gr)
                .zip(mat.m.iter_mut().zip(mat.v.iter_mut()))
            {
                *m = b1 * *m + (1.0 - b1) * x;
                *v = b2 * *v + (1.0 - b2) * x * x;
                *s = (*m / c1) / ((*v / c2).sqrt() + f64::from(c.eps));
            }
            let world = mat.project_back(&step);
            for (x, s) in p[mat.off..mat.off + rows * cols].iter_mut().zip(&world) {
                *x -= lr * *s as f32;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rng(seed: &mut u64) -> f64 {
        *seed ^= *seed << 13;
        *seed ^= *seed >> 7;
        *seed ^= *seed << 17;
        (*seed >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
    }

    #[test]
    fn jacobi_diagonalizes_symmetric_matrices() {
        let mut s = 7u64;
        for n in [1, 2, 3, 9, 24, 27] {
            let b: Vec<f64> = (0..n * n).map(|_| rng(&mut s)).collect();
            let mut a = vec![0.0; n * n];
            matmul(&b, false, &b, true, n, n, n, &mut a);
            let (w, q) = sym_eigen(&a, n);
            assert!(w.windows(2).all(|p| p[0] >= p[1]), "{w:?}");
            // Q Λ Qᵀ = A and Qᵀ Q = I.
            let mut ql = q.clone();
            for i in 0..n {
                for j in 0..n {
                    ql[i * n + j] *= w[j];
                }
            }
            let mut back = vec![0.0; n * n];
            matmul(&ql, false, &q, true, n, n, n, &mut back);
            let mut eye = vec![0.0; n * n];
            matmul(&q, true, &q, false, n, n, n, &mut eye);
            let norm = a.iter().map(|x| x.abs()).fold(0.0, f64::max);
            for i in 0..n * n {
                assert!((back[i] - a[i]).abs() <= 1e-10 * norm, "n {n}");
                let id = if i % (n + 1) == 0 { 1.0 } else { 0.0 };
                assert!((eye[i] - id).abs() <= 1e-10, "n {n}");
            }
        }
    }

    #[test]
    fn a_one_by_one_matrix_is_adam() {
        // Both eigenbases are ±1, so SOAP (parameter 0) is Adam (parameter 1, a vector).
        let cfg = SoapConfig::default();
        let mut soap = Soap::new(2, &[(0, 1, 1)], cfg);
        let mut p = [0.3f32, 0.3];
        let mut s = 3u64;
        for t in 1..=30 {
            let gv = rng(&mut s) as f32;
            soap.step(&mut p, &[gv, gv], 0.01);
            assert!((p[0] - p[1]).abs() < 1e-5, "step {t}: {p:?}");
        }
    }

    #[test]
    fn soap_fits_an_ill_conditioned_least_squares_problem() {
        // min ‖W X − Y‖² with strongly correlated inputs: SOAP gets much closer than Adam at
        // the same steps and learning rate.
        let (rows, cols, n) = (4usize, 6usize, 64usize);
        let mut s = 11u64;
        let mut x = vec![0.0f64; cols * n];
        for k in 0..n {
            let base = rng(&mut s);
            for i in 0..cols {
                x[i * n + k] = base + 0.05 * rng(&mut s) * (i + 1) as f64;
            }
        }
        let wt: Vec<f64> = (0..rows * cols).map(|_| rng(&mut s)).collect();
        let mut y = vec![0.0; rows * n];
        matmul(&wt, false, &x, false, rows, cols, n, &mut y);
        let loss_grad = |w: &[f32], g: &mut [f32]| -> f64 {
            let w64: Vec<f64> = w.iter().map(|&v| f64::from(v)).collect();
            let mut pred = vec![0.0; rows * n];
            matmul(&w64, false, &x, false, rows, cols, n, &mut pred);
            let e: Vec<f64> = pred.iter().zip(&y).map(|(a, b)| a - b).collect();
            let mut gw = vec![0.0; rows * cols];
            matmul(&e, false, &x, true, rows, n, cols, &mut gw);
            for (gi, v) in g.iter_mut().zip(&gw) {
                *gi = (2.0 * v / n as f64) as f32;
            }
            e.iter().map(|v| v * v).sum::<f64>() / n as f64
        };
        let run = |soap: bool| -> f64 {
            let mut w = vec![0.0f32; rows * cols];
            let mut g = vec![0.0f32; rows * cols];
            let mats = if soap { vec![(0, rows, cols)] } else { vec![] };
            let mut opt = Soap::new(rows * cols, &mats, SoapConfig::default());
            for _ in 0..300 {
                loss_grad(&w, &mut g);
                opt.step(&mut w, &g, 0.02);
            }
            loss_grad(&w, &mut g)
        };
        let (adam, soap) = (run(false), run(true));
        assert!(soap < 0.5 * adam, "SOAP {soap} vs Adam {adam}");
    }
}
