//! The fingerprint of a workflow's state layout, stored with every run: a run stored under
//! another fingerprint is refused by name instead of being decoded into the wrong states.

use quote::quote;

use super::machine::Machine;

/// The fingerprint of the state layout: a change to the states, their fields or the types
/// written for them makes stored runs incompatible, which the runtime reports by name. A pure
/// function of the lowered body (through the states in arm order), the name and the version.
pub fn fingerprint(machine: &Machine, name: &str, version: u32) -> u64 {
    let body = machine.body;
    let mut layout = format!("cairn-layout-1;{name};{version};");
    for &id in &machine.states {
        let state = &body.states[id];
        layout.push_str(&format!("{}{{", state.name));
        for &var in &state.fields {
            let ty = match &body.vars[var].ty {
                Some(ty) => quote!(#ty).to_string(),
                None => "_".to_owned(),
            };
            layout.push_str(&format!("{}:{ty},", body.vars[var].ident));
        }
        layout.push('}');
    }
    fnv1a(layout.as_bytes())
}

/// FNV-1a: small, stable across Rust versions and platforms (unlike `DefaultHasher`).
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in bytes {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}
