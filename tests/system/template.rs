//! `template.yaml` declares the table the code creates locally and in tests, and gives each
//! function the variables its init reads, no more.

use fangyitong::app::{ApiState, Core, LinkState, VerifiedState};
use fangyitong::config::Vars;
use fangyitong::export::{ExportState, WorkerState};
use fangyitong::sync::SyncContext;
use fangyitong::table;
use serde_yaml::Value;
use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;

fn strip_tags(v: &Value) -> &Value {
    match v {
        Value::Tagged(t) => &t.value,
        other => other,
    }
}

#[test]
fn template_table_equals_code_definition() {
    let text = std::fs::read_to_string(local::repo_root().join("template.yaml")).unwrap();
    let doc: Value = serde_yaml::from_str(&text).unwrap();
    let props = strip_tags(&doc["Resources"]["Table"]["Properties"]);
    let def = table::definition();

    let attr_names: Vec<&str> = props["AttributeDefinitions"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|a| {
            assert_eq!(a["AttributeType"].as_str(), Some("S"));
            a["AttributeName"].as_str().unwrap()
        })
        .collect();
    assert_eq!(attr_names, def.attribute_names());

    let keys = |schema: &Value| -> (String, String) {
        let s = schema.as_sequence().unwrap();
        assert_eq!(s[0]["KeyType"].as_str(), Some("HASH"));
        assert_eq!(s[1]["KeyType"].as_str(), Some("RANGE"));
        (
            s[0]["AttributeName"].as_str().unwrap().into(),
            s[1]["AttributeName"].as_str().unwrap().into(),
        )
    };
    assert_eq!(
        keys(&props["KeySchema"]),
        (def.key.partition.into(), def.key.sort.into())
    );

    let indexes = props["GlobalSecondaryIndexes"].as_sequence().unwrap();
    assert_eq!(indexes.len(), def.indexes.len());
    for (yaml, code) in indexes.iter().zip(&def.indexes) {
        assert_eq!(yaml["IndexName"].as_str(), Some(code.name));
        assert_eq!(
            keys(&yaml["KeySchema"]),
            (code.key.partition.into(), code.key.sort.into())
        );
        assert_eq!(yaml["Projection"]["ProjectionType"].as_str(), Some("ALL"));
    }
    assert_eq!(
        props["TimeToLiveSpecification"]["AttributeName"].as_str(),
        Some(def.ttl_attribute)
    );
    assert_eq!(props["BillingMode"].as_str(), Some("PAY_PER_REQUEST"));
}

/// The variables a function's init asked for, answering from the template's environment.
struct Recorded {
    given: HashMap<String, String>,
    asked: Mutex<BTreeSet<&'static str>>,
}

impl Vars for Recorded {
    fn var(&self, name: &'static str) -> Option<String> {
        self.asked.lock().unwrap().insert(name);
        self.given.var(name)
    }
}

/// A value of the right shape for each variable the template sets (its `!Ref`s are parameters
/// and resources that only exist when deployed): secrets are created on the local stack's
/// Secrets Manager and named by their ARN, the provider's keys are the local provider's.
async fn placeholder(name: &str) -> String {
    match name {
        "JWT_JWKS_URL" => local::idp::DevIdentityProvider::shared().jwks_url().into(),
        "PUBLIC_BASE_URL" => "https://fangyitong.example.cn".into(),
        "SES_REGION" => "ap-southeast-1".into(),
        n if n.ends_with("_SECRET_ARN") => {
            let aws = local::sdk_config(system_tests::endpoints()).await;
            let client = aws_sdk_secretsmanager::Client::new(&aws);
            let secret_name = format!("template-test/{}", n.to_lowercase());
            local::secrets::ensure(
                &client,
                &secret_name,
                "a-secret-of-forty-characters-0123456789",
            )
            .await
            .expect("create the secret")
        }
        n if n.ends_with("_SECONDS") || n.ends_with("_DAYS") || n.ends_with("_LIMIT") => {
            "300".into()
        }
        n => format!("{}-placeholder", n.to_lowercase()),
    }
}

