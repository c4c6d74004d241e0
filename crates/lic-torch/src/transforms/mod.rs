//! Fixed (non-learned) transforms on libtorch tensors.
pub mod wavelet;

pub use wavelet::{Wpt, CDF97};
