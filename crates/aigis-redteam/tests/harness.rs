//! The harness against misbehaving targets (429s, non-JSON, cut-off and endless answers,
//! unreachable and non-TLS endpoints), interruption and resuming from the cache, the HTTP
//! JSON and command targets, and the report formats.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use aigis_redteam::cache::Cache;
use aigis_redteam::harness::{self, Options, Outcome, RunResult};
use aigis_redteam::probes::{self, Selection};
use aigis_redteam::report::{self, Gate};
use aigis_redteam::target::{
    CommandTarget, HttpTarget, Kind, OpenAiTarget, Selector, Settings, Target,
};
use aigis_redteam::vulnerable::{self, Behaviour};
use axum::body::Body;
use axum::response::IntoResponse;
use serde_json::{Value, json};

fn fast() -> Settings {
    Settings {
        timeout: Duration::from_secs(5),
        retries: 3,
        backoff: Duration::from_millis(5),
        ca_file: None,
    }
}

fn openai(base: &str, s: Settings) -> Arc<Target> {
    let t = OpenAiTarget::new(base, "m", None, 256, 0.0).expect("target");
    Arc::new(Target::new(Kind::OpenAi(t), s).expect("client"))
}

fn sel(probes: &[&str], max: usize) -> Selection {
    Selection {
        probes: probes.iter().map(|s| (*s).to_string()).collect(),
        max_per_probe: max,
        ..Selection::default()
    }
}

async fn run_with(
    target: Arc<Target>,
    s: &Selection,
    opts: Options,
    cache: Option<Arc<Cache>>,
) -> RunResult {
    let (_tx, rx) = tokio::sync::watch::channel(false);
    harness::run(
        target,
        probes::build(s).expect("cases"),
        opts,
        cache,
        None,
        Arc::new(|_| {}),
        rx,
    )
    .await
}

/// Run `probe` (its first prompt) against `base`; the run and the first attempt's error.
async fn first_error(base: &str, settings: Settings, probe: &str) -> (RunResult, String) {
    let r = run_with(
        openai(base, settings),
        &sel(&[probe], 1),
        Options::default(),
        None,
    )
    .await;
    let Outcome::Error(e) = &r.attempts[0].outcome else {
        panic!("{base}: {:?}", r.attempts[0].outcome)
    };
    let e = e.clone();
    (r, e)
}

/// A server whose chat endpoint is `handler`.
async fn server<H, T>(handler: H) -> SocketAddr
where
    H: axum::handler::Handler<T, ()>,
    T: 'static,
{
    let app = axum::Router::new().route("/v1/chat/completions", axum::routing::post(handler));
    let l = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = l.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(l, app).await;
    });
    addr
}

fn completion(text: &str) -> Value {
    json!({"choices": [{"message": {"role": "assistant", "content": text}, "finish_reason": "stop"}]})
}

#[tokio::test]
async fn throttled_answers_are_retried_after_retry_after_and_counted() {
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    let addr = server(|| async {
        if CALLS.fetch_add(1, Ordering::SeqCst) < 2 {
            (
                axum::http::StatusCode::TOO_MANY_REQUESTS,
                [("retry-after", "0")],
                "slow down",
            )
                .into_response()
        } else {
            axum::Json(completion("fine")).into_response()
        }
    })
    .await;
    let r = run_with(
        openai(&format!("http://{addr}/v1"), fast()),
        &sel(&["prompt_injection.ignore_previous"], 1),
        Options {
            concurrency: 1,
            ..Options::default()
        },
        None,
    )
    .await;
    assert!(r.incomplete.is_none(), "{:?}", r.incomplete);
    assert_eq!((r.throttled, r.retried), (2, 2));
    assert!(matches!(&r.attempts[0].outcome, Outcome::Answered(a) if a.text == "fine"));
    let rep = report::build(&r, &Gate::default(), "t", json!({}));
    assert_eq!((rep.throttled, rep.attempts, rep.successes), (2, 1, 0));
}

