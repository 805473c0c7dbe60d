//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::sync::Arc;

use aigis_redteam::target::{Kind, OpenAiTarget, Settings, Target};
use aigis_redteam::vulnerable::{self, Behaviour};

/// A reference target on a free port and an OpenAI target pointing at it (streaming or not).
pub async fn reference(hardened: bool, max_tokens: u32, stream: bool) -> Arc<Target> {
    let (addr, _) = vulnerable::spawn("127.0.0.1:0".parse().expect("addr"), Behaviour { hardened })
        .await
        .expect("bind");
    let t = OpenAiTarget::new(
        &format!("http://{addr}/v1"),
        "aigis-vulnerable-1",
        None,
        max_tokens,
        0.0,
    )
    .expect("target")
    .streaming(stream);
    Arc::new(Target::new(Kind::OpenAi(t), Settings::default()).expect("client"))
}
