//! Model architectures. Each has a serializable config (stored in the model card `models/NAME.json`)
//! and a network whose parameter names follow PyTorch `state_dict` conventions.
pub mod elic;

pub use elic::{ElicConfig, ElicModel};
