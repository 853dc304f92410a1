//! The store's batch writes survive what moto never does by itself: `UnprocessedItems` and
//! throttling, injected here through the `BatchWriter` seam in front of the real table.

use aws_sdk_dynamodb::types::{AttributeValue, WriteRequest};
use fangyitong::store::{self, BatchWriter, Store, StoreError};
use std::sync::atomic::{AtomicUsize, Ordering};
use system_tests::spawn_app;

/// Forwards to the real store, but on its first call writes only the first item and reports
/// the rest unprocessed, and on its second call fails with throttling.
struct Flaky<'a> {
    store: &'a Store,
    calls: AtomicUsize,
}

impl BatchWriter for Flaky<'_> {
    async fn write(
        &self,
        table: &str,
        requests: Vec<WriteRequest>,
    ) -> Result<Vec<WriteRequest>, StoreError> {
        match self.calls.fetch_add(1, Ordering::SeqCst) {
            0 => {
                let (first, rest) = requests.split_at(1);
                self.store.write(table, first.to_vec()).await?;
                Ok(rest.to_vec())
            }
            1 => Err(StoreError::Request(
                "ProvisionedThroughputExceededException".into(),
                Box::new(std::io::Error::other("throttled")),
            )),
            _ => self.store.write(table, requests).await,
        }
    }
}

fn item(i: usize) -> store::Item {
    let mut item = Store::key(&format!("TEST#{}", i % 3), &format!("ITEM#{i:04}"));
    item.insert("n".into(), AttributeValue::N(i.to_string()));
    item
}

#[tokio::test]
async fn batch_put_retries_unprocessed_items_and_throttling() {
    let app = spawn_app().await;
    let before = app.item_count().await;
    let flaky = Flaky {
        store: &app.state.core.store,
        calls: AtomicUsize::new(0),
    };
    let items: Vec<_> = (0..60).map(item).collect();
    let requests = store::batch_put(&flaky, &app.table, items)
        .await
        .expect("all items written in the end");
    // 60 items = 3 batches; the first needed two retries (unprocessed, then throttled).
    assert_eq!(requests, 5);
    assert_eq!(app.item_count().await, before + 60);
}

/// A writer that never makes progress: the batch fails, retryably, after the capped attempts
/// (real backoff: about 1.6 s of jittered waits in all).
struct AlwaysThrottled;

impl BatchWriter for AlwaysThrottled {
    async fn write(
        &self,
        _: &str,
        requests: Vec<WriteRequest>,
    ) -> Result<Vec<WriteRequest>, StoreError> {
        Ok(requests)
    }
}

#[tokio::test]
async fn batch_put_gives_up_retryably() {
    let err = store::batch_put(&AlwaysThrottled, "t", (0..3).map(item).collect())
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Unprocessed(3)), "{err}");
    assert!(err.is_retryable());
}
