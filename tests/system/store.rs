//! The store's batch writes and reads survive what moto never does by itself: `UnprocessedItems`,
//! `UnprocessedKeys` and throttling, injected here through the `BatchWriter` and `BatchReader`
//! seams in front of the real table; a cancelled transaction names its failed parts.

use aws_sdk_dynamodb::types::{AttributeValue, WriteRequest};
use fangyitong::store::{self, BatchReader, BatchWriter, Store, StoreError};
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

/// Forwards to the real store, but on its first call reads only the first key and reports the
/// rest unprocessed, and on its second call fails with throttling.
struct FlakyReader<'a> {
    store: &'a Store,
    calls: AtomicUsize,
}

impl BatchReader for FlakyReader<'_> {
    async fn read(
        &self,
        table: &str,
        keys: Vec<store::Item>,
    ) -> Result<(Vec<store::Item>, Vec<store::Item>), StoreError> {
        match self.calls.fetch_add(1, Ordering::SeqCst) {
            0 => {
                let (first, rest) = keys.split_at(1);
                let (found, _) = self.store.read(table, first.to_vec()).await?;
                Ok((found, rest.to_vec()))
            }
            1 => Err(StoreError::Request(
                "ProvisionedThroughputExceededException".into(),
                Box::new(std::io::Error::other("throttled")),
            )),
            _ => self.store.read(table, keys).await,
        }
    }
}

#[tokio::test]
async fn batch_get_retries_unprocessed_keys_and_throttling() {
    let app = spawn_app().await;
    let items: Vec<_> = (0..150).map(item).collect();
    store::batch_put(&app.state.core.store, &app.table, items)
        .await
        .unwrap();
    let flaky = FlakyReader {
        store: &app.state.core.store,
        calls: AtomicUsize::new(0),
    };
    // 150 keys of items and 10 of none: two batches (100 + 60); the first needed two retries.
    let keys: Vec<_> = (0..160)
        .map(|i| Store::key(&format!("TEST#{}", i % 3), &format!("ITEM#{i:04}")))
        .collect();
    let (found, requests) = store::batch_get(&flaky, &app.table, keys)
        .await
        .expect("every key read in the end");
    assert_eq!(requests, 4);
    assert_eq!(found.len(), 150);
    assert_eq!(
        found[&("TEST#1".to_string(), "ITEM#0007".to_string())]["n"],
        AttributeValue::N("7".into())
    );
}

#[tokio::test]
async fn a_cancelled_transaction_names_the_parts_that_failed() {
    use fangyitong::store::{Cancelled, Condition, put_when};
    let app = spawn_app().await;
    let store = &app.state.core.store;
    store::batch_put(store, &app.table, vec![item(1)])
        .await
        .unwrap();
    let parts = vec![
        put_when(&app.table, item(0), Condition::ItemAbsent).unwrap(),
        put_when(&app.table, item(1), Condition::ItemAbsent).unwrap(),
        put_when(&app.table, item(2), Condition::ItemAbsent).unwrap(),
    ];
    assert_eq!(
        store.transact_or_cancelled(parts).await.unwrap(),
        Err(Cancelled { parts: vec![1] })
    );
    let (found, _) = store::batch_get(store, &app.table, vec![Store::key("TEST#0", "ITEM#0000")])
        .await
        .unwrap();
    assert!(
        found.is_empty(),
        "nothing of a cancelled transaction is written"
    );
}
