//! printf formats: compiled once from the literal (stap allows one flag
//! per conversion, a width, a precision, an optional `l`), and rendered
//! as stap's runtime renders them (`number()`, `%c` with `#` escapes,
//! `%b` raw bytes, `%m`/`%M` memory).

use crate::ir::Ty;
use crate::value::Value;

/// stap's print buffer size: widths and precisions are clamped to it.
const BUFFER_SIZE: i64 = 8192;

const LEFT: u8 = 1;
const PLUS: u8 = 2;
const SPACE: u8 = 4;
const SPECIAL: u8 = 8;
const ZEROPAD: u8 = 16;
const SIGN: u8 = 32;
const LARGE: u8 = 64;

/// A width or precision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Size {
    /// Not given.
    None,
    /// Given in the format.
    Static(i64),
    /// `*`: taken from the next argument.
    Dynamic,
}

/// What a conversion prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conv {
    /// `%d %i %u %o %x %X` (base).
    Number(u32),
    /// `%p`
    Pointer,
    /// `%c`
    Char,
    /// `%s`
    Str,
    /// `%m`: bytes of a string.
    Memory,
    /// `%M`: bytes of a string, in hex.
    MemoryHex,
    /// `%b`: the number's raw bytes.
    Binary,
}

/// One conversion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spec {
    flags: u8,
    width: Size,
    precision: Size,
    conv: Conv,
}

/// A piece of a compiled format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    /// Text printed as is.
    Lit(Vec<u8>),
    /// A conversion.
    Conv(Spec),
}

/// Compiles a format, or says what is wrong with it (stap's words).
pub fn compile(fmt: &[u8]) -> Result<Vec<Piece>, String> {
    let mut out = Vec::new();
    let mut lit = Vec::new();
    let mut i = 0;
    while i < fmt.len() {
        if fmt[i] != b'%' {
            lit.push(fmt[i]);
            i += 1;
            continue;
        }
        if i + 1 == fmt.len() || fmt[i + 1] == b'%' {
            lit.push(b'%');
            i += 2;
            continue;
        }
        if !lit.is_empty() {
            out.push(Piece::Lit(std::mem::take(&mut lit)));
        }
        i += 1;
        let mut flags = 0;
        // One flag, as stap's format parser takes.
        match fmt[i] {
            b'0' => flags |= ZEROPAD,
            b'+' => flags |= PLUS,
            b'-' => flags |= LEFT,
            b' ' => flags |= SPACE,
            b'#' => flags |= SPECIAL,
            _ => {}
        }
        if flags != 0 {
            i += 1;
        }
        let incomplete = || "trailing incomplete print format conversion".to_string();
        let width = size(fmt, &mut i);
        let mut precision = Size::None;
        if fmt.get(i) == Some(&b'.') {
            i += 1;
            precision = size(fmt, &mut i);
        }
        if fmt.get(i) == Some(&b'l') {
            i += 1;
        }
        let Some(&c) = fmt.get(i) else {
            return Err(incomplete());
        };
        let conv = match c {
            b'b' => Conv::Binary,
            b'c' => Conv::Char,
            b's' => Conv::Str,
            b'm' => Conv::Memory,
            b'M' => Conv::MemoryHex,
            b'd' | b'i' => {
                flags |= SIGN;
                Conv::Number(10)
            }
            b'u' => Conv::Number(10),
            b'o' => Conv::Number(8),
            b'X' => {
                flags |= LARGE;
                Conv::Number(16)
            }
            b'x' => Conv::Number(16),
            b'p' => {
                flags |= SPECIAL;
                Conv::Pointer
            }
            _ => return Err("invalid or missing conversion specifier".into()),
        };
        i += 1;
        out.push(Piece::Conv(Spec {
            flags,
            width,
            precision,
            conv,
        }));
    }
    if !lit.is_empty() {
        out.push(Piece::Lit(lit));
    }
    Ok(out)
}

