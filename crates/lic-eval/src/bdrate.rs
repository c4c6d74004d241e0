//! Bjøntegaard delta rate and delta quality (VCEG-M33, and the PCHIP variant of JVET/AOM CTC).
//!
//! Matches the PyPI package `bjontegaard` 1.3.0 (`bd_rate` / `bd_psnr` with `method='pchip'` or
//! `method='cubic'`):
//!
//! * **BD-rate**: the rate is taken as `log10(bpp)` and interpolated as a function of the quality
//!   (PSNR, or MS-SSIM in dB); both interpolants are integrated over the overlap of the two quality
//!   ranges; the mean log-rate difference `Δ` gives `(10^Δ − 1) · 100 %` (negative = the test
//!   codec needs fewer bits than the anchor).
//! * **BD-quality** (BD-PSNR): the quality is interpolated as a function of `log10(bpp)` and the
//!   mean difference over the overlapping log-rate range is returned (positive = test is better).
//! * [`Method::Pchip`] (default): SciPy's `PchipInterpolator` (Fritsch–Carlson monotone cubic,
//!   weighted-harmonic-mean interior slopes, Moler's shape-preserving end slopes, linear for two
//!   points), integrated exactly. Needs at least 2 points per curve.
//! * [`Method::Cubic`]: the classic least-squares cubic polynomial (`numpy.polyfit(x, y, 3)`),
//!   integrated exactly. Needs at least 4 points per curve.
//!
//! Points are sorted by the interpolation variable; repeated values of it are an error. The package
//! warns when the overlap is below 75 % of the union of both ranges; here [`BdResult::warning`] is set
//! when the overlap covers less than half of either curve's own range ([`NARROW_OVERLAP`]).

/// Overlap below this fraction of either curve's range sets [`BdResult::warning`].
pub const NARROW_OVERLAP: f64 = 0.5;

/// Interpolation method.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Method {
    /// Piecewise cubic Hermite (monotone), as `bjontegaard`'s `method='pchip'`.
    #[default]
    Pchip,
    /// Least-squares cubic polynomial (VCEG-M33), as `method='cubic'`.
    Cubic,
}

impl Method {
    pub fn min_points(self) -> usize {
        match self {
            Method::Pchip => 2,
            Method::Cubic => 4,
        }
    }
}

impl std::str::FromStr for Method {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "pchip" => Ok(Method::Pchip),
            "cubic" | "polyfit" | "vceg-m33" => Ok(Method::Cubic),
            _ => Err(format!(
                "unknown BD interpolation method {s:?} (pchip or cubic)"
            )),
        }
    }
}

impl std::fmt::Display for Method {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Method::Pchip => "pchip",
            Method::Cubic => "cubic",
        })
    }
}

#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum BdError {
    #[error("{curve} curve has {got} points; the {method} method needs at least {need}")]
    TooFewPoints {
        curve: &'static str,
        got: usize,
        need: usize,
        method: Method,
    },
    #[error("{curve} curve: {n_rate} rate values but {n_quality} quality values")]
    LengthMismatch {
        curve: &'static str,
        n_rate: usize,
        n_quality: usize,
    },
    #[error("{curve} curve: value {value} is not usable ({why})")]
    BadValue {
        curve: &'static str,
        value: f64,
        why: &'static str,
    },
    #[error("{curve} curve: two points share the same {axis} {value}; cannot interpolate")]
    Duplicate {
        curve: &'static str,
        axis: &'static str,
        value: f64,
    },
    #[error(
        "the curves do not overlap in {axis}: anchor covers {a_lo:.4}..{a_hi:.4}, test covers \
         {t_lo:.4}..{t_hi:.4}"
    )]
    NoOverlap {
        axis: &'static str,
        a_lo: f64,
        a_hi: f64,
        t_lo: f64,
        t_hi: f64,
    },
}

