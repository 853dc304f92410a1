//! What the job state machines' definitions must say to their Lambdas, checked against the
//! Lambdas' own request and answer types (the engine run is `scripts/state_machines.sh`).

use serde::de::DeserializeOwned;
use serde_json::{Value, json};

/// The definition of the state machine `name` in `template.yaml`.
pub(crate) fn definition(name: &str) -> Value {
    let text = std::fs::read_to_string(local::repo_root().join("template.yaml")).unwrap();
    let doc: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
    serde_json::to_value(&doc["Resources"][name]["Properties"]["Definition"]).unwrap()
}

/// Checks every Task of `definition` (its Map's included): its payload, each path filled by
/// `fill`, parses as a step `R` of the Lambda; every field its `ResultSelector` reads is in
/// `status` (an answer of the Lambda); it retries Lambda's transient errors and the function's
/// `Retryable`, never `Fatal` nor everything. Every Task and Map catches everything into
/// `Failed`, a Fail state that says starting again resumes. Answers the steps, in order of the
/// definition.
pub(crate) fn check_tasks<R: DeserializeOwned + std::fmt::Debug>(
    definition: &Value,
    status: &Value,
    fill: impl Fn(&str) -> Value,
) -> Vec<String> {
    let top = &definition["States"];
    let inner = &top["Segments"]["ItemProcessor"]["States"];
    let tasks = top
        .as_object()
        .unwrap()
        .iter()
        .chain(inner.as_object().unwrap())
        .filter(|(_, s)| s["Type"] == "Task");
    let mut steps = Vec::new();
    for (name, state) in tasks {
        let mut payload = serde_json::Map::new();
        for (key, value) in state["Parameters"]["Payload"].as_object().unwrap() {
            match key.strip_suffix(".$") {
                Some(path) => payload.insert(path.into(), fill(path)),
                None => payload.insert(key.clone(), value.clone()),
            };
        }
        let request: R = serde_json::from_value(payload.clone().into())
            .unwrap_or_else(|e| panic!("{name}: {payload:?} is not a step of this job: {e}"));
        steps.push(format!("{request:?}"));
        for (_, path) in state["ResultSelector"].as_object().into_iter().flatten() {
            let path = path.as_str().unwrap();
            let field = path
                .strip_prefix("$.Payload.")
                .unwrap()
                .split('.')
                .fold(status, |value, name| &value[name]);
            assert!(
                !field.is_null(),
                "{name} reads {path}, which no step answers"
            );
        }
        let retried: Vec<&str> = state["Retry"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|r| r["ErrorEquals"].as_array().unwrap())
            .map(|e| e.as_str().unwrap())
            .collect();
        for error in [
            "Retryable",
            "Lambda.TooManyRequestsException",
            "Lambda.ServiceException",
        ] {
            assert!(retried.contains(&error), "{name} does not retry {error}");
        }
        for never in ["Fatal", "States.ALL", "States.TaskFailed"] {
            assert!(!retried.contains(&never), "{name} retries {never}");
        }
    }
    for (name, state) in top.as_object().unwrap() {
        if matches!(state["Type"].as_str(), Some("Task" | "Map")) {
            assert_eq!(
                state["Catch"][0]["ErrorEquals"],
                json!(["States.ALL"]),
                "{name}"
            );
            assert_eq!(state["Catch"][0]["Next"], "Failed", "{name}");
        }
    }
    assert_eq!(top["Failed"]["Type"], "Fail");
    assert!(top["Failed"]["Cause"].as_str().unwrap().contains("resumes"));
    steps
}
