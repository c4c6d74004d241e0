//! What the libtorch-free codec families (`dwt`, `overfit`) share: one error type for their
//! encoders and decoders, so that a new family of this kind reuses it instead of declaring the
//! container, coder, model-id and size errors again.

use crate::coder::CoderError;
use crate::format::FormatError;

/// Errors of a libtorch-free codec family (`lic::dwt::DwtError` and `lic::overfit::OverfitError`
/// are this type).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FamilyError {
    /// The container is malformed.
    #[error(transparent)]
    Format(#[from] FormatError),
    /// An entropy-coded substream is malformed.
    #[error("entropy-coded data: {0}")]
    Coder(#[from] CoderError),
    /// The file is of another model.
    #[error("model id {found:?} is not {expected}")]
    ModelId {
        /// The file's model id.
        found: String,
        /// The decoder's.
        expected: &'static str,
    },
    /// The parameter blob or the options are invalid.
    #[error("invalid {model} parameters: {msg}")]
    Params {
        /// The family's model id.
        model: &'static str,
        /// What is wrong.
        msg: String,
    },
    /// Wrong number of substreams.
    #[error("{found} substreams, {model} with these parameters has {expected}")]
    Substreams {
        /// The family's model id.
        model: &'static str,
        /// In the file.
        found: usize,
        /// Expected.
        expected: usize,
    },
    /// A substream does not match the header's weights hash.
    #[error("weights substream does not match the header's weights hash")]
    WeightsHash,
    /// A decoded weight is out of range.
    #[error("decoded weight {0} out of range")]
    WeightOutOfRange(i32),
    /// A decoded latent is out of range.
    #[error("decoded latent out of range at level {level}, ({x}, {y})")]
    LatentOutOfRange {
        /// Level.
        level: usize,
        /// Column.
        x: usize,
        /// Row.
        y: usize,
    },
    /// The encode was cancelled (by its progress callback or its cancel flag).
    #[error("cancelled")]
    Cancelled,
    /// The image is larger than the decoder accepts.
    #[error("image {width}x{height} exceeds the decoder's limit of {limit} pixels")]
    TooLarge {
        /// Width.
        width: u32,
        /// Height.
        height: u32,
        /// Pixel limit.
        limit: u64,
    },
}

impl FamilyError {
    /// Invalid parameters of `model`.
    pub fn params(model: &'static str, msg: impl Into<String>) -> Self {
        FamilyError::Params {
            model,
            msg: msg.into(),
        }
    }

    /// A file of another model than `expected`.
    pub fn model_id(found: &str, expected: &'static str) -> Self {
        FamilyError::ModelId {
            found: found.to_string(),
            expected,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The codec interface every image family implements.

/// How much work an encode does (the families with [`Capabilities::effort`]; lic-overfit: how
/// many iterations it fits, a count rather than a time, so that the file does not depend on the
/// machine).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Effort {
    /// lic-overfit: 1,800 iterations (about 1 minute for a Kodak image on 2 cores).
    Fast,
    /// lic-overfit: 10,000 iterations, Cool-chic 5's budget (about 3–6 minutes).
    #[default]
    Default,
    /// lic-overfit: 24,000 iterations, for the best rate-distortion.
    Slow,
}
use crate::format::{Container, Limits};
use crate::io::image::Image;

/// The library's top-level error: what any family, the registry or the container can report.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A family's encoder or decoder (container, entropy coding, parameters, sizes).
    #[error(transparent)]
    Family(#[from] FamilyError),
    /// No family with this name or model id is registered here.
    #[error("{0}")]
    UnknownModel(String),
    /// An option the family cannot honour (from its [`Capabilities`]).
    #[error("{option} is not available with {model} ({why})")]
    Unsupported {
        /// The family's model id.
        model: String,
        /// The option, as the command line spells it.
        option: &'static str,
        /// What the family offers instead.
        why: String,
    },
    /// A quality outside the family's range.
    #[error("quality {quality} is outside {model}'s range [{lo}, {hi}]")]
    Quality {
        /// The family's model id.
        model: String,
        /// The value asked for.
        quality: f64,
        /// Lowest quality.
        lo: f64,
        /// Highest quality.
        hi: f64,
    },
    /// A `--bpp`/`--psnr` target that no quality reaches.
    #[error(
        "cannot reach {measure} {target}: the closest {model} gets is {closest:.4} at quality \
         {quality:.3}"
    )]
    Unreachable {
        /// The family's model id.
        model: String,
        /// `bpp` or `PSNR`.
        measure: &'static str,
        /// The target.
        target: f64,
        /// The closest value reached.
        closest: f64,
        /// Its quality.
        quality: f64,
    },
    /// Reading or writing an image.
    #[error(transparent)]
    Image(#[from] crate::io::image::ImageIoError),
    /// A family outside this crate (the libtorch ones) failed; the message names the cause.
    #[error("{0}")]
    External(String),
}

impl From<crate::format::FormatError> for Error {
    fn from(e: crate::format::FormatError) -> Self {
        Error::Family(e.into())
    }
}

/// What a family can do beyond encode and decode at a quality. The command line refuses an
/// option whose capability is missing, with one message ([`check_options`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Capabilities {
    /// Honours [`EncodeOptions::effort`] (other than the default).
    pub effort: bool,
    /// Honours [`EncodeOptions::time_limit`].
    pub time_limit: bool,
    /// Honours [`EncodeOptions::refine`] (encode-time latent refinement).
    pub refine: bool,
    /// Honours [`EncodeOptions::tile`].
    pub tile: bool,
    /// Can dump and check the entropy coder's symbols (`--dump-symbols`, `--check-symbols`).
    pub symbol_trace: bool,
    /// Can search the quality for a `--bpp` / `--psnr` target (about ten encodes; with
    /// lic-overfit, ten fits).
    pub rate_search: bool,
    /// A learned model (its parameters were trained, in advance or per image).
    pub learned: bool,
    /// Needs libtorch (the `lic-torch` crate and binary).
    pub libtorch: bool,
    /// Honours [`EncodeOptions::tune`] (other than the default).
    pub tune: bool,
}

/// What the encoder optimizes ([`EncodeOptions::tune`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Tune {
    /// Pixel fidelity (PSNR-RGB): the default.
    #[default]
    Psnr,
    /// Machine perception: an ImageNet classifier's agreement with its prediction on the
    /// uncompressed image (lic-dwt: `dwt::tune::MACHINE`).
    Machine,
}

