//! The fingerprint of a workflow's state layout, stored with every run: a run stored under
//! another fingerprint is refused by name instead of being decoded into the wrong states.
//!
//! The written types are hashed by a canonical walk of their tokens (identifiers, punctuation,
//! literals and group delimiters, each tagged), never through a printer: rustc's token printer
//! has changed its spacing between releases, and a fingerprint taken from it changed with a
//! compiler upgrade alone, reporting every stored run as incompatible.
//!
//! [`legacy_fingerprint`] is the first scheme (the printed types), kept so that runs stored by
//! builds that used it are still recognised as this layout.

use proc_macro2::{Delimiter, TokenStream, TokenTree};
use quote::{ToTokens, quote};

use super::machine::Machine;

/// The fingerprint of the state layout: a change to the states, their fields or the types
/// written for them makes stored runs incompatible, which the runtime reports by name. A pure
/// function of the lowered body (through the states in arm order), the name and the version.
pub fn fingerprint(machine: &Machine, name: &str, version: u32) -> u64 {
    let mut layout = Canonical::default();
    layout.text("cairn-layout-2");
    layout.text(name);
    layout.text(&version.to_string());
    let body = machine.body;
    for &id in &machine.states {
        let state = &body.states[id];
        layout.tag(b'S');
        layout.text(&state.name.to_string());
        for &var in &state.fields {
            layout.tag(b'F');
            layout.text(&body.vars[var].ident.to_string());
            match &body.vars[var].ty {
                Some(ty) => layout.tokens(ty.to_token_stream()),
                // Inferred: not covered here (see the runtime's description of stored types).
                None => layout.tag(b'_'),
            }
        }
        layout.tag(b'E');
    }
    fnv1a(&layout.bytes)
}

/// The fingerprint under the first scheme, `cairn-layout-1`: the types as rustc's token printer
/// wrote them. Runs stored by builds before `cairn-layout-2` carry it.
pub fn legacy_fingerprint(machine: &Machine, name: &str, version: u32) -> u64 {
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

/// An unambiguous byte string of tagged, length-prefixed parts.
#[derive(Default)]
struct Canonical {
    bytes: Vec<u8>,
}

impl Canonical {
    fn tag(&mut self, tag: u8) {
        self.bytes.push(tag);
    }

    /// A string, prefixed with its length so that `ab` + `c` and `a` + `bc` differ.
    fn text(&mut self, text: &str) {
        self.tag(b'T');
        self.bytes
            .extend_from_slice(&u32::try_from(text.len()).unwrap_or(u32::MAX).to_le_bytes());
        self.bytes.extend_from_slice(text.as_bytes());
    }

    /// Tokens, walked: what they are, not how a printer spaces them.
    fn tokens(&mut self, tokens: TokenStream) {
        for token in tokens {
            match token {
                TokenTree::Ident(ident) => {
                    self.tag(b'i');
                    self.text(&ident.to_string());
                }
                // Spacing (`Joint` or `Alone`) is left out: it is how `>>` was written, which
                // the parser has already split into what it means.
                TokenTree::Punct(punct) => {
                    self.tag(b'p');
                    let mut buf = [0; 4];
                    self.text(punct.as_char().encode_utf8(&mut buf));
                }
                TokenTree::Literal(literal) => {
                    self.tag(b'l');
                    self.text(&literal.to_string());
                }
                TokenTree::Group(group) => {
                    self.tag(match group.delimiter() {
                        Delimiter::Parenthesis => b'(',
                        Delimiter::Brace => b'{',
                        Delimiter::Bracket => b'[',
                        Delimiter::None => b'g',
                    });
                    self.tokens(group.stream());
                    self.tag(b'.');
                }
            }
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn canonical(tokens: TokenStream) -> Vec<u8> {
        let mut layout = Canonical::default();
        layout.tokens(tokens);
        layout.bytes
    }

    /// Spacing and how a printer would write the tokens do not matter; the tokens do.
    #[test]
    fn the_walk_sees_tokens_not_spacing() {
        let a: syn::Type = syn::parse_str("Vec<Option<(u32, String)>>").unwrap();
        let b: syn::Type = syn::parse_str("Vec < Option < ( u32 , String ) > >").unwrap();
        assert_eq!(
            canonical(a.to_token_stream()),
            canonical(b.to_token_stream())
        );
        let c: syn::Type = syn::parse_str("Vec<Option<(u32, Strin)>>").unwrap();
        assert_ne!(
            canonical(a.to_token_stream()),
            canonical(c.to_token_stream())
        );
        let d: syn::Type = syn::parse_str("Vec<Option<[u32; 2]>>").unwrap();
        let e: syn::Type = syn::parse_str("Vec<Option<(u32, u32)>>").unwrap();
        assert_ne!(
            canonical(d.to_token_stream()),
            canonical(e.to_token_stream())
        );
    }
}
