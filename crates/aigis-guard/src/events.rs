//! Publishing the gateway's events to NATS JetStream for other consumers (a SIEM bridge, a
//! second detector, an incident tool): every decision on `<subject>.decision` and every
//! detector alert on `<subject>.alert`, JSON, into a stream the gateway creates if it is
//! missing. A task of its own publishes and waits for JetStream's acknowledgement, so the
//! request path only queues; what cannot be queued or published is counted and logged.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::Value;

/// Counters of the publisher.
#[derive(Debug, Default)]
pub struct PublishStats {
    /// Events acknowledged by JetStream.
    pub published: AtomicU64,
    /// Events that failed to publish.
    pub failed: AtomicU64,
    /// Events dropped because the queue was full.
    pub dropped: AtomicU64,
}

enum Msg {
    Event(String, Vec<u8>),
    /// Answered once everything queued before it has been published (or failed).
    Flush(tokio::sync::oneshot::Sender<()>),
}

/// A handle to the publishing task.
pub struct EventPublisher {
    tx: tokio::sync::mpsc::Sender<Msg>,
    subject: String,
    stats: Arc<PublishStats>,
}

impl EventPublisher {
    /// Connects to `url`, makes sure stream `stream` captures `subject.>` and starts the task.
    pub async fn connect(url: &str, subject: &str, stream: &str) -> Result<Self, String> {
        let client =
            tokio::time::timeout(std::time::Duration::from_secs(5), async_nats::connect(url))
                .await
                .map_err(|_| format!("NATS {url}: no connection within 5 s"))?
                .map_err(|e| format!("NATS {url}: {e}"))?;
        let js = async_nats::jetstream::new(client);
        js.get_or_create_stream(async_nats::jetstream::stream::Config {
            name: stream.to_string(),
            subjects: vec![format!("{subject}.>")],
            ..Default::default()
        })
        .await
        .map_err(|e| format!("NATS {url}: stream {stream}: {e}"))?;
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Msg>(8192);
        let stats = Arc::new(PublishStats::default());
        let st = stats.clone();
        tokio::spawn(async move {
            while let Some(msg) = rx.recv().await {
                let (subj, payload) = match msg {
                    Msg::Event(s, p) => (s, p),
                    Msg::Flush(done) => {
                        let _ = done.send(());
                        continue;
                    }
                };
                let acked = match js.publish(subj, payload.into()).await {
                    Ok(ack) => ack.await.map(|_| ()).map_err(|e| e.to_string()),
                    Err(e) => Err(e.to_string()),
                };
                match acked {
                    Ok(()) => st.published.fetch_add(1, Ordering::Relaxed),
                    Err(e) => {
                        eprintln!("aigis guard: NATS publish: {e}");
                        st.failed.fetch_add(1, Ordering::Relaxed)
                    }
                };
            }
        });
        Ok(Self {
            tx,
            subject: subject.to_string(),
            stats,
        })
    }

    /// Queues an event of `kind` (`decision`, `alert`) without waiting.
    pub fn publish(&self, kind: &str, event: &Value) {
        let item = Msg::Event(
            format!("{}.{kind}", self.subject),
            event.to_string().into_bytes(),
        );
        if self.tx.try_send(item).is_err() {
            self.stats.dropped.fetch_add(1, Ordering::Relaxed);
            eprintln!("aigis guard: the NATS event queue is full; an event was dropped");
        }
    }

    /// Waits (at most `limit`) until every event queued so far is published — at shutdown,
    /// so the last requests' events are not lost with the process.
    pub async fn flush(&self, limit: std::time::Duration) {
        let (done, wait) = tokio::sync::oneshot::channel();
        if self.tx.send(Msg::Flush(done)).await.is_ok() {
            let _ = tokio::time::timeout(limit, wait).await;
        }
    }

    /// The counters.
    pub fn stats(&self) -> &PublishStats {
        &self.stats
    }
}