/// A BD value with the interval it was computed over.
#[derive(Clone, Debug, PartialEq)]
pub struct BdResult {
    /// BD-rate in percent, or BD-quality in the quality's unit.
    pub value: f64,
    /// The overlap interval of the integration variable (quality for BD-rate, log10 bpp for
    /// BD-quality).
    pub interval: (f64, f64),
    /// Overlap length as a fraction of the anchor's and of the test's own range.
    pub overlap_anchor: f64,
    pub overlap_test: f64,
    /// Set when the overlap is narrow (see [`NARROW_OVERLAP`]).
    pub warning: Option<String>,
}

/// An interpolant that can be integrated exactly.
enum Interp {
    /// Knots, values, end slopes (Hermite form).
    Pchip {
        x: Vec<f64>,
        y: Vec<f64>,
        d: Vec<f64>,
    },
    /// Polynomial coefficients c0..c3 in `t = (x - center) / scale`.
    Poly {
        c: [f64; 4],
        center: f64,
        scale: f64,
    },
}

fn sign(v: f64) -> f64 {
    if v > 0.0 {
        1.0
    } else if v < 0.0 {
        -1.0
    } else {
        0.0
    }
}

/// SciPy's one-sided three-point end slope with shape preservation.
fn pchip_edge(h0: f64, h1: f64, m0: f64, m1: f64) -> f64 {
    let d = ((2.0 * h0 + h1) * m0 - h0 * m1) / (h0 + h1);
    if sign(d) != sign(m0) {
        0.0
    } else if sign(m0) != sign(m1) && d.abs() > 3.0 * m0.abs() {
        3.0 * m0
    } else {
        d
    }
}

fn pchip_slopes(x: &[f64], y: &[f64]) -> Vec<f64> {
    let n = x.len();
    let h: Vec<f64> = x.windows(2).map(|w| w[1] - w[0]).collect();
    let m: Vec<f64> = (0..n - 1).map(|k| (y[k + 1] - y[k]) / h[k]).collect();
    if n == 2 {
        return vec![m[0], m[0]];
    }
    let mut d = vec![0.0; n];
    for k in 1..n - 1 {
        let (ml, mr) = (m[k - 1], m[k]);
        if sign(ml) != sign(mr) || ml == 0.0 || mr == 0.0 {
            d[k] = 0.0;
        } else {
            let w1 = 2.0 * h[k] + h[k - 1];
            let w2 = h[k] + 2.0 * h[k - 1];
            d[k] = (w1 + w2) / (w1 / ml + w2 / mr);
        }
    }
    d[0] = pchip_edge(h[0], h[1], m[0], m[1]);
    d[n - 1] = pchip_edge(h[n - 2], h[n - 3], m[n - 2], m[n - 3]);
    d
}

/// Least-squares cubic fit by Householder QR on the Vandermonde matrix of the normalised
/// abscissa (same polynomial as `numpy.polyfit(x, y, 3)`, better conditioned).
#[allow(clippy::needless_range_loop)] // textbook index form of Householder QR
fn cubic_fit(x: &[f64], y: &[f64]) -> Interp {
    let n = x.len();
    let center = x.iter().sum::<f64>() / n as f64;
    let scale = (x.iter().map(|v| (v - center).powi(2)).sum::<f64>() / n as f64)
        .sqrt()
        .max(1e-300);
    // A (n x 4), column-major, and b.
    let mut a: Vec<[f64; 4]> = x
        .iter()
        .map(|&v| {
            let t = (v - center) / scale;
            [1.0, t, t * t, t * t * t]
        })
        .collect();
    let mut b = y.to_vec();
    for j in 0..4 {
        let norm = (j..n).map(|i| a[i][j] * a[i][j]).sum::<f64>().sqrt();
        let alpha = if a[j][j] > 0.0 { -norm } else { norm };
        let mut v: Vec<f64> = (j..n).map(|i| a[i][j]).collect();
        v[0] -= alpha;
        let vv: f64 = v.iter().map(|q| q * q).sum();
        if vv == 0.0 {
            continue;
        }
        for col in j..4 {
            let dot: f64 = (j..n).map(|i| v[i - j] * a[i][col]).sum();
            let f = 2.0 * dot / vv;
            for i in j..n {
                a[i][col] -= f * v[i - j];
            }
        }
        let dot: f64 = (j..n).map(|i| v[i - j] * b[i]).sum();
        let f = 2.0 * dot / vv;
        for i in j..n {
            b[i] -= f * v[i - j];
        }
    }
    let mut c = [0.0; 4];
    for j in (0..4).rev() {
        let s: f64 = (j + 1..4).map(|k| a[j][k] * c[k]).sum();
        c[j] = (b[j] - s) / a[j][j];
    }
    Interp::Poly { c, center, scale }
}

