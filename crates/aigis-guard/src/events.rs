//! Publishing the gateway's events to NATS JetStream for other consumers (a SIEM bridge, a
//! second detector, an incident tool): every decision on `<subject>.decision`, every
//! detector alert on `<subject>.alert` and every kill-switch change on
//! `<subject>.killswitch`, JSON — aigis's own objects, or OCSF (6003, 2004, 3004) or ECS
//! documents (`events-schema`) — into a stream the gateway creates if it is missing. A task of its own publishes and waits for JetStream's acknowledgement, so the
//! request path only queues; what cannot be queued or published is counted and logged.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use aigis_monitor::detect::{Alert, Change, Event, schema};
use serde_json::Value;

/// The form events are published in (`[guard.serve] events-schema`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EventSchema {
    /// aigis's own objects (as the audit log and `aigis monitor detect -f json` write them).
    #[default]
    Aigis,
    /// OCSF 1.8: 6003 API Activity, 2004 Detection Finding, 3004 Entity Management.
    Ocsf,
    /// Elastic Common Schema 9.
    Ecs,
}

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
    schema: EventSchema,
    stats: Arc<PublishStats>,
}

impl EventPublisher {
    /// Connects to `url`, makes sure stream `stream` captures `subject.>` and starts the task;
    /// events go out in `schema`.
    pub async fn connect(
        url: &str,
        subject: &str,
        stream: &str,
        schema: EventSchema,
    ) -> Result<Self, String> {
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
            schema,
            stats,
        })
    }

    /// Queues a decision in the configured schema.
    pub fn decision(&self, e: &Event) {
        self.emit("decision", e, schema::ocsf_api_activity, schema::ecs_event);
    }

    /// Queues an alert in the configured schema.
    pub fn alert(&self, a: &Alert) {
        self.emit(
            "alert",
            a,
            schema::ocsf_detection_finding,
            schema::ecs_alert,
        );
    }

    /// Queues a kill-switch change in the configured schema.
    pub fn change(&self, c: &Change) {
        self.emit(
            "killswitch",
            c,
            schema::ocsf_entity_management,
            schema::ecs_change,
        );
    }

    /// Serialises `item` in the configured schema (aigis's own objects straight to bytes, no
    /// intermediate JSON tree: decisions are one per request) and queues it.
    fn emit<T: serde::Serialize>(
        &self,
        kind: &str,
        item: &T,
        ocsf: fn(&T) -> Value,
        ecs: fn(&T) -> Value,
    ) {
        let bytes = match self.schema {
            EventSchema::Aigis => serde_json::to_vec(item).ok(),
            EventSchema::Ocsf => Some(ocsf(item).to_string().into_bytes()),
            EventSchema::Ecs => Some(ecs(item).to_string().into_bytes()),
        };
        if let Some(b) = bytes {
            self.publish(kind, b);
        }
    }

    /// Queues an event of `kind` (`decision`, `alert`, `killswitch`) without waiting.
    fn publish(&self, kind: &str, payload: Vec<u8>) {
        let item = Msg::Event(format!("{}.{kind}", self.subject), payload);
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
