//! Enums held inside a state, at any depth: every variant is described, a change to one is
//! reported on the state's field that holds it, and the tagged forms that have no fixed layout
//! are named, not skipped.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::super::StateLayout;
use super::super::compare::layout_changes;

/// One version of a user's code: a state holding an enum inside a struct inside a `Vec`, in an
/// `Option`, as a map value, and inside recursive types.
macro_rules! version {
    ($module:ident, $status:item) => {
        mod $module {
            use super::*;

            #[derive(Serialize, Deserialize)]
            $status

            #[derive(Serialize, Deserialize)]
            pub struct Paper {
                title: String,
                status: Status,
            }

            #[derive(Serialize, Deserialize)]
            pub enum List {
                Nil,
                Cons(u32, Box<List>),
            }

            #[derive(Serialize, Deserialize)]
            pub enum Expr {
                Lit(u32),
                Add(Box<Expr>, Status),
            }

            #[derive(Serialize, Deserialize)]
            pub struct Tree {
                kind: Status,
                children: Vec<Tree>,
            }

            #[derive(Serialize, Deserialize)]
            pub enum States {
                Start { n: u64 },
                Fetch { papers: Vec<Paper>, latest: Option<Status> },
                Index { by_title: HashMap<String, Status>, list: List, expr: Expr, tree: Tree },
            }
        }
    };
}

version!(
    v1,
    pub enum Status {
        Queued,
        Running { worker: u32 },
        Done(String),
    }
);
version!(
    gained_field,
    pub enum Status {
        Queued,
        Running { worker: u32, since: u64 },
        Done(String),
    }
);
version!(
    changed_type,
    pub enum Status {
        Queued,
        Running { worker: u32 },
        Done(u64),
    }
);
version!(
    reordered,
    pub enum Status {
        Running { worker: u32 },
        Queued,
        Done(String),
    }
);

const STATUS: &str = "enum Status { Queued | Running { worker: u32 } | Done(String) }";

#[test]
fn every_variant_of_an_enum_at_any_depth_is_described() {
    let layout = StateLayout::trace::<v1::States>();
    assert!(layout.is_traced(), "{:?}", layout.untraced_reason());
    assert_eq!(
        layout.describe(),
        [
            "Start (variant 0) { n: u64 }".to_owned(),
            format!(
                "Fetch (variant 1) {{ papers: Vec<Paper {{ title: String, status: {STATUS} }}>, \
                 latest: Option<{STATUS}> }}"
            ),
            format!(
                "Index (variant 2) {{ by_title: Map<String, {STATUS}>, \
                 list: enum List {{ Nil | Cons(u32, List) }}, \
                 expr: enum Expr {{ Lit(u32) | Add(Expr, {STATUS}) }}, \
                 tree: Tree {{ kind: {STATUS}, children: Vec<Tree> }} }}"
            ),
        ]
    );
    // The same code traced again is the same description: runs are adopted.
    assert_eq!(layout, StateLayout::trace::<v1::States>());
    assert_eq!(layout_changes(&layout, &layout, "Index"), Some(Vec::new()));
}

/// The change of `state` from v1 to `new`, as (field, old, new).
fn changes(new: &StateLayout, state: &str) -> Vec<(String, String, String)> {
    let old = StateLayout::trace::<v1::States>();
    assert!(new.is_traced(), "{:?}", new.untraced_reason());
    assert_ne!(old.layout_id(7), new.layout_id(7));
    layout_changes(&old, new, state)
        .expect("both traced")
        .into_iter()
        .map(|c| {
            (
                c.field.unwrap_or_default(),
                c.old.unwrap_or_default(),
                c.new.unwrap_or_default(),
            )
        })
        .collect()
}

#[test]
fn a_variant_that_gains_a_field_is_a_change_of_every_field_holding_the_enum() {
    let new = StateLayout::trace::<gained_field::States>();
    let fetch = changes(&new, "Fetch");
    let now = "enum Status { Queued | Running { worker: u32, since: u64 } | Done(String) }";
    assert_eq!(
        fetch,
        [
            (
                "papers".to_owned(),
                format!("Vec<Paper {{ title: String, status: {STATUS} }}>"),
                format!("Vec<Paper {{ title: String, status: {now} }}>"),
            ),
            (
                "latest".to_owned(),
                format!("Option<{STATUS}>"),
                format!("Option<{now}>"),
            ),
        ]
    );
    let index = changes(&new, "Index");
    let fields: Vec<&str> = index.iter().map(|(f, _, _)| f.as_str()).collect();
    assert_eq!(fields, ["by_title", "expr", "tree"]);
    // A state that holds no `Status` is unchanged: its runs go on.
    assert_eq!(changes(&new, "Start"), []);
}

