//! How one stored item is rewritten for the next key generation: pure, so each rule is a unit
//! test.
//!
//! An item names people by their person key in its keys (`PER#{key}`, `LEGALREP#{key}`,
//! `{applied_at}#{key}`) and in the fields [`PERSON_FIELDS`] lists, nested ones included, and by
//! their per-enterprise pseudonyms (`EMP#{employee_id}`, `AGENT#{agent_id}`, the list indexes'
//! sort keys), which derive from the key. Every key an item holds is advanced
//! ([`PersonKeyer::advance`]); then every string in the item has each old key and each old
//! pseudonym of those people, in the enterprise the item belongs to, replaced by the new one —
//! so a field added later that repeats them is rewritten too. The transition index's shard
//! derives from the key, and is recomputed. A rewritten item is marked with the generation it
//! now has ([`KEY_GENERATION`]), so a second pass, or a resumed one, never advances it twice.

use crate::authorize::AgentId;
use crate::ids::{EmployeeId, KeyGeneration, PersonKey, PersonKeyer, Uscc};
use crate::keys;
use crate::store::Item;
use aws_sdk_dynamodb::types::AttributeValue;
use std::collections::BTreeMap;

/// The attribute marking the key generation an item was rewritten to.
pub const KEY_GENERATION: &str = "key_generation";

/// Field names that hold a person key, at any depth: the person an item is about (`person`),
/// the agent of an authorisation, who decided it, the legal representative, an audit record's
/// actor and subject, a share link's applicant, an offline grant's operator, who asked for an
/// export.
pub const PERSON_FIELDS: [&str; 9] = [
    "person",
    "agent",
    "decided_by",
    "legal_rep",
    "actor",
    "subject",
    "applicant",
    "operator",
    "requested_by_person",
];

/// What becomes of one item.
#[derive(Debug, Clone, PartialEq)]
pub enum Rewrite {
    /// It names nobody, or was rewritten already.
    Unchanged,
    /// Its key stays; these attributes change (the marker among them).
    InPlace { changed: Item },
    /// Its key changes: the whole item moves to `item`'s key.
    Moved { item: Item },
}

/// Plans the rewrite of `item` from the generation before `keyer`'s in force to it.
pub fn plan(item: &Item, keyer: &PersonKeyer) -> Rewrite {
    let generation = keyer.in_force();
    if marked(item) == Some(generation) {
        return Rewrite::Unchanged;
    }
    let mut old_keys = Vec::new();
    for (name, value) in item {
        collect_keys(name, value, &mut old_keys);
    }
    old_keys.sort();
    old_keys.dedup();
    let replacements = replacements(item, &old_keys, keyer);
    if replacements.is_empty() {
        return Rewrite::Unchanged;
    }
    let mut rewritten: Item = item
        .iter()
        .map(|(name, value)| (name.clone(), replace(value, &replacements)))
        .collect();
    if let Some(person) =
        text(&rewritten, "person").and_then(|p| PersonKey::try_from(p.to_string()).ok())
        && rewritten.contains_key(keys::GSI3PK)
    {
        rewritten.insert(
            keys::GSI3PK.into(),
            AttributeValue::S(keys::due_shard(&person)),
        );
    }
    rewritten.insert(
        KEY_GENERATION.into(),
        AttributeValue::N(generation.to_string()),
    );
    if text(&rewritten, keys::PK) != text(item, keys::PK)
        || text(&rewritten, keys::SK) != text(item, keys::SK)
    {
        return Rewrite::Moved { item: rewritten };
    }
    let changed = rewritten
        .into_iter()
        .filter(|(name, value)| item.get(name) != Some(value))
        .collect();
    Rewrite::InPlace { changed }
}

/// Marks a record made during a re-key from an item of `generation` (its keys copied from that
/// item): it is then as far along as that item, and the job treats it the same.
pub fn mark(item: &mut Item, generation: Option<KeyGeneration>) {
    if let Some(generation) = generation {
        item.insert(
            KEY_GENERATION.into(),
            AttributeValue::N(generation.to_string()),
        );
    }
}

