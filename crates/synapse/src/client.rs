//! TDS connections to an Azure Synapse dedicated SQL pool (or SQL Server) with tiberius: TDS
//! 7.4 over TLS (`EncryptionLevel::Required`: Synapse refuses unencrypted logins), the
//! server's certificate checked against the system's roots plus the operator's CA file
//! (`warden_platform::reach::ca_file`), SQL authentication. A connection cannot switch
//! database (Synapse has no `USE`), so each part of a script gets its own connection to the
//! database it names. SQL Server's error numbers become the contract's kinds; an error names
//! the statement by its opening words (cut before any literal, so never a password).

use std::time::Duration;

use tiberius::{AuthMethod, Client, Config, EncryptionLevel};
use tokio::net::TcpStream;
use tokio_util::compat::{Compat, TokioAsyncWriteCompatExt as _};
use warden_model::Secret;
use warden_platform::{ErrorKind, PlatformError};

/// How long connecting and signing in may take, unless `connectArgs` says otherwise.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// What `connectArgs` may set, as the SQL Server drivers name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// `Application Name` (what the server's session views show).
    pub application_name: String,
    /// `Connect Timeout` / `Login Timeout`, in seconds.
    pub connect_timeout: Duration,
    /// `HostNameInCertificate`: the name the server's certificate carries, when it is not
    /// `host` (a private endpoint).
    pub host_name_in_certificate: Option<String>,
}

impl Default for Options {
    fn default() -> Self {
        Self { application_name: "Warden".into(), connect_timeout: CONNECT_TIMEOUT, host_name_in_certificate: None }
    }
}

impl Options {
    /// Reads `connectArgs` (`key=value` pairs separated by `;`, keys case-insensitive, spaces
    /// in them ignored): the options, and the keys Warden does not use. A key that would
    /// weaken TLS (`Encrypt`, `TrustServerCertificate`) or a malformed pair is an error.
    pub fn parse(connect_args: Option<&str>) -> Result<(Self, Vec<String>), String> {
        let mut options = Self::default();
        let mut unused = Vec::new();
        for pair in connect_args.unwrap_or_default().split(';').map(str::trim).filter(|p| !p.is_empty()) {
            let Some((key, value)) = pair.split_once('=') else {
                return Err(format!("{pair:?} is not a key=value pair"));
            };
            let (key, value) = (key.trim(), value.trim());
            match key.to_ascii_lowercase().replace(' ', "").as_str() {
                "applicationname" | "app" => options.application_name = value.to_owned(),
                "connecttimeout" | "connectiontimeout" | "logintimeout" | "timeout" => {
                    let seconds: u64 = value
                        .parse()
                        .ok()
                        .filter(|s| (1..=600).contains(s))
                        .ok_or_else(|| format!("{key} must be a number of seconds from 1 to 600, not {value:?}"))?;
                    options.connect_timeout = Duration::from_secs(seconds);
                }
                "hostnameincertificate" => options.host_name_in_certificate = Some(value.to_owned()),
                "encrypt" | "trustservercertificate" => {
                    return Err(format!(
                        "{key} cannot be set: Warden always encrypts the connection to Synapse and checks the server's certificate"
                    ));
                }
                _ => unused.push(key.to_owned()),
            }
        }
        Ok((options, unused))
    }
}

/// Where to connect and as whom.
#[derive(Debug, Clone)]
pub struct Target {
    /// The server's host name.
    pub host: String,
    /// Its TDS port.
    pub port: u16,
    /// The database the connection is in.
    pub database: String,
    /// The SQL login.
    pub user: String,
    /// Its password.
    pub password: Secret<String>,
    /// What `connectArgs` set.
    pub options: Options,
}

/// An open connection.
pub struct Connection {
    client: Client<Compat<TcpStream>>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Connection(..)")
    }
}

/// The kind of a SQL Server error, by its number.
pub const fn kind_of(number: u32) -> ErrorKind {
    match number {
        // Login failed; cannot open the database the login asked for.
        18456 | 18470 | 4060 => ErrorKind::Unauthenticated,
        // Permission denied on an object, in the database, or to create.
        229 | 230 | 262 | 297 | 300 | 15247 => ErrorKind::Forbidden,
        // Already exists: object, user, login, role, schema.
        2714 | 15023 | 15025 | 15063 | 2759 => ErrorKind::AlreadyExists,
        // Cannot drop or find it (it does not exist, or is not visible to the login).
        3701 | 15007 | 15151 | 15401 | 2760 => ErrorKind::NotFound,
        _ => ErrorKind::Other,
    }
}