impl Interp {
    fn new(x: &[f64], y: &[f64], method: Method) -> Interp {
        match method {
            Method::Pchip => Interp::Pchip {
                d: pchip_slopes(x, y),
                x: x.to_vec(),
                y: y.to_vec(),
            },
            Method::Cubic => cubic_fit(x, y),
        }
    }

    /// Antiderivative, zero at the first knot (PCHIP) or at `center` (polynomial).
    fn antiderivative(&self, at: f64) -> f64 {
        match self {
            Interp::Poly { c, center, scale } => {
                let t = (at - center) / scale;
                scale * t * (c[0] + t * (c[1] / 2.0 + t * (c[2] / 3.0 + t * c[3] / 4.0)))
            }
            Interp::Pchip { x, y, d } => {
                let n = x.len();
                // Segment holding `at` (clamped: callers stay inside the knot range).
                let k = match x.iter().position(|&v| v > at) {
                    Some(0) => 0,
                    Some(i) => i - 1,
                    None => n - 2,
                };
                let full = |j: usize| {
                    let h = x[j + 1] - x[j];
                    h * (y[j] + y[j + 1]) / 2.0 + h * h * (d[j] - d[j + 1]) / 12.0
                };
                let mut acc: f64 = (0..k).map(full).sum();
                let h = x[k + 1] - x[k];
                let t = (at - x[k]) / h;
                let (t2, t3, t4) = (t * t, t * t * t, t * t * t * t);
                let h00 = t - t3 + t4 / 2.0;
                let h10 = t2 / 2.0 - 2.0 * t3 / 3.0 + t4 / 4.0;
                let h01 = t3 - t4 / 2.0;
                let h11 = -t3 / 3.0 + t4 / 4.0;
                acc += h * (y[k] * h00 + h * d[k] * h10 + y[k + 1] * h01 + h * d[k + 1] * h11);
                acc
            }
        }
    }

    fn integrate(&self, a: f64, b: f64) -> f64 {
        self.antiderivative(b) - self.antiderivative(a)
    }
}

/// Checks and sorts one curve as (x, y) pairs by x.
fn prepare(
    curve: &'static str,
    x: &[f64],
    y: &[f64],
    method: Method,
    x_axis: &'static str,
) -> Result<(Vec<f64>, Vec<f64>), BdError> {
    let mut pts: Vec<(f64, f64)> = x.iter().copied().zip(y.iter().copied()).collect();
    if pts.len() < method.min_points() {
        return Err(BdError::TooFewPoints {
            curve,
            got: pts.len(),
            need: method.min_points(),
            method,
        });
    }
    for &(a, b) in &pts {
        for v in [a, b] {
            if !v.is_finite() {
                return Err(BdError::BadValue {
                    curve,
                    value: v,
                    why: "not finite",
                });
            }
        }
    }
    pts.sort_by(|a, b| a.0.total_cmp(&b.0));
    if method == Method::Pchip {
        if let Some(w) = pts.windows(2).find(|w| w[0].0 == w[1].0) {
            return Err(BdError::Duplicate {
                curve,
                axis: x_axis,
                value: w[0].0,
            });
        }
    }
    Ok(pts.into_iter().unzip())
}

