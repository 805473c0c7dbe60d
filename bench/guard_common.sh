# Shared by bench/guard.sh, bench/guard_ab.sh and bench/audit.sh (sourced, not run): the gateway config they
# serve and the request they send, so both benchmarks measure the same thing.

# The chat-completion request sent at a fixed rate.
body='{"model":"bench","messages":[{"role":"system","content":"You are a helpful assistant for a travel company."},{"role":"user","content":"I am planning a trip to France next spring with my family. What is the capital, and which neighbourhoods are good for a first visit with children?"}],"max_tokens":256}'

# Writes DIR/aigis.toml: one openai route to the upstream on UPSTREAM_PORT (default 18000), the
# gateway on PORT (default 18002), full default chains, then EXTRA (more TOML, e.g. an audit
# section). One key sends all the load: per-key and per-IP rates off, shedding at the default.
#   write_guard_config DIR [PORT UPSTREAM_PORT [EXTRA]]
write_guard_config() {
  cat > "$1/aigis.toml" <<TOML
[guard.serve]
listen = "127.0.0.1:${2:-18002}"
keys = "keys.db"
[[guard.serve.routes]]
name = "chat"
kind = "openai"
prefix = "/v1"
upstream = "http://127.0.0.1:${3:-18000}"
[guard.serve.limits]
key-requests-per-minute = 0
ip-requests-per-minute = 0
key-concurrency = 0
${4:-}
TOML
}
