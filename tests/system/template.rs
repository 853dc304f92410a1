//! `template.yaml` declares the table the code creates locally and in tests.

use fangyitong::table;
use serde_yaml::Value;

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
