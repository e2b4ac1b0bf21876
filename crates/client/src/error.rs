//! `ClientError`: everything the client commands can fail with, each with a message that
//! says what to do. Every one exits 1; a plan with changes pending exits 2 without an error.

/// What went wrong in a client command.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The command line or the client's settings are incomplete or wrong.
    #[error("{0}")]
    Usage(String),
    /// A document could not be read, resolved or checked.
    #[error("{file}: {message}")]
    Document {
        /// The file (and document) it came from.
        file: String,
        /// What is wrong.
        message: String,
    },
    /// The server could not be reached, or answered something that is not Warden's.
    #[error("the Warden server at {server} could not be reached: {message}")]
    Unreachable {
        /// The server's base URL.
        server: String,
        /// What failed (never a key).
        message: String,
    },
    /// The server refused a request.
    #[error("{what}: the server answered {status}: {message}")]
    Refused {
        /// The request, as `POST /integrations`.
        what: String,
        /// The HTTP status.
        status: u16,
        /// The server's message, with its field problems.
        message: String,
    },
    /// An operation ended in a status other than the one waited for, or did not end in time.
    #[error("{0}")]
    Unsettled(String),
    /// A file could not be written.
    #[error("{path}: {message}")]
    Write {
        /// The path.
        path: String,
        /// The IO error.
        message: String,
    },
}
