//! Training data: every image of the given folders decoded once into memory (u8), random crops
//! and flips drawn with the checkpointed [`Rng`].

use std::path::PathBuf;

use tch::{Device, Kind, Tensor};

use super::rng::Rng;
use crate::io::image::{image_files, load, LoadOptions, EXTENSIONS};

pub struct Dataset {
    /// `[3, H, W]` u8 tensors (CPU).
    pub images: Vec<Tensor>,
    pub files: Vec<PathBuf>,
}

impl Dataset {
    /// Loads every image at least `min_side` on both sides from `dirs`.
    pub fn load(dirs: &[PathBuf], min_side: u32) -> anyhow::Result<Dataset> {
        let mut images = Vec::new();
        let mut files = Vec::new();
        for dir in dirs {
            let list = image_files(dir, &EXTENSIONS)
                .map_err(|e| anyhow::anyhow!("{}: {e}", dir.display()))?;
            for f in list {
                let img = load(&f, &LoadOptions::default())?.image;
                if img.width < min_side || img.height < min_side {
                    continue;
                }
                let t = Tensor::from_slice(&img.data)
                    .view([img.height as i64, img.width as i64, 3])
                    .permute([2, 0, 1])
                    .contiguous();
                images.push(t);
                files.push(f);
            }
        }
        anyhow::ensure!(
            !images.is_empty(),
            "no training images of at least {min_side}x{min_side} in {dirs:?}"
        );
        Ok(Dataset { images, files })
    }

    /// A batch `[B, 3, crop, crop]` in [0, 1] on `device`: random image, position and flips.
    pub fn batch(&self, rng: &mut Rng, batch: usize, crop: i64, device: Device) -> Tensor {
        let mut crops = Vec::with_capacity(batch);
        for _ in 0..batch {
            let img = &self.images[rng.below(self.images.len() as u64) as usize];
            let (h, w) = (img.size()[1], img.size()[2]);
            let y = rng.below((h - crop + 1) as u64) as i64;
            let x = rng.below((w - crop + 1) as u64) as i64;
            let mut c = img.narrow(1, y, crop).narrow(2, x, crop);
            if rng.below(2) == 1 {
                c = c.flip([2]);
            }
            if rng.below(2) == 1 {
                c = c.flip([1]);
            }
            crops.push(c);
        }
        Tensor::stack(&crops, 0)
            .to_device(device)
            .to_kind(Kind::Float)
            / 255.0
    }
}