/// Runs the init of the function `binary` (what its `main.rs` calls) on `env`.
async fn init(binary: &str, env: &dyn Vars) -> Result<(), String> {
    let aws = local::sdk_config(system_tests::endpoints()).await;
    let result = match binary {
        "authorize" | "invite-join" => LinkState::from_env(&aws, env).await.map(drop),
        "query-nucleic" | "query-vaccine" => ApiState::from_env(&aws, env).await.map(drop),
        "query-sites" => VerifiedState::from_env(&aws, env).await.map(drop),
        "export" => ExportState::from_env(&aws, env).await.map(drop),
        "export-worker" => WorkerState::from_env(&aws, env).map(drop),
        "sync" => SyncContext::from_env(&aws, env).await.map(drop),
        "relabel" => Core::from_env(&aws, env).map(drop),
        "sunset" => fangyitong::sunset::SunsetContext::from_env(&aws, env)
            .map(drop)
            .map_err(Into::into),
        "rekey" => fangyitong::rekey::RekeyContext::from_env(&aws, env)
            .await
            .map(drop),
        other => panic!("a function this test does not know: {other}"),
    };
    result.map_err(|e| e.to_string())
}

/// The init call each function's `main.rs` makes (so the test runs what the Lambda runs).
fn init_call(binary: &str) -> &'static str {
    match binary {
        "authorize" | "invite-join" => "LinkState::from_env(&aws, &ProcessEnv).await",
        "query-nucleic" | "query-vaccine" => "ApiState::from_env(&aws, &ProcessEnv).await",
        "query-sites" => "VerifiedState::from_env(&aws, &ProcessEnv).await",
        "export" => "ExportState::from_env(&aws, &ProcessEnv).await",
        "export-worker" => "WorkerState::from_env(&aws, &ProcessEnv)",
        "sync" => "SyncContext::from_env(&aws, &ProcessEnv).await",
        "relabel" => "Core::from_env(&aws, &ProcessEnv)",
        "sunset" => "SunsetContext::from_env(&aws, &ProcessEnv)",
        "rekey" => "RekeyContext::from_env(&aws, &ProcessEnv).await",
        other => panic!("a function this test does not know: {other}"),
    }
}

