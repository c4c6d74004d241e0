//! Rate–distortion plots: one PNG with two panels, PSNR-RGB vs bpp and MS-SSIM (in dB) vs bpp;
//! and one-panel plots of a single measure against bpp with interval bars ([`plot_metric`], used
//! for classifier agreement).
//!
//! Text uses the bundled DejaVu Sans (`assets/fonts/`, Bitstream Vera licence), so plotting needs
//! no system fonts.

use std::path::Path;
use std::sync::Once;

use anyhow::{anyhow, Context, Result};
use plotters::prelude::*;
use plotters::style::FontStyle;

use super::results::RdResults;
use crate::metrics::ms_ssim_db;

static FONT: &[u8] = include_bytes!("../../../assets/fonts/DejaVuSans.ttf");
const FAMILY: &str = "DejaVu Sans";

fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // The bytes are a valid TrueType file checked in with the source; failure is a build bug.
        if plotters::style::register_font(FAMILY, FontStyle::Normal, FONT).is_err() {
            panic!("bundled font assets/fonts/DejaVuSans.ttf is not a valid font");
        }
    });
}

/// One codec's RD curve.
#[derive(Clone, Debug, PartialEq)]
pub struct Curve {
    pub label: String,
    pub bpp: Vec<f64>,
    pub psnr_rgb: Vec<f64>,
    /// Linear MS-SSIM; may be empty (the curve is then left out of the MS-SSIM panel).
    pub ms_ssim: Vec<f64>,
}

impl Curve {
    pub fn from_results(r: &RdResults, label: impl Into<String>) -> Curve {
        Curve {
            label: label.into(),
            bpp: r.results.bpp.clone(),
            psnr_rgb: r.results.psnr_rgb.clone(),
            ms_ssim: r.results.ms_ssim.clone(),
        }
    }
}

/// Plot options; [`PlotOptions::default`] is what [`plot`] uses.
#[derive(Clone, Debug, PartialEq)]
pub struct PlotOptions {
    pub title: String,
    /// Image size in pixels.
    pub width: u32,
    pub height: u32,
    /// Show bpp up to this value (all points when `None`).
    pub max_bpp: Option<f64>,
}

impl Default for PlotOptions {
    fn default() -> Self {
        PlotOptions {
            title: "Rate–distortion".to_string(),
            width: 1800,
            height: 780,
            max_bpp: None,
        }
    }
}

/// Matplotlib's "tab10" palette: distinct and readable on white.
const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

/// Writes an RD plot of `curves` to `out` (PNG) with the default options.
pub fn plot(curves: &[Curve], out: &Path) -> Result<()> {
    plot_with(curves, out, &PlotOptions::default())
}

/// Writes an RD plot of `curves` to `out` (PNG, written atomically).
pub fn plot_with(curves: &[Curve], out: &Path, opts: &PlotOptions) -> Result<()> {
    let png = render_png(curves, opts)?;
    crate::io::file::write_atomic(out, &png)
        .with_context(|| format!("{}: cannot write plot", out.display()))
}

/// Renders the plot and returns the PNG bytes.
pub fn render_png(curves: &[Curve], opts: &PlotOptions) -> Result<Vec<u8>> {
    let (w, h) = (opts.width, opts.height);
    if w < 400 || h < 300 {
        return Err(anyhow!("plot size {w}x{h} is too small (at least 400x300)"));
    }
    if curves.is_empty() {
        return Err(anyhow!("nothing to plot: no curves"));
    }
    for c in curves {
        if c.bpp.len() != c.psnr_rgb.len()
            || (!c.ms_ssim.is_empty() && c.ms_ssim.len() != c.bpp.len())
        {
            return Err(anyhow!(
                "curve {}: bpp, PSNR and MS-SSIM lists differ in length",
                c.label
            ));
        }
        if c.bpp.is_empty() {
            return Err(anyhow!("curve {}: no points", c.label));
        }
    }
    register_font();
    let mut buf = vec![255u8; w as usize * h as usize * 3];
    draw(&mut buf, curves, opts).map_err(|e| anyhow!("drawing the plot failed: {e}"))?;
    let img = crate::io::image::Image::new(w, h, buf);
    crate::io::image::encode_to_vec(&img, image::ImageFormat::Png)
        .context("encoding the plot as PNG")
}

