//! The Azure Synapse Analytics config.

use schemars::JsonSchema;
use serde::Serialize;

use super::Impersonation;
use crate::names::{Hostname, Port};
use crate::payload::reader::{Cx, Need, Obj};
use crate::secret::Secret;

/// The config of an Azure Synapse Analytics integration.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(deny_unknown_fields)]
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
    #[schemars(default = "default_delimiters")]
    pub metadata_delimiters: MetadataDelimiters,
    /// TDS port.
    #[schemars(default = "default_port")]
    pub port: Port,
    /// User impersonation.
    #[schemars(default = "default_impersonation")]
    pub impersonation: Impersonation,
    /// Extra driver connection arguments.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connect_args: Option<String>,
}

fn default_port() -> Port {
    Port::new(1433).unwrap_or_else(|| unreachable!("1433 is not zero"))
}

fn default_impersonation() -> Impersonation {
    Impersonation { enabled: false, role: "WARDEN_IMPERSONATION".to_owned() }
}

fn default_delimiters() -> MetadataDelimiters {
    MetadataDelimiters {
        hash_delimiter: "|".to_owned(),
        hash_key_delimiter: ":".to_owned(),
        array_delimiter: ",".to_owned(),
    }
}

/// How Warden authenticates to Synapse.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(deny_unknown_fields)]
pub struct MetadataDelimiters {
    /// Between hash entries, default `|`.
    #[schemars(default = "bar", length(equal = 1))]
    pub hash_delimiter: String,
    /// Between a hash key and its value, default `:`.
    #[schemars(default = "colon", length(equal = 1))]
    pub hash_key_delimiter: String,
    /// Between array items, default `,`.
    #[schemars(default = "comma", length(equal = 1))]
    pub array_delimiter: String,
}

fn bar() -> String {
    "|".to_owned()
}

fn colon() -> String {
    ":".to_owned()
}

fn comma() -> String {
    ",".to_owned()
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