/// Each function gets exactly the variables its init reads: with only the template's
/// environment it starts; it reads every variable it is given; and without any one of its
/// secrets it refuses to start. So no function holds a secret it does not use.
#[tokio::test]
async fn each_function_gets_only_the_variables_it_reads() {
    let text = std::fs::read_to_string(local::repo_root().join("template.yaml")).unwrap();
    let doc: Value = serde_yaml::from_str(&text).unwrap();
    let globals = doc["Globals"]["Function"]["Environment"]["Variables"]
        .as_mapping()
        .unwrap();
    let mut functions = 0;
    for (_, resource) in doc["Resources"].as_mapping().unwrap() {
        if resource["Type"].as_str() != Some("AWS::Serverless::Function") {
            continue;
        }
        functions += 1;
        let binary = resource["Metadata"]["BuildProperties"]["Binary"]
            .as_str()
            .unwrap();
        let main = std::fs::read_to_string(
            local::repo_root().join(format!("functions/{binary}/src/main.rs")),
        )
        .unwrap();
        assert!(
            main.contains(init_call(binary)),
            "{binary}'s main.rs no longer calls {}",
            init_call(binary)
        );
        let own = resource["Properties"]["Environment"]["Variables"].as_mapping();
        let names: BTreeSet<String> = globals
            .keys()
            .chain(own.into_iter().flat_map(|m| m.keys()))
            .map(|k| k.as_str().unwrap().to_string())
            .collect();
        let mut given = HashMap::new();
        for name in &names {
            given.insert(name.clone(), placeholder(name).await);
        }
        let recorded = Recorded {
            given: given.clone(),
            asked: Mutex::default(),
        };
        init(binary, &recorded).await.unwrap_or_else(|e| {
            panic!("{binary} does not start with the template's variables: {e}")
        });
        let asked = recorded.asked.into_inner().unwrap();
        for name in &names {
            assert!(
                asked.contains(name.as_str()),
                "{binary} is given {name} but never reads it"
            );
        }
        // It may read exactly the secrets it is given, and no secret value is in its environment.
        let readable: BTreeSet<String> = resource["Properties"]["Policies"]
            .as_sequence()
            .into_iter()
            .flatten()
            .map(|p| &p["AWSSecretsManagerGetSecretValuePolicy"]["SecretArn"])
            .filter(|arn| !arn.is_null())
            .map(|arn| strip_tags(arn).as_str().unwrap().to_string())
            .collect();
        let given_secrets: BTreeSet<String> = own
            .into_iter()
            .flatten()
            .filter(|(k, _)| k.as_str().unwrap().ends_with("_SECRET_ARN"))
            .map(|(_, v)| strip_tags(v).as_str().unwrap().to_string())
            .collect();
        assert_eq!(
            readable, given_secrets,
            "{binary} may read exactly its secrets"
        );
        for (name, value) in own.into_iter().flatten() {
            let name = name.as_str().unwrap();
            if let Some(referenced) = strip_tags(value).as_str() {
                let is_secret = doc["Resources"][referenced]["Type"].as_str()
                    == Some("AWS::SecretsManager::Secret");
                assert!(
                    !is_secret || name.ends_with("_SECRET_ARN"),
                    "{binary}: {name} carries a secret"
                );
            }
        }
        for secret in names.iter().filter(|n| n.ends_with("_SECRET_ARN")) {
            let mut without = given.clone();
            without.remove(secret);
            let error = init(binary, &without).await.expect_err(secret);
            assert!(error.contains(secret.as_str()), "{binary}: {error}");
        }
    }
    assert_eq!(functions, 11, "every function is checked");
}

/// The request deadline answers before Lambda would cut a function off: every function API
/// Gateway invokes may run longer than `http::REQUEST_DEADLINE`.
#[test]
fn the_request_deadline_is_below_every_http_functions_timeout() {
    let text = std::fs::read_to_string(local::repo_root().join("template.yaml")).unwrap();
    let doc: Value = serde_yaml::from_str(&text).unwrap();
    let default = doc["Globals"]["Function"]["Timeout"].as_u64().unwrap();
    let mut checked = 0;
    for (name, resource) in doc["Resources"].as_mapping().unwrap() {
        let props = strip_tags(&resource["Properties"]);
        let serves_http = props["Events"].as_mapping().is_some_and(|events| {
            events
                .values()
                .any(|e| e["Type"].as_str() == Some("HttpApi"))
        });
        if !serves_http {
            continue;
        }
        let timeout = props["Timeout"].as_u64().unwrap_or(default);
        assert!(
            fangyitong::http::REQUEST_DEADLINE < std::time::Duration::from_secs(timeout),
            "{name:?} runs at most {timeout} s"
        );
        checked += 1;
    }
    assert!(checked >= 5, "only {checked} HTTP functions found");
}

/// The export worker can finish what it starts: its timeout leaves two minutes to make the files
/// after the longest its transfers (uploads and the mail) may take, and the queue hides a message
/// longer than the worker may run (six times, as Lambda's SQS integration advises).
#[test]
fn the_export_worker_outlasts_its_transfers_and_the_queue_outlasts_the_worker() {
    let text = std::fs::read_to_string(local::repo_root().join("template.yaml")).unwrap();
    let doc: Value = serde_yaml::from_str(&text).unwrap();
    let worker = strip_tags(&doc["Resources"]["ExportWorkerFunction"]["Properties"]);
    let timeout = std::time::Duration::from_secs(worker["Timeout"].as_u64().unwrap());
    let transfer = fangyitong::aws::transfer_timeouts()
        .operation_timeout()
        .unwrap();
    assert!(
        transfer * fangyitong::aws::EXPORT_TRANSFERS + std::time::Duration::from_secs(120)
            <= timeout,
        "the worker runs {timeout:?}; its transfers may take {transfer:?} each"
    );
    let queue = &doc["Resources"]["ExportQueue"]["Properties"];
    let visibility = queue["VisibilityTimeout"].as_u64().unwrap();
    assert!(
        visibility >= 6 * timeout.as_secs(),
        "visibility {visibility} s"
    );
}

