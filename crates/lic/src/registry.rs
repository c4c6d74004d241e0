//! Every image family of this crate, registered once by model id: `lic encode/decode/info/eval`,
//! [`crate::decode`] and the bindings find a family here. A new family is one module that
//! implements [`ImageFamily`] plus one entry in [`FAMILIES`]. The libtorch families (crate
//! `lic-torch`) implement the same trait and are listed by `lic-torch`'s own registry, which
//! extends this one.
use crate::family::ImageFamily;
use crate::format::Container;

/// Every libtorch-free family; the first is the default.
pub static FAMILIES: &[&(dyn ImageFamily + Sync)] = &[&crate::dwt::Dwt, &crate::overfit::Overfit];

/// A video family of this crate (frames in, `.licv` streams out; see [`crate::mcw`]).
#[derive(Debug)]
pub struct VideoFamily {
    /// Model id in the `.licv` header.
    pub id: &'static str,
    /// Short name for `--model`.
    pub short_name: &'static str,
    /// One line for `--help` and listings.
    pub description: &'static str,
    /// Quality range and default.
    pub quality_range: (f32, f32),
    pub default_quality: f32,
}

/// Every libtorch-free video family; the first is the default of `lic video encode`. (The
/// learned `lic-video` lives in `lic-torch`.)
pub static VIDEO_FAMILIES: &[VideoFamily] = &[VideoFamily {
    id: crate::mcw::MODEL_ID,
    short_name: "mcw",
    description: "motion-compensated wavelet video: quarter-sample OBMC, quadtree blocks, \
                  lic-dwt's coefficient coder with temporal contexts (the default; pure Rust)",
    quality_range: crate::mcw::QUALITY_RANGE,
    default_quality: crate::mcw::DEFAULT_QUALITY,
}];

/// The video family `--model NAME` names (its id or short name).
pub fn video_by_name(name: &str) -> Option<&'static VideoFamily> {
    VIDEO_FAMILIES
        .iter()
        .find(|f| f.id == name || f.short_name == name)
}

/// The family used when none is named (`lic-dwt`).
pub fn default_family() -> &'static (dyn ImageFamily + Sync) {
    FAMILIES[0]
}

/// The family whose model id is `id`.
pub fn by_model_id(id: &str) -> Option<&'static (dyn ImageFamily + Sync)> {
    FAMILIES.iter().copied().find(|f| f.id() == id)
}

/// The family `--model NAME` names (its id or its short name).
pub fn by_name(name: &str) -> Option<&'static (dyn ImageFamily + Sync)> {
    FAMILIES
        .iter()
        .copied()
        .find(|f| f.id() == name || f.short_name() == name)
}

/// The family of a `.lic` file whose container parses, if it is one of this crate's.
pub fn of_stream(bytes: &[u8]) -> Option<(&'static (dyn ImageFamily + Sync), Container)> {
    let c = Container::parse(bytes).ok()?;
    by_model_id(&c.header.model_id).map(|f| (f, c))
}

/// Decodes a `.lic` file of any registered family: the container is parsed once (with `limits`)
/// and handed to the family its model id names.
pub fn decode(
    bytes: &[u8],
    limits: &crate::format::Limits,
) -> Result<crate::io::image::Image, crate::family::Error> {
    let c =
        Container::parse_with_limits(bytes, limits).map_err(crate::family::FamilyError::from)?;
    let f = by_model_id(&c.header.model_id).ok_or_else(|| {
        crate::family::Error::UnknownModel(format!(
            "model {:?} is not a family of this build (the libtorch families decode with lic-torch)",
            c.header.model_id
        ))
    })?;
    f.decode(&c, limits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_names_are_unique_and_found() {
        for (i, f) in FAMILIES.iter().enumerate() {
            assert_eq!(by_model_id(f.id()).unwrap().id(), f.id());
            assert_eq!(by_name(f.short_name()).unwrap().id(), f.id());
            let (lo, hi) = f.quality_range();
            assert!(lo < hi && (lo..=hi).contains(&f.default_quality()));
            for g in &FAMILIES[i + 1..] {
                assert!(f.id() != g.id() && f.short_name() != g.short_name());
            }
        }
        assert_eq!(default_family().id(), crate::dwt::MODEL_ID);
        assert!(by_model_id("lic-elic-small").is_none());
        assert!(of_stream(b"not a container").is_none());
    }
}
