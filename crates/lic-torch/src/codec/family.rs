//! The libtorch image models behind the core's codec interface ([`ImageFamily`]): a loaded
//! [`CodecModel`] (`lic-elic-small`, `lic-walloc`, or any `.safetensors` model) is a family like
//! `lic-dwt`, with its model id, quality range and capabilities.

use lic::family::{
    check_options, Capabilities, Control, EncodeOptions, Encoded, Error, ImageFamily, Progress,
};
use lic::format::{Container, Limits};
use lic::io::image::Image;

use super::model::CodecModel;

/// A loaded libtorch model as an image family.
pub struct Learned {
    model: CodecModel,
    short_name: String,
}

impl Learned {
    /// Finds (by name or path, as `lic --model` does) and loads a model on the CPU.
    pub fn load(name: &str) -> Result<Self, Error> {
        let path = CodecModel::find(name).map_err(|e| Error::UnknownModel(e.to_string()))?;
        let model = CodecModel::load(&path, tch::Device::Cpu)
            .map_err(|e| Error::External(format!("loading model {}: {e}", path.display())))?;
        Ok(Self::new(model))
    }

    /// Wraps a loaded model.
    pub fn new(model: CodecModel) -> Self {
        let short_name = model
            .id
            .strip_prefix("lic-")
            .unwrap_or(&model.id)
            .to_string();
        Self { model, short_name }
    }

    /// The model.
    pub fn model(&self) -> &CodecModel {
        &self.model
    }
}

impl ImageFamily for Learned {
    fn id(&self) -> &str {
        &self.model.id
    }
    fn short_name(&self) -> &str {
        &self.short_name
    }
    fn description(&self) -> &str {
        "neural autoencoder on libtorch, trained in advance (hyperprior and context model)"
    }
    fn quality_range(&self) -> (f64, f64) {
        self.model.config.quality_range()
    }
    fn default_quality(&self) -> f64 {
        let (lo, hi) = self.quality_range();
        4.0f64.clamp(lo, hi)
    }
    fn capabilities(&self) -> Capabilities {
        let mut c = Capabilities::default();
        c.refine = true;
        c.tile = true;
        c.symbol_trace = true;
        c.rate_search = true;
        c.learned = true;
        c.libtorch = true;
        c
    }
    fn encode(
        &self,
        img: &Image,
        opts: &EncodeOptions,
        progress: &mut dyn FnMut(&Progress) -> Control,
    ) -> Result<Encoded, Error> {
        check_options(self, opts)?;
        let quality = opts.quality.unwrap_or(self.default_quality());
        let start = Progress {
            done: 0,
            total: 1,
            message: "coding".into(),
        };
        if progress(&start) == Control::Cancel {
            return Err(lic::family::FamilyError::Cancelled.into());
        }
        let e = super::encode(
            img,
            &self.model,
            &super::EncodeOptions {
                quality,
                tile: opts.tile.unwrap_or(super::DEFAULT_TILE),
                refine: opts.refine,
            },
        )
        .map_err(|e| Error::External(e.to_string()))?;
        Ok(Encoded {
            bytes: e.bytes,
            reconstruction: e.reconstruction,
            estimated_bits: e.estimated_bits,
            quality,
            details: String::new(),
        })
    }
    fn decode(&self, container: &Container, _limits: &Limits) -> Result<Image, Error> {
        super::decode_container(container.clone(), &self.model)
            .map_err(|e| Error::External(e.to_string()))
    }
}
