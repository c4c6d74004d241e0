//! `lic._lic`: the native part of the `lic` Python package, on the pure-Rust core (`lic`): no
//! libtorch. The Python layer (`python/lic/__init__.py`) converts arrays of other types and
//! documents the API; the functions here take C-contiguous `uint8` arrays and `bytes`, release
//! the GIL while coding, and raise `lic.LicError` subclasses (never crash the interpreter) on
//! bad input.

use numpy::{PyArray1, PyArrayMethods, PyReadonlyArrayDyn, PyUntypedArrayMethods};
use pyo3::exceptions::{PyException, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList};

use lic::family::{check_options, encode_target, Control, Effort, EncodeOptions, Error, Target};
use lic::format::{Container, Limits};
use lic::io::image::Image;

pyo3::create_exception!(_lic, LicError, PyException, "Any error of lic.");
pyo3::create_exception!(
    _lic,
    EncodeError,
    LicError,
    "An image lic cannot encode with these settings (too large, an unreachable target)."
);
pyo3::create_exception!(
    _lic,
    DecodeError,
    LicError,
    "Data that is not a valid .lic stream of a family this build decodes (truncated, corrupt, a \
     libtorch model's stream, too large)."
);

fn value_error(msg: impl Into<String>) -> PyErr {
    PyValueError::new_err(msg.into())
}

/// Errors of the options a family cannot honour are the caller's (ValueError); the rest are the
/// image's (EncodeError).
fn encode_error(e: Error) -> PyErr {
    match e {
        Error::Unsupported { .. } | Error::Quality { .. } | Error::UnknownModel(_) => {
            value_error(e.to_string())
        }
        other => EncodeError::new_err(other.to_string()),
    }
}

fn effort(name: &str) -> PyResult<Effort> {
    Ok(match name {
        "fast" => Effort::Fast,
        "default" => Effort::Default,
        "slow" => Effort::Slow,
        other => {
            return Err(value_error(format!(
                "effort must be 'fast', 'default' or 'slow', not {other:?}"
            )))
        }
    })
}

/// Encodes an image array into `.lic` bytes.
///
/// `array`: C-contiguous `uint8`, H×W (gray), H×W×1 (gray) or H×W×3 (RGB).
#[pyfunction]
#[pyo3(signature = (array, model = "dwt", quality = None, bpp = None, psnr = None, effort = "default", time_limit = None))]
#[allow(clippy::too_many_arguments)]
fn encode<'py>(
    py: Python<'py>,
    array: PyReadonlyArrayDyn<'py, u8>,
    model: &str,
    quality: Option<f64>,
    bpp: Option<f64>,
    psnr: Option<f64>,
    effort: &str,
    time_limit: Option<f64>,
) -> PyResult<Bound<'py, PyBytes>> {
    let shape = array.shape().to_vec();
    let (h, w, gray) = match shape.as_slice() {
        [h, w] | [h, w, 1] => (*h, *w, true),
        [h, w, 3] => (*h, *w, false),
        _ => {
            return Err(value_error(format!(
                "expected an H×W, H×W×1 or H×W×3 array, got shape {shape:?}"
            )))
        }
    };
    if h == 0 || w == 0 {
        return Err(value_error(format!("empty image {w}x{h}")));
    }
    let (width, height) = (
        u32::try_from(w).map_err(|_| value_error("width too large"))?,
        u32::try_from(h).map_err(|_| value_error("height too large"))?,
    );
    let pixels = u64::from(width) * u64::from(height);
    if pixels > lic::io::image::MAX_PIXELS {
        return Err(EncodeError::new_err(format!(
            "image {width}x{height} is over lic's limit of {} pixels",
            lic::io::image::MAX_PIXELS
        )));
    }
    let src = array
        .as_slice()
        .map_err(|_| value_error("the array must be C-contiguous"))?;
    let img = if gray {
        let mut img = Image::new(width, height, src.iter().flat_map(|&v| [v; 3]).collect());
        img.gray = true;
        img
    } else {
        Image::new(width, height, src.to_vec())
    };
    let family = lic::registry::by_name(model).ok_or_else(|| {
        let names: Vec<&str> = lic::registry::FAMILIES.iter().map(|f| f.short_name()).collect();
        value_error(format!(
            "model {model:?} is not one of this package's ({}; the libtorch models need the lic-torch binary)",
            names.join(", ")
        ))
    })?;
    let mut opts = EncodeOptions::default();
    opts.quality = quality;
    opts.effort = self::effort(effort)?;
    opts.time_limit = time_limit;
    check_options(family, &opts).map_err(encode_error)?;
    let target = match (bpp, psnr) {
        (Some(_), Some(_)) => return Err(value_error("give bpp or psnr, not both")),
        (Some(_), _) | (_, Some(_)) if quality.is_some() => {
            return Err(value_error("give quality or a bpp/psnr target, not both"))
        }
        (Some(b), None) => Some(Target::Bpp(b)),
        (None, Some(p)) => Some(Target::Psnr(p)),
        (None, None) => None,
    };
    if let Some(t) = target {
        if !(t.value().is_finite() && t.value() > 0.0) {
            return Err(value_error(format!(
                "{} must be a positive number",
                t.name()
            )));
        }
    }
    let bytes = py
        .detach(|| {
            let mut go_on = |_: &lic::family::Progress| Control::Continue;
            match target {
                Some(t) => encode_target(family, &img, &opts, t, &mut go_on).map(|r| r.encoded),
                None => family.encode(&img, &opts, &mut go_on),
            }
        })
        .map_err(encode_error)?
        .bytes;
    Ok(PyBytes::new(py, &bytes))
}

