//! Platform errors as typed kinds (unreachable, unauthenticated, forbidden, ...) with the
//! platform's own text, so that the engine and the adapters decide by kind, never by wording.

/// What kind of failure a platform error is, so that the engine and the adapters decide by
/// kind, never by the platform's wording.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// No connection could be made (DNS, refused, TLS, network).
    Unreachable,
    /// The platform refused the credentials.
    Unauthenticated,
    /// The credentials are valid but lack a privilege.
    Forbidden,
    /// The object asked for does not exist (a database, a role, a catalog).
    NotFound,
    /// The object to create exists already.
    AlreadyExists,
    /// The platform asked Warden to slow down.
    Throttled {
        /// How long it asked Warden to wait, when it said.
        retry_after: Option<std::time::Duration>,
    },
    /// The configuration asks for something the adapter does not support (yet).
    Unsupported,
    /// Anything else the platform answered with.
    Other,
}

/// Why a check could not run, or a change failed. None carries a secret: the detail is the
/// platform's own text about what happened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlatformError {
    /// The platform (or the way to it) failed, of this kind, with its own words.
    #[error("{}{detail}", kind_prefix(*.kind))]
    Failed {
        /// What kind of failure.
        kind: ErrorKind,
        /// The platform's own text.
        detail: String,
    },
    /// The adapter has no check of that name.
    #[error("this adapter has no check named {0:?}")]
    UnknownCheck(String),
    /// The change did not finish within the deadline Warden gives every change; Warden
    /// stopped waiting for it, so whatever it had done is still there.
    #[error("the platform did not finish within {} s, so Warden stopped waiting", seconds(*.0))]
    Timeout(std::time::Duration),
    /// A setup failed part way, and the adapter removed what that attempt had created (only
    /// that: objects that existed before are never touched); `rollback` says why removing
    /// them failed, when it did.
    #[error("{cause}{}", rollback.as_ref().map(|r| format!(" (and removing what it had created failed: {r})")).unwrap_or_default())]
    SetupFailed {
        /// Why the setup failed.
        cause: Box<PlatformError>,
        /// Why the rollback failed, if it did.
        rollback: Option<String>,
    },
}

fn kind_prefix(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::Unreachable => "could not connect: ",
        ErrorKind::Unauthenticated => "could not log in: ",
        ErrorKind::Forbidden => "not allowed: ",
        ErrorKind::NotFound => "not found: ",
        ErrorKind::AlreadyExists => "already exists: ",
        ErrorKind::Throttled { .. } => "throttled by the platform: ",
        ErrorKind::Unsupported => "not supported: ",
        ErrorKind::Other => "the platform answered with an error: ",
    }
}

impl PlatformError {
    /// Whether the fault may pass by itself (the platform unreachable, throttling, or too
    /// slow), so another try later is worth it; a refusal or a missing object is not.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Failed { kind, .. } => matches!(kind, ErrorKind::Unreachable | ErrorKind::Throttled { .. }),
            Self::Timeout(_) => true,
            Self::SetupFailed { cause, .. } => cause.is_transient(),
            Self::UnknownCheck(_) => false,
        }
    }

    /// A failure of `kind` with the platform's own `detail`.
    pub fn new(kind: ErrorKind, detail: impl Into<String>) -> Self {
        Self::Failed { kind, detail: detail.into() }
    }

    /// No connection could be made.
    pub fn unreachable(detail: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unreachable, detail)
    }

    /// The platform answered with an error of no more specific kind.
    pub fn other(detail: impl Into<String>) -> Self {
        Self::new(ErrorKind::Other, detail)
    }

    /// The adapter does not support what the config asks for.
    pub fn unsupported(detail: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unsupported, detail)
    }

    /// The same failure, saying which statement of a script it came from. `label` must hold
    /// no literal (a statement's label stops before its first one), so that a failed
    /// `CREATE USER ... PASSWORD` never echoes the password.
    #[must_use]
    pub fn while_running(self, label: &str) -> Self {
        let (kind, detail) = match self {
            Self::Failed { kind, detail } => (kind, detail),
            other => (ErrorKind::Other, other.to_string()),
        };
        Self::new(kind, format!("{detail} (while running: {label})"))
    }

    /// The kind of failure (`None` for an unknown check; a timed-out change is `None` too).
    pub fn kind(&self) -> Option<ErrorKind> {
        match self {
            Self::Failed { kind, .. } => Some(*kind),
            Self::SetupFailed { cause, .. } => cause.kind(),
            Self::UnknownCheck(_) | Self::Timeout(_) => None,
        }
    }

    /// Why a change failed, without what its rollback did.
    pub fn cause(&self) -> &Self {
        match self {
            Self::SetupFailed { cause, .. } => cause,
            other => other,
        }
    }

    /// When a failed setup could not remove what it had created: why.
    pub fn rollback_failure(&self) -> Option<&str> {
        match self {
            Self::SetupFailed { rollback, .. } => rollback.as_deref(),
            Self::Timeout(_) => Some("the setup was stopped part way, so what it created is still there"),
            _ => None,
        }
    }
}

/// A duration in seconds as a person reads it: `900`, `0.3`.
fn seconds(duration: std::time::Duration) -> String {
    if duration.subsec_millis() == 0 {
        duration.as_secs().to_string()
    } else {
        format!("{:.1}", duration.as_secs_f64())
    }
}
