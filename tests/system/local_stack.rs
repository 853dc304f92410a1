//! The local stack's own promises: its DynamoDB keeps data across a restart, expired items
//! disappear as on DynamoDB, and its data bucket is configured, and expires objects, as
//! `template.yaml` declares.

use chrono::{Duration, Utc};
use local::bucket::{self, BucketSettings};
use local::dynamo::{LocalDynamo, Storage};
use system_tests::endpoints;

fn scratch_file(name: &str) -> std::path::PathBuf {
    std::env::temp_dir()
        .join(format!("fangyitong-test-{}", ulid::Ulid::new()))
        .join(name)
}

async fn dynamodb_at(endpoint: &str) -> aws_sdk_dynamodb::Client {
    let endpoints = local::Endpoints {
        dynamodb: endpoint.to_string(),
        others: endpoints().others.clone(),
    };
    aws_sdk_dynamodb::Client::new(&local::sdk_config(&endpoints).await)
}

#[tokio::test]
async fn a_file_backed_engine_keeps_its_tables_across_a_restart() {
    let file = scratch_file("dynamodb.sqlite");
    let storage = Storage::File(file.clone());
    let table = "kept";
    let key = |pk: &str| {
        [
            (
                "PK".to_string(),
                aws_sdk_dynamodb::types::AttributeValue::S(pk.into()),
            ),
            (
                "SK".to_string(),
                aws_sdk_dynamodb::types::AttributeValue::S("A".into()),
            ),
        ]
    };
    {
        let server = LocalDynamo::start(&storage).expect("start");
        let client = dynamodb_at(&server.endpoint).await;
        assert!(
            local::ensure_table(&client, table).await.unwrap(),
            "created"
        );
        client
            .put_item()
            .table_name(table)
            .set_item(Some(key("ENT#1").into_iter().collect()))
            .send()
            .await
            .unwrap();
    }
    // A second server on the same file: a new port, the same table and item.
    let server = LocalDynamo::start(&storage).expect("restart");
    let client = dynamodb_at(&server.endpoint).await;
    assert!(
        !local::ensure_table(&client, table).await.unwrap(),
        "kept, not re-created"
    );
    let item = client
        .get_item()
        .table_name(table)
        .set_key(Some(key("ENT#1").into_iter().collect()))
        .send()
        .await
        .unwrap();
    assert!(item.item.is_some(), "the item survived the restart");
    drop(server);
    let _ = std::fs::remove_dir_all(file.parent().unwrap());
}

#[tokio::test]
async fn the_engine_deletes_expired_items_as_dynamodb_ttl_does() {
    let server = LocalDynamo::start_sweeping_every(
        &Storage::Memory,
        Some(std::time::Duration::from_millis(100)),
    )
    .expect("start");
    let client = dynamodb_at(&server.endpoint).await;
    let table = "expiring";
    local::ensure_table(&client, table).await.unwrap();
    let item = |pk: &str, expires_at: i64| {
        use aws_sdk_dynamodb::types::AttributeValue;
        [
            ("PK".to_string(), AttributeValue::S(pk.into())),
            ("SK".to_string(), AttributeValue::S("A".into())),
            (
                fangyitong::keys::TTL.to_string(),
                AttributeValue::N(expires_at.to_string()),
            ),
        ]
        .into_iter()
        .collect()
    };
    let now = Utc::now().timestamp();
    for (pk, expires_at) in [("gone", now - 60), ("kept", now + 3_600)] {
        client
            .put_item()
            .table_name(table)
            .set_item(Some(item(pk, expires_at)))
            .send()
            .await
            .unwrap();
    }
    let mut left = Vec::new();
    for _ in 0..50 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        let scan = client.scan().table_name(table).send().await.unwrap();
        left = scan
            .items()
            .iter()
            .filter_map(|i| i.get("PK")?.as_s().ok().cloned())
            .collect();
        if left.len() == 1 {
            break;
        }
    }
    assert_eq!(left, ["kept"]);
}