#[test]
fn a_variant_whose_field_changes_type_is_a_change() {
    let new = StateLayout::trace::<changed_type::States>();
    let fetch = changes(&new, "Fetch");
    assert_eq!(fetch.len(), 2, "{fetch:?}");
    assert_eq!(
        fetch[1],
        (
            "latest".to_owned(),
            format!("Option<{STATUS}>"),
            "Option<enum Status { Queued | Running { worker: u32 } | Done(u64) }>".to_owned(),
        )
    );
}

#[test]
fn reordered_variants_are_a_change() {
    // postcard stores a variant by position: `Queued` stored as 0 would read as `Running`.
    let new = StateLayout::trace::<reordered::States>();
    let fetch = changes(&new, "Fetch");
    assert_eq!(
        fetch[1],
        (
            "latest".to_owned(),
            format!("Option<{STATUS}>"),
            "Option<enum Status { Running { worker: u32 } | Queued | Done(String) }>".to_owned(),
        )
    );
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "type")]
enum Internal {
    A { x: u32 },
    B { y: String },
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "t", content = "c")]
enum Adjacent {
    A(u32),
    B { y: String },
}

#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum Untagged {
    A(u32),
    B(String),
}

#[derive(Serialize, Deserialize)]
struct Flattened {
    id: u32,
    #[serde(flatten)]
    rest: HashMap<String, u32>,
}

#[derive(Serialize, Deserialize)]
enum WithInternal {
    Start { n: u64 },
    Fetch { item: Internal },
}

#[derive(Serialize, Deserialize)]
enum WithAdjacent {
    Start { n: u64 },
    Fetch { item: Vec<Adjacent> },
}

#[derive(Serialize, Deserialize)]
enum WithUntagged {
    Start { n: u64 },
    Fetch { item: Option<Untagged> },
}

#[derive(Serialize, Deserialize)]
enum WithFlatten {
    Start { n: u64 },
    Fetch { item: Flattened },
}

/// Asserts `S` is untraced, its description falls back to the fingerprint, and the reason
/// names each of `expected`.
fn assert_untraced<S: Serialize + serde::de::DeserializeOwned>(expected: &[&str]) {
    let layout = StateLayout::trace::<S>();
    assert!(!layout.is_traced());
    assert_eq!(layout.layout_id(7), 7);
    let reason = layout.untraced_reason().unwrap();
    for part in expected {
        assert!(reason.contains(part), "{part:?} not in {reason:?}");
    }
}

#[test]
fn an_internally_tagged_enum_is_named_with_its_place() {
    assert_untraced::<WithInternal>(&[
        "`item` of `WithInternal::Fetch`",
        "at `Fetch.item`: `internally tagged enum Internal` is read with deserialize_any",
    ]);
}

#[test]
fn an_adjacently_tagged_enum_is_named_with_its_place() {
    assert_untraced::<WithAdjacent>(&[
        "`t` of `Adjacent`",
        "at `Fetch.item.0.t`: a `variant identifier` is read on its own",
    ]);
}

#[test]
fn an_untagged_enum_is_named_by_its_place() {
    // serde's untagged enums ask for `any value`: the name is not given to the deserializer.
    assert_untraced::<WithUntagged>(&[
        "`item` of `WithUntagged::Fetch`",
        "at `Fetch.item`: `any value` is read with deserialize_any",
    ]);
}

#[test]
fn a_flattened_struct_is_named_by_its_place() {
    assert_untraced::<WithFlatten>(&[
        "`item` of `WithFlatten::Fetch`",
        "at `Fetch.item.key`: a `field identifier` is read on its own",
    ]);
}

#[test]
fn a_json_value_is_named_with_its_place() {
    assert_untraced::<super::StatesWithValue>(&[
        "`raw` of `StatesWithValue::Fetch`",
        "at `Fetch.raw`: `any valid JSON value` is read with deserialize_any",
    ]);
}

