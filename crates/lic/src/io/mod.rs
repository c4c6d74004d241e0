//! File and image I/O shared by the CLI, the codec and the evaluation. No libtorch here.
pub mod file;
pub mod image;
