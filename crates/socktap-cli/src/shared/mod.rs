//! What the commands share: stopping on signals, the default probes, the
//! grouping keys of stat, serve and top, and the formats of events, times,
//! tables and losses. A command file holds only its own loop.

pub mod containers;
pub mod events;
pub mod hist;
pub mod keys;
pub mod losses;
pub mod output;
pub mod probes;
pub mod say;
pub mod signals;
#[cfg(test)]
pub mod testing;
pub mod time;
