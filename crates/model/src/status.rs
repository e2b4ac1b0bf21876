//! Integration statuses (the API reference §6) and integration ids.

use std::fmt;

use serde::Serialize;

/// Where an integration is in its lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Status {
    /// Being created and set up.
    Creating,
    /// Creation failed; anything but `type` may be changed with PUT.
    CreateError,
    /// Being edited.
    Editing,
    /// Edit failed; the previous config is back in force.
    EditError,
    /// Being deleted.
    Deleting,
    /// Delete failed; the integration works as before.
    DeleteError,
    /// Deleted (not in use).
    Deleted,
    /// Force-disabled with nothing run on the platform (not in use).
    Disabled,
    /// Working.
    Enabled,
    /// Platform objects being updated after a Warden upgrade.
    Migrating,
    /// Migration failed; the integration works as before.
    MigrateError,
    /// The periodic re-validation failed; clears when a later run passes.
    RecurringValidationError,
}

impl Status {
    /// Every status.
    pub const ALL: [Self; 12] = [
        Self::Creating,
        Self::CreateError,
        Self::Editing,
        Self::EditError,
        Self::Deleting,
        Self::DeleteError,
        Self::Deleted,
        Self::Disabled,
        Self::Enabled,
        Self::Migrating,
        Self::MigrateError,
        Self::RecurringValidationError,
    ];

    /// The wire name, `createError`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Creating => "creating",
            Self::CreateError => "createError",
            Self::Editing => "editing",
            Self::EditError => "editError",
            Self::Deleting => "deleting",
            Self::DeleteError => "deleteError",
            Self::Deleted => "deleted",
            Self::Disabled => "disabled",
            Self::Enabled => "enabled",
            Self::Migrating => "migrating",
            Self::MigrateError => "migrateError",
            Self::RecurringValidationError => "recurringValidationError",
        }
    }

    /// Reads a wire name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// An operation is under way (creating, editing, deleting, migrating).
    pub const fn is_transitional(self) -> bool {
        matches!(self, Self::Creating | Self::Editing | Self::Deleting | Self::Migrating)
    }

    /// Deleted or disabled: the integration holds no platform or host any more.
    pub const fn is_not_in_use(self) -> bool {
        matches!(self, Self::Deleted | Self::Disabled)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An integration id: a positive integer that fits a signed 64-bit database column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct IntegrationId(u64);

impl IntegrationId {
    /// Wraps a database id; zero and values past `i64::MAX` are refused.
    pub fn new(id: u64) -> Option<Self> {
        (id > 0 && i64::try_from(id).is_ok()).then_some(Self(id))
    }

    /// Reads a path segment such as `/integrations/7`.
    pub fn parse(segment: &str) -> Option<Self> {
        if segment.is_empty() || segment.len() > 19 || !segment.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        segment.parse().ok().and_then(Self::new)
    }

    /// The number.
    pub const fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for IntegrationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_positive_decimal_integers() {
        assert_eq!(IntegrationId::parse("7").map(IntegrationId::get), Some(7));
        for bad in ["0", "-1", "+1", "1.0", "abc", "", "9223372036854775808", "99999999999999999999", "7 "] {
            assert_eq!(IntegrationId::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn status_names_round_trip() {
        for s in Status::ALL {
            assert_eq!(Status::parse(s.as_str()), Some(s));
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
    }
}
