//! The symbolic pickle machine: executes every opcode of protocols 0-5 on symbolic values,
//! never importing or calling anything, and records which globals are imported, which are
//! called (directly or through higher-order callables and `BUILD`), and how.

use std::borrow::Cow;
use std::collections::HashMap;

use aigis_core::Finding;

use super::value::{Call, Cont, ContKind, Span, V};
use crate::ctx::{Loc, Sink};
use crate::lists::Class;
use crate::reader::Cursor;
use crate::rules;

/// How far nested values are followed when looking for globals or rendering evidence.
const WALK_DEPTH: u32 = 4;
/// Most containers and calls whose contents are tracked; beyond this, new ones are opaque.
const MAX_TRACKED: usize = 4 << 20;

/// Callables that call (or instantiate) what they are given: a global passed to one of them
/// is as good as invoked, even when the callable itself is allowlisted.
const HIGHER_ORDER: &[(&str, &str)] = &[
    ("copyreg", "_reconstructor"),
    ("copyreg", "__newobj__"),
    ("copyreg", "__newobj_ex__"),
    ("torch._tensor", "_rebuild_from_type_v2"),
    ("torch._tensor", "_rebuild_from_type"),
    ("torch._utils", "_rebuild_wrapper_subclass"),
    ("torch._utils", "_rebuild_parameter_with_state"),
];

/// Deserialisers whose bytes argument is itself a pickle to scan.
const DESERIALIZERS: &[(&str, &str)] = &[
    ("pickle", "loads"),
    ("_pickle", "loads"),
    ("dill", "loads"),
    ("cloudpickle", "loads"),
    ("torch.storage", "_load_from_bytes"),
    ("torch", "_load_from_bytes"),
];

pub(crate) struct GlobalRec {
    pub module: String,
    pub name: String,
    pub class: Class,
    pub offset: usize,
    pub opcode: &'static str,
    pub invoked: bool,
    /// Only ever instantiated by NEWOBJ/NEWOBJ_EX (`cls.__new__(cls)`: no `__init__`, no call).
    pub instantiated: bool,
    pub example: Option<String>,
    pub dynamic: bool,
    /// For deserialisers: every call had a literal payload that was scanned.
    pub nested_scanned: Option<bool>,
    /// For `builtins.getattr`: every call took a literal, non-dunder method name of an
    /// allowlisted object and no result was ever called (a stored bound method, as torch
    /// writes for module hooks).
    pub method_ref_only: Option<bool>,
}

/// A torch storage named by a persistent id: `('storage', cls, key, location, numel)`.
#[derive(Debug, Clone)]
pub(crate) struct StorageRef {
    pub key: String,
    pub class: String,
    pub numel: Option<i64>,
}

/// How one pickle stream ended.
pub(crate) struct StreamEnd {
    /// Offset just past the STOP opcode (or where parsing failed).
    pub end: usize,
    /// STOP was reached.
    pub complete: bool,
    /// The stream's result was the `PyTorch` legacy magic number.
    pub torch_magic: bool,
    pub storages: Vec<StorageRef>,
}

enum Fail {
    Malformed(String),
    Limit(String),
}

type Res<T> = Result<T, Fail>;

fn bad<T>(msg: impl Into<String>) -> Res<T> {
    Err(Fail::Malformed(msg.into()))
}

pub(crate) struct Machine<'a, 's, 'o> {
    data: &'a [u8],
    sink: &'s mut Sink<'o>,
    loc: &'s Loc,
    depth: u32,
    stack: Vec<V>,
    marks: Vec<usize>,
    memo: Vec<Option<V>>,
    memo_sparse: HashMap<u64, V>,
    memo_count: u64,
    scratch: Vec<u8>,
    globals: Vec<GlobalRec>,
    global_idx: HashMap<(String, String), u32>,
    conts: Vec<Cont>,
    calls: Vec<Call>,
    storages: Vec<StorageRef>,
    op_off: usize,
}

/// The legacy PyTorch format opens with a pickle of this integer (little-endian bytes).
pub(crate) const TORCH_MAGIC: [u8; 10] =
    [0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19];

impl<'a, 's, 'o> Machine<'a, 's, 'o> {
    pub(crate) fn new(data: &'a [u8], sink: &'s mut Sink<'o>, loc: &'s Loc, depth: u32) -> Self {
        Machine {
            data,
            sink,
            loc,
            depth,
            stack: Vec::with_capacity(64),
            marks: Vec::new(),
            memo: Vec::new(),
            memo_sparse: HashMap::new(),
            memo_count: 0,
            scratch: Vec::new(),
            globals: Vec::new(),
            global_idx: HashMap::new(),
            conts: Vec::new(),
            calls: Vec::new(),
            storages: Vec::new(),
            op_off: 0,
        }
    }

    /// Run one pickle stream starting at `start`; report what it does; say how it ended.
    pub(crate) fn run(mut self, start: usize) -> StreamEnd {
        let mut c = Cursor::at(self.data, start);
        let result = self.exec(&mut c);
        let mut end = StreamEnd {
            end: c.pos(),
            complete: false,
            torch_magic: false,
            storages: Vec::new(),
        };
        match result {
            Ok(top) => {
                end.complete = true;
                // The legacy PyTorch format opens with a tiny pickle of one magic integer.
                end.torch_magic = matches!(top, V::BigInt)
                    && c.pos() - start < 32
                    && self.last_long_was_magic(start, c.pos());
            }
            Err(Fail::Malformed(why)) => {
                self.sink.incomplete = true;
                self.sink.push(
                    Finding::new(&rules::scn108::RULE, "pickle stream is malformed or truncated", self.loc.at(self.op_off))
                        .detail(
                            "Python's unpickler executes every opcode before the damage, so what was seen up to here \
                             is reported; the rest of the stream was not examined.",
                        )
                        .evidence(why),
                );
            }
            Err(Fail::Limit(why)) => {
                self.sink.limit(self.loc.at(self.op_off), why);
            }
        }
        self.report();
        end.storages = std::mem::take(&mut self.storages);
        end
    }

    fn last_long_was_magic(&self, start: usize, end: usize) -> bool {
        self.data
            .get(start..end)
            .is_some_and(|s| s.windows(TORCH_MAGIC.len()).any(|w| w == TORCH_MAGIC))
    }