/// Decodes `.lic` bytes into a `uint8` array: H×W×3, or H×W for a gray image.
#[pyfunction]
fn decode<'py>(py: Python<'py>, data: &[u8]) -> PyResult<Bound<'py, PyAny>> {
    let img = py
        .detach(|| lic::decode(data, &Limits::default()))
        .map_err(|e| DecodeError::new_err(e.to_string()))?;
    let (h, w) = (img.height as usize, img.width as usize);
    if img.gray {
        let g: Vec<u8> = img.data.chunks_exact(3).map(|p| p[0]).collect();
        Ok(PyArray1::from_vec(py, g).reshape([h, w])?.into_any())
    } else {
        Ok(PyArray1::from_vec(py, img.data)
            .reshape([h, w, 3])?
            .into_any())
    }
}

/// The header of `.lic` bytes as a dict (no pixel decoding).
#[pyfunction]
fn info<'py>(py: Python<'py>, data: &[u8]) -> PyResult<Bound<'py, PyDict>> {
    let c = Container::parse(data).map_err(|e| DecodeError::new_err(e.to_string()))?;
    let h = &c.header;
    let d = PyDict::new(py);
    d.set_item("model", &h.model_id)?;
    d.set_item("width", h.width)?;
    d.set_item("height", h.height)?;
    d.set_item("gray", h.gray)?;
    d.set_item("quality", h.quality)?;
    d.set_item("format_version", lic::format::FORMAT_VERSION)?;
    d.set_item("bytes", data.len())?;
    d.set_item(
        "decodable",
        lic::registry::by_model_id(&h.model_id).is_some(),
    )?;
    Ok(d)
}

/// One 4:2:0 frame from its three planes (C-contiguous `uint8`: H×W, then two of
/// ceil(H/2)×ceil(W/2)).
fn yuv_frame(
    index: usize,
    planes: (
        PyReadonlyArrayDyn<'_, u8>,
        PyReadonlyArrayDyn<'_, u8>,
        PyReadonlyArrayDyn<'_, u8>,
    ),
) -> PyResult<lic::video::Yuv420> {
    let (y, u, v) = planes;
    let [h, w] = y.shape() else {
        return Err(value_error(format!(
            "frame {index}: Y must be H×W, got shape {:?}",
            y.shape()
        )));
    };
    let (width, height) = (
        u32::try_from(*w).map_err(|_| value_error("width too large"))?,
        u32::try_from(*h).map_err(|_| value_error("height too large"))?,
    );
    let (cw, ch) = lic::video::colour::chroma_size(width, height);
    for (name, p) in [("U", &u), ("V", &v)] {
        if p.shape() != [ch as usize, cw as usize] {
            return Err(value_error(format!(
                "frame {index}: {name} must be {ch}×{cw} (4:2:0 of {height}×{width}), got {:?}",
                p.shape()
            )));
        }
    }
    let plane = |p: &PyReadonlyArrayDyn<'_, u8>| -> PyResult<Vec<u8>> {
        Ok(p.as_slice()
            .map_err(|_| value_error("planes must be C-contiguous"))?
            .to_vec())
    };
    lic::video::Yuv420::new(width, height, plane(&y)?, plane(&u)?, plane(&v)?)
        .map_err(|e| value_error(format!("frame {index}: {e}")))
}

