//! Symbolic values of the pickle machine. Values are `Copy`: strings and bytes are spans of the
//! input (zero-copy), containers and call results live in arenas owned by the machine, so
//! cycles and deep nesting cost nothing to drop and cannot overflow the stack.

/// A string or bytes value: a span of the input, or of the machine's scratch buffer when it
/// had to be decoded (protocol 0 escapes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Span {
    pub start: usize,
    pub len: u32,
    pub owned: bool,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum V {
    None,
    Bool(bool),
    Int(i64),
    /// An integer too large for i64.
    BigInt,
    Float,
    Str(Span),
    Bytes(Span),
    /// An imported callable or class: index into the machine's global table.
    Global(u32),
    /// The result of calling something: index into the call table.
    Obj(u32),
    /// A container: index into the container arena.
    Cont(u32),
    /// Something we do not model (persistent load result, out-of-band buffer, untracked container).
    Opaque,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ContKind {
    List,
    Dict,
    Tuple,
    Set,
}

/// A container keeps at most this many items (dicts: key/value pairs flattened); the rest are
/// counted, not kept. Enough to see a reduce tuple or a joblib wrapper state.
pub(crate) const CONT_KEEP: usize = 64;

#[derive(Debug, Clone)]
pub(crate) struct Cont {
    pub kind: ContKind,
    pub items: Vec<V>,
    pub dropped: u64,
}

impl Cont {
    pub(crate) fn new(kind: ContKind, items: Vec<V>) -> Cont {
        let mut c = Cont {
            kind,
            items: Vec::new(),
            dropped: 0,
        };
        c.extend(items);
        c
    }

    pub(crate) fn push(&mut self, v: V) {
        if self.items.len() < CONT_KEEP {
            self.items.push(v);
        } else {
            self.dropped += 1;
        }
    }

    pub(crate) fn extend(&mut self, vs: impl IntoIterator<Item = V>) {
        for v in vs {
            self.push(v);
        }
    }
}

/// The result of a call: what was called with what, and any state BUILD set on it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Call {
    pub callee: V,
    pub args: V,
    pub state: V,
}
