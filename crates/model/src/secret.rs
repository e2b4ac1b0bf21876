//! `Secret<T>`: a value that never shows itself in Debug, Display, logs or serialised output.
//!
//! Serialising a `Secret` writes [`REDACTED`]. The only way to serialise the real value is
//! [`with_secrets_exposed`], which the model uses internally to split a config into its
//! redacted form and its secret map (see [`crate::SecretMap`]).
//!
//! A secret may instead come from a [`SecretRef`] (a secret kept outside Warden): then it
//! serialises as the reference, `{"secretRef": "..."}`, in both forms, so the reference is
//! what is stored and shown, and the value it resolved to is never in either.

use std::cell::Cell;
use std::fmt;

use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

use crate::secret_ref::{SECRET_REF_KEY, SecretRef};

/// What every secret looks like on the way out, and what a client may send back to mean
/// "keep the stored value".
pub const REDACTED: &str = "[REDACTED]";

/// A secret value. Compare, clone and move it freely; read it with [`Secret::expose`].
#[derive(Clone, PartialEq, Eq)]
pub struct Secret<T> {
    value: T,
    /// Where the value comes from, when it is kept outside Warden.
    reference: Option<Reference>,
}

#[derive(Clone, PartialEq, Eq)]
struct Reference {
    reference: SecretRef,
    /// Whether `value` holds what the reference pointed to when it was last read.
    resolved: bool,
}

/// A secret is written, never read back: `writeOnly` tells editors and generated clients so.
impl<T> schemars::JsonSchema for Secret<T> {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Secret".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({"oneOf": [
            {"type": "string", "minLength": 1, "maxLength": crate::payload::reader::MAX_SECRET_BYTES,
                "writeOnly": true, "description": "A secret: sent, never shown back (answers show [REDACTED])."},
            {"type": "object", "required": [SECRET_REF_KEY], "additionalProperties": false,
                "properties": {SECRET_REF_KEY: {"type": "string", "minLength": 1, "maxLength": crate::secret_ref::MAX_SECRET_REF_BYTES,
                    "pattern": "^(env://|file:///|aws-sm://)"}},
                "description": "A secret kept outside Warden (a Warden extension), read each time it is used: env://VARIABLE, file:///absolute/path or aws-sm://secret-name#key. The server's operator allows reference prefixes with --secret-ref-allow; the reference is stored and shown back, its value never."}
        ]})
    }
}

impl<T> Secret<T> {
    /// Wraps a value.
    pub fn new(value: T) -> Self {
        Self { value, reference: None }
    }

    /// Reads the value. Every call site is a place where the secret leaves the type's
    /// protection: keep it next to the protocol call that needs it. A reference not yet
    /// resolved reads as the empty value: Warden resolves every reference of a config
    /// before an adapter sees it.
    pub fn expose(&self) -> &T {
        &self.value
    }

    /// The reference the value comes from, if it is kept outside Warden.
    pub fn reference(&self) -> Option<&SecretRef> {
        self.reference.as_ref().map(|r| &r.reference)
    }

    /// Whether the value comes from a reference that has not been read.
    pub fn is_unresolved(&self) -> bool {
        self.reference.as_ref().is_some_and(|r| !r.resolved)
    }

    /// This secret with its value replaced, keeping its reference (a value checked or
    /// normalised).
    pub(crate) fn map_value(self, value: T) -> Self {
        Self { value, reference: self.reference }
    }
}

impl<T: Default> Secret<T> {
    /// A secret kept outside Warden, not yet read.
    pub fn from_reference(reference: SecretRef) -> Self {
        Self { value: T::default(), reference: Some(Reference { reference, resolved: false }) }
    }

    /// A secret kept outside Warden, with the value read from it.
    pub fn resolved(reference: SecretRef, value: T) -> Self {
        Self { value, reference: Some(Reference { reference, resolved: true }) }
    }
}

impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl<T> fmt::Display for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

thread_local! {
    static EXPOSE: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f` with secrets serialised as their real values on this thread, then restores the
/// previous setting (also when `f` panics). Only the model's own split into redacted config
/// and secret map uses it.
pub(crate) fn with_secrets_exposed<R>(f: impl FnOnce() -> R) -> R {
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            EXPOSE.with(|e| e.set(self.0));
        }
    }
    let _restore = Restore(EXPOSE.with(|e| e.replace(true)));
    f()
}

impl<T: Serialize> Serialize for Secret<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if let Some(reference) = &self.reference {
            let mut map = serializer.serialize_map(Some(1))?;
            map.serialize_entry(SECRET_REF_KEY, reference.reference.as_str())?;
            return map.end();
        }
        if EXPOSE.with(Cell::get) { self.value.serialize(serializer) } else { serializer.serialize_str(REDACTED) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_display_and_serialize_redact() {
        let s = Secret::new("hunter2".to_owned());
        assert_eq!(format!("{s:?} {s}"), "[REDACTED] [REDACTED]");
        assert_eq!(serde_json::to_string(&s).unwrap(), "\"[REDACTED]\"");
        assert_eq!(s.expose(), "hunter2");
    }

    #[test]
    fn exposure_is_scoped_and_restored_after_panic() {
        let s = Secret::new("hunter2".to_owned());
        let inside = with_secrets_exposed(|| serde_json::to_string(&s).unwrap());
        assert_eq!(inside, "\"hunter2\"");
        let caught = std::panic::catch_unwind(|| with_secrets_exposed(|| panic!("boom")));
        assert!(caught.is_err());
        assert_eq!(serde_json::to_string(&s).unwrap(), "\"[REDACTED]\"");
    }

    #[test]
    fn a_reference_serialises_as_itself_never_as_its_value() {
        let reference = SecretRef::parse("env://SF_PASSWORD").unwrap();
        let s = Secret::resolved(reference.clone(), "hunter2".to_owned());
        let shown = r#"{"secretRef":"env://SF_PASSWORD"}"#;
        assert_eq!(serde_json::to_string(&s).unwrap(), shown);
        assert_eq!(with_secrets_exposed(|| serde_json::to_string(&s).unwrap()), shown);
        assert_eq!(format!("{s:?}"), "[REDACTED]");
        assert!(!s.is_unresolved());
        let unread = Secret::<String>::from_reference(reference);
        assert!(unread.is_unresolved());
        assert_eq!(unread.expose(), "");
    }
}