type Points = Vec<(f64, f64)>;

/// Points of every curve for one panel, sorted by bpp, restricted to `max_bpp`.
fn panel_points(curves: &[Curve], max_bpp: Option<f64>, ms: bool) -> Vec<(usize, Points)> {
    curves
        .iter()
        .enumerate()
        .filter(|(_, c)| !ms || !c.ms_ssim.is_empty())
        .map(|(i, c)| {
            let ys: Vec<f64> = if ms {
                c.ms_ssim.iter().map(|&m| ms_ssim_db(m)).collect()
            } else {
                c.psnr_rgb.clone()
            };
            let mut pts: Points = c
                .bpp
                .iter()
                .copied()
                .zip(ys)
                .filter(|(x, y)| x.is_finite() && y.is_finite() && max_bpp.is_none_or(|m| *x <= m))
                .collect();
            pts.sort_by(|a, b| a.0.total_cmp(&b.0));
            (i, pts)
        })
        .filter(|(_, p)| !p.is_empty())
        .collect()
}

/// A "nice" axis range around `[lo, hi]` with a little headroom.
fn padded(lo: f64, hi: f64, frac: f64) -> (f64, f64) {
    let span = (hi - lo).max(1e-6);
    (lo - frac * span, hi + frac * span)
}

/// Decimals for tick labels of an axis spanning `span` with about 10 ticks.
fn label_decimals(span: f64) -> usize {
    let step = span / 10.0;
    if step >= 1.0 || step <= 0.0 || !step.is_finite() {
        0
    } else {
        (-step.log10().floor()) as usize
    }
}

/// One curve of one panel: points sorted by bpp and, optionally, vertical interval bars
/// `(bpp, low, high)`.
struct Series {
    label: String,
    /// Palette and marker index (stable across panels).
    index: usize,
    points: Points,
    bars: Vec<(f64, f64, f64)>,
}

/// One chart of a figure.
struct Panel<'a> {
    caption: &'a str,
    y_desc: &'a str,
    series: Vec<Series>,
    /// Horizontal dashed reference lines.
    guides: &'a [f64],
    /// Fixed y range; the data range with a little headroom when `None`.
    y_range: Option<(f64, f64)>,
}

type Draw<T> = Result<T, Box<dyn std::error::Error>>;

/// A titled figure with the panels side by side, sharing the x range `0..x_hi`.
fn draw_figure(buf: &mut [u8], panels: &[Panel], x_hi: f64, opts: &PlotOptions) -> Draw<()> {
    let (w, h) = (opts.width, opts.height);
    let root = BitMapBackend::with_buffer(buf, (w, h)).into_drawing_area();
    root.fill(&WHITE)?;
    let title_h = (h as f64 * 0.08) as u32;
    let (title_area, body) = root.split_vertically(title_h);
    let title_style = TextStyle::from((FAMILY, (title_h as f64 * 0.5) as i32).into_font())
        .color(&BLACK)
        .pos(plotters::style::text_anchor::Pos::new(
            plotters::style::text_anchor::HPos::Center,
            plotters::style::text_anchor::VPos::Center,
        ));
    title_area.draw_text(
        &opts.title,
        &title_style,
        ((w / 2) as i32, (title_h / 2) as i32 + 4),
    )?;
    let areas = body.split_evenly((1, panels.len().max(1)));
    for (area, panel) in areas.iter().zip(panels) {
        draw_panel(area, panel, x_hi)?;
    }
    root.present()?;
    Ok(())
}

