//! `lic eval --video DIR`: a lic video model against the x264 and x265 anchors on every clip of a
//! folder (see `lic::eval::video` for the settings and metrics).

use lic_cli::eval::VideoOpts;
use lic_cli::Global;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::Serialize;

use lic::eval::bdrate::Method;
use lic::eval::plot::{plot_metric, MetricCurve, MetricPlot, PlotOptions};
use lic::eval::video::{
    bd_rate_yuv, run_anchor_clip, run_lic_clip, run_mcw_clip, Anchor, VideoClipResult,
};
use lic::io::file::{check_output, write_atomic};

#[derive(Serialize)]
struct ClipReport {
    clip: String,
    results: Vec<VideoClipResult>,
    /// BD-rate (%, pchip, bpp vs YUV-PSNR) of the lic codec against each anchor (and, for
    /// lic-mcw, against its own all-intra row).
    bd_rate: Vec<(String, Option<f64>)>,
}

#[derive(Serialize)]
struct Report {
    model: String,
    gop: u32,
    frames: Option<u32>,
    threads: Option<u32>,
    clips: Vec<ClipReport>,
    mean_bd_rate: Vec<(String, Option<f64>)>,
}

fn video_files(dir: &Path, prefixes: &[String]) -> Result<Vec<PathBuf>> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("{}: cannot list", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| matches!(e, "mkv" | "y4m" | "mp4" | "webm" | "mov" | "avi"))
        })
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            prefixes.is_empty() || prefixes.iter().any(|x| name.starts_with(x.as_str()))
        })
        .collect();
    v.sort();
    if v.is_empty() {
        bail!("{}: no video clips found", dir.display());
    }
    Ok(v)
}

/// What `lic eval --video` takes from `lic eval`'s arguments (`cli::eval` calls this module; this
/// module does not import it).
pub struct VideoRequest<'a> {
    /// The video options.
    pub opts: &'a VideoOpts,
    /// `--output`.
    pub output: Option<&'a Path>,
    /// `--plot`.
    pub plot: Option<&'a Path>,
    /// `--force`.
    pub force: bool,
    /// Whether `--codec` was given (refused with `--video`).
    pub codec_given: bool,
    /// `--model`.
    pub model: Option<&'a str>,
    /// `--quality`.
    pub quality: Option<&'a [f64]>,
    /// `--points`.
    pub points: u32,
}

pub fn run(dir: &Path, args: &VideoRequest<'_>, global: &Global) -> Result<()> {
    let o = args.opts;
    if let Some(out) = args.output {
        check_output(out, &[], args.force)?;
    }
    if args.codec_given {
        bail!("--video compares a lic video model (--model) with the x264/x265 anchors; --codec is for images");
    }
    let anchors: Vec<Anchor> = if o.anchors.iter().any(|a| a == "none") {
        Vec::new()
    } else {
        o.anchors.iter().map(|a| a.parse()).collect::<Result<_>>()?
    };
    for a in &anchors {
        a.check_available()?;
    }
    let clips = video_files(dir, &o.clips)?;
    let name = args.model.unwrap_or(lic::mcw::MODEL_ID);
    let mcw = crate::video::is_mcw(name);
    let model = if mcw {
        None
    } else {
        let path = lic::video::model::VideoModel::find(name)?;
        Some(
            lic::video::model::VideoModel::load(&path, tch::Device::Cpu)
                .with_context(|| format!("loading video model {}", path.display()))?,
        )
    };
    let (lo, hi) = match &model {
        // lic-mcw's ladder spans the anchors' CRF ladders on the CIF clips (28–38 dB).
        None => (1.0, 8.0),
        Some(m) => m.base.config.quality_range(),
    };
    let qualities = match args.quality {
        Some(q) if !q.is_empty() => q.to_vec(),
        _ => {
            let n = args.points.max(2) as usize;
            (0..n)
                .map(|i| lo + (hi - lo) * i as f64 / (n - 1) as f64)
                .collect()
        }
    };
    let work = tempfile::tempdir().context("creating a work directory")?;
    let mut reports = Vec::new();
    let pb = lic::eval::progress_bar(clips.len() as u64, "clips");
    for clip in &clips {
        pb.set_message(
            clip.file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned(),
        );
        let lic_r = match &model {
            None => run_mcw_clip(clip, &qualities, o.gop, o.frames, work.path(), false)?,
            Some(m) => run_lic_clip(m, clip, &qualities, o.gop, o.frames, work.path())?,
        };
        // Without --frames the anchors code the frames lic coded: the whole clip.
        let frames = o.frames.unwrap_or(lic_r.frames);
        let mut results = vec![lic_r];
        let mut bd = Vec::new();
        if model.is_none() && o.gop > 1 {
            // The all-intra row: what the inter frames gain.
            let r = run_mcw_clip(clip, &qualities, o.gop, Some(frames), work.path(), true)?;
            let v = bd_rate_yuv(&r, &results[0], Method::Pchip)
                .ok()
                .map(|b| b.value);
            bd.push((r.codec.clone(), v));
            results.push(r);
        }
        for &a in &anchors {
            let r = run_anchor_clip(a, clip, a.default_crfs(), o.gop, frames, work.path())?;
            let v = bd_rate_yuv(&r, &results[0], Method::Pchip)
                .ok()
                .map(|b| b.value);
            bd.push((a.name().to_string(), v));
            results.push(r);
        }
        print_clip(&results, &bd);
        reports.push(ClipReport {
            clip: results[0].clip.clone(),
            results,
            bd_rate: bd,
        });
        pb.inc(1);
    }
    pb.finish_and_clear();
    let rows: Vec<String> = reports
        .first()
        .map(|r| r.bd_rate.iter().map(|(n, _)| n.clone()).collect())
        .unwrap_or_default();
    let mean_bd_rate: Vec<(String, Option<f64>)> = rows
        .iter()
        .map(|a| {
            let v: Vec<Option<f64>> = reports
                .iter()
                .map(|r| r.bd_rate.iter().find(|(n, _)| n == a).and_then(|x| x.1))
                .collect();
            let mean = v
                .iter()
                .all(Option::is_some)
                .then(|| v.iter().flatten().sum::<f64>() / v.len() as f64);
            (a.clone(), mean)
        })
        .collect();
    for (a, v) in &mean_bd_rate {
        match v {
            Some(v) => eprintln!("mean BD-rate vs {a} over {} clips: {v:+.1}%", reports.len()),
            None => {
                eprintln!("mean BD-rate vs {a}: not defined (curves do not overlap on every clip)")
            }
        }
    }
    if let Some(p) = args.plot {
        write_plots(&reports, p, args.force)?;
    }
    let report = Report {
        model: model.map_or_else(|| lic::mcw::MODEL_ID.to_string(), |m| m.id),
        gop: o.gop,
        frames: o.frames,
        threads: global.threads,
        clips: reports,
        mean_bd_rate,
    };
    let json = serde_json::to_string_pretty(&report)?;
    match args.output {
        Some(out) => {
            write_atomic(out, json.as_bytes())?;
            eprintln!("wrote {}", out.display());
        }
        None => println!("{json}"),
    }
    Ok(())
}

