//! A STAND-IN for a SQL Server / Azure Synapse dedicated SQL pool, not SQL Server: nothing
//! here serves TDS (`docs/DECISIONS.md` says which mock TDS servers were looked at and why
//! they do not do). It follows Microsoft's MS-TDS specification for what
//! Warden's client (tiberius, TDS 7.4, encryption required) sends:
//!
//! - PRELOGIN (2.2.6.5): the server answers `ENCRYPT_REQ`, and the TLS handshake that follows
//!   travels inside PRELOGIN packets until it completes; everything after is TLS records
//!   carrying TDS packets (2.2.1.1, "Transport layer security"). TLS 1.3 session tickets are
//!   off, so nothing unframed is sent while the client still expects framing.
//! - LOGIN7 (2.2.6.4): the user name, the password (unscrambled: XOR `0xA5`, then the nibbles
//!   swapped back) and the database are read; a wrong password is answered with error 18456
//!   (`Login failed for user '...'.`, class 14), an unknown database with 4060; a good one
//!   with LOGINACK (TDS 7.4), ENVCHANGE (database) and DONE.
//! - SQLBatch (2.2.6.7): the SQL text (UTF-16 after ALL_HEADERS) is handed to the
//!   [`Executor`] the test gives (the catalogue in `tds_catalogue.rs`), whose answer is
//!   written as COLMETADATA (every column `NVARCHAR(4000)`), ROW and DONE tokens (2.2.7), or
//!   an ERROR token (number, state, class, message) and a DONE with its error bit.
//!
//! Each connection's SQL is recorded by the executor. Used by `crates/synapse/tests/` and the
//! end-to-end test `tests/tests/synapse.rs`.

use std::io::{Read as _, Write as _};
use std::sync::Arc;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

/// A result set: column names, then rows of text (`None` is NULL).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResultSet {
    /// The column names.
    pub columns: Vec<String>,
    /// The rows.
    pub rows: Vec<Vec<Option<String>>>,
}

/// A SQL Server error: its number, state, class (severity) and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqlError {
    /// The error number (18456 login failed, 229 permission denied, 15025 exists, ...).
    pub number: u32,
    /// Its class (severity): 14 for permission and login errors, 16 for user errors.
    pub class: u8,
    /// The message.
    pub message: String,
}

/// Who is connected, and where.
#[derive(Debug, Clone)]
pub struct Session {
    /// The login.
    pub login: String,
    /// The database the connection is in (a connection cannot switch: Synapse has no `USE`).
    pub database: String,
}

/// What answers the SQL of the stand-in.
pub trait Executor: Send + Sync + 'static {
    /// Whether `login` may sign in with `password` to `database`: `Err` is the login error.
    fn login(&self, login: &str, password: &str, database: &str) -> Result<(), SqlError>;
    /// Runs one batch as `session`: its result sets, or the error that stopped it.
    fn execute(&self, session: &Session, sql: &str) -> Result<Vec<ResultSet>, SqlError>;
}

const PRELOGIN: u8 = 0x12;
const LOGIN7: u8 = 0x10;
const SQL_BATCH: u8 = 0x01;
const TABULAR_RESULT: u8 = 0x04;
const ATTENTION: u8 = 0x06;
const PACKET_SIZE: usize = 4096;
const HEADER: usize = 8;

/// The test CA's certificate and key for 127.0.0.1 (`WARDEN_TEST_TLS_CERT`,
/// `WARDEN_TEST_TLS_KEY`, which `cargo xtask ci` sets), or `None` outside CI when they are not
/// set (the test is then skipped).
#[allow(clippy::print_stderr)] // a skipped test says so
pub fn test_certificate() -> Option<(String, String)> {
    match (std::env::var("WARDEN_TEST_TLS_CERT"), std::env::var("WARDEN_TEST_TLS_KEY")) {
        (Ok(cert), Ok(key)) => Some((cert, key)),
        _ => {
            assert_ne!(
                std::env::var("CI").as_deref(),
                Ok("true"),
                "CI=true needs the test certificate (cargo xtask ci)"
            );
            eprintln!("WARDEN_TEST_TLS_CERT is not set: skipped");
            None
        }
    }
}