/// Encodes 4:2:0 frames (a list of (Y, U, V) `uint8` planes, all of one size) into `.licv`
/// bytes with lic-mcw.
#[pyfunction]
#[pyo3(signature = (frames, quality = None, gop = 32, fps = (25, 1)))]
fn encode_video<'py>(
    py: Python<'py>,
    frames: Vec<(
        PyReadonlyArrayDyn<'py, u8>,
        PyReadonlyArrayDyn<'py, u8>,
        PyReadonlyArrayDyn<'py, u8>,
    )>,
    quality: Option<f32>,
    gop: u32,
    fps: (u32, u32),
) -> PyResult<Bound<'py, PyBytes>> {
    let quality = quality.unwrap_or(lic::mcw::DEFAULT_QUALITY);
    let (lo, hi) = lic::mcw::QUALITY_RANGE;
    if !(lo..=hi).contains(&quality) {
        return Err(value_error(format!(
            "quality {quality} is outside lic-mcw's range {lo}–{hi}"
        )));
    }
    if gop == 0 || fps.0 == 0 || fps.1 == 0 {
        return Err(value_error("gop and both parts of fps must be at least 1"));
    }
    if frames.is_empty() {
        return Err(value_error("no frames"));
    }
    let frames = frames
        .into_iter()
        .enumerate()
        .map(|(i, f)| yuv_frame(i, f))
        .collect::<PyResult<Vec<_>>>()?;
    let size = (frames[0].width, frames[0].height);
    if let Some(i) = frames.iter().position(|f| (f.width, f.height) != size) {
        return Err(value_error(format!(
            "frame {i} is {}x{}, frame 0 is {}x{}",
            frames[i].width, frames[i].height, size.0, size.1
        )));
    }
    let mut opts = lic::mcw::VideoOptions::new(quality);
    opts.gop = gop;
    let bytes = py
        .detach(|| {
            lic::mcw::encode_stream(
                frames.into_iter().map(Ok::<_, lic::mcw::McwError>),
                opts,
                fps,
                lic::format::video::VideoColour::default(),
                false,
                |_| {},
            )
        })
        .map_err(|e| EncodeError::new_err(e.to_string()))?
        .bytes;
    Ok(PyBytes::new(py, &bytes))
}

/// Decodes lic-mcw `.licv` bytes into a list of (Y, U, V) `uint8` planes and a report dict.
#[pyfunction]
#[pyo3(signature = (data, keep_going = false))]
fn decode_video<'py>(
    py: Python<'py>,
    data: &[u8],
    keep_going: bool,
) -> PyResult<(Bound<'py, PyList>, Bound<'py, PyDict>)> {
    let mut frames = Vec::new();
    let (header, report) = py
        .detach(|| {
            lic::mcw::decode_stream(data, keep_going, |_, f| {
                frames.push(f.clone());
                Ok::<(), lic::video::stream::StreamError>(())
            })
        })
        .map_err(|e| DecodeError::new_err(e.to_string()))?;
    let list = PyList::empty(py);
    for f in frames {
        let (w, h) = (f.width as usize, f.height as usize);
        let (cw, ch) = lic::video::colour::chroma_size(f.width, f.height);
        let (cw, ch) = (cw as usize, ch as usize);
        list.append((
            PyArray1::from_vec(py, f.y).reshape([h, w])?,
            PyArray1::from_vec(py, f.u).reshape([ch, cw])?,
            PyArray1::from_vec(py, f.v).reshape([ch, cw])?,
        ))?;
    }
    let d = PyDict::new(py);
    d.set_item("model", &header.model_id)?;
    d.set_item("width", header.width)?;
    d.set_item("height", header.height)?;
    d.set_item("fps", (header.fps_num, header.fps_den))?;
    d.set_item("frames", header.frames)?;
    d.set_item("decoded", report.decoded)?;
    d.set_item("damaged", report.damaged)?;
    d.set_item("trailing", report.trailing)?;
    Ok((list, d))
}

/// The families this package encodes and decodes: a list of dicts.
#[pyfunction]
fn models(py: Python<'_>) -> PyResult<Bound<'_, PyList>> {
    let list = PyList::empty(py);
    for f in lic::registry::FAMILIES {
        let d = PyDict::new(py);
        d.set_item("id", f.id())?;
        d.set_item("name", f.short_name())?;
        d.set_item("description", f.description())?;
        d.set_item("quality_range", f.quality_range())?;
        d.set_item("default_quality", f.default_quality())?;
        list.append(d)?;
    }
    Ok(list)
}

#[pymodule]
fn _lic(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(encode, m)?)?;
    m.add_function(wrap_pyfunction!(decode, m)?)?;
    m.add_function(wrap_pyfunction!(info, m)?)?;
    m.add_function(wrap_pyfunction!(models, m)?)?;
    m.add_function(wrap_pyfunction!(encode_video, m)?)?;
    m.add_function(wrap_pyfunction!(decode_video, m)?)?;
    m.add("LicError", m.py().get_type::<LicError>())?;
    m.add("EncodeError", m.py().get_type::<EncodeError>())?;
    m.add("DecodeError", m.py().get_type::<DecodeError>())?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
