//! Runtime values: numbers and byte strings. The type checker has made
//! sure each expression yields one kind, so conversions here only supply
//! defaults.

use std::rc::Rc;

use crate::ir::{Str, Ty};

/// A value of a long or string expression.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Value {
    /// A number.
    Long(i64),
    /// A string.
    Str(Str),
}

thread_local! {
    static EMPTY: Str = Rc::from(&b""[..]);
}

/// The empty string, shared.
pub fn empty() -> Str {
    EMPTY.with(Rc::clone)
}

/// A string value from bytes.
pub fn string(b: &[u8]) -> Str {
    if b.is_empty() {
        empty()
    } else {
        Rc::from(b)
    }
}

impl Value {
    /// The default of a type: 0 or "".
    pub fn default_of(ty: Ty) -> Value {
        match ty {
            Ty::Str => Value::Str(empty()),
            _ => Value::Long(0),
        }
    }

    /// The number (0 for a string, which the checker never lets happen).
    pub fn as_long(&self) -> i64 {
        match self {
            Value::Long(n) => *n,
            Value::Str(_) => 0,
        }
    }

    /// The string ("" for a number).
    pub fn into_str(self) -> Str {
        match self {
            Value::Str(s) => s,
            Value::Long(_) => empty(),
        }
    }

    /// Whether it counts as true: nonzero, or a nonempty string.
    pub fn truthy(&self) -> bool {
        match self {
            Value::Long(n) => *n != 0,
            Value::Str(s) => !s.is_empty(),
        }
    }
}

/// One part of an array key.
pub type Key = Value;