impl Tune {
    /// The command-line spelling.
    pub fn name(self) -> &'static str {
        match self {
            Tune::Psnr => "psnr",
            Tune::Machine => "machine",
        }
    }
}

/// Encoder settings common to every family. A field the family's [`Capabilities`] do not cover
/// must stay at its default ([`check_options`] says which).
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct EncodeOptions {
    /// Quality in the family's range (`None`: its default).
    pub quality: Option<f64>,
    /// Effort (families with [`Capabilities::effort`]).
    pub effort: Effort,
    /// Wall-clock budget in seconds (families with [`Capabilities::time_limit`]).
    pub time_limit: Option<f64>,
    /// Encode-time refinement steps (families with [`Capabilities::refine`]).
    pub refine: usize,
    /// Tile side in pixels (families with [`Capabilities::tile`]; `None`: the family's).
    pub tile: Option<u32>,
    /// What the encoder optimizes (families with [`Capabilities::tune`]; lic-dwt).
    pub tune: Tune,
}

impl EncodeOptions {
    /// Options at quality `q`, everything else at its default.
    pub fn with_quality(q: f64) -> Self {
        Self {
            quality: Some(q),
            ..Default::default()
        }
    }
}

/// A progress report of a long encode.
#[derive(Clone, Debug)]
pub struct Progress {
    /// Steps done.
    pub done: u64,
    /// Steps planned (may change as the encoder adapts to its budget).
    pub total: u64,
    /// What is happening, in a few words (phase, current rate and PSNR).
    pub message: String,
}

/// The answer of a progress callback.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Control {
    /// Go on.
    Continue,
    /// Stop: the encode returns [`FamilyError::Cancelled`].
    Cancel,
}

/// An encoded image.
#[derive(Clone, Debug)]
pub struct Encoded {
    /// The `.lic` file.
    pub bytes: Vec<u8>,
    /// What the decoder will produce from `bytes` (bit-exact).
    pub reconstruction: Image,
    /// The encoder's estimate of the rate, in bits (the real size is `bytes.len() × 8`).
    pub estimated_bits: f64,
    /// The quality the stream was coded at.
    pub quality: f64,
    /// Family-specific facts for the report (iterations, timings), one line or empty.
    pub details: String,
}

/// An image codec family: one per model id, registered once ([`crate::registry`]).
/// Not `Send`/`Sync` by itself (a libtorch model is neither); the core's registry holds
/// `dyn ImageFamily + Sync`.
pub trait ImageFamily {
    /// The model id written in the container header (`lic-dwt`).
    fn id(&self) -> &str;
    /// The short name `--model` also accepts (`dwt`).
    fn short_name(&self) -> &str;
    /// One line: what the family is.
    fn description(&self) -> &str;
    /// Lowest and highest quality (higher is better).
    fn quality_range(&self) -> (f64, f64);
    /// The quality used when none is given.
    fn default_quality(&self) -> f64;
    /// What the family can do beyond a plain encode and decode.
    fn capabilities(&self) -> Capabilities;
    /// Encodes an image. `progress` is called now and then on long encodes; returning
    /// [`Control::Cancel`] stops the encode with [`FamilyError::Cancelled`].
    fn encode(
        &self,
        img: &Image,
        opts: &EncodeOptions,
        progress: &mut dyn FnMut(&Progress) -> Control,
    ) -> Result<Encoded, Error>;
    /// Decodes a parsed container of this family, refusing images above `limits`.
    fn decode(&self, container: &Container, limits: &Limits) -> Result<Image, Error>;
    /// The family's parameters in the header, in words (for `lic info`).
    fn describe_params(&self, _container: &Container) -> Option<String> {
        None
    }
}

