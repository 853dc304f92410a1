//! The cold-start baseline (`make coldstart`, docs/build.md): `lambda_runtime`, the standard SDK
//! configuration and one DynamoDB client, one GetItem per event and nothing else. Built with the
//! functions' own profile, it is the floor the functions' init and first response are measured
//! against. Not deployed.
//!
//! With `BASELINE_WARM_UP=1` it reads the item once during init as well, which opens the
//! connection before the first event: the same choice the HTTP functions make
//! (`Store::warm_up`), measured here on its own.

use aws_sdk_dynamodb::types::AttributeValue;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::{Value, json};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let aws = aws_config::load_from_env().await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&aws);
    let table = std::env::var("TABLE_NAME")?;
    let (dynamodb, table) = (&dynamodb, table.as_str());
    let read = || {
        dynamodb
            .get_item()
            .table_name(table)
            .key("PK", AttributeValue::S("COLDSTART#baseline".into()))
            .key("SK", AttributeValue::S("COLDSTART#baseline".into()))
            .send()
    };
    if std::env::var("BASELINE_WARM_UP").is_ok_and(|v| v == "1") {
        read().await?;
    }
    lambda_runtime::run(service_fn(move |_: LambdaEvent<Value>| async move {
        let item = read().await?;
        Ok::<_, Error>(json!({ "found": item.item.is_some() }))
    }))
    .await
}
