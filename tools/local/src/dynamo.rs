//! The local DynamoDB: dynoxide (the DynamoDB JSON API over SQLite), served in-process on
//! loopback. The SDK reaches it over HTTP like any DynamoDB endpoint, so every request goes
//! through the same serialisation, signing and error handling as on AWS.
//!
//! It runs on a thread and a Tokio runtime of its own: a test binary's tests each have their own
//! runtime, and the server has to outlive all of them. Like DynamoDB, it deletes items whose TTL
//! attribute has passed in the background (DynamoDB within days; here every minute).

use std::path::{Path, PathBuf};
use std::time::Duration;

/// How often expired items are deleted.
pub const TTL_SWEEP_EVERY: Duration = Duration::from_secs(60);

/// Where the tables live.
#[derive(Debug, Clone)]
pub enum Storage {
    /// Gone when the process ends (tests, benchmarks).
    Memory,
    /// A SQLite file that survives restarts (`make dev`); its directory is created if missing.
    File(PathBuf),
}

/// A running server; stops (and closes its SQLite file) when dropped.
pub struct LocalDynamo {
    pub endpoint: String,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

#[derive(Debug, thiserror::Error)]
#[error("could not start the local DynamoDB: {0}")]
pub struct DynamoError(String);

impl LocalDynamo {
    /// Opens the storage and serves it on a free loopback port.
    pub fn start(storage: &Storage) -> Result<Self, DynamoError> {
        Self::start_sweeping_every(storage, Some(TTL_SWEEP_EVERY))
    }

    /// The same, deleting expired items every `sweep_every` (a test need not wait a minute), or
    /// never (`None`: the system tests, whose clock stands in 2022, so every TTL they write is
    /// in the real past and a sweep would delete their data mid-test).
    pub fn start_sweeping_every(
        storage: &Storage,
        sweep_every: Option<Duration>,
    ) -> Result<Self, DynamoError> {
        let fail = |what: &str, e: &dyn std::fmt::Display| DynamoError(format!("{what}: {e}"));
        let db = match storage {
            Storage::Memory => dynoxide::Database::memory(),
            Storage::File(path) => {
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir)
                        .map_err(|e| fail(&dir.display().to_string(), &e))?;
                }
                dynoxide::Database::new(&path.to_string_lossy())
            }
        }
        .map_err(|e| fail("open the database", &e))?;
        let listener = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.set_nonblocking(true).map(|()| l))
            .map_err(|e| fail("bind a loopback port", &e))?;
        let endpoint = format!(
            "http://{}",
            listener
                .local_addr()
                .map_err(|e| fail("read the port", &e))?
        );
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("dynoxide")
            .enable_all()
            .build()
            .map_err(|e| fail("start its runtime", &e))?;
        let (shutdown, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("dynoxide".into())
            .spawn(move || {
                runtime.block_on(async move {
                    let listener = match tokio::net::TcpListener::from_std(listener) {
                        Ok(l) => l,
                        Err(e) => return tracing::error!(error = %e, "local DynamoDB listener"),
                    };
                    let sweeper =
                        sweep_every.map(|every| tokio::spawn(sweep_expired(db.clone(), every)));
                    let stopped = async {
                        let _ = stopped.await;
                    };
                    if let Err(e) =
                        dynoxide::server::serve_with_shutdown(listener, db, stopped).await
                    {
                        tracing::error!(error = %e, "local DynamoDB");
                    }
                    if let Some(sweeper) = sweeper {
                        sweeper.abort();
                    }
                });
            })
            .map_err(|e| fail("start its thread", &e))?;
        Ok(Self {
            endpoint,
            shutdown: Some(shutdown),
            thread: Some(thread),
        })
    }
}

impl Drop for LocalDynamo {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// DynamoDB's TTL: expired items disappear without anyone asking.
async fn sweep_expired(db: dynoxide::Database, sweep_every: Duration) {
    let mut every = tokio::time::interval(sweep_every);
    loop {
        every.tick().await;
        let db = db.clone();
        match tokio::task::spawn_blocking(move || db.sweep_ttl()).await {
            Ok(Ok(0)) => {}
            Ok(Ok(deleted)) => tracing::info!(deleted, "local DynamoDB: expired items deleted"),
            Ok(Err(e)) => tracing::warn!(error = %e, "local DynamoDB: TTL sweep"),
            Err(e) => tracing::warn!(error = %e, "local DynamoDB: TTL sweep"),
        }
    }
}

/// The file `make dev` keeps its tables in.
pub fn dev_database(root: &Path) -> PathBuf {
    root.join(".local/dynamodb.sqlite")
}