/// Starts the stand-in on a free 127.0.0.1 port, serving TLS with `certificate` and `key`
/// (PEM files; the test CA's certificate for 127.0.0.1); answers its port.
pub async fn start(executor: Arc<dyn Executor>, certificate: &str, key: &str) -> u16 {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let chain: Vec<rustls::pki_types::CertificateDer<'static>> =
        rustls::pki_types::pem::PemObject::pem_file_iter(certificate)
            .expect("the certificate file")
            .map(|c| c.expect("a certificate"))
            .collect();
    let key = <rustls::pki_types::PrivateKeyDer<'static> as rustls::pki_types::pem::PemObject>::from_pem_file(key)
        .expect("the key file");
    let mut config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .expect("a TLS configuration");
    config.send_tls13_tickets = 0;
    let config = Arc::new(config);
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("a free port");
    let port = listener.local_addr().expect("its address").port();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let (executor, config) = (Arc::clone(&executor), Arc::clone(&config));
            tokio::spawn(async move {
                let _ = serve(socket, config, executor).await;
            });
        }
    });
    port
}

type Failed = Box<dyn std::error::Error + Send + Sync>;

/// One packet's header and payload (a message may span packets; the last has status 0x01).
async fn read_message(socket: &mut TcpStream) -> Result<(u8, Vec<u8>), Failed> {
    let mut payload = Vec::new();
    loop {
        let mut header = [0u8; HEADER];
        socket.read_exact(&mut header).await?;
        let length = usize::from(u16::from_be_bytes([header[2], header[3]]));
        let mut body = vec![0u8; length.saturating_sub(HEADER)];
        socket.read_exact(&mut body).await?;
        payload.extend(body);
        if header[1] & 0x01 == 0x01 {
            return Ok((header[0], payload));
        }
    }
}

/// `payload` as packets of `kind`.
fn packets(kind: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let chunks: Vec<&[u8]> =
        if payload.is_empty() { vec![&[][..]] } else { payload.chunks(PACKET_SIZE - HEADER).collect() };
    let last = chunks.len() - 1;
    for (i, chunk) in chunks.into_iter().enumerate() {
        let length = u16::try_from(chunk.len() + HEADER).unwrap_or(u16::MAX);
        let [high, low] = length.to_be_bytes();
        out.extend([kind, u8::from(i == last), high, low, 0, 0, (i + 1) as u8, 0]);
        out.extend_from_slice(chunk);
    }
    out
}

/// The connection once TLS is up: TDS packets inside TLS records.
struct Tls {
    socket: TcpStream,
    tls: rustls::ServerConnection,
    plain: Vec<u8>,
}

impl Tls {
    async fn flush(&mut self) -> Result<(), Failed> {
        while self.tls.wants_write() {
            let mut out = Vec::new();
            self.tls.write_tls(&mut out)?;
            self.socket.write_all(&out).await?;
        }
        Ok(())
    }

    async fn read_message(&mut self) -> Result<(u8, Vec<u8>), Failed> {
        let mut payload = Vec::new();
        loop {
            while self.plain.len() < HEADER
                || self.plain.len() < usize::from(u16::from_be_bytes([self.plain[2], self.plain[3]]))
            {
                let mut buf = [0u8; 16384];
                let n = self.socket.read(&mut buf).await?;
                if n == 0 {
                    return Err("the client closed the connection".into());
                }
                self.tls.read_tls(&mut &buf[..n])?;
                self.tls.process_new_packets()?;
                let mut chunk = [0u8; 16384];
                loop {
                    match self.tls.reader().read(&mut chunk) {
                        Ok(0) => break,
                        Ok(n) => self.plain.extend_from_slice(&chunk[..n]),
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                        Err(e) => return Err(e.into()),
                    }
                }
            }
            let length = usize::from(u16::from_be_bytes([self.plain[2], self.plain[3]]));
            let packet: Vec<u8> = self.plain.drain(..length).collect();
            payload.extend_from_slice(&packet[HEADER..]);
            if packet[1] & 0x01 == 0x01 {
                return Ok((packet[0], payload));
            }
        }
    }

    async fn send(&mut self, payload: &[u8]) -> Result<(), Failed> {
        self.tls.writer().write_all(&packets(TABULAR_RESULT, payload))?;
        self.flush().await
    }
}

