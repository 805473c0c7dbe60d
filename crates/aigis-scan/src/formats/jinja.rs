//! Static analysis of Jinja chat templates (GGUF `tokenizer.chat_template`, Hugging Face
//! `tokenizer_config.json`, `.jinja` files). Servers render these templates with the model's
//! own text; a template that reaches Python internals is server-side template injection
//! (CVE-2024-34359, CVE-2026-5760). Benign chat templates use loops, conditionals, `raise_exception`,
//! `namespace`, `|tojson`, `|trim` and slicing, none of which trip these checks.

use aigis_core::Severity;

/// One problem in a template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Hit {
    pub severity: Severity,
    pub why: &'static str,
    pub snippet: String,
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Str(String),
    Punct(char),
    Num,
}

fn unescape(s: &str) -> String {
    let mut out = String::new();
    let mut it = s.chars().peekable();
    while let Some(c) = it.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match it.next() {
            Some('x') => {
                let h: String = it.by_ref().take(2).collect();
                out.extend(u32::from_str_radix(&h, 16).ok().and_then(char::from_u32));
            }
            Some('u') => {
                let h: String = it.by_ref().take(4).collect();
                out.extend(u32::from_str_radix(&h, 16).ok().and_then(char::from_u32));
            }
            Some('U') => {
                let h: String = it.by_ref().take(8).collect();
                out.extend(u32::from_str_radix(&h, 16).ok().and_then(char::from_u32));
            }
            Some(d @ '0'..='7') => {
                let mut v = d.to_digit(8).unwrap_or(0);
                while let Some(n) = it.peek().and_then(|c| c.to_digit(8)) {
                    v = v * 8 + n;
                    it.next();
                    if v > 0o77 {
                        break;
                    }
                }
                out.extend(char::from_u32(v));
            }
            Some('n') => out.push('\n'),
            Some(o) => out.push(o),
            None => {}
        }
    }
    out
}

fn tokens(expr: &str) -> Vec<Tok> {
    let b: Vec<char> = expr.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '\'' || c == '"' {
            let mut j = i + 1;
            while j < b.len() && b[j] != c {
                if b[j] == '\\' {
                    j += 1;
                }
                j += 1;
            }
            let raw: String = b[i + 1..j.min(b.len())].iter().collect();
            out.push(Tok::Str(unescape(&raw)));
            i = j + 1;
        } else if c.is_alphabetic() || c == '_' {
            let mut j = i;
            while j < b.len() && (b[j].is_alphanumeric() || b[j] == '_') {
                j += 1;
            }
            out.push(Tok::Ident(b[i..j].iter().collect()));
            i = j;
        } else if c.is_ascii_digit() {
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == '.') {
                i += 1;
            }
            out.push(Tok::Num);
        } else {
            out.push(Tok::Punct(c));
            i += 1;
        }
        if out.len() > 100_000 {
            break;
        }
    }
    out
}

/// The expression and statement blocks of a template (`{{ … }}`, `{% … %}`), in order.
fn blocks(t: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = t;
    while let Some(p) = rest.find(['{']) {
        let after = &rest[p + 1..];
        let close = match after.chars().next() {
            Some('{') => "}}",
            Some('%') => "%}",
            _ => {
                rest = after;
                continue;
            }
        };
        let body = &after[1..];
        if let Some(e) = body.find(close) {
            out.push(&body[..e]);
            rest = &body[e + 2..];
        } else {
            out.push(body);
            break;
        }
        if out.len() > 100_000 {
            break;
        }
    }
    out
}

fn dunder(s: &str) -> bool {
    s.contains("__")
}