/// Checks `opts` against the family's capabilities and quality range: the first option it cannot
/// honour is refused with one message.
pub fn check_options(f: &dyn ImageFamily, opts: &EncodeOptions) -> Result<(), Error> {
    let caps = f.capabilities();
    let unsupported = |option: &'static str, why: &str| Error::Unsupported {
        model: f.id().to_string(),
        option,
        why: why.to_string(),
    };
    if opts.effort != Effort::Default && !caps.effort {
        return Err(unsupported("--effort", "it has one speed"));
    }
    if opts.time_limit.is_some() && !caps.time_limit {
        return Err(unsupported("--time-limit", "its encode time is fixed"));
    }
    if opts.refine > 0 && !caps.refine {
        return Err(unsupported(
            "--refine",
            "only the libtorch models refine latents",
        ));
    }
    if opts.tune != Tune::Psnr && !caps.tune {
        return Err(unsupported("--tune", "it has one tuning"));
    }
    if opts.tile.is_some() && !caps.tile {
        return Err(unsupported("--tile", "it codes the image whole"));
    }
    if let Some(t) = opts.time_limit {
        if !(t.is_finite() && t > 0.0) {
            return Err(Error::External(
                "--time-limit must be a positive number".into(),
            ));
        }
    }
    if let Some(q) = opts.quality {
        let (lo, hi) = f.quality_range();
        if !(q.is_finite() && (lo..=hi).contains(&q)) {
            return Err(Error::Quality {
                model: f.id().to_string(),
                quality: q,
                lo,
                hi,
            });
        }
    }
    Ok(())
}

/// What a rate or quality target aims at.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Target {
    /// Bits per pixel of the file.
    Bpp(f64),
    /// PSNR-RGB of the decoded image, dB.
    Psnr(f64),
}

impl Target {
    /// The target value.
    pub fn value(self) -> f64 {
        match self {
            Target::Bpp(v) | Target::Psnr(v) => v,
        }
    }

    /// The measure's name (`bpp`, `PSNR`).
    pub fn name(self) -> &'static str {
        match self {
            Target::Bpp(_) => "bpp",
            Target::Psnr(_) => "PSNR",
        }
    }
}

/// An encode that reached a [`Target`]: the stream and the value it reached.
#[derive(Clone, Debug)]
pub struct Reached {
    /// The stream (its `quality` is the one the search chose).
    pub encoded: Encoded,
    /// The bpp or PSNR it reached.
    pub value: f64,
}

/// Searches the family's quality for `target` by bisection (both measures grow with the
/// quality): at most ten encodes, stopping within 0.2% of the target. A target farther than 5%
/// from what any tried quality reaches is [`Error::Unreachable`].
pub fn encode_target(
    f: &dyn ImageFamily,
    img: &Image,
    opts: &EncodeOptions,
    target: Target,
    progress: &mut dyn FnMut(&Progress) -> Control,
) -> Result<Reached, Error> {
    let t = target.value();
    if !(t.is_finite() && t > 0.0) {
        return Err(Error::External(format!(
            "--{} must be a positive number",
            target.name().to_ascii_lowercase()
        )));
    }
    if !f.capabilities().rate_search {
        return Err(Error::Unsupported {
            model: f.id().to_string(),
            option: "--bpp/--psnr",
            why: "it cannot search its quality".to_string(),
        });
    }
    let (lo, hi) = f.quality_range();
    let (mut a, mut b) = (lo, hi);
    let mut best: Option<(Encoded, f64, f64)> = None;
    for _ in 0..10 {
        let q = 0.5 * (a + b);
        let mut o = opts.clone();
        o.quality = Some(q);
        let e = f.encode(img, &o, progress)?;
        let v = match target {
            Target::Bpp(_) => e.bytes.len() as f64 * 8.0 / img.pixels() as f64,
            Target::Psnr(_) => crate::metrics::psnr_rgb(img, &e.reconstruction)
                .map_err(|m| Error::External(format!("PSNR of the reconstruction: {m}")))?,
        };
        let err = (v - t).abs();
        if v < t {
            a = q;
        } else {
            b = q;
        }
        if best.as_ref().is_none_or(|(.., be)| err < *be) {
            best = Some((e, v, err));
        }
        if err <= 0.002 * t {
            break;
        }
    }
    let (encoded, value, err) = best.expect("at least one encode");
    if err > 0.05 * t {
        return Err(Error::Unreachable {
            model: f.id().to_string(),
            measure: target.name(),
            target: t,
            closest: value,
            quality: encoded.quality,
        });
    }
    Ok(Reached { encoded, value })
}
