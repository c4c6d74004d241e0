//! The hyper-synthesis shared by the architectures: two 5x5 stride-2 transposed convolutions
//! with ReLU, then a 3x3 convolution to the entropy parameters. Float for training, and an exact
//! integer copy ([`IntSeq`]) for coding.

use tch::{nn, nn::Module, Tensor};

use crate::nn::int::{IntLayer, IntSeq};
use crate::nn::{conv, deconv};

#[derive(Debug)]
pub struct HyperSynthesis {
    d0: crate::nn::ConvT,
    d2: crate::nn::ConvT,
    c4: crate::nn::Conv,
}

impl HyperSynthesis {
    /// Parameters `p.0`, `p.2`, `p.4` (the indexes of a `Sequential` with ReLUs at 1 and 3).
    pub fn new(p: nn::Path, cin: i64, mid: i64, cout: i64) -> Self {
        HyperSynthesis {
            d0: deconv(&p / 0, cin, cin, 5, 2),
            d2: deconv(&p / 2, cin, mid, 5, 2),
            c4: conv(&p / 4, mid, cout, 3, 1),
        }
    }

    /// The exact integer version (fixed point in and out).
    pub fn to_int(&self) -> IntSeq {
        IntSeq(vec![
            IntLayer::deconv(&self.d0.ws, self.d0.bs.as_ref(), 2, true),
            IntLayer::deconv(&self.d2.ws, self.d2.bs.as_ref(), 2, true),
            IntLayer::conv(&self.c4.ws, self.c4.bs.as_ref(), 1, false),
        ])
    }
}

impl Module for HyperSynthesis {
    fn forward(&self, z: &Tensor) -> Tensor {
        let a = self.d0.forward(z).relu();
        let b = self.d2.forward(&a).relu();
        self.c4.forward(&b)
    }
}
