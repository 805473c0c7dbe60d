//! The allowlist and denylist of Python globals, shipped as data (`data/*.toml`).
//!
//! Decision order for a `(module, name)` a pickle imports, after mapping Python 2 names:
//! 1. a dunder anywhere in the path, or a dotted name that hops through a denylisted module
//!    (`pathlib` → `os.system`), is a traversal: critical;
//! 2. an explicitly denylisted `(module, name)`: critical;
//! 3. an exact allowlisted pair: safe;
//! 4. a module (or any parent module) on the denylist: critical;
//! 5. anything else is unknown: medium when called, low when only imported.
#![forbid(unsafe_code)] // parsers and the scan driver: no exceptions (the one mmap lives in source.rs)

use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

use serde::Deserialize;

/// How a global was judged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Class {
    Safe,
    Denied(&'static str),
    Traversal(String),
    Unknown,
}

#[derive(Deserialize)]
struct DenyEntry {
    reason: String,
    #[serde(default)]
    modules: Vec<String>,
    #[serde(default)]
    module: Option<String>,
    #[serde(default)]
    names: Vec<String>,
}

#[derive(Deserialize)]
struct DenyFile {
    deny: Vec<DenyEntry>,
    aliases: HashMap<String, String>,
    name_aliases: HashMap<String, String>,
}

#[cfg(test)]
#[derive(Deserialize)]
struct AllowFile {
    allow: HashMap<String, Vec<String>>,
}

/// Parsed lists; built once per process.
pub struct Lists {
    deny_modules: HashMap<String, &'static str>,
    deny_names: HashMap<(String, String), &'static str>,
    allow: HashSet<(String, String)>,
    aliases: HashMap<String, String>,
    name_aliases: HashMap<(String, String), (String, String)>,
}

fn split_dotted(s: &str) -> (String, String) {
    let (m, n) = s.rsplit_once('.').unwrap_or(("", s));
    (m.to_string(), n.to_string())
}

const ALLOW_SOURCES: [&str; 2] = [
    include_str!("../data/allowlist.toml"),
    include_str!("../data/allowlist-generated.toml"),
];

/// Parse the allowlist files: a `[allow]` table of `"module" = ["name", …]` entries, one per
/// line (arrays may span lines), `#` comments. A hand parser, because the generated list has
/// a thousand entries and every `aigis` process reads it at start-up; a test checks it agrees
/// with the TOML parser on the shipped files. Returns None on anything else.
fn parse_allow(src: &str) -> Option<Vec<(&str, &str)>> {
    let mut out = Vec::new();
    let mut rest = src;
    let mut in_allow = false;
    let mut module: Option<&str> = None;
    loop {
        rest = rest.trim_start();
        if rest.is_empty() {
            return module.is_none().then_some(out);
        }
        if let Some(r) = rest.strip_prefix('#') {
            rest = r.split_once('\n').map_or("", |x| x.1);
            continue;
        }
        if module.is_none() {
            if let Some(r) = rest.strip_prefix("[allow]") {
                in_allow = true;
                rest = r;
                continue;
            }
            if !in_allow {
                return None;
            }
            // "module" = [
            let r = rest.strip_prefix('"')?;
            let (m, r) = r.split_once('"')?;
            let r = r
                .trim_start()
                .strip_prefix('=')?
                .trim_start()
                .strip_prefix('[')?;
            module = Some(m);
            rest = r;
            continue;
        }
        if let Some(r) = rest.strip_prefix(']') {
            module = None;
            rest = r;
            continue;
        }
        if let Some(r) = rest.strip_prefix(',') {
            rest = r;
            continue;
        }
        let r = rest.strip_prefix('"')?;
        let (n, r) = r.split_once('"')?;
        out.push((module?, n));
        rest = r;
    }
}

fn leak(s: String) -> &'static str {
    // A handful of reason strings, built once per process.
    Box::leak(s.into_boxed_str())
}

