//! An entity as the change log leaves it: for every field, the value with the highest
//! clock stamp. Every node folds changes this way, so all of them end with the same record
//! whatever order the changes reach them in.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::Change;

/// The current fields of one entity, with the stamp of each.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub values: BTreeMap<String, serde_json::Value>,
    pub stamps: BTreeMap<String, String>,
}

impl Record {
    /// Takes each field of `change` whose stamp is higher than the one held; returns
    /// whether anything changed. Stamps compare as text: they are fixed-width.
    pub fn apply(&mut self, change: &Change) -> bool {
        let mut changed = false;
        for (name, field) in &change.fields {
            let newer = self
                .stamps
                .get(name)
                .is_none_or(|held| field.stamp.as_str() > held.as_str());
            if newer {
                self.values.insert(name.clone(), field.value.clone());
                self.stamps.insert(name.clone(), field.stamp.clone());
                changed = true;
            }
        }
        changed
    }

    /// The highest stamp of any field, which a new local edit must beat.
    pub fn latest_stamp(&self) -> Option<&str> {
        self.stamps.values().map(String::as_str).max()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::{ChangeOp, FieldChange};

    fn change(set: &[(&str, &str, &str)]) -> Change {
        Change {
            id: "n:1".into(),
            entity: "customer".into(),
            entity_id: "c".into(),
            op: ChangeOp::Upsert,
            hlc: "h".into(),
            fields: set
                .iter()
                .map(|(name, value, stamp)| {
                    let field = FieldChange {
                        value: serde_json::json!(value),
                        stamp: (*stamp).into(),
                        base: None,
                    };
                    ((*name).to_owned(), field)
                })
                .collect(),
        }
    }

    #[test]
    fn highest_stamp_wins_whatever_the_order() {
        let older = change(&[("notes", "old", "001")]);
        let newer = change(&[("notes", "new", "002")]);
        let mut one = Record::default();
        one.apply(&older);
        one.apply(&newer);
        let mut other = Record::default();
        other.apply(&newer);
        assert!(!other.apply(&older));
        assert_eq!(one, other);
        assert_eq!(one.values["notes"], "new");
    }

    #[test]
    fn edits_to_different_fields_both_stay() {
        let mut record = Record::default();
        record.apply(&change(&[("firstName", "Ana", "002")]));
        record.apply(&change(&[("notes", "VIP", "001")]));
        assert_eq!(record.values.len(), 2);
        assert_eq!(record.latest_stamp(), Some("002"));
    }
}