fn draw_panel(
    area: &DrawingArea<BitMapBackend, plotters::coord::Shift>,
    panel: &Panel,
    x_hi: f64,
) -> Draw<()> {
    let ys = panel.series.iter().flat_map(|s| {
        s.points
            .iter()
            .map(|q| q.1)
            .chain(s.bars.iter().flat_map(|b| [b.1, b.2]))
    });
    let (ymin, ymax) = ys.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), y| {
        (a.min(y), b.max(y))
    });
    let (y0, y1) = match panel.y_range {
        Some(r) => r,
        None if ymin.is_finite() => padded(ymin, ymax, 0.04),
        None => (0.0, 1.0),
    };
    let xd = label_decimals(x_hi);
    let yd = label_decimals(y1 - y0);
    let mut chart = ChartBuilder::on(area)
        .margin_left(20)
        .margin_right(30)
        .margin_top(10)
        .margin_bottom(15)
        .caption(panel.caption, (FAMILY, 24))
        .x_label_area_size(60)
        .y_label_area_size(80)
        .build_cartesian_2d(0.0..x_hi, y0..y1)?;
    chart
        .configure_mesh()
        .x_desc("Rate (bits per pixel)")
        .y_desc(panel.y_desc)
        .axis_desc_style((FAMILY, 20))
        .label_style((FAMILY, 17))
        .bold_line_style(RGBColor(210, 210, 210))
        .light_line_style(RGBColor(246, 246, 246))
        .axis_style(RGBColor(80, 80, 80))
        .x_labels(10)
        .y_labels(10)
        .x_label_formatter(&|x| format!("{x:.xd$}"))
        .y_label_formatter(&|y| format!("{y:.yd$}"))
        .draw()?;
    for &g in panel.guides {
        chart.draw_series(DashedLineSeries::new(
            [(0.0, g), (x_hi, g)],
            8,
            6,
            RGBColor(120, 120, 120).stroke_width(1),
        ))?;
    }
    for s in &panel.series {
        let color = PALETTE[s.index % PALETTE.len()];
        let line = color.stroke_width(2);
        let marker = color.filled();
        chart.draw_series(LineSeries::new(s.points.clone(), line))?;
        let cap = color.stroke_width(1);
        for &(x, lo, hi) in &s.bars {
            chart.draw_series(std::iter::once(PathElement::new(
                vec![(x, lo), (x, hi)],
                cap,
            )))?;
            chart.draw_series([lo, hi].map(|y| {
                EmptyElement::at((x, y)) + PathElement::new(vec![(-5, 0), (5, 0)], cap)
            }))?;
        }
        let label = s.label.clone();
        macro_rules! markers {
            ($elem:expr) => {{
                chart
                    .draw_series(s.points.iter().map(|&p| EmptyElement::at(p) + $elem))?
                    .label(label)
                    .legend(move |(x, y)| {
                        EmptyElement::at((x, y))
                            + PathElement::new(vec![(-12, 0), (12, 0)], line)
                            + $elem
                    });
            }};
        }
        match s.index % 4 {
            0 => markers!(Circle::new((0, 0), 4, marker)),
            1 => markers!(TriangleMarker::new((0, 0), 6, marker)),
            2 => markers!(Rectangle::new([(-4, -4), (4, 4)], marker)),
            _ => markers!(Cross::new((0, 0), 5, color.stroke_width(2))),
        }
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .margin(12)
        .legend_area_size(34)
        .label_font((FAMILY, 17))
        .background_style(WHITE.mix(0.9))
        .border_style(RGBColor(160, 160, 160))
        .draw()?;
    Ok(())
}

