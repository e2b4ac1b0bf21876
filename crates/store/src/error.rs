//! `StoreError`: the one error type of the store crate.

use warden_model::IntegrationId;

/// What can go wrong reading or writing Warden's store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database answered with an error or could not be reached.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// A migration failed.
    #[error("migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    /// Someone else changed the integration since it was read (optimistic concurrency).
    #[error("integration {id} was changed concurrently")]
    VersionConflict {
        /// The integration.
        id: IntegrationId,
    },
    /// No such integration.
    #[error("integration {id} does not exist")]
    NotFound {
        /// The integration.
        id: IntegrationId,
    },
    /// Another integration of the type is in use on the host (the create lost a race).
    #[error("another integration is in use on this host")]
    HostTaken,
    /// The integration has a data source of that name already.
    #[error("a data source named {name:?} exists already")]
    NameTaken {
        /// The name.
        name: String,
    },
    /// Secrets could not be decrypted: the master key is not the one they were written with.
    #[error("stored secrets cannot be decrypted with this master key")]
    WrongMasterKey,
    /// The master key is missing or malformed.
    #[error("master key: {0}")]
    MasterKey(String),
    /// A stored row does not read back (it was written by something else, or damaged).
    #[error("stored data is damaged: {0}")]
    Corrupt(String),
    /// A file of the store could not be created or protected.
    #[error("store file: {0}")]
    Io(String),
    /// The database URL names no supported backend.
    #[error("unsupported database URL: use sqlite:// or postgres://")]
    UnsupportedUrl,
}

impl StoreError {
    /// Whether the database could not be reached (a retry may succeed), as opposed to a
    /// query or data that failed.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Self::Database(sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_)))
    }
}
