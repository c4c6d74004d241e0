//! The libtorch-free codec families of the command line, registered in one table: `--model NAME`
//! selects one for `lic encode` and `lic eval`, the model id in a file selects its decoder for
//! `lic decode`, and `lic info` prints its parameters. No model file is loaded for them. Any
//! other model name is a libtorch model (`lic::codec`, found by `CodecModel::find`).

use anyhow::{Context, Result};

use lic::io::image::Image;

use lic::eval::Codec;
use lic::format::Container;

/// The model of `lic encode` and `lic eval` when none is named.
pub const DEFAULT_MODEL: &str = lic::dwt::MODEL_ID;

/// A libtorch-free family.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    /// `lic-dwt`: wavelet + context-adaptive range coding (`lic::dwt`).
    Dwt,
    /// `lic-overfit`: the overfitted codec (`lic::overfit`).
    Overfit,
}

impl Family {
    /// Every family.
    pub const ALL: [Family; 2] = [Family::Dwt, Family::Overfit];

    /// Model id in the container header (also accepted by `--model`).
    pub fn id(self) -> &'static str {
        match self {
            Family::Dwt => lic::dwt::MODEL_ID,
            Family::Overfit => lic::overfit::MODEL_ID,
        }
    }

    /// The short name `--model` accepts besides the id.
    pub fn short_name(self) -> &'static str {
        match self {
            Family::Dwt => "dwt",
            Family::Overfit => "overfit",
        }
    }

    /// The family `--model NAME` selects, if any.
    pub fn from_name(name: &str) -> Option<Family> {
        Self::ALL
            .into_iter()
            .find(|f| name == f.id() || name == f.short_name())
    }

    /// The family of a file's model id, if any.
    pub fn from_model_id(id: &str) -> Option<Family> {
        Self::ALL.into_iter().find(|f| id == f.id())
    }

    /// `lic encode IN OUT --model NAME`.
    pub fn encode(self, args: &super::encode::Args) -> Result<()> {
        match self {
            Family::Dwt => super::dwt::encode(args),
            Family::Overfit => super::overfit::encode(args),
        }
    }

    /// The family's decoder: a whole `.lic` file to pixels.
    /// (The decoders are registered in `lic::registry`, which `lic-decode` shares.)
    pub fn decode_image(self, bytes: &[u8]) -> Result<Image> {
        let f = lic::registry::by_model_id(self.id())
            .ok_or_else(|| anyhow::anyhow!("{} has no registered decoder", self.id()))?;
        Ok((f.decode)(bytes)?)
    }

    /// `lic decode` of a stream of this family (`bytes` is the whole file).
    pub fn decode(self, bytes: &[u8], args: &super::decode::Args) -> Result<()> {
        anyhow::ensure!(
            args.check_symbols.is_none() && args.dump_symbols.is_none(),
            "--check-symbols and --dump-symbols are not available for {} streams",
            self.id()
        );
        let img = self
            .decode_image(bytes)
            .with_context(|| format!("decoding {}", args.input.display()))?;
        super::common::save_decoded(&img, &args.output)
    }

    /// The evaluation codec of `lic eval --model NAME`.
    pub fn eval_codec(self, args: &super::eval::Args) -> Result<Box<dyn Codec>> {
        anyhow::ensure!(
            args.refine == 0,
            "--refine is not available with {} (libtorch models only)",
            self.id()
        );
        Ok(match self {
            Family::Dwt => Box::new(lic::eval::dwt::DwtCodec),
            Family::Overfit => Box::new(lic::eval::overfit::OverfitCodec {
                effort: args.effort.into(),
                time_limit: args.time_limit,
            }),
        })
    }

    /// The parameter blob in words, for `lic info` (`None`: nothing beyond the header).
    pub fn describe(self, c: &Container) -> Option<String> {
        match self {
            Family::Dwt => Some(match lic::dwt::Params::parse(&c.header.params) {
                Ok(p) => format!(
                    "lic-dwt:        {} levels, step {} levels, chroma step ×{}, \
                     reconstruction offsets {:?}/64",
                    p.levels, p.step, p.chroma, p.offsets
                ),
                Err(e) => format!("lic-dwt:        {e}"),
            }),
            Family::Overfit => None,
        }
    }
}

/// The family of a `.lic` file whose container parses, if it is a libtorch-free one.
pub fn of_stream(bytes: &[u8]) -> Option<(Family, Container)> {
    let c = Container::parse(bytes).ok()?;
    Family::from_model_id(&c.header.model_id).map(|f| (f, c))
}