/// A width or precision at `fmt[*i..]`: `*`, digits, or nothing.
fn size(fmt: &[u8], i: &mut usize) -> Size {
    if fmt.get(*i) == Some(&b'*') {
        *i += 1;
        return Size::Dynamic;
    }
    if !fmt.get(*i).is_some_and(u8::is_ascii_digit) {
        return Size::None;
    }
    let mut n: i64 = 0;
    while let Some(d) = fmt.get(*i).filter(|d| d.is_ascii_digit()) {
        n = n.saturating_mul(10).saturating_add(i64::from(d - b'0'));
        *i += 1;
    }
    Size::Static(n)
}

/// The types of the arguments a format takes, in order.
pub fn arg_types(pieces: &[Piece]) -> Vec<Ty> {
    let mut out = Vec::new();
    for p in pieces {
        if let Piece::Conv(s) = p {
            if s.width == Size::Dynamic {
                out.push(Ty::Long);
            }
            if s.precision == Size::Dynamic {
                out.push(Ty::Long);
            }
            out.push(match s.conv {
                // socktap has no kernel memory to dump: %m and %M take strings.
                Conv::Str | Conv::Memory | Conv::MemoryHex => Ty::Str,
                _ => Ty::Long,
            });
        }
    }
    out
}

/// The format print() and friends use for these argument types, with
/// `delim` between them and a newline if asked.
pub fn synthesize(types: &[Ty], delim: Option<&[u8]>, newline: bool) -> Vec<Piece> {
    let mut out = Vec::new();
    for (i, t) in types.iter().enumerate() {
        if i > 0 {
            if let Some(d) = delim {
                out.push(Piece::Lit(d.to_vec()));
            }
        }
        let conv = if *t == Ty::Str {
            Conv::Str
        } else {
            Conv::Number(10)
        };
        out.push(Piece::Conv(Spec {
            flags: if *t == Ty::Str { 0 } else { SIGN },
            width: Size::None,
            precision: Size::None,
            conv,
        }));
    }
    if newline {
        out.push(Piece::Lit(b"\n".to_vec()));
    }
    out
}

/// Renders `pieces` with `args` (already checked against the format's
/// types) onto `out`.
pub fn render(out: &mut Vec<u8>, pieces: &[Piece], args: &[Value]) {
    let mut next = args.iter();
    let long = |n: &mut std::slice::Iter<Value>| n.next().map_or(0, Value::as_long);
    for p in pieces {
        let s = match p {
            Piece::Lit(l) => {
                out.extend_from_slice(l);
                continue;
            }
            Piece::Conv(s) => s,
        };
        let mut flags = s.flags;
        let width = match s.width {
            Size::None => -1,
            Size::Static(n) => n.clamp(0, BUFFER_SIZE),
            Size::Dynamic => {
                let w = long(&mut next);
                if w < 0 {
                    flags |= LEFT;
                }
                w.saturating_abs().clamp(0, BUFFER_SIZE)
            }
        };
        let precision = match s.precision {
            Size::None => -1,
            Size::Static(n) => n.clamp(0, BUFFER_SIZE),
            Size::Dynamic => long(&mut next).clamp(0, BUFFER_SIZE),
        };
        match s.conv {
            Conv::Number(base) => {
                number(out, long(&mut next) as u64, base, width, precision, flags)
            }
            Conv::Pointer => number(out, long(&mut next) as u64, 16, width, precision, flags),
            Conv::Char => char_conv(out, long(&mut next) as u8, width, flags),
            Conv::Binary => binary(out, long(&mut next), width, precision, flags),
            Conv::Str | Conv::Memory | Conv::MemoryHex => {
                let v = next.next();
                let bytes: &[u8] = match v {
                    Some(Value::Str(s)) => s,
                    _ => b"",
                };
                memory(out, bytes, s.conv, width, precision, flags);
            }
        }
    }
}

