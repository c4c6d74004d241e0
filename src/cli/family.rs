//! The libtorch-free codec families of the command line, one entry each in [`FAMILIES`]:
//! `--model NAME` selects one for `lic encode` and `lic eval`, the model id in a file selects its
//! decoder for `lic decode`, and `lic info` prints its parameters. No model file is loaded for
//! them. The library's side of each family (model id, short name, decoder) is its entry in
//! `lic::registry`, which the libtorch-free `lic-decode` binary shares; this table adds what
//! only the CLI has. Any other model name is a libtorch model (`lic::codec`, found by
//! `CodecModel::find`).

use anyhow::{Context, Result};

use lic::eval::Codec;
use lic::format::Container;
use lic::io::image::Image;

/// The model of `lic encode` and `lic eval` when none is named.
pub const DEFAULT_MODEL: &str = lic::dwt::MODEL_ID;

/// A libtorch-free family as the command line sees it.
pub struct Family {
    /// Model id in the container header: the key of its `lic::registry` entry.
    pub id: &'static str,
    /// `lic encode IN OUT --model NAME`.
    encode: fn(&super::encode::Args) -> Result<()>,
    /// The evaluation codec of `lic eval --model NAME`.
    eval_codec: fn(&super::eval::Args) -> Box<dyn Codec>,
    /// The parameter blob in words, for `lic info` (`None`: nothing beyond the header).
    describe: fn(&Container) -> Option<String>,
}

/// Every libtorch-free family (each also in `lic::registry::FAMILIES`: a test checks both ways).
pub const FAMILIES: &[Family] = &[
    Family {
        id: lic::dwt::MODEL_ID,
        encode: super::dwt::encode,
        eval_codec: |_| Box::new(lic::eval::dwt::DwtCodec),
        describe: |c| {
            Some(match lic::dwt::Params::parse(&c.header.params) {
                Ok(p) => format!(
                    "lic-dwt:        {} levels, step {} levels, chroma step ×{}, \
                     reconstruction offsets {:?}/64",
                    p.levels, p.step, p.chroma, p.offsets
                ),
                Err(e) => format!("lic-dwt:        {e}"),
            })
        },
    },
    Family {
        id: lic::overfit::MODEL_ID,
        encode: super::overfit::encode,
        eval_codec: |args| {
            Box::new(lic::eval::overfit::OverfitCodec {
                effort: args.effort.into(),
                time_limit: args.time_limit,
            })
        },
        describe: |_| None,
    },
];

impl Family {
    /// The family `--model NAME` selects (its id or its short name), if any.
    pub fn from_name(name: &str) -> Option<&'static Family> {
        lic::registry::by_name(name).and_then(|r| Self::from_model_id(r.id))
    }

    /// The family of a file's model id, if any.
    pub fn from_model_id(id: &str) -> Option<&'static Family> {
        FAMILIES.iter().find(|f| f.id == id)
    }

    /// The library's entry of this family.
    fn registered(&self) -> Result<&'static lic::registry::Family> {
        lic::registry::by_model_id(self.id)
            .ok_or_else(|| anyhow::anyhow!("{} has no registered decoder", self.id))
    }

    /// `lic encode IN OUT --model NAME`.
    pub fn encode(&self, args: &super::encode::Args) -> Result<()> {
        (self.encode)(args)
    }

    /// The family's decoder: a whole `.lic` file to pixels.
    pub fn decode_image(&self, bytes: &[u8]) -> Result<Image> {
        Ok((self.registered()?.decode)(bytes)?)
    }

    /// `lic decode` of a stream of this family (`bytes` is the whole file).
    pub fn decode(&self, bytes: &[u8], args: &super::decode::Args) -> Result<()> {
        anyhow::ensure!(
            args.check_symbols.is_none() && args.dump_symbols.is_none(),
            "--check-symbols and --dump-symbols are not available for {} streams",
            self.id
        );
        let img = self
            .decode_image(bytes)
            .with_context(|| format!("decoding {}", args.input.display()))?;
        super::common::save_decoded(&img, &args.output)
    }

    /// The evaluation codec of `lic eval --model NAME`.
    pub fn eval_codec(&self, args: &super::eval::Args) -> Result<Box<dyn Codec>> {
        anyhow::ensure!(
            args.refine == 0,
            "--refine is not available with {} (libtorch models only)",
            self.id
        );
        Ok((self.eval_codec)(args))
    }

    /// The parameter blob in words, for `lic info` (`None`: nothing beyond the header).
    pub fn describe(&self, c: &Container) -> Option<String> {
        (self.describe)(c)
    }
}

/// The family of a `.lic` file whose container parses, if it is a libtorch-free one.
pub fn of_stream(bytes: &[u8]) -> Option<(&'static Family, Container)> {
    let (r, c) = lic::registry::of_stream(bytes)?;
    Family::from_model_id(r.id).map(|f| (f, c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cli_table_and_the_library_registry_hold_the_same_families() {
        assert_eq!(FAMILIES.len(), lic::registry::FAMILIES.len());
        for r in lic::registry::FAMILIES {
            let f = Family::from_model_id(r.id).expect("a CLI entry for every registered family");
            assert_eq!(f.registered().unwrap().id, r.id);
            assert_eq!(Family::from_name(r.short_name).unwrap().id, r.id);
            assert_eq!(Family::from_name(r.id).unwrap().id, r.id);
        }
        assert!(Family::from_name("lic-elic-small").is_none());
        assert!(FAMILIES.iter().any(|f| f.id == DEFAULT_MODEL));
    }
}