/// Analyse a template; returns every problem found (deduplicated by reason).
pub(crate) fn analyse(template: &str) -> Vec<Hit> {
    let mut hits: Vec<Hit> = Vec::new();
    let mut add = |severity, why, snippet: &str| {
        if !hits.iter().any(|h: &Hit| h.why == why) {
            hits.push(Hit {
                severity,
                why,
                snippet: snippet.chars().take(160).collect(),
            });
        }
    };
    for block in blocks(template) {
        let toks = tokens(block);
        let snippet = block.trim();
        if let Some(Tok::Ident(kw)) = toks.first()
            && ["import", "include", "extends", "from"].contains(&kw.as_str())
        {
            add(
                Severity::Medium,
                "template loads other templates from the server's file system",
                snippet,
            );
        }
        for (i, t) in toks.iter().enumerate() {
            let prev = if i > 0 { toks.get(i - 1) } else { None };
            let next = toks.get(i + 1);
            match t {
                Tok::Ident(id) if dunder(id) && matches!(prev, Some(Tok::Punct('.'))) => {
                    add(
                        Severity::Critical,
                        "template reads a special (dunder) attribute",
                        snippet,
                    );
                }
                Tok::Ident(id) if dunder(id) => {
                    add(
                        Severity::Critical,
                        "template names a special (dunder) identifier",
                        snippet,
                    );
                }
                Tok::Str(s) if dunder(s) && matches!(prev, Some(Tok::Punct('['))) => {
                    add(
                        Severity::Critical,
                        "template subscripts a special (dunder) attribute",
                        snippet,
                    );
                }
                Tok::Str(s) if dunder(s) => {
                    add(
                        Severity::High,
                        "template holds a string naming a special attribute",
                        snippet,
                    );
                }
                Tok::Str(s) if !s.is_empty() && s.chars().all(|c| c == '_') => {
                    add(
                        Severity::High,
                        "template builds a name out of underscores",
                        snippet,
                    );
                }
                Tok::Str(s) if s.contains("%c") && matches!(next, Some(Tok::Punct('|' | '%'))) => {
                    add(
                        Severity::High,
                        "template formats characters into a string",
                        snippet,
                    );
                }
                Tok::Ident(id) if id == "attr" && matches!(prev, Some(Tok::Punct('|'))) => {
                    add(
                        Severity::High,
                        "template uses the attr filter to reach attributes by name",
                        snippet,
                    );
                }
                Tok::Ident(id)
                    if matches!(prev, Some(Tok::Punct('|')))
                        && ["map", "select", "reject", "selectattr", "rejectattr"]
                            .contains(&id.as_str())
                        && toks[i..]
                            .iter()
                            .take(8)
                            .any(|t| matches!(t, Tok::Str(s) if dunder(s))) =>
                {
                    add(
                        Severity::Critical,
                        "template maps a special attribute over values",
                        snippet,
                    );
                }
                _ => {}
            }
        }
    }
    hits.sort_by_key(|h| std::cmp::Reverse(h.severity));
    hits
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn benign_chat_templates_pass() {
        let llama = "{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}{% else %}\
{% set loop_messages = messages %}{% endif %}{% for message in loop_messages %}\
{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate') }}{% endif %}\
{{ bos_token + '[INST] ' + message['content'].strip() + ' [/INST]' }}{% endfor %}\
{% set ns = namespace(found=false) %}{{ message['content'] | tojson | trim }}{{ eos_token }}";
        assert!(analyse(llama).is_empty(), "{:?}", analyse(llama));
    }

    #[test]
    fn ssti_payloads_are_caught() {
        let cases = [
            "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
            "{{ self._TemplateReference__context.joiner.__init__.__globals__ }}",
            "{{ ''['__class__'] }}",
            "{{ x|attr('\\x5f\\x5fclass\\x5f\\x5f') }}",
            "{% set a = '_' * 2 %}{{ lipsum|attr(a ~ 'globals' ~ a) }}",
            "{{ ('%c%c'|format(95,95)) }}",
            "{% include '/etc/passwd' %}",
        ];
        for c in cases {
            assert!(!analyse(c).is_empty(), "missed {c}");
        }
        assert_eq!(analyse(cases[0])[0].severity, Severity::Critical);
    }

    #[test]
    fn unterminated_blocks_do_not_panic() {
        let _ = analyse("{{ '__class__");
        let _ = analyse("{%");
        let _ = analyse("{");
        let _ = analyse("{{ 'a\\");
    }
}