/// The kernel's (and stap's) `number()`.
fn number(
    out: &mut Vec<u8>,
    mut num: u64,
    base: u32,
    mut size: i64,
    mut precision: i64,
    mut flags: u8,
) {
    let digits: &[u8; 36] = if flags & LARGE != 0 {
        b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    } else {
        b"0123456789abcdefghijklmnopqrstuvwxyz"
    };
    if flags & LEFT != 0 {
        flags &= !ZEROPAD;
    }
    let c = if flags & ZEROPAD != 0 { b'0' } else { b' ' };
    let mut sign = None;
    if flags & SIGN != 0 {
        if (num as i64) < 0 {
            sign = Some(b'-');
            num = (num as i64).wrapping_neg() as u64;
            size -= 1;
        } else if flags & PLUS != 0 {
            sign = Some(b'+');
            size -= 1;
        } else if flags & SPACE != 0 {
            sign = Some(b' ');
            size -= 1;
        }
    }
    if flags & SPECIAL != 0 {
        if base == 16 {
            size -= 2;
        } else if base == 8 {
            size -= 1;
        }
    }
    let mut tmp = Vec::with_capacity(24);
    if num == 0 {
        tmp.push(b'0');
    }
    while num != 0 {
        tmp.push(digits[(num % u64::from(base)) as usize]);
        num /= u64::from(base);
    }
    let n = tmp.len() as i64;
    if n > precision {
        precision = n;
    }
    size -= precision;
    if flags & (ZEROPAD | LEFT) == 0 {
        while size > 0 {
            out.push(b' ');
            size -= 1;
        }
    }
    out.extend(sign);
    if flags & SPECIAL != 0 {
        if base == 8 {
            out.push(b'0');
        } else if base == 16 {
            out.push(b'0');
            out.push(digits[33]);
        }
    }
    if flags & LEFT == 0 {
        while size > 0 {
            out.push(c);
            size -= 1;
        }
    }
    for _ in n..precision {
        out.push(b'0');
    }
    out.extend(tmp.iter().rev());
    while size > 0 {
        out.push(b' ');
        size -= 1;
    }
}

fn char_conv(out: &mut Vec<u8>, c: u8, width: i64, flags: u8) {
    let quote =
        flags & SPECIAL != 0 && (!(c.is_ascii_graphic() || c == b' ') || c == b'\'' || c == b'\\');
    let escape = match c {
        7 => Some(b'a'),
        8 => Some(b'b'),
        12 => Some(b'f'),
        b'\n' => Some(b'n'),
        b'\r' => Some(b'r'),
        b'\t' => Some(b't'),
        11 => Some(b'v'),
        b'\'' => Some(b'\''),
        b'\\' => Some(b'\\'),
        _ => None,
    };
    let size: i64 = match (quote, escape) {
        (false, _) => 1,
        (true, Some(_)) => 2,
        (true, None) => 4,
    };
    if flags & LEFT == 0 {
        for _ in size..width {
            out.push(b' ');
        }
    }
    if !quote {
        out.push(c);
    } else if let Some(e) = escape {
        out.extend_from_slice(&[b'\\', e]);
    } else {
        out.extend_from_slice(&[
            b'\\',
            b'0' + ((c >> 6) & 3),
            b'0' + ((c >> 3) & 7),
            b'0' + (c & 7),
        ]);
    }
    if flags & LEFT != 0 {
        for _ in size..width {
            out.push(b' ');
        }
    }
}

fn binary(out: &mut Vec<u8>, num: i64, mut width: i64, precision: i64, flags: u8) {
    let valid = |p: i64| if matches!(p, 1 | 2 | 4 | 8) { p } else { -1 };
    let mut precision = valid(precision);
    if width == -1 {
        if precision == -1 {
            width = 8;
            precision = 8;
        } else {
            width = precision;
        }
    } else if precision == -1 {
        precision = valid(width);
        if precision == -1 {
            precision = 8;
        }
    }
    if flags & LEFT == 0 {
        while precision < width {
            out.push(0);
            width -= 1;
        }
    }
    out.extend_from_slice(&num.to_le_bytes()[..precision as usize]);
    while precision < width {
        out.push(0);
        width -= 1;
    }
}

