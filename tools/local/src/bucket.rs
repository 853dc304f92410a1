//! The local data bucket, set up as `template.yaml` declares `DataBucket`: default encryption,
//! the public-access block and the lifecycle rules are read from the template, so the local
//! bucket cannot drift from the deployed one.
//!
//! moto stores lifecycle rules but never applies them; [`expire`] does what S3 would, so local
//! raw deliveries (which hold ID numbers) expire as the deployed ones do.

use aws_sdk_s3::types::{
    BucketLifecycleConfiguration, ExpirationStatus, LifecycleExpiration, LifecycleRule,
    LifecycleRuleFilter, PublicAccessBlockConfiguration, ServerSideEncryption,
    ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration, ServerSideEncryptionRule,
};
use chrono::{DateTime, Utc};
use serde_yaml::Value;

/// One expiration rule: objects under `prefix` go `days` after they were written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpirationRule {
    pub id: String,
    pub prefix: String,
    pub days: i32,
}

/// What the template says about the data bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketSettings {
    pub encryption: String,
    /// BlockPublicAcls, BlockPublicPolicy, IgnorePublicAcls, RestrictPublicBuckets.
    pub public_access_block: [bool; 4],
    pub expirations: Vec<ExpirationRule>,
}

fn untagged(v: &Value) -> &Value {
    match v {
        Value::Tagged(t) => &t.value,
        other => other,
    }
}

impl BucketSettings {
    /// Reads `DataBucket` from the repository's `template.yaml`.
    pub fn from_template() -> Result<Self, String> {
        let path = crate::repo_root().join("template.yaml");
        let text =
            std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        Self::from_template_text(&text)
    }

    pub fn from_template_text(text: &str) -> Result<Self, String> {
        let doc: Value = serde_yaml::from_str(text).map_err(|e| e.to_string())?;
        let props = untagged(&doc["Resources"]["DataBucket"]["Properties"]);
        let missing = |what: &str| format!("template.yaml: DataBucket has no {what}");
        let encryption = props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
            ["ServerSideEncryptionByDefault"]["SSEAlgorithm"]
            .as_str()
            .ok_or_else(|| missing("SSEAlgorithm"))?
            .to_string();
        let block = &props["PublicAccessBlockConfiguration"];
        let flag = |name: &str| block[name].as_bool().ok_or_else(|| missing(name));
        let public_access_block = [
            flag("BlockPublicAcls")?,
            flag("BlockPublicPolicy")?,
            flag("IgnorePublicAcls")?,
            flag("RestrictPublicBuckets")?,
        ];
        let expirations = props["LifecycleConfiguration"]["Rules"]
            .as_sequence()
            .ok_or_else(|| missing("LifecycleConfiguration.Rules"))?
            .iter()
            .filter(|rule| rule["Status"].as_str() == Some("Enabled"))
            .map(|rule| {
                Ok(ExpirationRule {
                    id: rule["Id"]
                        .as_str()
                        .ok_or_else(|| missing("rule Id"))?
                        .into(),
                    prefix: rule["Prefix"].as_str().unwrap_or_default().into(),
                    days: rule["ExpirationInDays"]
                        .as_i64()
                        .and_then(|d| i32::try_from(d).ok())
                        .ok_or_else(|| missing("rule ExpirationInDays"))?,
                })
            })
            .collect::<Result<_, String>>()?;
        Ok(Self {
            encryption,
            public_access_block,
            expirations,
        })
    }
}

fn s3_error<E: std::error::Error + 'static>(what: &str) -> impl FnOnce(E) -> String {
    move |e| format!("{what}: {}", aws_sdk_s3::error::DisplayErrorContext(&e))
}

/// Creates `bucket` unless it exists, then applies `settings` (idempotent).
pub async fn ensure(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    settings: &BucketSettings,
) -> Result<(), String> {
    if s3.head_bucket().bucket(bucket).send().await.is_err() {
        s3.create_bucket()
            .bucket(bucket)
            .send()
            .await
            .map_err(s3_error("create the bucket"))?;
    }
    let by_default = ServerSideEncryptionByDefault::builder()
        .sse_algorithm(ServerSideEncryption::from(settings.encryption.as_str()))
        .build()
        .map_err(|e| e.to_string())?;
    s3.put_bucket_encryption()
        .bucket(bucket)
        .server_side_encryption_configuration(
            ServerSideEncryptionConfiguration::builder()
                .rules(
                    ServerSideEncryptionRule::builder()
                        .apply_server_side_encryption_by_default(by_default)
                        .build(),
                )
                .build()
                .map_err(|e| e.to_string())?,
        )
        .send()
        .await
        .map_err(s3_error("set default encryption"))?;
    let [acls, policy, ignore, restrict] = settings.public_access_block;
    s3.put_public_access_block()
        .bucket(bucket)
        .public_access_block_configuration(
            PublicAccessBlockConfiguration::builder()
                .block_public_acls(acls)
                .block_public_policy(policy)
                .ignore_public_acls(ignore)
                .restrict_public_buckets(restrict)
                .build(),
        )
        .send()
        .await
        .map_err(s3_error("block public access"))?;
    let rules = settings
        .expirations
        .iter()
        .map(|rule| {
            LifecycleRule::builder()
                .id(&rule.id)
                .status(ExpirationStatus::Enabled)
                .filter(LifecycleRuleFilter::builder().prefix(&rule.prefix).build())
                .expiration(LifecycleExpiration::builder().days(rule.days).build())
                .build()
                .map_err(|e| e.to_string())
        })
        .collect::<Result<Vec<_>, _>>()?;
    s3.put_bucket_lifecycle_configuration()
        .bucket(bucket)
        .lifecycle_configuration(
            BucketLifecycleConfiguration::builder()
                .set_rules(Some(rules))
                .build()
                .map_err(|e| e.to_string())?,
        )
        .send()
        .await
        .map_err(s3_error("set the lifecycle rules"))?;
    Ok(())
}

/// Deletes what the lifecycle rules have expired at `now`; returns how many objects went.
pub async fn expire(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    settings: &BucketSettings,
    now: DateTime<Utc>,
) -> Result<usize, String> {
    let mut deleted = 0;
    for rule in &settings.expirations {
        let cutoff = now - chrono::Duration::days(rule.days.into());
        let mut pages = s3
            .list_objects_v2()
            .bucket(bucket)
            .prefix(&rule.prefix)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(s3_error("list objects"))?;
            for object in page.contents() {
                let written = object
                    .last_modified()
                    .and_then(|t| DateTime::from_timestamp(t.secs(), 0));
                if let (Some(key), Some(written)) = (object.key(), written)
                    && written <= cutoff
                {
                    s3.delete_object()
                        .bucket(bucket)
                        .key(key)
                        .send()
                        .await
                        .map_err(s3_error("delete an expired object"))?;
                    deleted += 1;
                }
            }
        }
    }
    Ok(deleted)
}