#[tokio::test]
async fn bad_answers_make_a_partial_report_marked_incomplete() {
    // Non-JSON, a body cut short of its Content-Length, and an endless body.
    let not_json = server(|| async { "<html>gateway</html>" }).await;
    let cut = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = l.local_addr().expect("addr");
        std::thread::spawn(move || {
            use std::io::{Read as _, Write as _};
            for s in l.incoming() {
                let Ok(mut s) = s else { continue };
                let mut buf = vec![0u8; 65536];
                let _ = s.read(&mut buf);
                let _ = s.write_all(
                    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 500\r\n\r\n{\"choices\":",
                );
            }
        });
        addr
    };
    let endless = server(|| async {
        let chunk = axum::body::Bytes::from(vec![b'a'; 64 * 1024]);
        let s = futures_util::stream::StreamExt::map(
            futures_util::stream::repeat(chunk),
            Ok::<_, std::io::Error>,
        );
        Body::from_stream(s)
    })
    .await;
    for (addr, want) in [
        (not_json, "not JSON"),
        (cut, "cut off"),
        (endless, "longer than 8 MiB"),
    ] {
        let (r, e) = first_error(&format!("http://{addr}/v1"), fast(), "encoding.base64").await;
        assert!(e.contains(want), "{e}");
        let rep = report::build(&r, &Gate::default(), "t", json!({}));
        assert!(!rep.complete);
        assert_eq!(rep.errors, rep.attempts);
        assert!(
            rep.incomplete_reason
                .as_deref()
                .is_some_and(|m| m.contains("got no answer"))
        );
        assert!(rep.error_samples[0].contains(want));
        assert!(!rep.failed(), "errors are not successes");
    }
}

#[tokio::test]
async fn an_unreachable_target_stops_the_run_early() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let r = run_with(
        openai(&format!("http://127.0.0.1:{port}/v1"), fast()),
        &Selection::default(),
        Options {
            concurrency: 2,
            abort_after: 4,
            ..Options::default()
        },
        None,
    )
    .await;
    let reason = r.incomplete.expect("incomplete");
    assert!(
        reason.contains("stopped after 4 attempts in a row failed"),
        "{reason}"
    );
    assert!(
        reason.contains("Connect") || reason.contains("refused"),
        "{reason}"
    );
    let skipped = r
        .attempts
        .iter()
        .filter(|a| a.outcome == Outcome::Skipped)
        .count();
    assert!(
        skipped > r.attempts.len() / 2,
        "{skipped} of {}",
        r.attempts.len()
    );
    // https:// against a plain HTTP server is a TLS error, named as such.
    let plain = server(|| async { axum::Json(completion("x")) }).await;
    let (_, e) = first_error(&format!("https://{plain}/v1"), fast(), "encoding.hex").await;
    assert!(e.starts_with(&format!("https://{plain}")), "{e}");
}

#[tokio::test]
async fn an_interrupted_run_resumes_from_the_cache_without_asking_twice() {
    let (addr, served) =
        vulnerable::spawn("127.0.0.1:0".parse().expect("addr"), Behaviour::default())
            .await
            .expect("bind");
    let dir = tempfile::tempdir().expect("dir");
    let cache = Arc::new(Cache::open(&dir.path().join("c.sqlite")).expect("cache"));
    let target = openai(&format!("http://{addr}/v1"), fast());
    let s = sel(&["jailbreak", "encoding"], 0);
    let cases = probes::build(&s).expect("cases");
    let total = cases.len();
    // Stop after ten answers.
    let (tx, rx) = tokio::sync::watch::channel(false);
    let progress = Arc::new(move |p: harness::Progress| {
        if p.done >= 10 {
            let _ = tx.send(true);
        }
    });
    let opts = Options {
        concurrency: 1,
        ..Options::default()
    };
    let first = harness::run(
        target.clone(),
        cases,
        opts.clone(),
        Some(cache.clone()),
        None,
        progress,
        rx,
    )
    .await;
    let reason = first.incomplete.clone().expect("interrupted");
    assert!(reason.starts_with("interrupted"), "{reason}");
    let answered = first
        .attempts
        .iter()
        .filter(|a| matches!(a.outcome, Outcome::Answered(_)))
        .count();
    assert!((10..total).contains(&answered), "{answered} of {total}");
    let rep = report::build(&first, &Gate::default(), "t", json!({}));
    assert!(!rep.complete && rep.errors == total - answered);
    let served_first = served.load(Ordering::SeqCst) as usize;
    assert_eq!(served_first, answered);

    let second = run_with(target, &s, opts, Some(cache)).await;
    assert!(second.incomplete.is_none(), "{:?}", second.incomplete);
    let cached = second.attempts.iter().filter(|a| a.cached).count();
    assert_eq!(cached, answered);
    assert_eq!(
        served.load(Ordering::SeqCst) as usize,
        total,
        "nothing asked twice"
    );
    // The cached replies are judged the same way.
    let rep = report::build(&second, &Gate::default(), "t", json!({}));
    assert_eq!(rep.successes, rep.attempts);
    assert_eq!(rep.cached, answered);
}