async fn serve(
    mut socket: TcpStream,
    config: Arc<rustls::ServerConfig>,
    executor: Arc<dyn Executor>,
) -> Result<(), Failed> {
    let (kind, _prelogin) = read_message(&mut socket).await?;
    if kind != PRELOGIN {
        return Err("the first message is not PRELOGIN".into());
    }
    socket.write_all(&packets(TABULAR_RESULT, &prelogin_answer())).await?;
    // The TLS handshake, framed in PRELOGIN packets.
    let mut tls = rustls::ServerConnection::new(config)?;
    while tls.is_handshaking() {
        if tls.wants_write() {
            let mut out = Vec::new();
            while tls.wants_write() {
                tls.write_tls(&mut out)?;
            }
            socket.write_all(&packets(PRELOGIN, &out)).await?;
            continue;
        }
        let (_, payload) = read_message(&mut socket).await?;
        tls.read_tls(&mut &payload[..])?;
        tls.process_new_packets()?;
    }
    if tls.wants_write() {
        let mut out = Vec::new();
        while tls.wants_write() {
            tls.write_tls(&mut out)?;
        }
        socket.write_all(&packets(PRELOGIN, &out)).await?;
    }
    let mut wire = Tls { socket, tls, plain: Vec::new() };
    let (kind, login) = wire.read_message().await?;
    if kind != LOGIN7 {
        return Err("the message after TLS is not LOGIN7".into());
    }
    let (user, password, database) = read_login(&login).ok_or("a malformed LOGIN7")?;
    let database = if database.is_empty() { "master".to_owned() } else { database };
    if let Err(error) = executor.login(&user, &password, &database) {
        let mut out = error_token(&error);
        out.extend(done(0x0002, 0));
        wire.send(&out).await?;
        return Ok(());
    }
    let mut out = env_change_database(&database);
    out.extend(login_ack());
    out.extend(done(0, 0));
    wire.send(&out).await?;
    let session = Session { login: user, database };
    loop {
        let (kind, payload) = wire.read_message().await?;
        match kind {
            SQL_BATCH => {
                let sql = batch_text(&payload);
                let answer = match executor.execute(&session, &sql) {
                    Ok(sets) => result_sets(&sets),
                    Err(error) => {
                        let mut out = error_token(&error);
                        out.extend(done(0x0002, 0));
                        out
                    }
                };
                wire.send(&answer).await?;
            }
            ATTENTION => wire.send(&done(0x0020, 0)).await?,
            _ => {
                let error = SqlError { number: 0, class: 16, message: "The stand-in serves SQL batches only.".into() };
                let mut out = error_token(&error);
                out.extend(done(0x0002, 0));
                wire.send(&out).await?;
            }
        }
    }
}

/// PRELOGIN answer: VERSION and ENCRYPTION = `ENCRYPT_REQ` (0x03).
fn prelogin_answer() -> Vec<u8> {
    // Two options (5 bytes each) and the terminator: data starts at 11.
    let mut out = vec![0x00, 0, 11, 0, 6, 0x01, 0, 17, 0, 1, 0xFF];
    out.extend([16, 0, 0x07, 0xD0, 0, 0]); // 16.0.2000.0
    out.push(0x03);
    out
}

fn utf16(text: &str) -> Vec<u8> {
    text.encode_utf16().flat_map(u16::to_le_bytes).collect()
}

fn b_varchar(text: &str) -> Vec<u8> {
    let mut out = vec![text.encode_utf16().count() as u8];
    out.extend(utf16(text));
    out
}

fn us_varchar(text: &str) -> Vec<u8> {
    let mut out = (text.encode_utf16().count() as u16).to_le_bytes().to_vec();
    out.extend(utf16(text));
    out
}

/// A UTF-16 field of LOGIN7: its offset and length (in characters) at `at`.
fn login_field(login: &[u8], at: usize) -> Option<Vec<u16>> {
    let offset = usize::from(u16::from_le_bytes([*login.get(at)?, *login.get(at + 1)?]));
    let chars = usize::from(u16::from_le_bytes([*login.get(at + 2)?, *login.get(at + 3)?]));
    let bytes = login.get(offset..offset + chars * 2)?;
    Some(bytes.chunks(2).map(|c| u16::from_le_bytes([c[0], c[1]])).collect())
}