fn tiberius_error(error: tiberius::error::Error, what: &str) -> PlatformError {
    match error {
        tiberius::error::Error::Server(token) => PlatformError::new(
            kind_of(token.code()),
            format!("{what}: SQL Server error {} (class {}): {}", token.code(), token.class(), token.message()),
        ),
        tiberius::error::Error::Io { kind, message } => {
            PlatformError::unreachable(format!("{what}: {message} ({kind:?})"))
        }
        tiberius::error::Error::Tls(message) => PlatformError::unreachable(format!("{what}: TLS: {message}")),
        other => PlatformError::other(format!("{what}: {other}")),
    }
}

impl Connection {
    /// Connects to `target` and signs in.
    pub async fn open(target: &Target) -> Result<Self, PlatformError> {
        let mut config = Config::new();
        config.host(&target.host);
        config.port(target.port);
        config.database(&target.database);
        config.application_name(&target.options.application_name);
        if let Some(name) = &target.options.host_name_in_certificate {
            config.hostname_in_certificate(name);
        }
        config.authentication(AuthMethod::sql_server(&target.user, target.password.expose()));
        config.encryption(EncryptionLevel::Required);
        if let Some(ca) = warden_platform::reach::ca_file() {
            config.trust_cert_ca(ca.display());
        }
        let what = format!("connecting to {}:{} (database {})", target.host, target.port, target.database);
        let connect = async {
            let tcp = TcpStream::connect((target.host.as_str(), target.port))
                .await
                .map_err(|e| PlatformError::unreachable(format!("{what}: {e}")))?;
            tcp.set_nodelay(true).map_err(|e| PlatformError::unreachable(format!("{what}: {e}")))?;
            Client::connect(config, tcp.compat_write()).await.map_err(|e| tiberius_error(e, &what))
        };
        match tokio::time::timeout(CONNECT_TIMEOUT, connect).await {
            Ok(client) => Ok(Self { client: client? }),
            Err(_) => {
                Err(PlatformError::unreachable(format!("{what}: no answer within {} s", CONNECT_TIMEOUT.as_secs())))
            }
        }
    }

    /// Runs `sql` (one batch) and answers the rows of its first result set, every value as
    /// text.
    pub async fn query(&mut self, sql: &str) -> Result<Vec<Vec<Option<String>>>, PlatformError> {
        let label = warden_scripts::label(sql);
        let stream = self.client.simple_query(sql).await.map_err(|e| tiberius_error(e, &label))?;
        let rows = stream.into_first_result().await.map_err(|e| tiberius_error(e, &label))?;
        Ok(rows
            .iter()
            .map(|row| (0..row.len()).map(|i| row.get::<&str, usize>(i).map(str::to_owned)).collect())
            .collect())
    }

    /// Runs `sql` (one batch), discarding any rows.
    pub async fn execute(&mut self, sql: &str) -> Result<(), PlatformError> {
        let label = warden_scripts::label(sql);
        let stream = self.client.simple_query(sql).await.map_err(|e| tiberius_error(e, &label))?;
        stream.into_results().await.map(drop).map_err(|e| tiberius_error(e, &label))
    }

    /// Closes the connection.
    pub async fn close(self) {
        let _ = self.client.close().await;
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use warden_platform::ErrorKind;

    use super::{Options, kind_of};

    #[test]
    fn error_numbers_map_to_kinds() {
        assert_eq!(kind_of(18456), ErrorKind::Unauthenticated);
        assert_eq!(kind_of(262), ErrorKind::Forbidden);
        assert_eq!(kind_of(15025), ErrorKind::AlreadyExists);
        assert_eq!(kind_of(15151), ErrorKind::NotFound);
        assert_eq!(kind_of(8152), ErrorKind::Other);
    }

    #[test]
    fn connect_args_set_what_the_drivers_name_and_never_weaken_tls() {
        let (options, unused) =
            Options::parse(Some("Application Name=gov; Connect Timeout=5;HostNameInCertificate=*.sql.azuresynapse.net;MultiSubnetFailover=true")).unwrap();
        assert_eq!(options.application_name, "gov");
        assert_eq!(options.connect_timeout, Duration::from_secs(5));
        assert_eq!(options.host_name_in_certificate.as_deref(), Some("*.sql.azuresynapse.net"));
        assert_eq!(unused, ["MultiSubnetFailover"]);
        assert_eq!(Options::parse(None).unwrap(), (Options::default(), Vec::new()));
        for refused in ["Encrypt=false", "TrustServerCertificate=yes", "Connect Timeout=0", "nonsense"] {
            assert!(Options::parse(Some(refused)).is_err(), "{refused}");
        }
    }
}