fn log10_rates(curve: &'static str, rate: &[f64]) -> Result<Vec<f64>, BdError> {
    rate.iter()
        .map(|&r| {
            if r > 0.0 && r.is_finite() {
                Ok(r.log10())
            } else {
                Err(BdError::BadValue {
                    curve,
                    value: r,
                    why: "rates must be positive",
                })
            }
        })
        .collect()
}

fn check_len(curve: &'static str, rate: &[f64], q: &[f64]) -> Result<(), BdError> {
    if rate.len() != q.len() {
        return Err(BdError::LengthMismatch {
            curve,
            n_rate: rate.len(),
            n_quality: q.len(),
        });
    }
    Ok(())
}

/// Mean of `test − anchor` over the overlap of the x ranges.
fn bd_linear(
    anchor: (&[f64], &[f64]),
    test: (&[f64], &[f64]),
    method: Method,
    axis: &'static str,
) -> Result<BdResult, BdError> {
    let (ax, ay) = prepare("anchor", anchor.0, anchor.1, method, axis)?;
    let (tx, ty) = prepare("test", test.0, test.1, method, axis)?;
    let (a_lo, a_hi) = (ax[0], ax[ax.len() - 1]);
    let (t_lo, t_hi) = (tx[0], tx[tx.len() - 1]);
    let lo = a_lo.max(t_lo);
    let hi = a_hi.min(t_hi);
    if hi <= lo {
        return Err(BdError::NoOverlap {
            axis,
            a_lo,
            a_hi,
            t_lo,
            t_hi,
        });
    }
    let fa = Interp::new(&ax, &ay, method);
    let ft = Interp::new(&tx, &ty, method);
    let value = (ft.integrate(lo, hi) - fa.integrate(lo, hi)) / (hi - lo);
    let overlap_anchor = (hi - lo) / (a_hi - a_lo);
    let overlap_test = (hi - lo) / (t_hi - t_lo);
    let warning = (overlap_anchor < NARROW_OVERLAP || overlap_test < NARROW_OVERLAP).then(|| {
        format!(
            "narrow overlap in {axis}: {lo:.4}..{hi:.4} covers {:.0}% of the anchor's range and \
             {:.0}% of the test's range; the BD value is unreliable",
            overlap_anchor * 100.0,
            overlap_test * 100.0
        )
    });
    Ok(BdResult {
        value,
        interval: (lo, hi),
        overlap_anchor,
        overlap_test,
        warning,
    })
}

/// Validates both curves and returns their log10 rates `(anchor, test)`.
fn checked_log_rates(
    anchor_rate: &[f64],
    anchor_quality: &[f64],
    test_rate: &[f64],
    test_quality: &[f64],
) -> Result<(Vec<f64>, Vec<f64>), BdError> {
    check_len("anchor", anchor_rate, anchor_quality)?;
    check_len("test", test_rate, test_quality)?;
    Ok((
        log10_rates("anchor", anchor_rate)?,
        log10_rates("test", test_rate)?,
    ))
}

/// BD-rate in percent of `test` against `anchor` (negative: the test needs fewer bits).
/// `*_quality` is PSNR in dB or MS-SSIM in dB, `*_rate` is bpp (any positive rate unit).
pub fn bd_rate(
    anchor_rate: &[f64],
    anchor_quality: &[f64],
    test_rate: &[f64],
    test_quality: &[f64],
    method: Method,
) -> Result<BdResult, BdError> {
    let (la, lt) = checked_log_rates(anchor_rate, anchor_quality, test_rate, test_quality)?;
    let mut r = bd_linear(
        (anchor_quality, &la),
        (test_quality, &lt),
        method,
        "quality",
    )?;
    r.value = (10f64.powf(r.value) - 1.0) * 100.0;
    Ok(r)
}

