//! The socket tapset itself, independent of the kernel: its probe points
//! and variables ([`probe`]), its exact conversion tables ([`tables`]),
//! friendlier names for displays ([`names`]), and forgiving parsing of what
//! people type, with suggestions ([`parse`]).

pub mod names;
pub mod parse;
pub mod probe;
pub mod tables;

pub use probe::{path_mask, Path, Probe};
