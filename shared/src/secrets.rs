//! Secrets from AWS Secrets Manager, read once at init.
//!
//! A function's environment holds only the ARN of each secret it uses (`*_SECRET_ARN`): whoever
//! may read a function's configuration reads no secret, and only a function whose role may call
//! `GetSecretValue` on that ARN can turn it into the value (`template.yaml`). The version read is
//! logged, so a rotation can be traced to the cold starts that picked it up; the value never is.
//! Locally, moto's server answers the same API at `AWS_ENDPOINT_URL`.

use crate::app::InitError;
use crate::config::{self, Vars};

/// A secret's value and the variable that named it. Its `Debug` shows the variable only.
pub struct Secret {
    variable: &'static str,
    value: String,
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Secret")
            .field("variable", &self.variable)
            .finish_non_exhaustive()
    }
}

impl Secret {
    /// The variable whose ARN this secret was read from (for error messages).
    pub fn variable(&self) -> &'static str {
        self.variable
    }

    /// The value, for the one place that turns it into a key.
    pub fn expose(&self) -> &str {
        &self.value
    }
}

/// Reads the secret whose ARN (or name) the variable `variable` holds.
pub async fn read(
    aws: &aws_config::SdkConfig,
    env: &dyn Vars,
    variable: &'static str,
) -> Result<Secret, InitError> {
    let id = config::required(env, variable)?;
    read_id(&aws_sdk_secretsmanager::Client::new(aws), &id, variable).await
}

/// Reads the secret `id` (an ARN or a name), reporting failures against `variable`.
pub async fn read_id(
    client: &aws_sdk_secretsmanager::Client,
    id: &str,
    variable: &'static str,
) -> Result<Secret, InitError> {
    let unreadable = |why: String| InitError::SecretUnreadable { variable, why };
    let output = client
        .get_secret_value()
        .secret_id(id)
        .send()
        .await
        .map_err(|e| {
            unreadable(aws_sdk_secretsmanager::error::DisplayErrorContext(&e).to_string())
        })?;
    let value = output
        .secret_string
        .ok_or_else(|| unreadable("it holds no string".into()))?;
    tracing::info!(
        secret = variable,
        name = output.name.as_deref().unwrap_or_default(),
        version = output.version_id.as_deref().unwrap_or_default(),
        "read the secret"
    );
    Ok(Secret { variable, value })
}
