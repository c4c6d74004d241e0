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