#[tokio::test]
async fn json_http_and_command_targets() {
    // A KServe-like API in front of the vulnerable target's logic.
    let addr = server(|body: axum::body::Bytes| async move {
        let v: Value = serde_json::from_slice(&body).unwrap_or_default();
        let text = v["inputs"][0]["data"][0]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let req = vulnerable::parse(&json!({"messages": [
            {"role": "system", "content": v["parameters"]["system"]},
            {"role": "user", "content": text}]}))
        .unwrap_or_default();
        let a = vulnerable::answer(&req, Behaviour::default());
        axum::Json(json!({"outputs": [{"name": "text", "data": [a.text]}]}))
    })
    .await;
    let t = HttpTarget::new(
        &format!("http://{addr}/v1/chat/completions"),
        r#"{"inputs": [{"name": "prompt", "data": ["{{prompt}}"]}], "parameters": {"system": "{{system}}"}}"#,
        Selector::parse("$.outputs[0].data[0]").expect("selector"),
        vec![("x-team".into(), "red".into())],
        None,
    )
    .expect("target");
    let target = Arc::new(Target::new(Kind::Http(t), fast()).expect("client"));
    let r = run_with(
        target,
        &sel(&["system_prompt_extraction", "prompt_injection"], 2),
        Options::default(),
        None,
    )
    .await;
    let rep = report::build(&r, &Gate::default(), "t", json!({}));
    assert!(rep.complete);
    assert_eq!(rep.successes, rep.attempts, "{}", rep.to_table());
    assert_eq!(rep.target["kind"], "http");

    // `cat` echoes the attack: markers count, the canary (only in the env) does not.
    let cmd = CommandTarget::new("cat", vec![]).expect("command");
    let target = Arc::new(Target::new(Kind::Command(cmd), fast()).expect("client"));
    let r = run_with(
        target,
        &sel(&["prompt_injection", "system_prompt_extraction"], 1),
        Options::default(),
        None,
    )
    .await;
    let rep = report::build(&r, &Gate::default(), "t", json!({}));
    assert!(rep.complete, "{:?}", rep.error_samples);
    let fam = |n: &str| {
        rep.families
            .iter()
            .find(|f| f.mapping.family == n)
            .expect("family")
            .counts
            .clone()
    };
    assert_eq!(
        fam("prompt_injection").successes,
        fam("prompt_injection").attempts
    );
    assert_eq!(fam("system_prompt_extraction").successes, 0);
    // A command that fails is an error naming it.
    let cmd = CommandTarget::new("false", vec![]).expect("command");
    let target = Arc::new(Target::new(Kind::Command(cmd), fast()).expect("client"));
    let r = run_with(target, &sel(&["encoding.hex"], 1), Options::default(), None).await;
    assert!(
        matches!(&r.attempts[0].outcome, Outcome::Error(e) if e.contains("--command false exited")),
        "{:?}",
        r.attempts[0].outcome
    );
}