impl Lists {
    /// The built-in lists plus `extra` allowed pairs.
    ///
    /// # Panics
    /// Only if the lists compiled into the binary are invalid TOML, which the test suite rules out.
    pub fn new(extra: &[(String, String)]) -> Lists {
        let deny: DenyFile = toml::from_str(include_str!("../data/denylist.toml"))
            .expect("data/denylist.toml is valid (tested)");
        let mut lists = Lists {
            deny_modules: HashMap::new(),
            deny_names: HashMap::new(),
            allow: HashSet::new(),
            aliases: deny.aliases,
            name_aliases: deny
                .name_aliases
                .iter()
                .map(|(k, v)| (split_dotted(k), split_dotted(v)))
                .collect(),
        };
        for e in deny.deny {
            let reason = leak(e.reason);
            for m in e.modules {
                lists.deny_modules.insert(m, reason);
            }
            if let Some(m) = e.module {
                for n in e.names {
                    lists.deny_names.insert((m.clone(), n), reason);
                }
            }
        }
        for src in ALLOW_SOURCES {
            for (m, n) in parse_allow(src).expect("data/allowlist*.toml is valid (tested)") {
                lists.allow.insert((m.to_string(), n.to_string()));
            }
        }
        for (m, n) in extra {
            lists.allow.insert((m.clone(), n.clone()));
        }
        lists
    }

