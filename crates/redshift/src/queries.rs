//! The catalogue queries the Redshift adapter runs besides the scripts: its validation
//! checks, the server check, and the existence checks of a removal. Each takes the name it
//! looks for as the bound parameter `$1`; Redshift and PostgreSQL both answer them. Public
//! so that the benchmarks time the same statements.

/// Whether a database exists.
pub const DATABASE_EXISTS: &str = "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)";
/// Whether a group (the impersonation role) exists.
pub const GROUP_EXISTS: &str = "SELECT EXISTS (SELECT 1 FROM pg_group WHERE groname = $1)";
/// Whether a user or group exists.
pub const ROLE_EXISTS: &str = "SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)";
/// The server's version string (Redshift's contains `Redshift`).
pub const VERSION: &str = "SELECT version()";