#[tokio::test]
async fn a_judge_confirms_or_removes_mitigation_bypass_successes() {
    let (addr, _) = vulnerable::spawn("127.0.0.1:0".parse().expect("addr"), Behaviour::default())
        .await
        .expect("bind");
    let s = sel(&["jailbreak.dan", "prompt_injection.ignore_previous"], 1);
    for (verdict, want_jailbreak, note) in [
        ("NO, it refused.", 0, ""),
        ("YES", 1, " (judge: yes)"),
        (
            "Maybe",
            1,
            " (judge unavailable: the judge answered neither YES nor NO: Maybe)",
        ),
    ] {
        let judge_addr = server(move || async move { axum::Json(completion(verdict)) }).await;
        let judge = harness::Judge {
            target: Target::new(
                Kind::OpenAi(
                    OpenAiTarget::new(&format!("http://{judge_addr}/v1"), "judge", None, 8, 0.0)
                        .expect("judge"),
                ),
                fast(),
            )
            .expect("client"),
        };
        let (_tx, rx) = tokio::sync::watch::channel(false);
        let r = harness::run(
            openai(&format!("http://{addr}/v1"), fast()),
            probes::build(&s).expect("cases"),
            Options::default(),
            None,
            Some(Arc::new(judge)),
            Arc::new(|_| {}),
            rx,
        )
        .await;
        let by = |fam: &str| {
            r.attempts
                .iter()
                .find(|a| a.case.family.name == fam)
                .expect("attempt")
        };
        let jb = by("jailbreak");
        assert_eq!(usize::from(jb.hit.is_some()), want_jailbreak, "{verdict}");
        if let Some(h) = &jb.hit {
            assert!(h.evidence.ends_with(note), "{}", h.evidence);
        }
        // Marker successes are facts, not opinions: the judge is not asked.
        assert!(by("prompt_injection").hit.is_some(), "{verdict}");
    }
}

#[tokio::test]
async fn a_slow_endless_answer_ends_at_the_deadline_without_retries() {
    let addr = server(|| async {
        let s = futures_util::stream::unfold((), |()| async {
            tokio::time::sleep(Duration::from_millis(20)).await;
            Some((
                Ok::<_, std::io::Error>(axum::body::Bytes::from_static(b"data: a\n\n")),
                (),
            ))
        });
        Body::from_stream(s)
    })
    .await;
    let settings = Settings {
        timeout: Duration::from_millis(400),
        ..fast()
    };
    let started = std::time::Instant::now();
    let (r, e) = first_error(&format!("http://{addr}/v1"), settings, "encoding.hex").await;
    assert!(
        e.contains("still arriving") && e.contains("endless stream"),
        "{e}"
    );
    assert_eq!(r.retried, 0, "an endless stream is not retried");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_private_ca_is_refused_until_it_is_given() {
    use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
    use tower::ServiceExt as _;
    let cert = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).expect("cert");
    let cfg = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_no_client_auth()
    .with_single_cert(
        vec![CertificateDer::from(cert.cert.der().to_vec())],
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(cert.signing_key.serialize_der())),
    )
    .expect("server config");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(cfg));
    let l = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = l.local_addr().expect("addr");
    let app = vulnerable::router(Behaviour::default(), Arc::default());
    tokio::spawn(async move {
        while let Ok((tcp, _)) = l.accept().await {
            let (acceptor, app) = (acceptor.clone(), app.clone());
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let svc = hyper::service::service_fn(
                    move |req: hyper::Request<hyper::body::Incoming>| {
                        app.clone().oneshot(req.map(Body::new))
                    },
                );
                let _ = hyper_util::server::conn::auto::Builder::new(
                    hyper_util::rt::TokioExecutor::new(),
                )
                .serve_connection(hyper_util::rt::TokioIo::new(tls), svc)
                .await;
            });
        }
    });
    let base = format!("https://{addr}/v1");
    let (r, e) = first_error(&base, fast(), "encoding.hex").await;
    assert!(e.contains("--ca-file"), "{e}");
    assert_eq!(r.retried, 0, "a certificate problem is not retried");
    let dir = tempfile::tempdir().expect("dir");
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, cert.cert.pem()).expect("write");
    let trusted = Settings {
        ca_file: Some(ca),
        ..fast()
    };
    let r = run_with(
        openai(&base, trusted),
        &sel(&["encoding.hex"], 1),
        Options::default(),
        None,
    )
    .await;
    assert!(
        matches!(r.attempts[0].outcome, Outcome::Answered(_)),
        "{:?}",
        r.attempts[0].outcome
    );
    assert!(r.attempts[0].hit.is_some());
}
