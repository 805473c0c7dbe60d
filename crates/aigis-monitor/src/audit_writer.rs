//! The audit writer: a thread of its own owns the [`AuditLog`], so appends never block an
//! async worker (a disk flush or a database round trip would stall every request on it).
//! Requests hand their record over a bounded queue and get the result through a callback;
//! whatever has queued up while one batch was written goes out as the next batch — one write
//! and one flush (file) or one `INSERT` (PostgreSQL) for all of them, i.e. group commit. A full
//! queue is refused at once rather than waited on, and a checkpoint is signed every N records,
//! every T seconds while records arrive, and when the writer is closed.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, SyncSender, TrySendError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value};

use crate::audit::{AuditError, AuditLog};

/// Receives the sequence number of a written record, or why it was not written.
pub type Reply = Box<dyn FnOnce(Result<u64, String>) + Send>;

enum Msg {
    Append(Map<String, Value>, Reply),
    Close(mpsc::Sender<Result<(), String>>),
}

/// Why a record was not taken.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum Rejected {
    /// The queue is full: the store cannot keep up.
    #[error("the audit queue is full")]
    Full,
    /// The writer has stopped.
    #[error("the audit writer has stopped")]
    Closed,
}

/// Counters of the writer, for metrics.
#[derive(Debug, Default)]
pub struct WriterStats {
    /// Records written by this process.
    pub records: AtomicU64,
    /// Unix time (seconds) of the last checkpoint; 0 before the first.
    pub last_checkpoint: AtomicU64,
    /// Records in the whole log.
    pub log_size: AtomicU64,
}

/// Tuning of an [`AuditWriter`].
#[derive(Clone, Copy, Debug)]
pub struct WriterOptions {
    /// Records that may wait for the writer; beyond this, [`AuditWriter::submit`] refuses.
    pub queue: usize,
    /// Most records in one batch.
    pub max_batch: usize,
    /// A checkpoint at least this often while records arrive (`None`: by count only).
    pub interval: Option<Duration>,
}

impl Default for WriterOptions {
    fn default() -> Self {
        Self {
            queue: 8192,
            max_batch: 512,
            interval: Some(Duration::from_secs(10)),
        }
    }
}

