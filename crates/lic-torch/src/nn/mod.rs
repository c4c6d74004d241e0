//! Network building blocks on libtorch: generalized divisive normalization, convolution helpers,
//! bounded and quantizing ops with straight-through gradients.
//!
//! Parameter names follow PyTorch `state_dict` conventions (`g_a.0.weight`, `g_a.1.beta`, …).
pub mod gdn;
pub mod int;
pub mod ops;
pub mod precision;
pub mod weights;

pub use gdn::Gdn;
pub use ops::{
    adam_update, conv, conv1x1, deconv, lower_bound, matmul_1x1, rgb_tensor, ste_round, Conv,
    Conv1x1, ConvT,
};
