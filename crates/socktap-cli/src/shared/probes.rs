//! Which probes a command runs: the patterns given, or the tapset's two
//! aliases that count every message once.

use socktap::Probe;

/// The probes the patterns select, in the tapset's order; with no pattern,
/// [`Probe::DEFAULT`] (socket.send and socket.receive).
pub fn chosen(patterns: &[String]) -> anyhow::Result<Vec<Probe>> {
    if patterns.is_empty() {
        return Ok(Probe::DEFAULT.to_vec());
    }
    Ok(socktap::tapset::parse::resolve(patterns)?)
}
