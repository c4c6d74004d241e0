//! The libtorch-free codec families, registered once: model id, the short name `--model`
//! accepts, and the whole-file decoder. `lic decode` and the libtorch-free `lic-decode` binary
//! find a file's decoder here from the model id in its header; a new family of this kind is
//! one entry in [`FAMILIES`].
use crate::family::FamilyError;
use crate::format::Container;
use crate::io::image::Image;

/// One registered family.
#[derive(Debug)]
pub struct Family {
    /// Model id in the container header.
    pub id: &'static str,
    /// Short name (`--model dwt`).
    pub short_name: &'static str,
    /// Decodes a whole `.lic` file of this family (the family's default pixel cap applies).
    pub decode: fn(&[u8]) -> Result<Image, FamilyError>,
}

/// Every libtorch-free family.
pub const FAMILIES: &[Family] = &[
    Family {
        id: crate::dwt::MODEL_ID,
        short_name: "dwt",
        decode: crate::dwt::decode_image,
    },
    Family {
        id: crate::overfit::MODEL_ID,
        short_name: "overfit",
        decode: crate::overfit::decode_image,
    },
];

/// The family whose model id is `id`.
pub fn by_model_id(id: &str) -> Option<&'static Family> {
    FAMILIES.iter().find(|f| f.id == id)
}

/// The family `--model NAME` names (its id or its short name).
pub fn by_name(name: &str) -> Option<&'static Family> {
    FAMILIES
        .iter()
        .find(|f| f.id == name || f.short_name == name)
}

/// The family of a `.lic` file whose container parses, if it is a libtorch-free one.
pub fn of_stream(bytes: &[u8]) -> Option<(&'static Family, Container)> {
    let c = Container::parse(bytes).ok()?;
    by_model_id(&c.header.model_id).map(|f| (f, c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_names_are_unique_and_found() {
        for (i, f) in FAMILIES.iter().enumerate() {
            assert_eq!(by_model_id(f.id).unwrap().id, f.id);
            assert_eq!(by_name(f.short_name).unwrap().id, f.id);
            for g in &FAMILIES[i + 1..] {
                assert!(f.id != g.id && f.short_name != g.short_name);
            }
        }
        assert!(by_model_id("lic-elic-small").is_none());
        assert!(of_stream(b"not a container").is_none());
    }
}
