//! Messages to the user on stderr. A closed stderr (`socktap … 2>&1 | head`)
//! must not end socktap with a panic, as `eprintln!` would: the message is
//! dropped and socktap goes on to detach and finish.

use std::fmt::Arguments;
use std::io::Write;

/// A line on stderr, if anyone still reads it.
pub fn line(msg: Arguments<'_>) {
    let _ = writeln!(std::io::stderr().lock(), "{msg}");
}

/// "socktap: warning: …" on stderr.
pub fn warn(msg: Arguments<'_>) {
    line(format_args!("socktap: warning: {msg}"));
}

/// `eprintln!` that never panics.
macro_rules! note {
    ($($arg:tt)*) => {
        $crate::shared::say::line(format_args!($($arg)*))
    };
}
pub(crate) use note;
