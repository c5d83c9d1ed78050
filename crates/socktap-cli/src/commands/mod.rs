//! One module per command. Each checks its flags, starts a tracer or an
//! aggregator from the library, and runs its own loop until done or
//! stopped; what they share is in [`crate::shared`].

pub mod conformance;
pub mod docs;
pub mod list;
pub mod serve;
pub mod stap;
pub mod stat;
pub mod top;
pub mod trace;