    // ---- values -------------------------------------------------------------------------

    fn text(&self, sp: Span) -> Cow<'_, str> {
        let src = if sp.owned { &self.scratch } else { self.data };
        let b = src.get(sp.start..sp.start + sp.len as usize).unwrap_or(&[]);
        String::from_utf8_lossy(b)
    }

    fn bytes_of(&self, sp: Span) -> &[u8] {
        let src = if sp.owned { &self.scratch } else { self.data };
        src.get(sp.start..sp.start + sp.len as usize).unwrap_or(&[])
    }

    fn span(start: usize, len: usize) -> Res<Span> {
        let len = u32::try_from(len).map_err(|_| Fail::Limit("string longer than 4 GiB".into()))?;
        Ok(Span {
            start,
            len,
            owned: false,
        })
    }

    fn owned(&mut self, s: &[u8]) -> Res<Span> {
        let start = self.scratch.len();
        if start + s.len() > (1 << 30) {
            return Err(Fail::Limit(
                "more than 1 GiB of decoded protocol-0 strings".into(),
            ));
        }
        self.scratch.extend_from_slice(s);
        Ok(Span {
            start,
            len: s.len() as u32,
            owned: true,
        })
    }

    fn new_cont(&mut self, kind: ContKind, items: Vec<V>) -> V {
        if self.conts.len() >= MAX_TRACKED {
            // Still look for globals in what we drop: they were placed in data.
            return V::Opaque;
        }
        self.conts.push(Cont::new(kind, items));
        V::Cont((self.conts.len() - 1) as u32)
    }

    fn new_call(&mut self, callee: V, args: V) -> V {
        if self.calls.len() >= MAX_TRACKED {
            return V::Opaque;
        }
        self.calls.push(Call {
            callee,
            args,
            state: V::None,
        });
        V::Obj((self.calls.len() - 1) as u32)
    }

    fn push(&mut self, v: V) -> Res<()> {
        if self.stack.len() >= self.sink.opts.max_pickle_values {
            return Err(Fail::Limit(format!(
                "stack deeper than {} values",
                self.sink.opts.max_pickle_values
            )));
        }
        self.stack.push(v);
        Ok(())
    }

    fn pop(&mut self) -> Res<V> {
        let floor = self.marks.last().copied().unwrap_or(0);
        if self.stack.len() <= floor {
            return bad("stack underflow");
        }
        self.stack.pop().map_or_else(|| bad("stack underflow"), Ok)
    }

    fn top_mut(&mut self) -> Res<&mut V> {
        let floor = self.marks.last().copied().unwrap_or(0);
        if self.stack.len() <= floor {
            return bad("stack underflow");
        }
        self.stack
            .last_mut()
            .map_or_else(|| bad("stack underflow"), Ok)
    }

    fn pop_mark(&mut self) -> Res<Vec<V>> {
        let Some(m) = self.marks.pop() else {
            return bad("MARK expected but not found");
        };
        Ok(self.stack.split_off(m.min(self.stack.len())))
    }

    fn memo_get(&self, k: u64) -> Res<V> {
        let hit = usize::try_from(k)
            .ok()
            .and_then(|i| self.memo.get(i).copied().flatten())
            .or_else(|| self.memo_sparse.get(&k).copied());
        hit.map_or_else(|| bad(format!("memo key {k} not found")), Ok)
    }

    fn memo_put(&mut self, k: u64, v: V) -> Res<()> {
        if self.memo_count as usize + self.stack.len() >= self.sink.opts.max_pickle_values {
            return Err(Fail::Limit(format!(
                "memo larger than {} values",
                self.sink.opts.max_pickle_values
            )));
        }
        let i = k as usize;
        if (k as usize) < self.memo.len() + 65_536 && k < (1 << 40) {
            if i >= self.memo.len() {
                self.memo.resize(i + 1, None);
            }
            if self.memo[i].is_none() {
                self.memo_count += 1;
            }
            self.memo[i] = Some(v);
        } else if self.memo_sparse.insert(k, v).is_none() {
            self.memo_count += 1;
        }
        Ok(())
    }

    // ---- globals ------------------------------------------------------------------------

    fn global(&mut self, module: &str, name: &str, opcode: &'static str) -> V {
        let lists = self.sink.lists;
        let (module_c, name_c) = lists.canonical(module, name);
        let name = name_c.as_str();
        if let Some(&i) = self.global_idx.get(&(module_c.clone(), name.to_string())) {
            return V::Global(i);
        }
        let class = if self.sink.torchscript && module_c.starts_with("__torch__.") {
            Class::Safe
        } else {
            lists.classify(&module_c, name)
        };
        let i = self.globals.len() as u32;
        self.globals.push(GlobalRec {
            module: module_c.clone(),
            name: name.to_string(),
            class,
            offset: self.op_off,
            opcode,
            invoked: false,
            instantiated: false,
            nested_scanned: None,
            method_ref_only: None,
            example: None,
            dynamic: false,
        });
        self.global_idx.insert((module_c, name.to_string()), i);
        V::Global(i)
    }

    fn dynamic_global(&mut self, module: V, name: V) -> V {
        let m = self.render(module);
        let n = self.render(name);
        let i = self.globals.len() as u32;
        self.globals.push(GlobalRec {
            module: m,
            name: n,
            class: Class::Unknown,
            offset: self.op_off,
            opcode: "STACK_GLOBAL",
            invoked: false,
            instantiated: false,
            nested_scanned: None,
            method_ref_only: None,
            example: None,
            dynamic: true,
        });
        V::Global(i)
    }

    fn global_rec(&self, v: V) -> Option<&GlobalRec> {
        match v {
            V::Global(i) => self.globals.get(i as usize),
            _ => None,
        }
    }

    fn is_pair(&self, v: V, pairs: &[(&str, &str)]) -> bool {
        self.global_rec(v)
            .is_some_and(|g| pairs.iter().any(|(m, n)| g.module == *m && g.name == *n))
    }

    fn is_safe_callee(&self, v: V) -> bool {
        self.global_rec(v)
            .is_some_and(|g| g.class == Class::Safe && !g.dynamic)
    }

    /// Mark every global reachable from `v` (bounded) as invoked.
    fn mark_invoked(&mut self, v: V, depth: u32) {
        match v {
            V::Global(i) => {
                if let Some(g) = self.globals.get_mut(i as usize) {
                    g.invoked = true;
                }
            }
            V::Cont(i) if depth < WALK_DEPTH => {
                let items = self
                    .conts
                    .get(i as usize)
                    .map(|c| c.items.clone())
                    .unwrap_or_default();
                for it in items {
                    self.mark_invoked(it, depth + 1);
                }
            }
            V::Obj(i) if depth < WALK_DEPTH => {
                if let Some(c) = self.calls.get(i as usize).copied() {
                    self.mark_invoked(c.args, depth + 1);
                    self.mark_invoked(c.state, depth + 1);
                }
            }
            _ => {}
        }
    }

    /// A call of `callee` with `args` (REDUCE, NEWOBJ, `NEWOBJ_EX`, INST, OBJ).
    /// With `newobj`, an instantiation by NEWOBJ/NEWOBJ_EX: `cls.__new__(cls, *args)`, no
    /// constructor runs.
    fn call(&mut self, callee: V, args: V, newobj: bool) -> V {
        let safe = self.is_safe_callee(callee);
        if let V::Global(i) = callee {
            let rendered = if safe {
                None
            } else {
                Some(self.render_call(callee, args))
            };
            if let Some(g) = self.globals.get_mut(i as usize) {
                if newobj {
                    g.instantiated = true;
                } else {
                    g.invoked = true;
                }
                if g.example.is_none() {
                    g.example = rendered;
                }
            }
        } else {
            // Calling something computed (the result of another call, a container item):
            // whatever produced it is invoked too.
            self.mark_invoked(callee, 0);
            if let V::Obj(k) = callee
                && let Some(V::Global(gi)) = self.calls.get(k as usize).map(|c| c.callee)
                && let Some(g) = self.globals.get_mut(gi as usize)
            {
                g.method_ref_only = Some(false);
            }
        }
        if !newobj && self.is_pair(callee, &[("builtins", "getattr")]) {
            let safe_ref = self.is_safe_method_ref(args);
            if let V::Global(i) = callee
                && let Some(g) = self.globals.get_mut(i as usize)
            {
                g.method_ref_only = Some(g.method_ref_only.unwrap_or(true) && safe_ref);
            }
        }
        if !safe || self.is_pair(callee, HIGHER_ORDER) {
            self.mark_invoked(args, 0);
        }
        if self.is_pair(callee, DESERIALIZERS) {
            let scanned = self.nested_payload(args);
            if let V::Global(i) = callee
                && let Some(g) = self.globals.get_mut(i as usize)
            {
                g.nested_scanned = Some(g.nested_scanned.unwrap_or(true) && scanned);
            }
        }
        self.new_call(callee, args)
    }

    /// `getattr(obj, "name")` where `obj` was made by an allowlisted class and the name is a
    /// literal that is not a dunder.
    fn is_safe_method_ref(&self, args: V) -> bool {
        let V::Cont(i) = args else { return false };
        let Some(c) = self.conts.get(i as usize) else {
            return false;
        };
        match c.items.as_slice() {
            [V::Obj(o), V::Str(sp)] => {
                let name = self.text(*sp);
                let callee = self.calls.get(*o as usize).map(|k| k.callee);
                !name.starts_with("__")
                    && !name.is_empty()
                    && callee.is_some_and(|cl| self.is_safe_callee(cl))
            }
            _ => false,
        }
    }

    /// Scan a pickle passed as bytes to a deserialiser (`pickle.loads(b'...')`).
    /// True when the payload was a literal and was scanned.
    fn nested_payload(&mut self, args: V) -> bool {
        let first = match args {
            V::Cont(i) => self
                .conts
                .get(i as usize)
                .and_then(|c| c.items.first().copied()),
            _ => None,
        };
        let bytes: Option<Vec<u8>> = match first {
            Some(V::Bytes(sp)) => Some(self.bytes_of(sp).to_vec()),
            Some(V::Obj(i)) => {
                // `_codecs.encode('…', 'latin1')` is how protocol 2 writes bytes.
                let call = self.calls.get(i as usize).copied();
                match call {
                    Some(c)
                        if self
                            .is_pair(c.callee, &[("_codecs", "encode"), ("codecs", "encode")]) =>
                    {
                        let s = match c.args {
                            V::Cont(j) => self
                                .conts
                                .get(j as usize)
                                .and_then(|k| k.items.first().copied()),
                            _ => None,
                        };
                        match s {
                            Some(V::Str(sp)) => {
                                Some(self.text(sp).chars().map(|ch| ch as u32 as u8).collect())
                            }
                            _ => None,
                        }
                    }
                    _ => None,
                }
            }
            _ => None,
        };
        let Some(b) = bytes else { return false };
        if self.depth + 1 > self.sink.opts.max_depth {
            self.sink.limit(
                self.loc.at(self.op_off),
                "nested payload deeper than the depth limit",
            );
            return false;
        }
        let loc = self
            .loc
            .child(&format!("<nested payload @{}>", self.op_off));
        crate::formats::scan_blob(self.sink, &loc, &b, self.depth + 1, "");
        true
    }

    // ---- evidence -----------------------------------------------------------------------

    fn render(&self, v: V) -> String {
        let mut s = String::new();
        self.render_into(v, 0, &mut s);
        s
    }

    fn render_call(&self, callee: V, args: V) -> String {
        let mut s = self.render(callee);
        match args {
            V::Cont(i)
                if self
                    .conts
                    .get(i as usize)
                    .is_some_and(|c| c.kind == ContKind::Tuple) =>
            {
                self.render_into(args, 0, &mut s);
            }
            other => {
                s.push('(');
                self.render_into(other, 0, &mut s);
                s.push(')');
            }
        }
        s
    }

    fn render_into(&self, v: V, depth: u32, out: &mut String) {
        if out.len() > 240 {
            return;
        }
        match v {
            V::None => out.push_str("None"),
            V::Bool(b) => out.push_str(if b { "True" } else { "False" }),
            V::Int(i) => out.push_str(&i.to_string()),
            V::BigInt => out.push_str("<int>"),
            V::Float => out.push_str("<float>"),
            V::Str(sp) => {
                let t = self.text(sp);
                let t: String = t.chars().take(120).collect();
                out.push_str(&format!("{t:?}"));
            }
            V::Bytes(sp) => {
                let b = self.bytes_of(sp);
                out.push('b');
                out.push_str(&format!(
                    "{:?}",
                    String::from_utf8_lossy(&b[..b.len().min(60)])
                ));
            }
            V::Global(i) => match self.globals.get(i as usize) {
                Some(g) if g.dynamic => out.push_str(&format!("<import {}.{}>", g.module, g.name)),
                Some(g) => out.push_str(&format!("{}.{}", g.module, g.name)),
                None => out.push('?'),
            },
            V::Obj(i) => match self.calls.get(i as usize) {
                Some(c) if depth < WALK_DEPTH => {
                    let c = *c;
                    self.render_into(c.callee, depth + 1, out);
                    match c.args {
                        V::Cont(_) => self.render_into(c.args, depth + 1, out),
                        _ => out.push_str("(…)"),
                    }
                }
                _ => out.push_str("<object>"),
            },
            V::Cont(i) => match self.conts.get(i as usize) {
                Some(c) if depth < WALK_DEPTH => {
                    let (open, close) = match c.kind {
                        ContKind::List => ("[", "]"),
                        ContKind::Dict | ContKind::Set => ("{", "}"),
                        ContKind::Tuple => ("(", ")"),
                    };
                    out.push_str(open);
                    for (n, it) in c.items.iter().enumerate() {
                        if out.len() > 240 {
                            out.push('…');
                            break;
                        }
                        if n > 0 {
                            out.push_str(if c.kind == ContKind::Dict && n % 2 == 1 {
                                ": "
                            } else {
                                ", "
                            });
                        }
                        self.render_into(*it, depth + 1, out);
                    }
                    if c.dropped > 0 {
                        out.push_str(", …");
                    }
                    out.push_str(close);
                }
                _ => out.push_str("<…>"),
            },
            V::Opaque => out.push_str("<…>"),
        }
    }

    // ---- findings -----------------------------------------------------------------------

    fn report(&mut self) {
        let globals = std::mem::take(&mut self.globals);
        for g in globals {
            let full = format!("{}.{}", g.module, g.name);
            let verb = if g.invoked {
                "calls"
            } else if g.instantiated {
                "instantiates"
            } else {
                "imports"
            };
            let evidence = g.example.clone().unwrap_or_else(|| full.clone());
            let loc = self.loc.at(g.offset);
            let f = if g.dynamic {
                Finding::new(&rules::scn102::RULE, format!("pickle imports a computed name: {full}"), loc)
                    .detail("STACK_GLOBAL's module or name is not a literal string but the result of a call; \
                             this is how scanners that read names statically are bypassed.")
            } else {
                // torch pickles the storage of a plainly pickled tensor as
                // `_load_from_bytes(<a torch file>)`; with a literal payload it was scanned.
                let nested_ok = g.nested_scanned == Some(true)
                    && g.module == "torch.storage"
                    && g.name == "_load_from_bytes";
                if g.method_ref_only == Some(true) {
                    self.sink.push(
                        Finding::new(&rules::scn105::RULE, "pickle stores a bound method of an allowlisted object", loc)
                            .detail("builtins.getattr with a literal method name on an object of an allowlisted class, \
                                     never called by the pickle (PyTorch writes module hooks this way).")
                            .evidence(evidence),
                    );
                    continue;
                }
                match &g.class {
                    Class::Safe => continue,
                    Class::Denied(_) if nested_ok => continue,
                    Class::Denied(reason) => {
                        Finding::new(&rules::scn101::RULE, format!("pickle {verb} {full}"), loc)
                            .detail(format!("{full} {reason}; loading this file can run it ({} at this offset).", g.opcode))
                    }
                    Class::Traversal(why) => {
                        Finding::new(&rules::scn103::RULE, format!("pickle {verb} {full}"), loc)
                            .detail(format!("The name {why}; resolving it walks attributes to reach code."))
                    }
                    Class::Unknown if g.invoked => {
                        Finding::new(&rules::scn104::RULE, format!("pickle calls {full}, which is not on the allowlist"), loc)
                            .detail("Loading runs this callable; it is not one that ML libraries are known to write. \
                                     Review it, or allow it with --allow module:name if it is yours.")
                    }
                    Class::Unknown if g.instantiated => Finding::new(
                        &rules::scn105::RULE,
                        format!("pickle instantiates {full} without calling it; not on the allowlist"),
                        loc,
                    )
                    .detail("NEWOBJ creates the object with cls.__new__ and runs no __init__; the module is \
                             imported and a __setstate__ the class defines would run. Typical of whole-object \
                             saves (torch.save(model)) of classes the loading program defines."),
                    Class::Unknown => Finding::new(
                        &rules::scn105::RULE,
                        format!("pickle imports {full}, which is not on the allowlist"),
                        loc,
                    )
                    .detail("The module is imported when the file loads (module-level code runs), though the name is not called."),
                }
            };
            self.sink.push(f.evidence(evidence));
        }
    }

    fn attribute_injection(&mut self, target: V, state: V) {
        if let V::Global(i) = target {
            let name = self.render(V::Global(i));
            let ev = self.render(state);
            self.sink.push(
                Finding::new(&rules::scn106::RULE, format!("pickle sets attributes on {name}"), self.loc.at(self.op_off))
                    .detail("BUILD applied to an imported class, function or module rewrites it for the whole process.")
                    .evidence(format!("BUILD {name} <- {ev}")),
            );
            return;
        }
        // A state dict (or slot-state pair) that sets a dunder attribute such as __setstate__
        // or __reduce__ turns the next BUILD or load into a call.
        let mut dicts = vec![state];
        if let V::Cont(i) = state
            && let Some(c) = self.conts.get(i as usize)
            && c.kind == ContKind::Tuple
        {
            dicts.clone_from(&c.items);
        }
        for d in dicts {
            let V::Cont(i) = d else { continue };
            let Some(c) = self.conts.get(i as usize) else {
                continue;
            };
            if c.kind != ContKind::Dict {
                continue;
            }
            for k in c.items.iter().step_by(2) {
                if let V::Str(sp) = *k {
                    let key = self.text(sp);
                    if key.starts_with("__") && key.ends_with("__") && key.len() > 4 {
                        let key = key.into_owned();
                        let ev = self.render(state);
                        self.sink.push(
                            Finding::new(
                                &rules::scn106::RULE,
                                format!("pickle injects the special attribute {key}"),
                                self.loc.at(self.op_off),
                            )
                            .detail("Setting a dunder through BUILD state makes a later BUILD or load call an attacker-chosen function.")
                            .evidence(ev),
                        );
                        return;
                    }
                }
            }
        }
    }

    // ---- the machine --------------------------------------------------------------------

    fn line_str(c: &mut Cursor<'a>) -> Res<&'a [u8]> {
        let l = c.line().or_else(|_| bad("line not terminated"))?;
        Ok(l.strip_suffix(b"\r").unwrap_or(l))
    }

    fn take(c: &mut Cursor<'a>, n: u64) -> Res<&'a [u8]> {
        c.take_u64(n)
            .or_else(|_| bad(format!("length {n} runs past the end of the data")))
    }

    fn exec(&mut self, c: &mut Cursor<'a>) -> Res<V> {
        let mut ops: u64 = 0;
        loop {
            ops += 1;
            if ops.trailing_zeros() >= 20 && self.sink.out_of_time(self.loc) {
                return Err(Fail::Limit("time budget spent inside a pickle".into()));
            }
            self.op_off = c.pos();
            let Ok(op) = c.u8() else {
                return bad("ran out of data before STOP");
            };
            let eof = |_| Fail::Malformed("ran out of data inside an opcode".into());
            match op {
                b'.' => {
                    // STOP
                    let v = self.pop()?;
                    return Ok(v);
                }
                b'(' => self.marks.push(self.stack.len()),
                b'0' => {
                    if self.stack.len() > self.marks.last().copied().unwrap_or(0) {
                        self.stack.pop();
                    } else if self.marks.pop().is_none() {
                        return bad("POP on empty stack");
                    }
                }
                b'1' => {
                    self.pop_mark()?;
                }
                b'2' => {
                    let v = *self.top_mut()?;
                    self.push(v)?;
                }
                0x80 => {
                    let p = c.u8().map_err(eof)?;
                    if p > 5 {
                        return bad(format!("unsupported pickle protocol {p}"));
                    }
                }
                0x95 => {
                    // FRAME: frames are contiguous; read straight through.
                    c.skip(8).map_err(eof)?;
                }
                // -- numbers --
                b'I' => {
                    let l = Self::line_str(c)?;
                    let v = match l {
                        b"00" => V::Bool(false),
                        b"01" => V::Bool(true),
                        _ => std::str::from_utf8(l)
                            .ok()
                            .and_then(|s| s.trim().parse::<i64>().ok())
                            .map_or(V::BigInt, V::Int),
                    };
                    if !l
                        .iter()
                        .all(|b| b.is_ascii_digit() || *b == b'-' || *b == b'+' || *b == b' ')
                        || l.is_empty()
                    {
                        return bad("INT operand is not a number");
                    }
                    self.push(v)?;
                }
                b'L' => {
                    let l = Self::line_str(c)?;
                    let l = l.strip_suffix(b"L").unwrap_or(l);
                    if l.is_empty()
                        || !l
                            .iter()
                            .all(|b| b.is_ascii_digit() || *b == b'-' || *b == b'+')
                    {
                        return bad("LONG operand is not a number");
                    }
                    let v = std::str::from_utf8(l)
                        .ok()
                        .and_then(|s| s.parse::<i64>().ok())
                        .map_or(V::BigInt, V::Int);
                    self.push(v)?;
                }
                b'F' => {
                    let l = Self::line_str(c)?;
                    if std::str::from_utf8(l)
                        .ok()
                        .and_then(|s| s.trim().parse::<f64>().ok())
                        .is_none()
                    {
                        return bad("FLOAT operand is not a number");
                    }
                    self.push(V::Float)?;
                }
                b'J' => {
                    let v = c.i32_le().map_err(eof)?;
                    self.push(V::Int(i64::from(v)))?;
                }
                b'K' => {
                    let v = c.u8().map_err(eof)?;
                    self.push(V::Int(i64::from(v)))?;
                }
                b'M' => {
                    let v = c.u16_le().map_err(eof)?;
                    self.push(V::Int(i64::from(v)))?;
                }
                b'G' => {
                    c.skip(8).map_err(eof)?;
                    self.push(V::Float)?;
                }
                0x8a => {
                    let n = c.u8().map_err(eof)?;
                    let b = Self::take(c, u64::from(n))?;
                    self.push(long_le(b))?;
                }
                0x8b => {
                    let n = c.i32_le().map_err(eof)?;
                    if n < 0 {
                        return bad("LONG4 with negative length");
                    }
                    let b = Self::take(c, n as u64)?;
                    self.push(long_le(b))?;
                }
                b'N' => self.push(V::None)?,
                0x88 => self.push(V::Bool(true))?,
                0x89 => self.push(V::Bool(false))?,
                // -- strings and bytes --
                b'S' => {
                    let l = Self::line_str(c)?;
                    let Some(body) = unquote(l) else {
                        return bad("STRING operand is not a quoted string");
                    };
                    let sp = self.owned(&body)?;
                    self.push(V::Str(sp))?;
                }
                b'V' => {
                    let l = Self::line_str(c)?;
                    let decoded = raw_unicode_unescape(l);
                    let sp = self.owned(decoded.as_bytes())?;
                    self.push(V::Str(sp))?;
                }
                b'T' | b'X' | 0x8c | 0x8d | b'U' | b'B' | b'C' | 0x8e | 0x96 => {
                    let n: u64 = match op {
                        b'T' => {
                            let n = c.i32_le().map_err(eof)?;
                            if n < 0 {
                                return bad("BINSTRING with negative length");
                            }
                            n as u64
                        }
                        b'X' | b'B' => u64::from(c.u32_le().map_err(eof)?),
                        0x8c | b'U' | b'C' => u64::from(c.u8().map_err(eof)?),
                        _ => c.u64_le().map_err(eof)?,
                    };
                    let start = c.pos();
                    Self::take(c, n)?;
                    let sp = Self::span(start, n as usize)?;
                    let v = match op {
                        b'B' | b'C' | 0x8e | 0x96 => V::Bytes(sp),
                        _ => V::Str(sp),
                    };
                    self.push(v)?;
                }
                0x97 | 0x98 => {
                    // NEXT_BUFFER pushes an out-of-band buffer; READONLY_BUFFER keeps the top.
                    if op == 0x97 {
                        self.push(V::Opaque)?;
                    } else {
                        self.top_mut()?;
                    }
                }
                // -- containers --
                b')' => {
                    let v = self.new_cont(ContKind::Tuple, Vec::new());
                    self.push(v)?;
                }
                b']' => {
                    let v = self.new_cont(ContKind::List, Vec::new());
                    self.push(v)?;
                }
                b'}' => {
                    let v = self.new_cont(ContKind::Dict, Vec::new());
                    self.push(v)?;
                }
                0x8f => {
                    let v = self.new_cont(ContKind::Set, Vec::new());
                    self.push(v)?;
                }
                b't' | b'l' | b'd' | 0x91 => {
                    let items = self.pop_mark()?;
                    let kind = match op {
                        b't' => ContKind::Tuple,
                        b'l' => ContKind::List,
                        b'd' => {
                            if items.len() % 2 != 0 {
                                return bad("DICT with an odd number of items");
                            }
                            ContKind::Dict
                        }
                        _ => ContKind::Set,
                    };
                    let v = self.new_cont(kind, items);
                    self.push(v)?;
                }
                0x85..=0x87 => {
                    let n = usize::from(op - 0x84);
                    let floor = self.marks.last().copied().unwrap_or(0);
                    if self.stack.len() < floor + n {
                        return bad("stack underflow");
                    }
                    let items = self.stack.split_off(self.stack.len() - n);
                    let v = self.new_cont(ContKind::Tuple, items);
                    self.push(v)?;
                }
                b'a' => {
                    let v = self.pop()?;
                    let t = *self.top_mut()?;
                    self.add_items(t, vec![v]);
                }
                b'e' | 0x90 => {
                    let items = self.pop_mark()?;
                    let t = *self.top_mut()?;
                    self.add_items(t, items);
                }
                b's' => {
                    let v = self.pop()?;
                    let k = self.pop()?;
                    let t = *self.top_mut()?;
                    self.add_items(t, vec![k, v]);
                }
                b'u' => {
                    let items = self.pop_mark()?;
                    if items.len() % 2 != 0 {
                        return bad("SETITEMS with an odd number of items");
                    }
                    let t = *self.top_mut()?;
                    self.add_items(t, items);
                }
                // -- memo --
                b'g' => {
                    let l = Self::line_str(c)?;
                    let k = parse_u64(l)
                        .ok_or_else(|| Fail::Malformed("GET key is not a number".into()))?;
                    let v = self.memo_get(k)?;
                    self.push(v)?;
                }
                b'h' => {
                    let k = c.u8().map_err(eof)?;
                    let v = self.memo_get(u64::from(k))?;
                    self.push(v)?;
                }
                b'j' => {
                    let k = c.u32_le().map_err(eof)?;
                    let v = self.memo_get(u64::from(k))?;
                    self.push(v)?;
                }
                b'p' => {
                    let l = Self::line_str(c)?;
                    let k = parse_u64(l)
                        .ok_or_else(|| Fail::Malformed("PUT key is not a number".into()))?;
                    let v = *self.top_mut()?;
                    self.memo_put(k, v)?;
                }
                b'q' => {
                    let k = c.u8().map_err(eof)?;
                    let v = *self.top_mut()?;
                    self.memo_put(u64::from(k), v)?;
                }
                b'r' => {
                    let k = c.u32_le().map_err(eof)?;
                    let v = *self.top_mut()?;
                    self.memo_put(u64::from(k), v)?;
                }
                0x94 => {
                    let v = *self.top_mut()?;
                    let k = self.memo_count;
                    self.memo_put(k, v)?;
                }
                // -- imports and calls --
                b'c' | b'i' => {
                    let m = Self::line_str(c)?;
                    let n = Self::line_str(c)?;
                    let (m, n) = (
                        String::from_utf8_lossy(m).into_owned(),
                        String::from_utf8_lossy(n).into_owned(),
                    );
                    let g = self.global(&m, &n, if op == b'c' { "GLOBAL" } else { "INST" });
                    if op == b'c' {
                        self.push(g)?;
                    } else {
                        let args = self.pop_mark()?;
                        let a = self.new_cont(ContKind::Tuple, args);
                        let r = self.call(g, a, false);
                        self.push(r)?;
                    }
                }
                0x93 => {
                    let name = self.pop()?;
                    let module = self.pop()?;
                    let g = match (module, name) {
                        (V::Str(m), V::Str(n)) => {
                            let (m, n) = (self.text(m).into_owned(), self.text(n).into_owned());
                            self.global(&m, &n, "STACK_GLOBAL")
                        }
                        // Python requires both to be str; anything computed is a dynamic import.
                        (m @ (V::Obj(_) | V::Opaque | V::Global(_)), n)
                        | (m, n @ (V::Obj(_) | V::Opaque | V::Global(_))) => {
                            self.mark_invoked(m, 0);
                            self.mark_invoked(n, 0);
                            self.dynamic_global(m, n)
                        }
                        _ => return bad("STACK_GLOBAL operands are not strings"),
                    };
                    self.push(g)?;
                }
                b'o' => {
                    let mut items = self.pop_mark()?;
                    if items.is_empty() {
                        return bad("OBJ without a class");
                    }
                    let cls = items.remove(0);
                    let a = self.new_cont(ContKind::Tuple, items);
                    let r = self.call(cls, a, false);
                    self.push(r)?;
                }
                b'R' | 0x81 => {
                    let args = self.pop()?;
                    let f = self.pop()?;
                    let r = self.call(f, args, op == 0x81);
                    self.push(r)?;
                }
                0x92 => {
                    let kwargs = self.pop()?;
                    let args = self.pop()?;
                    let cls = self.pop()?;
                    let a = self.new_cont(ContKind::Tuple, vec![args, kwargs]);
                    let r = self.call(cls, a, true);
                    self.push(r)?;
                }
                b'b' => {
                    let state = self.pop()?;
                    let target = *self.top_mut()?;
                    self.build(target, state, c)?;
                }
                0x82..=0x84 => {
                    let code = match op {
                        0x82 => u64::from(c.u8().map_err(eof)?),
                        0x83 => u64::from(c.u16_le().map_err(eof)?),
                        _ => u64::from(c.u32_le().map_err(eof)?),
                    };
                    self.sink.push(
                        Finding::new(
                            &rules::scn107::RULE,
                            format!("pickle imports through extension code {code}"),
                            self.loc.at(self.op_off),
                        )
                        .detail("EXT opcodes resolve a global through copyreg's extension registry, which the file does not name; \
                                 what is imported depends on the loading process.")
                        .evidence(format!("EXT code {code}")),
                    );
                    let g = self.dynamic_global(V::Opaque, V::Int(code as i64));
                    self.push(g)?;
                }
                b'P' => {
                    let _pid = Self::line_str(c)?;
                    self.push(V::Opaque)?;
                }
                b'Q' => {
                    let pid = self.pop()?;
                    self.persistent_id(pid);
                    self.push(V::Opaque)?;
                }
                _ => return bad(format!("invalid opcode 0x{op:02x}")),
            }
        }
    }

    fn add_items(&mut self, target: V, items: Vec<V>) {
        if let V::Cont(i) = target {
            if let Some(c) = self.conts.get_mut(i as usize) {
                c.extend(items);
            }
        } else {
            // Appending into a call result runs its `append`/`extend`/`__setitem__`: the
            // class that made it is invoked, and so is anything we give it.
            self.mark_invoked(target, 0);
        }
    }

    fn build(&mut self, target: V, state: V, c: &mut Cursor<'a>) -> Res<()> {
        self.attribute_injection(target, state);
        let mut joblib = false;
        match target {
            V::Global(_) => self.mark_invoked(state, 0),
            V::Obj(i) => {
                let callee = self.calls.get(i as usize).map(|k| k.callee);
                if let Some(k) = self.calls.get_mut(i as usize) {
                    k.state = state;
                }
                let safe = callee.is_some_and(|cl| self.is_safe_callee(cl));
                // A global in the state of anything but a known-safe class may be called by its
                // __setstate__; in any state it may be installed as an attribute.
                if !safe || self.contains_global(state, 0) {
                    self.mark_invoked(state, 0);
                }
                joblib = callee.is_some_and(|cl| {
                    self.is_pair(cl, &[("joblib.numpy_pickle", "NumpyArrayWrapper")])
                });
            }
            _ => self.mark_invoked(state, 0),
        }
        if joblib {
            self.joblib_array(state, c)?;
            if let Some(t) = self.stack.last_mut() {
                *t = V::Opaque;
            }
        }
        Ok(())
    }

    fn contains_global(&self, v: V, depth: u32) -> bool {
        match v {
            V::Global(_) => true,
            V::Cont(i) if depth < WALK_DEPTH => self
                .conts
                .get(i as usize)
                .is_some_and(|c| c.items.iter().any(|x| self.contains_global(*x, depth + 1))),
            _ => false,
        }
    }

    fn dict_get(&self, d: V, key: &str) -> Option<V> {
        let V::Cont(i) = d else { return None };
        let c = self.conts.get(i as usize)?;
        if c.kind != ContKind::Dict {
            return None;
        }
        c.items
            .chunks_exact(2)
            .find(|kv| matches!(kv[0], V::Str(sp) if self.text(sp) == key))
            .map(|kv| kv[1])
    }

    /// joblib writes each numpy array's raw bytes straight into the stream after the BUILD of
    /// its `NumpyArrayWrapper`; skip them (or scan the nested pickle of an object array) and
    /// resume. Getting this wrong would either miss a payload placed after the arrays or flag
    /// every joblib file as malformed.
    fn joblib_array(&mut self, state: V, c: &mut Cursor<'a>) -> Res<()> {
        let dtype = self.dict_get(state, "dtype");
        let shape = self.dict_get(state, "shape");
        let aligned = self
            .dict_get(state, "numpy_array_alignment_bytes")
            .is_some_and(|v| !matches!(v, V::None));
        let Some((itemsize, object)) = dtype.and_then(|d| self.dtype_info(d)) else {
            return bad("joblib array wrapper without a readable dtype");
        };
        if object {
            // An object array is a whole pickle of its own, loaded by a fresh unpickler.
            if self.depth + 1 > self.sink.opts.max_depth {
                return Err(Fail::Limit("joblib object arrays nested too deep".into()));
            }
            let start = c.pos();
            let loc = self.loc.child(&format!("<joblib object array @{start}>"));
            let end = Machine::new(self.data, self.sink, &loc, self.depth + 1).run(start);
            if !end.complete {
                return bad("joblib object array pickle did not end");
            }
            *c = Cursor::at(self.data, end.end);
            return Ok(());
        }
        let mut count: u64 = 1;
        if let Some(V::Cont(i)) = shape {
            let Some(sc) = self.conts.get(i as usize) else {
                return bad("joblib shape missing");
            };
            if sc.dropped > 0 {
                return bad("joblib shape has too many dimensions");
            }
            for d in &sc.items {
                let V::Int(n) = d else {
                    return bad("joblib shape is not a tuple of ints");
                };
                let n = u64::try_from(*n)
                    .map_err(|_| Fail::Malformed("negative joblib dimension".into()))?;
                count = count
                    .checked_mul(n)
                    .ok_or_else(|| Fail::Malformed("joblib array size overflows".into()))?;
            }
        } else {
            return bad("joblib array wrapper without a shape");
        }
        let nbytes = count
            .checked_mul(itemsize)
            .ok_or_else(|| Fail::Malformed("joblib array size overflows".into()))?;
        if aligned {
            let pad = c
                .u8()
                .map_err(|_| Fail::Malformed("joblib padding missing".into()))?;
            Self::take(c, u64::from(pad))?;
        }
        Self::take(c, nbytes)?;
        Ok(())
    }

    /// Item size and object-ness of a `numpy.dtype(...)` call result.
    fn dtype_info(&self, v: V) -> Option<(u64, bool)> {
        let V::Obj(i) = v else { return None };
        let call = self.calls.get(i as usize)?;
        let V::Cont(a) = call.args else { return None };
        let first = *self.conts.get(a as usize)?.items.first()?;
        let V::Str(sp) = first else { return None };
        let code = self.text(sp).into_owned();
        let code = code.trim_start_matches(['<', '>', '|', '=']);
        let kind = code.chars().next()?;
        let digits: String = code
            .chars()
            .skip(1)
            .take_while(char::is_ascii_digit)
            .collect();
        let mut size: u64 = digits.parse().unwrap_or(0);
        if kind == 'U' {
            size = size.checked_mul(4)?;
        }
        let mut object = kind == 'O';
        if let V::Cont(s) = call.state {
            let st = self.conts.get(s as usize)?;
            if let Some(V::Int(el)) = st.items.get(5)
                && *el > 0
            {
                size = *el as u64;
            }
            if let Some(V::Int(flags)) = st.items.get(7) {
                object |= flags & 1 != 0;
            }
        }
        (size > 0 || object).then_some((size, object))
    }

    fn persistent_id(&mut self, pid: V) {
        let V::Cont(i) = pid else { return };
        let Some(c) = self.conts.get(i as usize) else {
            return;
        };
        let items = c.items.clone();
        if items.len() < 5 {
            return;
        }
        let is_storage = matches!(items[0], V::Str(sp) if self.text(sp) == "storage");
        if !is_storage {
            return;
        }
        let class = self
            .global_rec(items[1])
            .map(|g| g.name.clone())
            .unwrap_or_default();
        let key = match items[2] {
            V::Str(sp) => self.text(sp).into_owned(),
            V::Int(n) => n.to_string(),
            _ => return,
        };
        let numel = match items[4] {
            V::Int(n) => Some(n),
            _ => None,
        };
        if self.storages.len() < 1 << 20 {
            self.storages.push(StorageRef { key, class, numel });
        }
    }
}

/// Little-endian two's-complement integer of `b` (LONG1/LONG4), as an i64 when it fits.
fn long_le(b: &[u8]) -> V {
    if b.is_empty() {
        return V::Int(0);
    }
    if b.len() > 8 {
        return V::BigInt;
    }
    let neg = b[b.len() - 1] & 0x80 != 0;
    let mut buf = if neg { [0xffu8; 8] } else { [0u8; 8] };
    buf[..b.len()].copy_from_slice(b);
    V::Int(i64::from_le_bytes(buf))
}

fn parse_u64(l: &[u8]) -> Option<u64> {
    std::str::from_utf8(l).ok()?.trim().parse().ok()
}

/// Decode a protocol-0 STRING operand: a Python repr in single or double quotes.
fn unquote(l: &[u8]) -> Option<Vec<u8>> {
    if l.len() < 2 {
        return None;
    }
    let q = l[0];
    if (q != b'\'' && q != b'"') || l[l.len() - 1] != q {
        return None;
    }
    let body = &l[1..l.len() - 1];
    let mut out = Vec::with_capacity(body.len());
    let mut i = 0;
    while i < body.len() {
        let b = body[i];
        if b != b'\\' {
            out.push(b);
            i += 1;
            continue;
        }
        let Some(&e) = body.get(i + 1) else {
            out.push(b'\\');
            break;
        };
        i += 2;
        match e {
            b'n' => out.push(b'\n'),
            b't' => out.push(b'\t'),
            b'r' => out.push(b'\r'),
            b'0'..=b'7' => {
                let mut v = u32::from(e - b'0');
                for _ in 0..2 {
                    match body.get(i) {
                        Some(d @ b'0'..=b'7') => {
                            v = v * 8 + u32::from(d - b'0');
                            i += 1;
                        }
                        _ => break,
                    }
                }
                out.push(v as u8);
            }
            b'x' => {
                let h = body
                    .get(i..i + 2)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match h {
                    Some(v) => {
                        out.push(v);
                        i += 2;
                    }
                    None => out.extend_from_slice(b"\\x"),
                }
            }
            b'\\' | b'\'' | b'"' => out.push(e),
            other => {
                out.push(b'\\');
                out.push(other);
            }
        }
    }
    Some(out)
}

/// Decode Python's raw-unicode-escape (`\uXXXX`, `\UXXXXXXXX`; everything else is latin-1).
fn raw_unicode_unescape(l: &[u8]) -> String {
    let mut out = String::with_capacity(l.len());
    let mut i = 0;
    while i < l.len() {
        if l[i] == b'\\' && i + 1 < l.len() && (l[i + 1] == b'u' || l[i + 1] == b'U') {
            let n = if l[i + 1] == b'u' { 4 } else { 8 };
            if let Some(ch) = l
                .get(i + 2..i + 2 + n)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .and_then(char::from_u32)
            {
                out.push(ch);
                i += 2 + n;
                continue;
            }
        }
        out.push(char::from(l[i]));
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use aigis_core::Severity;

    #[test]
    fn long_decoding() {
        assert_eq!(long_le(&[0xff]), V::Int(-1));
        assert_eq!(long_le(&[0x00, 0x01]), V::Int(256));
        assert_eq!(long_le(&[0; 9]), V::BigInt);
    }

    #[test]
    fn protocol0_strings() {
        assert_eq!(unquote(b"'os'").unwrap(), b"os");
        assert_eq!(unquote(b"'\\x73ystem'").unwrap(), b"system");
        assert_eq!(unquote(b"'\\163ys'").unwrap(), b"sys");
        assert!(unquote(b"'unterminated").is_none());
        assert_eq!(raw_unicode_unescape(b"a\\u0062c"), "abc");
    }

    #[test]
    fn severity_of_rules_is_as_documented() {
        assert_eq!(rules::scn101::RULE.severity, Severity::Critical);
        assert_eq!(rules::scn104::RULE.severity, Severity::Medium);
        assert_eq!(rules::scn105::RULE.severity, Severity::Low);
    }
}
