//! The development secrets, kept where deployed functions find theirs: in Secrets Manager (moto's
//! server locally). The functions of the local stack and the tests read them through the same
//! [`fangyitong::secrets`] path as a Lambda's init.

use crate::demo::{DEV_LINK_SIGNING_SECRET, DEV_PERSON_KEY_SECRET};
use aws_sdk_secretsmanager::Client;

pub const PERSON_KEY_SECRET_NAME: &str = "fangyitong-local/person-key";
pub const LINK_SIGNING_SECRET_NAME: &str = "fangyitong-local/link-signing";

/// The ARNs of the development secrets.
#[derive(Debug, Clone)]
pub struct DevSecrets {
    pub person_key: String,
    pub link_signing: String,
}

/// Creates the development secrets unless they exist; their ARNs.
pub async fn provision(aws: &aws_config::SdkConfig) -> Result<DevSecrets, String> {
    let client = Client::new(aws);
    Ok(DevSecrets {
        person_key: ensure(&client, PERSON_KEY_SECRET_NAME, DEV_PERSON_KEY_SECRET).await?,
        link_signing: ensure(&client, LINK_SIGNING_SECRET_NAME, DEV_LINK_SIGNING_SECRET).await?,
    })
}

/// Creates the secret `name` holding `value` (a secret that exists keeps its value); its ARN.
pub async fn ensure(client: &Client, name: &str, value: &str) -> Result<String, String> {
    let error = |e: &dyn std::fmt::Display| format!("secret {name}: {e}");
    match client
        .create_secret()
        .name(name)
        .secret_string(value)
        .send()
        .await
    {
        Ok(created) => created.arn.ok_or_else(|| error(&"created without an ARN")),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_exists_exception()) =>
        {
            client
                .describe_secret()
                .secret_id(name)
                .send()
                .await
                .map_err(|e| error(&aws_sdk_secretsmanager::error::DisplayErrorContext(&e)))?
                .arn
                .ok_or_else(|| error(&"described without an ARN"))
        }
        Err(e) => Err(error(&aws_sdk_secretsmanager::error::DisplayErrorContext(
            &e,
        ))),
    }
}
