//! What changed in one state between the description a run was stored with and the current
//! one: the per-state comparison that decides whether a run of an older layout can go on
//! with the current code, and the lines of the report when it cannot.

use std::fmt;

use super::render::{StateShape, states};

/// One difference between how a run's current state was stored and how the current code
/// stores that state: a field whose type changed, a field added or removed, fields
/// reordered, a state that moved or no longer exists. Part of
/// [`Error::IncompatibleState`](crate::Error::IncompatibleState).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LayoutChange {
    /// The state (variant of the state enum) the run is in.
    pub state: String,
    /// The field concerned, `None` for a change of the state as a whole.
    pub field: Option<String>,
    /// How it was stored (a type spelled out, a variant position, a field list), `None` for
    /// something added.
    pub old: Option<String>,
    /// How the current code stores it, `None` for something removed.
    pub new: Option<String>,
    /// For a field whose type changed, where inside it the two first differ, when that is
    /// deeper than the field (a variant of an enum held in a struct in a `Vec`).
    pub first_difference: Option<Difference>,
}

/// Where inside a field's type two descriptions first differ, and what is there in each.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Difference {
    /// From the field down: `.field` of a struct or variant, `[]` the elements of a sequence,
    /// `?` the value of an `Option`, `.key` and `.value` of a map, `.0` a tuple's part,
    /// `::Variant` a variant of an enum (`jobs[].status::Running`).
    pub path: String,
    /// What is there in the stored description.
    pub old: String,
    /// What is there in the current one.
    pub new: String,
}

impl fmt::Display for LayoutChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = &self.state;
        match (&self.field, &self.old, &self.new) {
            (Some(field), Some(old), Some(new)) => {
                write!(
                    f,
                    "state `{state}`, field `{field}`: stored as `{old}`, now `{new}`"
                )?;
                match &self.first_difference {
                    Some(d) => write!(f, " (at `{}`: `{}`, now `{}`)", d.path, d.old, d.new),
                    None => Ok(()),
                }
            }
            (Some(field), Some(old), None) => {
                write!(f, "state `{state}`: field `{field}: {old}` was removed")
            }
            (Some(field), None, Some(new)) => {
                write!(f, "state `{state}`: field `{field}: {new}` was added")
            }
            (None, Some(old), None) => write!(
                f,
                "state `{state}` ({old}) no longer exists (removed or renamed)"
            ),
            (None, Some(old), Some(new)) => {
                write!(f, "state `{state}`: stored as {old}, now {new}")
            }
            _ => write!(f, "state `{state}` changed"),
        }
    }
}

/// The changes of state `state` between two stored descriptions; `None` if either is not
/// traced (nothing to compare but fingerprints).
pub(crate) fn layout_changes(
    old: &super::StateLayout,
    new: &super::StateLayout,
    state: &str,
) -> Option<Vec<LayoutChange>> {
    let (old, new) = (old.parsed()?, new.parsed()?);
    let mut changes = state_changes(&states(&old), &states(&new), state);
    super::pinpoint::refine(&mut changes, Some(old), Some(new));
    Some(changes)
}

/// The changes of state `state` from `old` to `new`; empty if it is stored the same way.
pub(crate) fn state_changes(
    old: &[StateShape],
    new: &[StateShape],
    state: &str,
) -> Vec<LayoutChange> {
    let find = |shapes: &[StateShape]| shapes.iter().find(|s| s.name == state).cloned();
    match (find(old), find(new)) {
        (Some(old), Some(new)) => diff(&old, &new),
        (Some(old), None) => vec![LayoutChange {
            state: state.to_owned(),
            field: None,
            old: Some(old.to_string()),
            new: None,
            first_difference: None,
        }],
        // The run is in a state its own description does not have: its description is not the
        // one it was stored with (a damaged or hand-edited store); nothing to compare.
        (None, _) => vec![LayoutChange {
            state: state.to_owned(),
            field: None,
            old: Some("a state not in the stored description".to_owned()),
            new: None,
            first_difference: None,
        }],
    }
}

fn diff(old: &StateShape, new: &StateShape) -> Vec<LayoutChange> {
    let change = |field: Option<&str>, o: Option<&str>, n: Option<&str>| LayoutChange {
        state: old.name.clone(),
        field: field.map(str::to_owned),
        old: o.map(str::to_owned),
        new: n.map(str::to_owned),
        first_difference: None,
    };
    let mut out = Vec::new();
    if old.index != new.index {
        out.push(change(
            None,
            Some(&format!("variant {}", old.index)),
            Some(&format!(
                "variant {} (states were added or removed before it)",
                new.index
            )),
        ));
    }
    for (name, old_ty) in &old.fields {
        match new.fields.iter().find(|(n, _)| n == name) {
            Some((_, new_ty)) if new_ty != old_ty => {
                out.push(change(Some(name), Some(old_ty), Some(new_ty)));
            }
            Some(_) => {}
            None => out.push(change(Some(name), Some(old_ty), None)),
        }
    }
    for (name, new_ty) in &new.fields {
        if !old.fields.iter().any(|(n, _)| n == name) {
            out.push(change(Some(name), None, Some(new_ty)));
        }
    }
    let names = |shape: &StateShape| {
        shape
            .fields
            .iter()
            .map(|(n, _)| n.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    if out.is_empty() && old.fields != new.fields {
        out.push(change(
            None,
            Some(&format!("fields in the order ({})", names(old))),
            Some(&format!("({})", names(new))),
        ));
    }
    out
}