fn memory(out: &mut Vec<u8>, s: &[u8], conv: Conv, width: i64, precision: i64, flags: u8) {
    let len = match conv {
        Conv::Str => {
            let limit = if precision < 0 {
                BUFFER_SIZE
            } else {
                precision
            };
            s.len().min(limit as usize)
        }
        _ if precision > 0 => precision as usize,
        _ => 1,
    };
    let shown = if conv == Conv::MemoryHex {
        len * 2
    } else {
        len
    };
    let mut width = width;
    if flags & LEFT == 0 {
        // stap pads on the left by counting the width down, so the right
        // side gets nothing more.
        while (shown as i64) < width {
            out.push(b' ');
            width -= 1;
        }
    }
    // Beyond a string's end stap would read the zeroes of its buffer.
    let byte = |i: usize| s.get(i).copied().unwrap_or(0);
    match conv {
        Conv::MemoryHex => {
            for i in 0..len {
                let b = byte(i);
                out.push(b"0123456789abcdef"[usize::from(b >> 4)]);
                out.push(b"0123456789abcdef"[usize::from(b & 15)]);
            }
        }
        _ => out.extend((0..len).map(byte)),
    }
    for _ in shown as i64..width {
        out.push(b' ');
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::rc::Rc;

    fn fmt(f: &str, args: &[Value]) -> String {
        let mut out = Vec::new();
        render(&mut out, &compile(f.as_bytes()).unwrap(), args);
        String::from_utf8_lossy(&out).into_owned()
    }

    fn s(v: &str) -> Value {
        Value::Str(Rc::from(v.as_bytes()))
    }

    #[test]
    fn numbers() {
        let l = Value::Long;
        assert_eq!(
            fmt("%d|%5d|%-5d|%05d", &[l(-3), l(42), l(42), l(-42)]),
            "-3|   42|42   |-0042"
        );
        assert_eq!(fmt("%+d %+d % d", &[l(5), l(-5), l(5)]), "+5 -5  5");
        assert_eq!(
            fmt("%x %X %#x %#o %o", &[l(255), l(255), l(255), l(8), l(8)]),
            "ff FF 0xff 010 10"
        );
        assert_eq!(
            fmt("%u %x", &[l(-1), l(-1)]),
            "18446744073709551615 ffffffffffffffff"
        );
        assert_eq!(fmt("%.5d|%8.3d", &[l(42), l(7)]), "00042|     007");
        assert_eq!(fmt("%p %#x", &[l(4096), l(0)]), "0x1000 0x0");
        assert_eq!(
            fmt("%*d|%-*d|%.*d", &[l(4), l(1), l(-4), l(2), l(3), l(5)]),
            "   1|2   |005"
        );
        assert_eq!(fmt("%i%%%ld", &[l(1), l(2)]), "1%2");
    }

    #[test]
    fn strings_chars_memory_binary() {
        assert_eq!(
            fmt(
                "[%s][%5s][%-5s][%.2s]",
                &[s("ab"), s("ab"), s("ab"), s("abc")]
            ),
            "[ab][   ab][ab   ][ab]"
        );
        assert_eq!(
            fmt(
                "%c%c|%#c|%#c",
                &[
                    Value::Long(65),
                    Value::Long(66),
                    Value::Long(10),
                    Value::Long(1)
                ]
            ),
            "AB|\\n|\\001"
        );
        assert_eq!(
            fmt("%.3m|%.2M|%M", &[s("abcdef"), s("AB"), s("z")]),
            "abc|4142|7a"
        );
        let mut out = Vec::new();
        render(
            &mut out,
            &compile(b"%b%.2b").unwrap(),
            &[Value::Long(0x0102), Value::Long(0x0304)],
        );
        assert_eq!(out, [2, 1, 0, 0, 0, 0, 0, 0, 4, 3]);
    }

    #[test]
    fn bad_formats() {
        assert!(compile(b"%q").is_err());
        assert!(compile(b"%-+5d").is_err(), "stap takes one flag");
        assert!(compile(b"%5").is_err());
        assert_eq!(
            compile(b"100%").unwrap(),
            vec![Piece::Lit(b"100%".to_vec())]
        );
        assert_eq!(
            arg_types(&compile(b"%*.*s %d").unwrap()),
            [Ty::Long, Ty::Long, Ty::Str, Ty::Long]
        );
    }
}