/// The generation `item` was rewritten to, if it was.
pub fn marked(item: &Item) -> Option<KeyGeneration> {
    item.get(KEY_GENERATION)
        .and_then(|v| v.as_n().ok())
        .and_then(|n| n.parse().ok())
}

fn text<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
}

/// The person keys an attribute holds: a key attribute naming a person, or a person field.
fn collect_keys(name: &str, value: &AttributeValue, found: &mut Vec<PersonKey>) {
    let key_of = |raw: &str| PersonKey::try_from(raw.to_string()).ok();
    match value {
        AttributeValue::S(s) => {
            let named = match name {
                keys::PK | keys::GSI1PK => s.strip_prefix("PER#").and_then(key_of),
                keys::GSI2PK => s.strip_prefix("LEGALREP#").and_then(key_of),
                _ if PERSON_FIELDS.contains(&name) => key_of(s),
                _ => None,
            };
            found.extend(named);
        }
        AttributeValue::M(fields) => {
            for (inner, value) in fields {
                collect_keys(inner, value, found);
            }
        }
        AttributeValue::L(values) => {
            for value in values {
                collect_keys(name, value, found);
            }
        }
        _ => {}
    }
}

/// Old → new for each person key, and for each of their pseudonyms in the item's enterprise.
fn replacements(
    item: &Item,
    old_keys: &[PersonKey],
    keyer: &PersonKeyer,
) -> BTreeMap<String, String> {
    let uscc = text(item, keys::PK)
        .and_then(|pk| pk.strip_prefix(keys::ENT_PREFIX))
        .or_else(|| text(item, "uscc"))
        .and_then(|raw| Uscc::parse(raw).ok());
    let mut map = BTreeMap::new();
    for old in old_keys {
        let Some(new) = keyer.advance(old) else {
            continue;
        };
        if let Some(uscc) = &uscc {
            map.insert(
                EmployeeId::of(uscc, old).to_string(),
                EmployeeId::of(uscc, &new).to_string(),
            );
            map.insert(
                AgentId::of(uscc, old).to_string(),
                AgentId::of(uscc, &new).to_string(),
            );
        }
        map.insert(old.to_string(), new.to_string());
    }
    map
}

fn replace(value: &AttributeValue, replacements: &BTreeMap<String, String>) -> AttributeValue {
    match value {
        AttributeValue::S(s) => AttributeValue::S(replace_text(s, replacements)),
        AttributeValue::Ss(set) => {
            AttributeValue::Ss(set.iter().map(|s| replace_text(s, replacements)).collect())
        }
        AttributeValue::L(values) => {
            AttributeValue::L(values.iter().map(|v| replace(v, replacements)).collect())
        }
        AttributeValue::M(fields) => AttributeValue::M(
            fields
                .iter()
                .map(|(name, v)| (name.clone(), replace(v, replacements)))
                .collect(),
        ),
        other => other.clone(),
    }
}

