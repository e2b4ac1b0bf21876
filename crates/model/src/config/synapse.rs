//! The Azure Synapse Analytics config.

use serde::Serialize;

use super::Impersonation;
use crate::names::{Hostname, Port};
use crate::payload::reader::{Cx, Need, Obj};
use crate::secret::Secret;

/// The config of an Azure Synapse Analytics integration.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SynapseConfig {
    /// The workspace's SQL endpoint.
    pub host: Hostname,
    /// An existing database (dedicated SQL pool) Warden works in.
    pub database: String,
    /// The schema Warden creates its secure views in.
    pub schema: String,
    /// The account Warden connects as.
    #[serde(flatten)]
    pub authentication: SynapseAuthentication,
    /// Delimiters of the stored profile data; fixed after creation.
    pub metadata_delimiters: MetadataDelimiters,
    /// TDS port.
    pub port: Port,
    /// User impersonation.
    pub impersonation: Impersonation,
    /// Extra driver connection arguments.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connect_args: Option<String>,
}

/// How Warden authenticates to Synapse.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "authenticationType", rename_all = "camelCase")]
pub enum SynapseAuthentication {
    /// SQL login with a password.
    UserPassword {
        /// Login name.
        username: String,
        /// Password.
        password: Secret<String>,
    },
}

/// The delimiters Warden stores profile data with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MetadataDelimiters {
    /// Between hash entries, default `|`.
    pub hash_delimiter: String,
    /// Between a hash key and its value, default `:`.
    pub hash_key_delimiter: String,
    /// Between array items, default `,`.
    pub array_delimiter: String,
}

impl MetadataDelimiters {
    /// Whether any two delimiters are the same character (the delimiters test fails).
    pub fn collide(&self) -> bool {
        let (h, k, a) = (&self.hash_delimiter, &self.hash_key_delimiter, &self.array_delimiter);
        h == k || h == a || k == a
    }

    fn read(cx: &mut Cx<'_>, parent: &mut Obj<'_>) -> Option<Self> {
        let defaults = [("hashDelimiter", "|"), ("hashKeyDelimiter", ":"), ("arrayDelimiter", ",")];
        if !parent.has("metadataDelimiters") {
            let [h, k, a] = defaults.map(|(_, d)| d.to_owned());
            return Some(Self { hash_delimiter: h, hash_key_delimiter: k, array_delimiter: a });
        }
        let mut o = parent.object(cx, "metadataDelimiters", Need::Optional)?;
        let single = |s: &str| {
            if s.chars().count() == 1 { Ok(s.to_owned()) } else { Err("must be exactly one character".to_owned()) }
        };
        let [h, k, a] =
            defaults.map(
                |(key, default)| {
                    if o.has(key) { o.parsed(cx, key, Need::Optional, single) } else { Some(default.to_owned()) }
                },
            );
        o.finish(cx);
        // Equal delimiters are not a payload error: they fail the validation test
        // `Initial validation: delimiters test`, as the reference has it.
        Some(Self { hash_delimiter: h?, hash_key_delimiter: k?, array_delimiter: a? })
    }
}

pub(crate) fn read(cx: &mut Cx<'_>, o: &mut Obj<'_>) -> Option<SynapseConfig> {
    let host = o.parsed(cx, "host", Need::Required, Hostname::parse);
    let database = o.text(cx, "database", Need::Required);
    let schema = o.text(cx, "schema", Need::Required);
    let authentication = match o.choice(cx, "authenticationType", Need::Required, &["userPassword"]) {
        Some(_) => {
            let when = Need::RequiredWhen("authenticationType is userPassword");
            let username = o.text(cx, "username", when);
            let password = o.secret(cx, "password", when);
            Some(SynapseAuthentication::UserPassword { username: username?, password: password? })
        }
        None => {
            o.skip(&["username", "password"]);
            None
        }
    };
    let metadata_delimiters = MetadataDelimiters::read(cx, o);
    let port = o.port(cx, 1433);
    let impersonation = Impersonation::read(cx, o, "WARDEN_IMPERSONATION");
    let connect_args = o.text(cx, "connectArgs", Need::Optional);
    Some(SynapseConfig {
        host: host?,
        database: database?,
        schema: schema?,
        authentication: authentication?,
        metadata_delimiters: metadata_delimiters?,
        port: port?,
        impersonation: impersonation?,
        connect_args,
    })
}