/// The user name, the password and the database of a LOGIN7 message.
fn read_login(login: &[u8]) -> Option<(String, String, String)> {
    let user = String::from_utf16(&login_field(login, 40)?).ok()?;
    let offset = usize::from(u16::from_le_bytes([*login.get(44)?, *login.get(45)?]));
    let chars = usize::from(u16::from_le_bytes([*login.get(46)?, *login.get(47)?]));
    let scrambled = login.get(offset..offset + chars * 2)?;
    // MS-TDS 2.2.6.4: each byte had its nibbles swapped, then was XORed with 0xA5.
    let clear: Vec<u8> = scrambled.iter().map(|b| (b ^ 0xA5).rotate_left(4)).collect();
    let password =
        String::from_utf16(&clear.chunks(2).map(|c| u16::from_le_bytes([c[0], c[1]])).collect::<Vec<_>>()).ok()?;
    let database = String::from_utf16(&login_field(login, 68)?).ok()?;
    Some((user, password, database))
}

/// The SQL of a batch: UTF-16 after ALL_HEADERS (whose first 4 bytes are its length).
fn batch_text(payload: &[u8]) -> String {
    let headers = payload.get(..4).map_or(0, |b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize);
    let text = payload.get(headers..).unwrap_or_default();
    String::from_utf16_lossy(
        &text.chunks(2).filter(|c| c.len() == 2).map(|c| u16::from_le_bytes([c[0], c[1]])).collect::<Vec<_>>(),
    )
}

fn done(status: u16, rows: u64) -> Vec<u8> {
    let mut out = vec![0xFD];
    out.extend(status.to_le_bytes());
    out.extend(0u16.to_le_bytes());
    out.extend(rows.to_le_bytes());
    out
}

fn login_ack() -> Vec<u8> {
    let mut body = vec![0x01];
    body.extend(0x7400_0004u32.to_be_bytes()); // TDS 7.4
    body.extend(b_varchar("Warden TDS stand-in"));
    body.extend([16, 0, 0x07, 0xD0]);
    let mut out = vec![0xAD];
    out.extend((body.len() as u16).to_le_bytes());
    out.extend(body);
    out
}

fn env_change_database(database: &str) -> Vec<u8> {
    let mut body = vec![0x01];
    body.extend(b_varchar(database));
    body.extend(b_varchar("master"));
    let mut out = vec![0xE3];
    out.extend((body.len() as u16).to_le_bytes());
    out.extend(body);
    out
}

fn error_token(error: &SqlError) -> Vec<u8> {
    let mut body = error.number.to_le_bytes().to_vec();
    body.push(1); // state
    body.push(error.class);
    body.extend(us_varchar(&error.message));
    body.extend(b_varchar("warden-tds-stand-in"));
    body.extend(b_varchar(""));
    body.extend(1u32.to_le_bytes());
    let mut out = vec![0xAA];
    out.extend((body.len() as u16).to_le_bytes());
    out.extend(body);
    out
}

/// Result sets as COLMETADATA, ROW and DONE tokens; a batch without one answers DONE.
fn result_sets(sets: &[ResultSet]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, set) in sets.iter().enumerate() {
        out.push(0x81);
        out.extend((set.columns.len() as u16).to_le_bytes());
        for column in &set.columns {
            out.extend(0u32.to_le_bytes()); // user type
            out.extend(0x0001u16.to_le_bytes()); // nullable
            out.push(0xE7); // NVARCHAR
            out.extend(8000u16.to_le_bytes());
            out.extend([0x09, 0x04, 0xD0, 0x00, 0x34]); // Latin1_General_CI_AS
            out.extend(b_varchar(column));
        }
        for row in &set.rows {
            out.push(0xD1);
            for value in row {
                match value {
                    Some(text) => {
                        let bytes = utf16(text);
                        out.extend((bytes.len() as u16).to_le_bytes());
                        out.extend(bytes);
                    }
                    None => out.extend(0xFFFFu16.to_le_bytes()),
                }
            }
        }
        let more = if i + 1 < sets.len() { 0x0001 } else { 0 };
        out.extend(done(0x0010 | more, set.rows.len() as u64));
    }
    if sets.is_empty() {
        out.extend(done(0, 0));
    }
    out
}