fn replace_text(text: &str, replacements: &BTreeMap<String, String>) -> String {
    // Keys (64 hex) and pseudonyms (32 hex) cannot overlap one another by accident: a 32-hex
    // pseudonym inside a 64-hex key would be a SHA-256 collision.
    replacements
        .iter()
        .filter(|(old, _)| text.contains(old.as_str()))
        .fold(text.to_string(), |text, (old, new)| {
            text.replace(old.as_str(), new)
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{IdDocument, IdType};

    fn keyers() -> (PersonKeyer, PersonKeyer) {
        let both = PersonKeyer::with_generations(&[&[1u8; 32], &[2u8; 32]]).unwrap();
        (both.at(1).unwrap(), both)
    }

    fn person(keyer: &PersonKeyer, number: &str) -> PersonKey {
        keyer.key(&IdDocument::parse(IdType::ResidentId, number).unwrap())
    }

    fn s(value: &str) -> AttributeValue {
        AttributeValue::S(value.into())
    }

    #[test]
    fn a_membership_moves_to_the_new_pseudonym_with_its_indexes() {
        let (old, new) = keyers();
        let uscc = Uscc::parse("91440300MA5D3M0014").unwrap();
        let p = person(&old, "11010519491231002X");
        let p2 = person(&new, "11010519491231002X");
        let eid = EmployeeId::of(&uscc, &p);
        let item: Item = [
            (keys::PK, s(&keys::enterprise(&uscc))),
            (keys::SK, s(&keys::employee(eid.as_str()))),
            (keys::GSI1PK, s(&keys::person(&p))),
            (keys::GSI1SK, s(&keys::employment_at(&uscc))),
            (keys::GSI4SK, s(&format!("C#1#张三#{eid}"))),
            ("person", s(p.as_str())),
            ("employee_id", s(eid.as_str())),
            ("name", s("张三")),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        let Rewrite::Moved { item: moved } = plan(&item, &new) else {
            panic!("a membership's key changes");
        };
        let eid2 = EmployeeId::of(&uscc, &p2);
        assert_eq!(
            text(&moved, keys::SK),
            Some(keys::employee(eid2.as_str()).as_str())
        );
        assert_eq!(text(&moved, keys::GSI1PK), Some(keys::person(&p2).as_str()));
        assert_eq!(
            text(&moved, keys::GSI4SK),
            Some(format!("C#1#张三#{eid2}").as_str())
        );
        assert_eq!(text(&moved, "employee_id"), Some(eid2.as_str()));
        assert_eq!(text(&moved, "name"), Some("张三"));
        assert_eq!(marked(&moved), Some(2));
        // Done once: the marked item is left as it is.
        assert_eq!(plan(&moved, &new), Rewrite::Unchanged);
    }

    #[test]
    fn nested_and_several_keys_change_in_place_and_the_due_shard_follows_the_key() {
        let (old, new) = keyers();
        let actor = person(&old, "11010519491231002X");
        let subject = person(&old, "440301199001011234");
        let audit: Item = [
            (keys::PK, s("ENT#91440300MA5D3M0014")),
            (keys::SK, s("AUDIT#2022-04-01T02:00:00Z#01")),
            ("actor", s(actor.as_str())),
            ("subject", s(subject.as_str())),
            (
                "offline",
                AttributeValue::M([("operator".to_string(), s(actor.as_str()))].into()),
            ),
            ("detail", s("unrelated text")),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        let Rewrite::InPlace { changed } = plan(&audit, &new) else {
            panic!("an audit record stays where it is");
        };
        let new_actor = new.advance(&actor).unwrap();
        assert_eq!(text(&changed, "actor"), Some(new_actor.as_str()));
        assert_eq!(
            text(&changed, "subject"),
            Some(new.advance(&subject).unwrap().as_str())
        );
        assert!(!changed.contains_key("detail") && !changed.contains_key(keys::PK));

        let health: Item = [
            (keys::PK, s(&keys::person(&subject))),
            (keys::SK, s(keys::HEALTH)),
            (keys::GSI3PK, s(&keys::due_shard(&subject))),
            (keys::GSI3SK, s(&format!("2022-04-01T02:00:00Z#{subject}"))),
            ("person", s(subject.as_str())),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        let Rewrite::Moved { item } = plan(&health, &new) else {
            panic!("a person's items move to the new key");
        };
        let new_subject = new.advance(&subject).unwrap();
        assert_eq!(
            text(&item, keys::GSI3PK),
            Some(keys::due_shard(&new_subject).as_str())
        );
        assert!(
            text(&item, keys::GSI3SK)
                .unwrap()
                .ends_with(new_subject.as_str())
        );
    }

    #[test]
    fn items_naming_nobody_stay() {
        let (_, new) = keyers();
        let summary: Item = [
            (keys::PK, s("ENT#91440300MA5D3M0014")),
            (keys::SK, s(keys::SUMMARY)),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        assert_eq!(plan(&summary, &new), Rewrite::Unchanged);
    }
}