/// BD-quality (BD-PSNR when the quality is PSNR) of `test` against `anchor`, in the quality's unit
/// (positive: the test is better at equal rate). The interval is in log10(bpp).
pub fn bd_quality(
    anchor_rate: &[f64],
    anchor_quality: &[f64],
    test_rate: &[f64],
    test_quality: &[f64],
    method: Method,
) -> Result<BdResult, BdError> {
    let (la, lt) = checked_log_rates(anchor_rate, anchor_quality, test_rate, test_quality)?;
    bd_linear(
        (&la, anchor_quality),
        (&lt, test_quality),
        method,
        "log10(rate)",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_curves_give_zero_and_scaling_gives_known_rate() {
        let r = [0.1, 0.2, 0.4, 0.8, 1.6];
        let q = [28.0, 30.5, 33.2, 36.0, 39.1];
        for m in [Method::Pchip, Method::Cubic] {
            assert!(bd_rate(&r, &q, &r, &q, m).unwrap().value.abs() < 1e-12);
            assert!(bd_quality(&r, &q, &r, &q, m).unwrap().value.abs() < 1e-12);
            // The test needs 20 % fewer bits at every quality: BD-rate is exactly -20 %.
            let r2: Vec<f64> = r.iter().map(|v| v * 0.8).collect();
            let b = bd_rate(&r, &q, &r2, &q, m).unwrap();
            assert!((b.value + 20.0).abs() < 1e-9, "{m}: {}", b.value);
            // Quality 1 dB higher at every rate: BD-PSNR is exactly +1.
            let q2: Vec<f64> = q.iter().map(|v| v + 1.0).collect();
            assert!((bd_quality(&r, &q, &r, &q2, m).unwrap().value - 1.0).abs() < 1e-9);
        }
    }

    #[test]
    fn pchip_integral_matches_trapezoid_on_lines() {
        // PCHIP reproduces straight lines exactly; its integral is the trapezoid.
        let x = [0.0, 1.0, 3.0, 4.0];
        let y = [1.0, 3.0, 7.0, 9.0];
        let f = Interp::new(&x, &y, Method::Pchip);
        assert!(
            (f.integrate(0.5, 3.5) - (2.0 * 3.5 * 3.5 / 2.0 + 3.5 - (0.25 + 0.5))).abs() < 1e-12
        );
    }

    #[test]
    fn errors_and_warnings() {
        let r = [0.1, 0.2, 0.4];
        let q = [28.0, 30.0, 32.0];
        assert!(matches!(
            bd_rate(&r, &q, &r, &q, Method::Cubic),
            Err(BdError::TooFewPoints { need: 4, .. })
        ));
        assert!(matches!(
            bd_rate(&r[..1], &q[..1], &r, &q, Method::Pchip),
            Err(BdError::TooFewPoints { need: 2, .. })
        ));
        let q_far = [40.0, 42.0, 44.0];
        assert!(matches!(
            bd_rate(&r, &q, &r, &q_far, Method::Pchip),
            Err(BdError::NoOverlap { .. })
        ));
        let q_near = [31.0, 33.0, 35.0];
        let b = bd_rate(&r, &q, &r, &q_near, Method::Pchip).unwrap();
        assert!(b.warning.is_some());
        assert_eq!(b.interval, (31.0, 32.0));
        assert!(matches!(
            bd_rate(&[0.1, 0.0], &[1.0, 2.0], &r, &q, Method::Pchip),
            Err(BdError::BadValue { .. })
        ));
        assert!(matches!(
            bd_rate(&[0.1, 0.2], &[1.0, 1.0], &r, &q, Method::Pchip),
            Err(BdError::Duplicate { .. })
        ));
        assert!(bd_rate(&r, &q[..2], &r, &q, Method::Pchip).is_err());
    }
}