fn print_clip(results: &[VideoClipResult], bd: &[(String, Option<f64>)]) {
    let r0 = &results[0];
    eprintln!(
        "{} ({}x{}, {} frames, gop {})",
        r0.clip, r0.width, r0.height, r0.frames, r0.gop
    );
    eprintln!(
        "  {:>14} {:>7} {:>8} {:>8} {:>8} {:>8} {:>8}",
        "codec", "q", "bpp", "YUV-PSNR", "RGB-PSNR", "enc fps", "dec fps"
    );
    for r in results {
        for p in &r.points {
            let n = p.frame_bits.len() as f64;
            eprintln!(
                "  {:>14} {:>7} {:>8.4} {:>8.3} {:>8.3} {:>8.2} {:>8.2}",
                r.codec,
                p.quality,
                p.bpp,
                p.yuv_psnr,
                p.rgb_psnr,
                n / p.encode_seconds.max(1e-9),
                n / p.decode_seconds.max(1e-9)
            );
        }
    }
    for (a, v) in bd {
        match v {
            Some(v) => eprintln!("  BD-rate vs {a}: {v:+.1}%"),
            None => eprintln!("  BD-rate vs {a}: no overlap"),
        }
    }
}

/// One PNG per clip: YUV-PSNR against bpp for every codec (`OUT-<clip>.png` for `--plot OUT.png`).
fn write_plots(reports: &[ClipReport], p: &Path, force: bool) -> Result<()> {
    let stem = p.file_stem().and_then(|s| s.to_str()).unwrap_or("video");
    let dir = p.parent().unwrap_or(Path::new("."));
    for r in reports {
        let out = dir.join(format!("{stem}-{}.png", r.clip));
        check_output(&out, &[], force)?;
        let curves: Vec<MetricCurve> = r
            .results
            .iter()
            .map(|c| MetricCurve {
                label: c.codec.clone(),
                bpp: c.points.iter().map(|x| x.bpp).collect(),
                value: c.points.iter().map(|x| x.yuv_psnr).collect(),
                interval: Vec::new(),
            })
            .collect();
        let what = MetricPlot {
            caption: format!("{} (gop {})", r.clip, r.results[0].gop),
            y_desc: "YUV-PSNR (6Y+U+V)/8, dB".to_string(),
            guides: Vec::new(),
            y_range: None,
        };
        let opts = PlotOptions {
            title: format!("Video RD: {}", r.clip),
            width: 1100,
            height: 800,
            max_bpp: None,
        };
        plot_metric(&curves, &what, &out, &opts)?;
        eprintln!("wrote {}", out.display());
    }
    Ok(())
}