/// serde-reflection takes the first variant of an enum it meets inside itself: on this one
/// its own trace never ends (the stack overflows).
#[derive(Serialize, Deserialize)]
enum ConsFirst {
    Cons(u32, Box<ConsFirst>),
    Nil,
}

#[derive(Serialize, Deserialize)]
enum WithConsFirst {
    Start {
        n: u64,
    },
    Fetch {
        list: ConsFirst,
        again: Vec<ConsFirst>,
    },
}

#[test]
fn a_recursive_enum_whose_first_variant_recurses_is_traced_without_overflow() {
    let layout = StateLayout::trace::<WithConsFirst>();
    assert!(layout.is_traced(), "{:?}", layout.untraced_reason());
    assert_eq!(
        layout.describe(),
        [
            "Start (variant 0) { n: u64 }",
            "Fetch (variant 1) { list: enum ConsFirst { Cons(u32, ConsFirst) | Nil }, \
             again: Vec<enum ConsFirst { Cons(u32, ConsFirst) | Nil }> }",
        ]
    );
}

#[derive(Serialize, Deserialize)]
enum WithNonZero {
    Start { n: u64 },
    Fetch { count: std::num::NonZeroU32 },
}

#[test]
fn a_type_refusing_the_default_values_is_named_with_its_place() {
    assert_untraced::<WithNonZero>(&[
        "at `Fetch.count`: invalid value: integer `0`, expected a nonzero u32",
    ]);
}

mod other {
    use super::*;

    /// Named like `v1::Status`, not the same type.
    #[derive(Serialize, Deserialize)]
    pub enum Status {
        Unknown(u8),
    }
}

#[derive(Serialize, Deserialize)]
enum WithTwoStatuses {
    Start {
        n: u64,
    },
    Fetch {
        latest: v1::Status,
        other: other::Status,
    },
}

#[test]
fn two_enums_of_one_name_are_named_not_traced() {
    assert_untraced::<WithTwoStatuses>(&[
        "at `Fetch.other`: two enums are named `Status` (variants Queued | Running | Done and \
         Unknown)",
    ]);
}

/// Where each field of `state` first differs from v1: (field, path, old, new).
fn differences(new: &StateLayout, state: &str) -> Vec<(String, String, String, String)> {
    let old = StateLayout::trace::<v1::States>();
    layout_changes(&old, new, state)
        .expect("both traced")
        .into_iter()
        .map(|c| {
            let d = c.first_difference.expect("a difference inside the field");
            (c.field.unwrap_or_default(), d.path, d.old, d.new)
        })
        .collect()
}

fn strings(rows: &[(&str, &str, &str, &str)]) -> Vec<(String, String, String, String)> {
    rows.iter()
        .map(|(a, b, c, d)| ((*a).into(), (*b).into(), (*c).into(), (*d).into()))
        .collect()
}

#[test]
fn a_report_points_at_the_variant_that_changed_inside_the_field() {
    let running = "Running { worker: u32 }";
    let now = "Running { worker: u32, since: u64 }";
    assert_eq!(
        differences(&StateLayout::trace::<gained_field::States>(), "Index"),
        strings(&[
            ("by_title", "by_title.value::Running", running, now),
            ("expr", "expr::Add.1::Running", running, now),
            ("tree", "tree.kind::Running", running, now),
        ])
    );
    assert_eq!(
        differences(&StateLayout::trace::<changed_type::States>(), "Fetch"),
        strings(&[
            (
                "papers",
                "papers[].status::Done",
                "Done(String)",
                "Done(u64)"
            ),
            ("latest", "latest?::Done", "Done(String)", "Done(u64)"),
        ])
    );
    // Variants that moved: the enum's list of variants is the point.
    let reordered = differences(&StateLayout::trace::<reordered::States>(), "Fetch");
    assert_eq!(reordered[1].1, "latest?");
    assert_eq!(reordered[1].2, STATUS);
    let old = StateLayout::trace::<v1::States>();
    let new = StateLayout::trace::<gained_field::States>();
    let message = layout_changes(&old, &new, "Fetch").unwrap()[0].to_string();
    assert!(
        message.ends_with(&format!(
            "(at `papers[].status::Running`: `{running}`, now `{now}`)"
        )),
        "{message}"
    );
}
