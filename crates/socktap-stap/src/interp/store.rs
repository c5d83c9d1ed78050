//! Global storage: scalars, statistics and arrays. Arrays keep their
//! elements in insertion order (stap's map list), hold at most their size
//! (MAXMAPENTRIES by default) or recycle their oldest element when
//! declared with `%`, and sort in place as stap's runtime does.

use indexmap::IndexMap;
use rustc_hash::FxBuildHasher;

use crate::ast::StatOp;
use crate::ir::{Global, HistKind, Str, Ty};
use crate::value::{Key, Value};

use super::stats::Stat;

/// Elements by key.
pub type Map<V> = IndexMap<Box<[Key]>, V, FxBuildHasher>;

/// An array's elements, by value type.
#[derive(Debug, Clone)]
pub enum Elems {
    /// Numbers.
    Long(Map<i64>),
    /// Strings.
    Str(Map<Str>),
    /// Statistics.
    Stats(Map<Stat>),
}

/// An array.
#[derive(Debug, Clone)]
pub struct Array {
    /// The elements.
    pub elems: Elems,
    /// How many it may hold.
    pub limit: usize,
    /// Recycle the oldest when full.
    pub wrap: bool,
}

/// Why an element could not be added.
pub struct Overflow;

/// Runs `$body` on the map of whichever value type `$elems` holds.
macro_rules! each {
    ($elems:expr, $m:ident => $body:expr) => {
        match $elems {
            Elems::Long($m) => $body,
            Elems::Str($m) => $body,
            Elems::Stats($m) => $body,
        }
    };
}

/// The element for `k`, created with its default if absent, making room
/// first (or failing when the array is full and does not wrap).
fn entry<'m, V: Default>(
    m: &'m mut Map<V>,
    k: &[Key],
    limit: usize,
    wrap: bool,
) -> Result<&'m mut V, Overflow> {
    if let Some(i) = m.get_index_of(k) {
        return Ok(&mut m[i]);
    }
    if m.len() >= limit {
        if !wrap {
            return Err(Overflow);
        }
        m.shift_remove_index(0);
    }
    Ok(m.entry(k.into()).or_default())
}

impl Array {
    /// How many elements.
    pub fn len(&self) -> usize {
        each!(&self.elems, m => m.len())
    }

    /// Whether it has no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the key is present.
    pub fn contains(&self, k: &[Key]) -> bool {
        each!(&self.elems, m => m.contains_key(k))
    }

    /// The number element for `k`, created as 0 if absent.
    pub fn long_entry(&mut self, k: &[Key]) -> Result<&mut i64, Overflow> {
        match &mut self.elems {
            Elems::Long(m) => entry(m, k, self.limit, self.wrap),
            _ => Err(Overflow),
        }
    }

    /// Sets a string element.
    pub fn set_str(&mut self, k: &[Key], v: Str) -> Result<(), Overflow> {
        if let Elems::Str(m) = &mut self.elems {
            *entry(m, k, self.limit, self.wrap)? = v;
        }
        Ok(())
    }

    /// The statistic for `k`, created empty if absent.
    pub fn stat_entry(&mut self, k: &[Key]) -> Result<&mut Stat, Overflow> {
        match &mut self.elems {
            Elems::Stats(m) => entry(m, k, self.limit, self.wrap),
            _ => Err(Overflow),
        }
    }

    /// The value of an element (0 or "" if absent).
    pub fn get(&self, k: &[Key]) -> Value {
        match &self.elems {
            Elems::Long(m) => Value::Long(m.get(k).copied().unwrap_or(0)),
            Elems::Str(m) => Value::Str(m.get(k).cloned().unwrap_or_else(crate::value::empty)),
            Elems::Stats(_) => Value::Long(0),
        }
    }

    /// A statistic (`None` if absent).
    pub fn stat(&self, k: &[Key]) -> Option<&Stat> {
        match &self.elems {
            Elems::Stats(m) => m.get(k),
            _ => None,
        }
    }

    /// Removes one element.
    pub fn remove(&mut self, k: &[Key]) {
        each!(&mut self.elems, m => {
            m.shift_remove(k);
        })
    }

    /// Removes every element whose key matches `pattern` (`None`: any).
    pub fn remove_matching(&mut self, pattern: &[Option<Key>]) {
        each!(&mut self.elems, m => m.retain(|k, _| !matches(k, pattern)))
    }

    /// Removes everything.
    pub fn clear(&mut self) {
        each!(&mut self.elems, m => m.clear())
    }

    /// The keys, in the current order.
    pub fn keys(&self) -> Vec<Box<[Key]>> {
        each!(&self.elems, m => m.keys().cloned().collect())
    }