/// The two RD panels: PSNR-RGB and MS-SSIM (dB) against bpp.
fn draw(buf: &mut [u8], curves: &[Curve], opts: &PlotOptions) -> Draw<()> {
    let x_max_all = curves
        .iter()
        .flat_map(|c| c.bpp.iter().copied())
        .filter(|x| opts.max_bpp.is_none_or(|m| *x <= m))
        .fold(0.0f64, f64::max);
    let x_hi = opts.max_bpp.unwrap_or(x_max_all * 1.04).max(1e-3);
    let series = |ms: bool| -> Vec<Series> {
        panel_points(curves, opts.max_bpp, ms)
            .into_iter()
            .map(|(i, points)| Series {
                label: curves[i].label.clone(),
                index: i,
                points,
                bars: Vec::new(),
            })
            .collect()
    };
    let panels = [
        Panel {
            caption: "PSNR-RGB vs rate",
            y_desc: "PSNR-RGB (dB)",
            series: series(false),
            guides: &[],
            y_range: None,
        },
        Panel {
            caption: "MS-SSIM (RGB) vs rate",
            y_desc: "MS-SSIM (dB) = −10·log10(1 − MS-SSIM)",
            series: series(true),
            guides: &[],
            y_range: None,
        },
    ];
    draw_figure(buf, &panels, x_hi, opts)
}

/// One codec's curve of a single measure against bpp (e.g. classifier agreement), with optional
/// interval bars (`interval` is empty or parallel to `bpp`).
#[derive(Clone, Debug, PartialEq)]
pub struct MetricCurve {
    pub label: String,
    pub bpp: Vec<f64>,
    pub value: Vec<f64>,
    pub interval: Vec<(f64, f64)>,
}

/// What a one-panel metric plot shows.
#[derive(Clone, Debug, PartialEq)]
pub struct MetricPlot {
    /// Panel caption.
    pub caption: String,
    /// Y axis description.
    pub y_desc: String,
    /// Horizontal dashed reference lines (e.g. 0.8 and 0.9).
    pub guides: Vec<f64>,
    /// Fixed y range; the data range when `None`.
    pub y_range: Option<(f64, f64)>,
}

/// Renders a one-panel plot of `curves` (measure vs bpp) and returns the PNG bytes.
pub fn render_metric_png(
    curves: &[MetricCurve],
    what: &MetricPlot,
    opts: &PlotOptions,
) -> Result<Vec<u8>> {
    let (w, h) = (opts.width, opts.height);
    if w < 400 || h < 300 {
        return Err(anyhow!("plot size {w}x{h} is too small (at least 400x300)"));
    }
    if curves.is_empty() {
        return Err(anyhow!("nothing to plot: no curves"));
    }
    let mut series = Vec::with_capacity(curves.len());
    for (i, c) in curves.iter().enumerate() {
        if c.bpp.len() != c.value.len()
            || (!c.interval.is_empty() && c.interval.len() != c.bpp.len())
        {
            return Err(anyhow!(
                "curve {}: bpp, value and interval lists differ in length",
                c.label
            ));
        }
        let keep = |x: f64| x.is_finite() && opts.max_bpp.is_none_or(|m| x <= m);
        let mut points: Points = c
            .bpp
            .iter()
            .copied()
            .zip(c.value.iter().copied())
            .filter(|(x, y)| keep(*x) && y.is_finite())
            .collect();
        points.sort_by(|a, b| a.0.total_cmp(&b.0));
        if points.is_empty() {
            return Err(anyhow!("curve {}: no points", c.label));
        }
        let bars = c
            .bpp
            .iter()
            .zip(&c.interval)
            .filter(|(x, (lo, hi))| keep(**x) && lo.is_finite() && hi.is_finite())
            .map(|(&x, &(lo, hi))| (x, lo, hi))
            .collect();
        series.push(Series {
            label: c.label.clone(),
            index: i,
            points,
            bars,
        });
    }
    let x_max = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.0))
        .fold(0.0f64, f64::max);
    let x_hi = opts.max_bpp.unwrap_or(x_max * 1.04).max(1e-3);
    let panel = Panel {
        caption: &what.caption,
        y_desc: &what.y_desc,
        series,
        guides: &what.guides,
        y_range: what.y_range,
    };
    register_font();
    let mut buf = vec![255u8; w as usize * h as usize * 3];
    draw_figure(&mut buf, &[panel], x_hi, opts)
        .map_err(|e| anyhow!("drawing the plot failed: {e}"))?;
    let img = crate::io::image::Image::new(w, h, buf);
    crate::io::image::encode_to_vec(&img, image::ImageFormat::Png)
        .context("encoding the plot as PNG")
}

