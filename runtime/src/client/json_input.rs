//! JSON inputs of [`Client::start_json`](crate::Client::start_json): the input type's own JSON,
//! or an object keyed by the workflow's parameter names, as people write it.
//!
//! The input type of a workflow is its one parameter's type, a tuple of several, or `()`, so
//! its own JSON is the parameter's value, an array in parameter order, or `null`. An object
//! keyed by [`Workflow::PARAMETERS`](crate::Workflow::PARAMETERS) is accepted too:
//!
//! - several parameters: an object must have exactly the parameters as keys (any order);
//!   otherwise [`Error::InputKeys`] names the missing and unknown keys.
//! - one parameter `p`: the type of `p` may itself be read from an object, so an object is
//!   ambiguous. The rule: an object whose only key is `p` is read as `{"p": value}` first, and
//!   if `value` is not a `p`, as the value of `p` itself; any other object is read as the value
//!   of `p` itself, and if it is not one, [`Error::InputKeys`] names the keys (with serde's
//!   reason why the object is not a `p` either). So when both readings decode (say `p` is a
//!   `serde_json::Value`), the keyed one wins; wrap the value as `{"p": value}` to be explicit.
//! - no parameter: `null` or `{}`; an object with keys is [`Error::InputKeys`].

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::error::Error;

/// Decodes the JSON `input` of `workflow`, whose parameters are named `parameters` (empty for
/// a hand-written workflow, which then takes only its input type's own JSON).
pub(crate) fn decode<I: DeserializeOwned>(
    workflow: &str,
    parameters: &[&str],
    input: Value,
) -> Result<I, Error> {
    let malformed = |reason: String| Error::MalformedInput {
        workflow: workflow.to_owned(),
        reason,
    };
    let keys_error = |object: &Map<String, Value>, as_value: Option<String>| {
        let (missing, unknown) = mismatched_keys(parameters, object);
        Error::InputKeys {
            workflow: workflow.to_owned(),
            parameters: parameters.iter().map(|p| (*p).to_owned()).collect(),
            missing,
            unknown,
            as_value,
        }
    };
    let object = match input {
        Value::Object(object) => object,
        // Not an object: only the input type's own JSON can be meant.
        other => return serde_json::from_value(other).map_err(|e| malformed(e.to_string())),
    };
    match parameters {
        [] => {
            let as_value = serde_json::from_value::<I>(Value::Object(object.clone()));
            match as_value {
                Ok(input) => Ok(input),
                // A workflow without parameters (its input is `()`, read from `null`).
                Err(_) if serde_json::from_value::<I>(Value::Null).is_ok() => {
                    if object.is_empty() {
                        serde_json::from_value(Value::Null).map_err(|e| malformed(e.to_string()))
                    } else {
                        Err(keys_error(&object, None))
                    }
                }
                Err(e) => Err(malformed(e.to_string())),
            }
        }
        [only] => {
            if object.len() == 1
                && let Some(value) = object.get(*only)
            {
                let keyed = serde_json::from_value::<I>(value.clone());
                return match keyed {
                    Ok(input) => Ok(input),
                    Err(keyed) => serde_json::from_value(Value::Object(object))
                        .map_err(|_| malformed(format!("parameter `{only}`: {keyed}"))),
                };
            }
            serde_json::from_value(Value::Object(object.clone()))
                .map_err(|as_value| keys_error(&object, Some(as_value.to_string())))
        }
        several => {
            let (missing, unknown) = mismatched_keys(several, &object);
            if !missing.is_empty() || !unknown.is_empty() {
                return Err(keys_error(&object, None));
            }
            let mut object = object;
            let positional = several
                .iter()
                .map(|p| object.remove(*p).unwrap_or(Value::Null))
                .collect();
            serde_json::from_value(Value::Array(positional)).map_err(|e| {
                malformed(format!(
                    "{e} (keyed by parameter name: {})",
                    quoted(several.iter().copied())
                ))
            })
        }
    }
}

/// The parameters `object` has no key for, and its keys that name no parameter.
fn mismatched_keys(parameters: &[&str], object: &Map<String, Value>) -> (Vec<String>, Vec<String>) {
    let missing = parameters
        .iter()
        .filter(|p| !object.contains_key(**p))
        .map(|p| (*p).to_owned())
        .collect();
    let unknown = object
        .keys()
        .filter(|k| !parameters.contains(&k.as_str()))
        .cloned()
        .collect();
    (missing, unknown)
}

/// The message of [`Error::InputKeys`], after "is an object keyed by parameter name, but".
pub(crate) fn describe_keys(
    parameters: &[String],
    missing: &[String],
    unknown: &[String],
    as_value: Option<&str>,
) -> String {
    let mut parts = Vec::new();
    if !missing.is_empty() {
        parts.push(format!(
            "it has no key {}",
            quoted(missing.iter().map(String::as_str))
        ));
    }
    if !unknown.is_empty() {
        parts.push(format!(
            "its key {} names no parameter",
            quoted(unknown.iter().map(String::as_str))
        ));
    }
    let mut message = parts.join(" and ");
    if parameters.is_empty() {
        message.push_str(" (the workflow takes no parameter: give `null` or `{}`)");
    } else {
        message.push_str(&format!(
            " (its parameters are {})",
            quoted(parameters.iter().map(String::as_str))
        ));
    }
    if let (Some(reason), [only]) = (as_value, parameters) {
        message.push_str(&format!(
            "; nor is the object the value of `{only}` itself: {reason}"
        ));
    }
    message
}

/// `a`, `b`: names in backquotes.
fn quoted<'a>(names: impl Iterator<Item = &'a str>) -> String {
    names
        .map(|name| format!("`{name}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_message_names_the_keys_and_the_parameters() {
        let error =
            decode::<(String, u32)>("w", &["topic", "depth"], json!({ "topic": "x", "dept": 1 }))
                .unwrap_err();
        assert_eq!(
            error.to_string(),
            "JSON input for workflow `w` is an object keyed by parameter name, but it has no \
             key `depth` and its key `dept` names no parameter (its parameters are `topic`, \
             `depth`)"
        );
        let error = decode::<String>("w", &["topic"], json!({ "title": "x" })).unwrap_err();
        assert_eq!(
            error.to_string(),
            "JSON input for workflow `w` is an object keyed by parameter name, but it has no \
             key `topic` and its key `title` names no parameter (its parameters are `topic`); \
             nor is the object the value of `topic` itself: invalid type: map, expected a string"
        );
    }

    #[test]
    fn a_hand_written_workflow_takes_its_input_types_json_only() {
        #[derive(serde::Deserialize, Debug, PartialEq)]
        struct Input {
            a: u32,
        }
        assert_eq!(
            decode::<Input>("w", &[], json!({ "a": 1 })).unwrap(),
            Input { a: 1 }
        );
        assert!(matches!(
            decode::<Input>("w", &[], json!({ "b": 1 })),
            Err(Error::MalformedInput { .. })
        ));
    }
}