/// The alarms an operator is paged by exist, and those that watch the service's own metrics
/// watch the names the code emits.
#[test]
fn the_alarms_watch_what_the_code_emits() {
    let text = std::fs::read_to_string(local::repo_root().join("template.yaml")).unwrap();
    let doc: Value = serde_yaml::from_str(&text).unwrap();
    let resources = &doc["Resources"];
    for alarm in [
        "ApiErrorRateAlarm",
        "ExportDeadLetterAlarm",
        "SyncFailedAlarm",
        "SyncLateAlarm",
        "RelabelFailedAlarm",
        "RelabelLagAlarm",
        "ThrottleAlarm",
    ] {
        assert_eq!(
            resources[alarm]["Type"].as_str(),
            Some("AWS::CloudWatch::Alarm"),
            "{alarm}"
        );
        let actions = resources[alarm]["Properties"]["AlarmActions"]
            .as_sequence()
            .unwrap();
        assert_eq!(
            strip_tags(&actions[0]).as_str(),
            Some("AlarmTopic"),
            "{alarm}"
        );
    }
    for (alarm, function, metric) in [
        (
            "SyncLateAlarm",
            "sync",
            fangyitong::sync::DELIVERIES_APPLIED,
        ),
        (
            "RelabelLagAlarm",
            "relabel",
            fangyitong::relabel::LABELS_RECORDED,
        ),
    ] {
        let props = &resources[alarm]["Properties"];
        assert_eq!(
            props["Namespace"].as_str(),
            Some(fangyitong::observe::METRIC_NAMESPACE)
        );
        assert_eq!(props["MetricName"].as_str(), Some(metric), "{alarm}");
        assert_eq!(props["Dimensions"][0]["Value"].as_str(), Some(function));
        assert_eq!(props["TreatMissingData"].as_str(), Some("breaching"));
    }
}

/// Every route of the HTTP API is reachable through the distribution that serves the H5 client
/// (one origin: no CORS), and none of them is cached there.
#[test]
fn the_client_distribution_reaches_every_api_route() {
    let text = std::fs::read_to_string(local::repo_root().join("template.yaml")).unwrap();
    let doc: Value = serde_yaml::from_str(&text).unwrap();
    let config = &doc["Resources"]["WebDistribution"]["Properties"]["DistributionConfig"];
    let behaviours = config["CacheBehaviors"].as_sequence().unwrap();
    for b in behaviours {
        assert_eq!(b["TargetOriginId"].as_str(), Some("api"));
        assert_eq!(
            b["CachePolicyId"].as_str(),
            Some("4135ea2d-6df8-44a3-9df3-4b5a84be39ad"),
            "API answers are never cached"
        );
    }
    let patterns: Vec<&str> = behaviours
        .iter()
        .map(|b| b["PathPattern"].as_str().unwrap().trim_end_matches('*'))
        .collect();
    let mut routes = 0;
    for (_, resource) in doc["Resources"].as_mapping().unwrap() {
        let Some(events) = resource["Properties"]["Events"].as_mapping() else {
            continue;
        };
        for (_, event) in events {
            if event["Type"].as_str() != Some("HttpApi") {
                continue;
            }
            routes += 1;
            let path = event["Properties"]["Path"].as_str().unwrap();
            assert!(
                patterns.iter().any(|p| path.starts_with(p)),
                "{path} is not routed to the API by the distribution"
            );
        }
    }
    assert!(routes > 30, "the API's routes were found ({routes})");
}
