//! Unit tests of descriptions: what they spell out, what they tell apart, what they cannot
//! trace.

use serde::{Deserialize, Serialize};

use super::StateLayout;
use super::compare::layout_changes;

#[derive(Serialize, Deserialize)]
struct Node {
    label: String,
    children: Vec<Node>,
}

#[derive(Serialize, Deserialize)]
enum Shape {
    Dot,
    Circle(f64),
    Rect { w: u32, h: u32 },
}

#[derive(Serialize, Deserialize)]
enum StatesA {
    Start {
        n: u64,
    },
    Fetch {
        n: u64,
        tree: Node,
        shape: Option<(u8, u32)>,
    },
}

#[derive(Serialize, Deserialize)]
enum StatesB {
    Start {
        n: u64,
    },
    Fetch {
        n: u64,
        tree: Node,
        shape: Option<(u8, String)>,
    },
}

#[derive(Serialize, Deserialize)]
enum StatesWithEnum {
    Start { n: u64 },
    Fetch { shape: Shape },
}

#[derive(Serialize, Deserialize)]
enum StatesWithValue {
    Start { n: u64 },
    Fetch { raw: serde_json::Value },
}

#[test]
fn a_recursive_type_is_spelled_out_once() {
    let layout = StateLayout::trace::<StatesA>();
    assert!(layout.is_traced(), "{:?}", layout.untraced_reason());
    assert_eq!(
        layout.describe(),
        [
            "Start (variant 0) { n: u64 }",
            "Fetch (variant 1) { n: u64, tree: Node { label: String, children: Vec<Node> }, \
             shape: Option<(u8, u32)> }",
        ]
    );
}

#[test]
fn a_changed_field_type_is_one_change_and_other_states_none() {
    let (a, b) = (
        StateLayout::trace::<StatesA>(),
        StateLayout::trace::<StatesB>(),
    );
    assert_ne!(a.layout_id(7), b.layout_id(7));
    assert_eq!(layout_changes(&a, &b, "Start"), Some(Vec::new()));
    let changes = layout_changes(&a, &b, "Fetch").unwrap();
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert_eq!(changes[0].field.as_deref(), Some("shape"));
    assert_eq!(changes[0].new.as_deref(), Some("Option<(u8, String)>"));
}

#[test]
fn the_same_type_traced_twice_has_the_same_layout_id() {
    let (a, again) = (
        StateLayout::trace::<StatesA>(),
        StateLayout::trace::<StatesA>(),
    );
    assert_eq!(a, again);
    assert_eq!(a.layout_id(7), again.layout_id(7));
    assert_ne!(a.layout_id(7), a.layout_id(8));
}

#[test]
fn an_untraceable_field_is_named_and_the_fingerprint_stands_alone() {
    let layout = StateLayout::trace::<StatesWithValue>();
    assert!(!layout.is_traced());
    let reason = layout.untraced_reason().unwrap();
    assert!(
        reason.contains("`raw` of `StatesWithValue::Fetch`"),
        "{reason}"
    );
    assert_eq!(layout.layout_id(7), 7);
    assert_eq!(layout_changes(&layout, &layout, "Fetch"), None);
}

#[test]
fn an_enum_held_in_a_state_is_traced_with_every_variant() {
    let layout = StateLayout::trace::<StatesWithEnum>();
    assert!(layout.is_traced(), "{:?}", layout.untraced_reason());
    assert_eq!(
        layout.describe(),
        [
            "Start (variant 0) { n: u64 }",
            "Fetch (variant 1) { shape: enum Shape { Dot | Circle(f64) | Rect { w: u32, h: u32 } } }",
        ]
    );
    assert_ne!(layout.layout_id(7), 7);
}

mod nested;