    /// The process-wide default lists.
    pub fn builtin() -> &'static Lists {
        static L: OnceLock<Lists> = OnceLock::new();
        L.get_or_init(|| Lists::new(&[]))
    }

    /// Map a Python 2 module name to its Python 3 name, as the unpickler does.
    pub(crate) fn canonical_module<'a>(&'a self, module: &'a str) -> &'a str {
        self.aliases.get(module).map_or(module, String::as_str)
    }

    /// Map a Python 2 `(module, name)` to what `fix_imports` loads instead.
    pub(crate) fn canonical(&self, module: &str, name: &str) -> (String, String) {
        if let Some((m, n)) = self
            .name_aliases
            .get(&(module.to_string(), name.to_string()))
        {
            return (m.clone(), n.clone());
        }
        (self.canonical_module(module).to_string(), name.to_string())
    }

    fn deny_module(&self, module: &str) -> Option<&'static str> {
        // Every prefix: `asyncio.subprocess` is covered by `asyncio` (CVE-2025-10157).
        let mut m = module;
        loop {
            if let Some(r) = self.deny_modules.get(m) {
                return Some(r);
            }
            match m.rfind('.') {
                Some(i) => m = &m[..i],
                None => return None,
            }
        }
    }

    fn deny_name(&self, module: &str, name: &str) -> Option<&'static str> {
        self.deny_names
            .get(&(module.to_string(), name.to_string()))
            .copied()
    }

    /// Whether the exact pair is allowlisted.
    pub(crate) fn is_allowed(&self, module: &str, name: &str) -> bool {
        self.allow.contains(&(module.to_string(), name.to_string()))
    }

    /// Judge one imported global.
    pub(crate) fn classify(&self, module: &str, name: &str) -> Class {
        let module = self.canonical_module(module);
        if module.is_empty() || name.is_empty() {
            return Class::Traversal(format!("empty module or name in `{module}.{name}`"));
        }
        let parts: Vec<&str> = module.split('.').chain(name.split('.')).collect();
        // `__main__` is the loading script's module: a real module, not an attribute hop.
        let first_is_main = module == "__main__" || module.starts_with("__main__.");
        if let Some(p) = parts
            .iter()
            .skip(usize::from(first_is_main))
            .find(|p| p.starts_with("__") && p.ends_with("__") && p.len() > 4)
            && !(self.is_allowed(module, name))
        {
            return Class::Traversal(format!("reaches the special attribute `{p}`"));
        }
        if let Some(r) = self.deny_name(module, name) {
            return Class::Denied(r);
        }
        // A dotted name is resolved attribute by attribute; check every suffix of the full
        // path as if it were a module path plus name, so `pathlib.os.system` is caught as
        // `os.system` and `torch.serialization.pickle.loads` as `pickle.loads`.
        if name.contains('.') && !self.is_allowed(module, name) {
            let m_parts = module.split('.').count();
            for start in 1..parts.len() {
                let tail_mod = parts[start..parts.len() - 1].join(".");
                let last = parts[parts.len() - 1];
                if !tail_mod.is_empty()
                    && (self.deny_name(&tail_mod, last).is_some()
                        || self.deny_module(&tail_mod).is_some())
                {
                    return Class::Traversal(format!(
                        "hops through `{}` to reach `{tail_mod}.{last}`",
                        parts[..start.max(m_parts)].join(".")
                    ));
                }
            }
        }
        if self.is_allowed(module, name) {
            return Class::Safe;
        }
        if let Some(r) = self.deny_module(module) {
            return Class::Denied(r);
        }
        // `builtins.eval` spelled through a dotted name of an allowed module, e.g. `numpy.eval`,
        // is unknown, not safe: that is the allowlist's job.
        Class::Unknown
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(m: &str, n: &str) -> Class {
        Lists::builtin().classify(m, n)
    }

    #[test]
    fn allowlist_fast_parser_agrees_with_toml() {
        for src in ALLOW_SOURCES {
            let fast: HashSet<(String, String)> = parse_allow(src)
                .unwrap()
                .into_iter()
                .map(|(m, n)| (m.to_string(), n.to_string()))
                .collect();
            let slow: AllowFile = toml::from_str(src).unwrap();
            let slow: HashSet<(String, String)> = slow
                .allow
                .into_iter()
                .flat_map(|(m, ns)| ns.into_iter().map(move |n| (m.clone(), n)))
                .collect();
            assert_eq!(fast, slow);
            assert!(!fast.is_empty());
        }
        assert!(parse_allow("[deny]\n\"a\" = [\"b\"]").is_none());
        assert!(
            parse_allow("[allow]\n\"a\" = [\"b\"").is_none(),
            "unterminated array"
        );
    }

    #[test]
    fn denylist_covers_aliases_and_submodules() {
        assert!(matches!(c("posix", "system"), Class::Denied(_)));
        assert!(matches!(c("nt", "system"), Class::Denied(_)));
        assert!(matches!(
            c("asyncio.unix_events", "_UnixSubprocessTransport"),
            Class::Denied(_)
        ));
        assert!(matches!(c("__builtin__", "eval"), Class::Denied(_)));
        assert!(matches!(c("pip", "main"), Class::Denied(_)));
        assert!(matches!(c("pkgutil", "resolve_name"), Class::Denied(_)));
        assert!(matches!(c("torch", "load"), Class::Denied(_)));
    }

    #[test]
    fn allowlist_is_exact() {
        assert_eq!(c("torch._utils", "_rebuild_tensor_v2"), Class::Safe);
        assert_eq!(c("collections", "OrderedDict"), Class::Safe);
        assert_eq!(c("__builtin__", "set"), Class::Safe);
        assert_eq!(c("copy_reg", "_reconstructor"), Class::Safe);
        assert_eq!(c("torch._utils", "_rebuild_evil"), Class::Unknown);
        assert_eq!(c("mylib", "Model"), Class::Unknown);
        // Not a module-wide allow: a safe class's module does not make its siblings safe.
        assert!(matches!(c("builtins", "getattr"), Class::Denied(_)));
    }

    #[test]
    fn traversals_are_caught() {
        assert!(matches!(c("pathlib", "os.system"), Class::Traversal(_)));
        assert!(matches!(
            c("numpy", "__builtins__.eval"),
            Class::Traversal(_)
        ));
        assert!(matches!(
            c("torch.serialization", "pickle.loads"),
            Class::Traversal(_)
        ));
        assert!(matches!(
            c("collections", "OrderedDict.__init__"),
            Class::Traversal(_)
        ));
        assert!(matches!(c("", "x"), Class::Traversal(_)));
        // A nested class in an unknown module is only unknown.
        assert_eq!(c("mylib", "Outer.Inner"), Class::Unknown);
        assert_eq!(c("__main__", "Net"), Class::Unknown);
        assert!(matches!(c("__main__", "Net.__init__"), Class::Traversal(_)));
    }
}
