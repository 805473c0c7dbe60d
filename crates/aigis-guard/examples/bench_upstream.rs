//! A minimal OpenAI-compatible upstream for the gateway latency benchmark (`bench/guard.sh`):
//! answers `POST /v1/chat/completions` at once with a fixed completion.
//!
//! `cargo run --release -p aigis-guard --example bench_upstream -- 127.0.0.1:18000`

const ANSWER: &str = r#"{"id":"cmpl-1","object":"chat.completion","model":"bench","choices":[{"index":0,"message":{"role":"assistant","content":"The capital of France is Paris."},"finish_reason":"stop"}],"usage":{"prompt_tokens":24,"completion_tokens":8,"total_tokens":32}}"#;

fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:18000".into());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let app = axum::Router::new().route(
            "/v1/chat/completions",
            axum::routing::post(|| async {
                (
                    [(axum::http::header::CONTENT_TYPE, "application/json")],
                    ANSWER,
                )
            }),
        );
        let l = tokio::net::TcpListener::bind(&addr).await?;
        eprintln!("bench upstream on http://{addr}");
        axum::serve(l, app).await
    })
}