    /// Sorts in place, as stap's foreach does: by column `col` (0 the
    /// value, or a statistic's aggregate; k the k-th key), `dir` 1
    /// ascending, -1 descending. Ties keep their order when every element
    /// is sorted; with a `limit` of 30 or fewer stap sorts only the top
    /// elements its own way, and so does this.
    pub fn sort(&mut self, col: usize, dir: i8, aggr: StatOp, shift: u32, limit: Option<i64>) {
        match &mut self.elems {
            Elems::Long(m) => sort_map(m, col, dir, limit, |v| SortKey::Long(*v)),
            Elems::Str(m) => sort_map(m, col, dir, limit, |v| SortKey::Str(v.clone())),
            Elems::Stats(m) => sort_map(m, col, dir, limit, |s| {
                SortKey::Long(s.get(aggr, shift, false).unwrap_or(0))
            }),
        }
    }
}

/// Whether a key matches a pattern with wildcards.
pub fn matches(k: &[Key], pattern: &[Option<Key>]) -> bool {
    k.iter()
        .zip(pattern)
        .all(|(a, p)| p.as_ref().is_none_or(|p| p == a))
}

#[derive(Clone, PartialEq, Eq, PartialOrd, Ord)]
enum SortKey {
    Long(i64),
    Str(Str),
}

fn key_of(k: &[Key], col: usize) -> SortKey {
    match &k[col - 1] {
        Value::Long(n) => SortKey::Long(*n),
        Value::Str(s) => SortKey::Str(s.clone()),
    }
}

/// stap's `_stp_cmp`: whether `a` must come after `b`.
fn after(a: &SortKey, b: &SortKey, dir: i8) -> bool {
    (a < b && dir < 0) || (a > b && dir > 0)
}

/// stap's `_stp_map_sortn` on positions: a bubble sort of the first `n`,
/// then each later element inserted among them if it belongs there (the
/// element it displaces goes just after the top `n`, the rest unsorted).
fn sortn(keys: &[SortKey], n: usize, dir: i8) -> Vec<usize> {
    let mut order: Vec<usize> = (0..keys.len()).collect();
    if order.is_empty() {
        return order;
    }
    let mut swaps = true;
    while swaps {
        swaps = false;
        let mut i = 0;
        while i + 1 < order.len() && i + 1 < n {
            if after(&keys[order[i]], &keys[order[i + 1]], dir) {
                order.swap(i, i + 1);
                swaps = true;
            }
            i += 1;
        }
    }
    let last = n.min(order.len()) - 1;
    for a in last + 1..order.len() {
        let mut c = last as isize;
        while c >= 0 && after(&keys[order[c as usize]], &keys[order[a]], dir) {
            c -= 1;
        }
        if c != last as isize {
            let item = order.remove(a);
            order.insert((c + 1) as usize, item);
        }
    }
    order
}

fn sort_map<V>(
    m: &mut Map<V>,
    col: usize,
    dir: i8,
    limit: Option<i64>,
    val: impl Fn(&V) -> SortKey,
) {
    let sk = |k: &[Key], v: &V| if col == 0 { val(v) } else { key_of(k, col) };
    match limit {
        Some(n) if n > 0 && n <= 30 => {
            let keys: Vec<SortKey> = m.iter().map(|(k, v)| sk(k, v)).collect();
            let order = sortn(&keys, n as usize, dir);
            let mut entries: Vec<Option<(Box<[Key]>, V)>> = m.drain(..).map(Some).collect();
            for i in order {
                if let Some((k, v)) = entries[i].take() {
                    m.insert(k, v);
                }
            }
        }
        _ => m.sort_by(|ka, va, kb, vb| {
            let (a, b) = (sk(ka, va), sk(kb, vb));
            if dir > 0 {
                a.cmp(&b)
            } else {
                b.cmp(&a)
            }
        }),
    }
}

/// A global's storage.
#[derive(Debug, Clone)]
pub enum Slot {
    /// A scalar.
    Scalar(Value),
    /// A scalar statistic.
    Stat(Stat),
    /// An array.
    Array(Array),
}

impl Slot {
    /// Fresh storage for a global.
    pub fn new(g: &Global, maxmapentries: usize) -> Slot {
        if g.keys.is_empty() {
            return match (g.ty, &g.init) {
                (Ty::Stats, _) => Slot::Stat(Stat::default()),
                (_, Some(crate::ast::Literal::Num(n))) => Slot::Scalar(Value::Long(*n)),
                (_, Some(crate::ast::Literal::Str(s))) => {
                    Slot::Scalar(Value::Str(crate::value::string(s)))
                }
                (ty, None) => Slot::Scalar(Value::default_of(ty)),
            };
        }
        let elems = match g.ty {
            Ty::Long => Elems::Long(Map::default()),
            Ty::Str => Elems::Str(Map::default()),
            Ty::Stats => Elems::Stats(Map::default()),
        };
        Slot::Array(Array {
            elems,
            limit: g.size.map_or(maxmapentries, |s| s as usize),
            wrap: g.wrap,
        })
    }

    /// Empties a global (`delete`).
    pub fn reset(&mut self, ty: Ty) {
        match self {
            Slot::Scalar(v) => *v = Value::default_of(ty),
            Slot::Stat(s) => *s = Stat::default(),
            Slot::Array(a) => a.clear(),
        }
    }
}

/// The histogram kind of a global, for adding values.
pub fn hist_of(g: &Global) -> Option<HistKind> {
    g.hist
}
