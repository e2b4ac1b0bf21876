//! `Secret<T>`: a value that never shows itself in Debug, Display, logs or serialised output.
//!
//! Serialising a `Secret` writes [`REDACTED`]. The only way to serialise the real value is
//! [`with_secrets_exposed`], which the model uses internally to split a config into its
//! redacted form and its secret map (see [`crate::SecretMap`]).

use std::cell::Cell;
use std::fmt;

use serde::{Serialize, Serializer};

/// What every secret looks like on the way out, and what a client may send back to mean
/// "keep the stored value".
pub const REDACTED: &str = "[REDACTED]";

/// A secret value. Compare, clone and move it freely; read it with [`Secret::expose`].
#[derive(Clone, PartialEq, Eq)]
pub struct Secret<T>(T);

/// A secret is written, never read back: `writeOnly` tells editors and generated clients so.
impl<T> schemars::JsonSchema for Secret<T> {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Secret".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({"type": "string", "minLength": 1, "maxLength": crate::payload::reader::MAX_SECRET_BYTES,
            "writeOnly": true, "description": "A secret: sent, never shown back (answers show [REDACTED])."})
    }
}

impl<T> Secret<T> {
    /// Wraps a value.
    pub fn new(value: T) -> Self {
        Self(value)
    }

    /// Reads the value. Every call site is a place where the secret leaves the type's
    /// protection: keep it next to the protocol call that needs it.
    pub fn expose(&self) -> &T {
        &self.0
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
        if EXPOSE.with(Cell::get) { self.0.serialize(serializer) } else { serializer.serialize_str(REDACTED) }
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
}