/// Writes a one-panel plot of `curves` to `out` (PNG, written atomically).
pub fn plot_metric(
    curves: &[MetricCurve],
    what: &MetricPlot,
    out: &Path,
    opts: &PlotOptions,
) -> Result<()> {
    let png = render_metric_png(curves, what, opts)?;
    crate::io::file::write_atomic(out, &png)
        .with_context(|| format!("{}: cannot write plot", out.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn curve(label: &str, shift: f64) -> Curve {
        let bpp = vec![0.1, 0.25, 0.5, 1.0, 1.5];
        Curve {
            label: label.into(),
            psnr_rgb: bpp
                .iter()
                .map(|b: &f64| 30.0 + 6.0 * b.log2() / 2.0 + shift)
                .collect(),
            ms_ssim: bpp
                .iter()
                .map(|b: &f64| 1.0 - 0.05 * (-b * 2.0).exp() - shift * 0.001)
                .collect(),
            bpp,
        }
    }

    #[test]
    fn renders_a_png_with_both_panels() {
        let curves = [curve("A", 0.0), curve("B", 1.0), curve("C", -1.0)];
        let png = render_png(&curves, &PlotOptions::default()).unwrap();
        let img = image::load_from_memory(&png).unwrap().to_rgb8();
        assert_eq!(img.dimensions(), (1800, 780));
        // Coloured pixels of the first two palette entries appear in both halves.
        for color in [PALETTE[0], PALETTE[1]] {
            for half in 0..2u32 {
                let found = (half * 900..half * 900 + 900)
                    .flat_map(|x| (0..780).map(move |y| (x, y)))
                    .any(|(x, y)| img.get_pixel(x, y).0 == [color.0, color.1, color.2]);
                assert!(found, "colour {color:?} missing in panel {half}");
            }
        }
        let d = tempfile::tempdir().unwrap();
        let out = d.path().join("rd.png");
        plot(&curves, &out).unwrap();
        assert!(out.metadata().unwrap().len() > 10_000);
    }

    #[test]
    fn metric_plot_draws_curves_bars_and_guides() {
        let curve = |label: &str, shift: f64| MetricCurve {
            label: label.into(),
            bpp: vec![0.2, 0.5, 1.0, 2.0],
            value: vec![0.5 + shift, 0.7 + shift, 0.85 + shift, 0.95],
            interval: vec![(0.4, 0.6), (0.6, 0.8), (0.8, 0.9), (0.9, 0.98)],
        };
        let what = MetricPlot {
            caption: "Agreement".into(),
            y_desc: "top-1 agreement".into(),
            guides: vec![0.8, 0.9],
            y_range: Some((0.0, 1.0)),
        };
        let opts = PlotOptions {
            width: 900,
            height: 700,
            ..Default::default()
        };
        let png = render_metric_png(&[curve("A", 0.0), curve("B", -0.1)], &what, &opts).unwrap();
        let img = image::load_from_memory(&png).unwrap().to_rgb8();
        assert_eq!(img.dimensions(), (900, 700));
        let count = |c: RGBColor| img.pixels().filter(|p| p.0 == [c.0, c.1, c.2]).count();
        assert!(count(PALETTE[0]) > 200 && count(PALETTE[1]) > 200);
        // The dashed guides are drawn in their own grey.
        assert!(count(RGBColor(120, 120, 120)) > 100);
        let mut bad = curve("C", 0.0);
        bad.interval.pop();
        assert!(render_metric_png(&[bad], &what, &opts).is_err());
        assert!(render_metric_png(&[], &what, &opts).is_err());
    }

    #[test]
    fn rejects_bad_curves() {
        let mut c = curve("A", 0.0);
        c.psnr_rgb.pop();
        assert!(render_png(&[c], &PlotOptions::default()).is_err());
        assert!(render_png(&[], &PlotOptions::default()).is_err());
    }
}