#[test]
fn bucket_settings_are_the_templates() {
    let settings = BucketSettings::from_template().unwrap();
    assert_eq!(settings.encryption, "AES256");
    assert_eq!(settings.public_access_block, [true; 4]);
    let rules: Vec<(&str, i32)> = settings
        .expirations
        .iter()
        .map(|r| (r.prefix.as_str(), r.days))
        .collect();
    assert_eq!(
        rules,
        [("inbound/", 30), ("quarantine/", 90), ("exports/", 7)]
    );
}

#[tokio::test]
async fn the_local_bucket_is_configured_and_expires_as_deployed() {
    let settings = BucketSettings::from_template().unwrap();
    let aws = local::sdk_config(endpoints()).await;
    let s3 = local::s3_client(&aws);
    let name = format!("test-{}", ulid::Ulid::new()).to_lowercase();
    bucket::ensure(&s3, &name, &settings).await.unwrap();
    // Twice: a restart finds the bucket and leaves it as it was.
    bucket::ensure(&s3, &name, &settings).await.unwrap();

    let encryption = s3
        .get_bucket_encryption()
        .bucket(&name)
        .send()
        .await
        .unwrap();
    let algorithm = encryption
        .server_side_encryption_configuration()
        .and_then(|c| c.rules().first())
        .and_then(|r| r.apply_server_side_encryption_by_default())
        .map(|d| d.sse_algorithm().as_str().to_string());
    assert_eq!(algorithm.as_deref(), Some("AES256"));
    let block = s3
        .get_public_access_block()
        .bucket(&name)
        .send()
        .await
        .unwrap();
    let block = block.public_access_block_configuration().unwrap();
    assert_eq!(
        [
            block.block_public_acls(),
            block.block_public_policy(),
            block.ignore_public_acls(),
            block.restrict_public_buckets()
        ],
        [Some(true); 4]
    );
    let lifecycle = s3
        .get_bucket_lifecycle_configuration()
        .bucket(&name)
        .send()
        .await
        .unwrap();
    let days: Vec<(String, Option<i32>)> = lifecycle
        .rules()
        .iter()
        .map(|r| {
            (
                r.filter()
                    .and_then(|f| f.prefix())
                    .unwrap_or_default()
                    .to_string(),
                r.expiration().and_then(|e| e.days()),
            )
        })
        .collect();
    assert_eq!(
        days,
        [
            ("inbound/".to_string(), Some(30)),
            ("quarantine/".to_string(), Some(90)),
            ("exports/".to_string(), Some(7)),
        ]
    );

    for key in [
        "inbound/pcr/a.jsonl",
        "quarantine/pcr/a.jsonl",
        "exports/a.csv",
        "other/a",
    ] {
        s3.put_object()
            .bucket(&name)
            .key(key)
            .body(b"x".to_vec().into())
            .send()
            .await
            .unwrap();
    }
    let keys = || async {
        let listed = s3.list_objects_v2().bucket(&name).send().await.unwrap();
        let mut keys: Vec<String> = listed
            .contents()
            .iter()
            .filter_map(|o| o.key().map(str::to_string))
            .collect();
        keys.sort();
        keys
    };
    let now = Utc::now();
    assert_eq!(bucket::expire(&s3, &name, &settings, now).await.unwrap(), 0);
    // Eight days on, the export files are gone; a month on, the deliveries; the quarantine
    // stays 90 days; what no rule names stays.
    assert_eq!(
        bucket::expire(&s3, &name, &settings, now + Duration::days(8))
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        keys().await,
        ["inbound/pcr/a.jsonl", "other/a", "quarantine/pcr/a.jsonl"]
    );
    assert_eq!(
        bucket::expire(&s3, &name, &settings, now + Duration::days(31))
            .await
            .unwrap(),
        1
    );
    assert_eq!(keys().await, ["other/a", "quarantine/pcr/a.jsonl"]);
    assert_eq!(
        bucket::expire(&s3, &name, &settings, now + Duration::days(91))
            .await
            .unwrap(),
        1
    );
    assert_eq!(keys().await, ["other/a"]);
}