/// A handle to the writer thread.
pub struct AuditWriter {
    tx: SyncSender<Msg>,
    stats: Arc<WriterStats>,
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl AuditWriter {
    /// Opens the log with `open` on a new thread (stores whose clients must not run inside an
    /// async runtime are opened there too) and returns once it is open.
    /// If the store fails later, `open` is called again to reopen it.
    pub fn start(
        mut open: impl FnMut() -> Result<AuditLog, AuditError> + Send + 'static,
        options: WriterOptions,
    ) -> Result<Self, AuditError> {
        let (tx, rx) = mpsc::sync_channel::<Msg>(options.queue.max(1));
        let (ready_tx, ready_rx) = mpsc::channel::<Result<(), AuditError>>();
        let stats = Arc::new(WriterStats::default());
        let thread_stats = stats.clone();
        std::thread::Builder::new()
            .name("aigis-audit".into())
            .spawn(move || {
                let log = match open() {
                    Ok(log) => {
                        let _ = ready_tx.send(Ok(()));
                        log
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                run(log, &mut open, &rx, options, &thread_stats);
            })
            .map_err(|e| AuditError::Store(format!("starting the audit writer: {e}")))?;
        match ready_rx.recv() {
            Ok(Ok(())) => Ok(Self { tx, stats }),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(AuditError::Store(
                "the audit writer stopped at start".into(),
            )),
        }
    }

    /// Queues `record`; `reply` is called with the outcome once it is written (or failed).
    /// Never blocks: a full queue or a stopped writer is refused at once.
    pub fn submit(&self, record: Map<String, Value>, reply: Reply) -> Result<(), Rejected> {
        self.tx
            .try_send(Msg::Append(record, reply))
            .map_err(|e| match e {
                TrySendError::Full(_) => Rejected::Full,
                TrySendError::Disconnected(_) => Rejected::Closed,
            })
    }

    /// Writes what is queued, signs a final checkpoint and stops the writer (blocking: call it
    /// from a thread that may block). Later submissions are refused.
    pub fn close(&self) -> Result<(), String> {
        let (ack_tx, ack_rx) = mpsc::channel();
        self.tx
            .send(Msg::Close(ack_tx))
            .map_err(|_| "the audit writer has stopped".to_string())?;
        ack_rx
            .recv()
            .unwrap_or_else(|_| Err("the audit writer stopped".into()))
    }

    /// The writer's counters.
    pub fn stats(&self) -> &WriterStats {
        &self.stats
    }
}

fn checkpoint(log: Option<&mut AuditLog>, stats: &WriterStats) -> Result<(), String> {
    let log = log.ok_or_else(|| "the audit store is unavailable".to_string())?;
    log.checkpoint().map_err(|e| e.to_string())?;
    stats.last_checkpoint.store(now_secs(), Ordering::Relaxed);
    Ok(())
}

/// How long a failed store waits before it is reopened.
const REOPEN_AFTER: Duration = Duration::from_secs(1);

fn run(
    log: AuditLog,
    open: &mut (dyn FnMut() -> Result<AuditLog, AuditError> + Send),
    rx: &mpsc::Receiver<Msg>,
    options: WriterOptions,
    stats: &WriterStats,
) {
    stats.log_size.store(log.len(), Ordering::Relaxed);
    // `None` after the store failed (a database restart, a full disk): the log is reopened —
    // the stored chain checked again and continued — before the next batch, at most once a
    // second; meanwhile records are refused (the gateway answers 503).
    let mut log = Some(log);
    let mut failed_at: Option<Instant> = None;
    let mut last_checkpoint = Instant::now();
    loop {
        let unchecked = log.as_ref().map_or(0, AuditLog::unchecked);
        let msg = match options.interval {
            Some(every) if unchecked > 0 => {
                rx.recv_timeout(every.saturating_sub(last_checkpoint.elapsed()))
            }
            _ => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
        };
        let first = match msg {
            Err(RecvTimeoutError::Timeout) => {
                if let Err(e) = checkpoint(log.as_mut(), stats) {
                    eprintln!("aigis audit: timed checkpoint: {e}");
                }
                last_checkpoint = Instant::now();
                continue;
            }
            Err(RecvTimeoutError::Disconnected) => {
                if let Err(e) = checkpoint(log.as_mut(), stats) {
                    eprintln!("aigis audit: final checkpoint: {e}");
                }
                return;
            }
            Ok(Msg::Close(ack)) => {
                let _ = ack.send(checkpoint(log.as_mut(), stats));
                return;
            }
            Ok(Msg::Append(record, reply)) => (record, reply),
        };
        let mut records = vec![first.0];
        let mut replies = vec![first.1];
        let mut close = None;
        while records.len() < options.max_batch.max(1) {
            match rx.try_recv() {
                Ok(Msg::Append(record, reply)) => {
                    records.push(record);
                    replies.push(reply);
                }
                Ok(Msg::Close(ack)) => {
                    close = Some(ack);
                    break;
                }
                Err(_) => break,
            }
        }
        if log.is_none() && failed_at.is_none_or(|t| t.elapsed() >= REOPEN_AFTER) {
            match open() {
                Ok(l) => {
                    eprintln!(
                        "aigis audit: store reopened; the chain continues at {}",
                        l.len()
                    );
                    log = Some(l);
                    failed_at = None;
                }
                Err(e) => {
                    eprintln!("aigis audit: reopening the store: {e}");
                    failed_at = Some(Instant::now());
                }
            }
        }
        let Some(l) = log.as_mut() else {
            for reply in replies {
                reply(Err("the audit store is unavailable".into()));
            }
            if let Some(ack) = close {
                let _ = ack.send(Err("the audit store is unavailable".into()));
                return;
            }
            continue;
        };
        let before = l.unchecked();
        let results = l.append_batch(records);
        let written = results.iter().filter(|r| r.is_ok()).count() as u64;
        let store_failed = results
            .iter()
            .any(|r| matches!(r, Err(AuditError::Store(_) | AuditError::Io { .. })));
        stats.records.fetch_add(written, Ordering::Relaxed);
        stats.log_size.store(l.len(), Ordering::Relaxed);
        if l.unchecked() < before + written {
            // The batch crossed a checkpoint.
            stats.last_checkpoint.store(now_secs(), Ordering::Relaxed);
            last_checkpoint = Instant::now();
        }
        if store_failed {
            // Dropped first: its database session (and the chain's lock) ends with it.
            log = None;
            failed_at = Some(Instant::now());
        }
        for (result, reply) in results.into_iter().zip(replies) {
            reply(result.map_err(|e| e.to_string()));
        }
        if let Some(ack) = close {
            let _ = ack.send(checkpoint(log.as_mut(), stats));
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::{Fsync, verify};
    use aigis_sign::note::LogKey;

    fn record(i: u64) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("n".into(), Value::from(i));
        m
    }

    #[test]
    fn concurrent_submissions_form_one_verified_chain_with_every_record() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.jsonl");
        let key = LogKey::generate("aigis.test/writer").unwrap();
        let verifier = key.verifier();
        let private = key.to_private_string();
        let p = path.clone();
        let writer = Arc::new(
            AuditWriter::start(
                move || {
                    AuditLog::open(
                        &p,
                        LogKey::from_private_string(&private).unwrap(),
                        64,
                        Fsync::Always,
                        None,
                    )
                },
                WriterOptions::default(),
            )
            .unwrap(),
        );
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let w = writer.clone();
                std::thread::spawn(move || {
                    let mut seqs = Vec::new();
                    for i in 0..200 {
                        let (tx, rx) = mpsc::channel();
                        w.submit(
                            record(t * 1000 + i),
                            Box::new(move |r| {
                                let _ = tx.send(r);
                            }),
                        )
                        .unwrap();
                        seqs.push(rx.recv().unwrap().unwrap());
                    }
                    seqs
                })
            })
            .collect();
        let mut seqs: Vec<u64> = threads
            .into_iter()
            .flat_map(|t| t.join().unwrap())
            .collect();
        seqs.sort_unstable();
        assert_eq!(seqs, (0..1600).collect::<Vec<_>>(), "one seq per record");
        writer.close().unwrap();
        assert_eq!(writer.stats().records.load(Ordering::Relaxed), 1600);
        let r = verify(&path, &verifier);
        assert_eq!(r.problem, None);
        assert_eq!(
            (r.records, r.covered),
            (1600, 1600),
            "closed with a checkpoint"
        );
        let (tx, _rx) = mpsc::channel();
        assert_eq!(
            writer.submit(
                record(0),
                Box::new(move |r| {
                    let _ = tx.send(r);
                })
            ),
            Err(Rejected::Closed),
            "refused after close"
        );
    }

    #[test]
    fn a_timed_checkpoint_covers_records_that_arrive_slowly() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.jsonl");
        let key = LogKey::generate("aigis.test/timed").unwrap();
        let verifier = key.verifier();
        let private = key.to_private_string();
        let p = path.clone();
        let writer = AuditWriter::start(
            move || {
                AuditLog::open(
                    &p,
                    LogKey::from_private_string(&private).unwrap(),
                    1_000_000,
                    Fsync::Checkpoint,
                    None,
                )
            },
            WriterOptions {
                interval: Some(Duration::from_millis(50)),
                ..WriterOptions::default()
            },
        )
        .unwrap();
        for i in 0..3 {
            let (tx, rx) = mpsc::channel();
            writer
                .submit(
                    record(i),
                    Box::new(move |r| {
                        let _ = tx.send(r);
                    }),
                )
                .unwrap();
            rx.recv().unwrap().unwrap();
        }
        std::thread::sleep(Duration::from_millis(300));
        let r = verify(&path, &verifier);
        assert_eq!(r.problem, None);
        assert_eq!(r.covered, 3, "signed by the timer, not by count or close");
        assert!(writer.stats().last_checkpoint.load(Ordering::Relaxed) > 0);
    }

    #[test]
    fn a_failing_open_is_reported_by_start() {
        let r = AuditWriter::start(
            || Err(AuditError::Store("no database".into())),
            WriterOptions::default(),
        );
        assert_eq!(
            r.err().map(|e| e.to_string()),
            Some("audit store: no database".into())
        );
    }
}
