//! The Snowflake config, with key-pair and OAuth client-credentials authentication, audit,
//! impersonation, workspaces and lineage.

use schemars::JsonSchema;
use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};

use super::{Impersonation, Toggle};
use crate::names::{Hostname, HttpsUrl, Pattern, Port, normalise_pem_private_key};
use crate::payload::reader::{Cx, Need, Obj};
use crate::secret::Secret;

/// The config of a Snowflake integration.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(deny_unknown_fields)]
pub struct SnowflakeConfig {
    /// Account host, `<account>.snowflakecomputing.com`.
    pub host: Hostname,
    /// Default warehouse of the system account.
    pub warehouse: String,
    /// Warden's database (new, for automatic setup).
    pub database: String,
    /// How Warden authenticates.
    #[serde(flatten)]
    pub authentication: SnowflakeAuthentication,
    /// The privileged role used for automatic setup.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// HTTPS port.
    #[schemars(default = "default_port")]
    pub port: Port,
    /// Query audit (ACCOUNT_USAGE).
    #[schemars(default)]
    pub audit: Toggle,
    /// User impersonation.
    #[schemars(default = "default_impersonation")]
    pub impersonation: Impersonation,
    /// Roles and users excluded from authorization checks.
    #[schemars(default)]
    pub user_role_pattern: UserRolePattern,
    /// Project workspaces.
    #[schemars(default)]
    pub workspaces: Workspaces,
    /// Driver arguments for the system account.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connect_args: Option<String>,
    /// Driver arguments for the privileged account.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub privileged_connect_args: Option<String>,
    /// Lineage ingestion.
    #[schemars(default)]
    pub lineage: Lineage,
}

fn default_port() -> Port {
    Port::new(443).unwrap_or_else(|| unreachable!("443 is not zero"))
}

fn default_impersonation() -> Impersonation {
    Impersonation { enabled: false, role: "WARDEN_IMPERSONATION".to_owned() }
}

/// How Warden authenticates to Snowflake.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(tag = "authenticationType", rename_all = "camelCase", rename_all_fields = "camelCase")]
pub enum SnowflakeAuthentication {
    /// User and password.
    UserPassword {
        /// User name.
        username: String,
        /// Password.
        password: Secret<String>,
    },
    /// User and RSA key pair.
    KeyPair {
        /// User name.
        username: String,
        /// PEM private key (escaped `\n` turned into newlines).
        #[schemars(schema_with = "crate::schema::pem_secret")]
        private_key: Secret<String>,
        /// Passphrase of an encrypted key.
        #[serde(skip_serializing_if = "Option::is_none")]
        private_key_password: Option<Secret<String>>,
    },
    /// OAuth client credentials (manual setup only).
    OAuthClientCredentials {
        /// The OAuth client.
        #[serde(rename = "oAuthClientConfig")]
        o_auth_client_config: SnowflakeOAuth,
    },
}

/// The OAuth client for `oAuthClientCredentials`.
#[derive(Debug, Clone, PartialEq)]
pub struct SnowflakeOAuth {
    /// Identity provider name.
    pub provider: String,
    /// Client id.
    pub client_id: String,
    /// Token endpoint authority.
    pub authority_url: HttpsUrl,
    /// Certificate or client secret.
    pub credential: SnowflakeOAuthCredential,
    /// Resource passed to the token provider.
    pub resource: Option<String>,
    /// Token scope.
    pub scope: Option<String>,
}

/// How the OAuth client proves itself (`useCertificate`).
#[derive(Debug, Clone, PartialEq)]
pub enum SnowflakeOAuthCredential {
    /// `useCertificate: true`.
    Certificate {
        /// Thumbprint of the public certificate.
        public_certificate_thumbprint: String,
        /// The certificate's private key.
        oauth_private_key: Secret<String>,
    },
    /// `useCertificate: false`.
    ClientSecret {
        /// The client secret.
        client_secret: Secret<String>,
    },
}

fn default_batch() -> u64 {
    1000
}

/// The OAuth client's wire shape: `useCertificate` decides which credential fields it takes.
impl JsonSchema for SnowflakeOAuth {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "SnowflakeOAuth".into()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let secret = generator.subschema_for::<Secret<String>>();
        let pem = crate::schema::pem_secret(generator);
        let url = generator.subschema_for::<HttpsUrl>();
        schemars::json_schema!({
            "description": "The OAuth client for oAuthClientCredentials.",
            "type": "object",
            "properties": {
                "provider": {"type": "string", "description": "Identity provider name."},
                "clientId": {"type": "string", "description": "Client id."},
                "authorityUrl": url,
                "useCertificate": {"type": "boolean", "description": "Whether the client proves itself with a certificate (else a client secret)."},
                "publicCertificateThumbprint": {"type": "string", "description": "Thumbprint of the public certificate."},
                "oauthPrivateKey": pem,
                "clientSecret": secret,
                "resource": {"type": ["string", "null"], "description": "Resource passed to the token provider."},
                "scope": {"type": ["string", "null"], "description": "Token scope."}
            },
            "required": ["provider", "clientId", "authorityUrl", "useCertificate"],
            "additionalProperties": false,
            "if": {"properties": {"useCertificate": {"const": true}}, "required": ["useCertificate"]},
            "then": {"required": ["publicCertificateThumbprint", "oauthPrivateKey"],
                "not": {"required": ["clientSecret"]}},
            "else": {"required": ["clientSecret"],
                "not": {"anyOf": [{"required": ["publicCertificateThumbprint"]}, {"required": ["oauthPrivateKey"]}]}}
        })
    }
}

impl Serialize for SnowflakeOAuth {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut m = serializer.serialize_map(None)?;
        m.serialize_entry("provider", &self.provider)?;
        m.serialize_entry("clientId", &self.client_id)?;
        m.serialize_entry("authorityUrl", &self.authority_url)?;
        match &self.credential {
            SnowflakeOAuthCredential::Certificate { public_certificate_thumbprint, oauth_private_key } => {
                m.serialize_entry("useCertificate", &true)?;
                m.serialize_entry("publicCertificateThumbprint", public_certificate_thumbprint)?;
                m.serialize_entry("oauthPrivateKey", oauth_private_key)?;
            }
            SnowflakeOAuthCredential::ClientSecret { client_secret } => {
                m.serialize_entry("useCertificate", &false)?;
                m.serialize_entry("clientSecret", client_secret)?;
            }
        }
        if let Some(resource) = &self.resource {
            m.serialize_entry("resource", resource)?;
        }
        if let Some(scope) = &self.scope {
            m.serialize_entry("scope", scope)?;
        }
        m.end()
    }
}

/// Roles and users excluded from authorization checks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct UserRolePattern {
    /// The excluded names.
    #[schemars(default, length(max = 1000))]
    pub exclude: Vec<String>,
}

/// Project workspaces.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Workspaces {
    /// Whether workspaces are on.
    #[schemars(default)]
    pub enabled: bool,
    /// Warehouses workspace users may use.
    #[schemars(default, length(max = 1000))]
    pub warehouses: Vec<String>,
}

/// Lineage ingestion.
#[derive(Debug, Clone, PartialEq, Serialize, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(deny_unknown_fields, extend("if" = {"properties": {"enabled": {"const": true}}, "required": ["enabled"]},
    "then" = {"required": ["lineageConfig"]}))]
pub struct Lineage {
    /// Whether lineage is ingested.
    #[schemars(default)]
    pub enabled: bool,
    /// What to ingest; present when enabled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lineage_config: Option<LineageConfig>,
}

/// What lineage ingests.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(deny_unknown_fields)]
pub struct LineageConfig {
    /// Tables to ingest lineage for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub table_filter: Option<Pattern>,
    /// Tags to propagate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag_filter_regex: Option<Pattern>,
    /// Rows per ingest batch, at least 1.
    #[schemars(default = "default_batch", range(min = 1, max = 1_000_000))]
    pub ingest_batch_size: u64,
}

pub(crate) const AUTH_FIELDS: &[&str] =
    &["username", "password", "privateKey", "privateKeyPassword", "oAuthClientConfig"];

fn read_oauth(cx: &mut Cx<'_>, o: &mut Obj<'_>) -> Option<SnowflakeOAuth> {
    let mut c =
        o.object(cx, "oAuthClientConfig", Need::RequiredWhen("authenticationType is oAuthClientCredentials"))?;
    let provider = c.text(cx, "provider", Need::Required);
    let client_id = c.text(cx, "clientId", Need::Required);
    let authority_url = c.parsed(cx, "authorityUrl", Need::Required, HttpsUrl::parse);
    let credential = match c.boolean(cx, "useCertificate", Need::Required) {
        Some(true) => {
            c.unused(cx, &["clientSecret"], "useCertificate is true");
            let when = Need::RequiredWhen("useCertificate is true");
            let thumbprint = c.text(cx, "publicCertificateThumbprint", when);
            let key = c.secret_checked(cx, "oauthPrivateKey", when, normalise_pem_private_key);
            (|| {
                Some(SnowflakeOAuthCredential::Certificate {
                    public_certificate_thumbprint: thumbprint?,
                    oauth_private_key: key?,
                })
            })()
        }
        Some(false) => {
            c.unused(cx, &["publicCertificateThumbprint", "oauthPrivateKey"], "useCertificate is false");
            let secret = c.secret(cx, "clientSecret", Need::RequiredWhen("useCertificate is false"));
            secret.map(|client_secret| SnowflakeOAuthCredential::ClientSecret { client_secret })
        }
        None => {
            c.skip(&["clientSecret", "publicCertificateThumbprint", "oauthPrivateKey"]);
            None
        }
    };
    let resource = c.text(cx, "resource", Need::Optional);
    let scope = c.text(cx, "scope", Need::Optional);
    c.finish(cx);
    Some(SnowflakeOAuth {
        provider: provider?,
        client_id: client_id?,
        authority_url: authority_url?,
        credential: credential?,
        resource,
        scope,
    })
}

fn read_authentication(cx: &mut Cx<'_>, o: &mut Obj<'_>, auto_bootstrap: bool) -> Option<SnowflakeAuthentication> {
    let choices = ["userPassword", "keyPair", "oAuthClientCredentials"];
    let Some(kind) = o.choice(cx, "authenticationType", Need::Required, &choices) else {
        o.skip(AUTH_FIELDS);
        return None;
    };
    let because = format!("authenticationType is {kind}");
    let when = Need::RequiredWhen(&because);
    let (used, auth): (&[&str], _) = match kind {
        "userPassword" => {
            let username = o.text(cx, "username", when);
            let password = o.secret(cx, "password", when);
            (
                &["username", "password"],
                (|| Some(SnowflakeAuthentication::UserPassword { username: username?, password: password? }))(),
            )
        }
        "keyPair" => {
            let username = o.text(cx, "username", when);
            let private_key = o.secret_checked(cx, "privateKey", when, normalise_pem_private_key);
            let private_key_password = o.secret(cx, "privateKeyPassword", Need::Optional);
            let auth = (|| {
                Some(SnowflakeAuthentication::KeyPair {
                    username: username?,
                    private_key: private_key?,
                    private_key_password,
                })
            })();
            (&["username", "privateKey", "privateKeyPassword"], auth)
        }
        _ => {
            if auto_bootstrap {
                cx.report(&o.path_of("authenticationType"), "oAuthClientCredentials needs autoBootstrap to be false");
            }
            let oauth = read_oauth(cx, o);
            (
                &["oAuthClientConfig"],
                oauth.map(|o_auth_client_config| SnowflakeAuthentication::OAuthClientCredentials {
                    o_auth_client_config,
                }),
            )
        }
    };
    let others: Vec<&'static str> = AUTH_FIELDS.iter().copied().filter(|f| !used.contains(f)).collect();
    o.unused(cx, &others, &because);
    auth
}

fn read_lineage(cx: &mut Cx<'_>, o: &mut Obj<'_>) -> Option<Lineage> {
    if !o.has("lineage") {
        return Some(Lineage::default());
    }
    let mut l = o.object(cx, "lineage", Need::Optional)?;
    let enabled = l.flag(cx, "enabled", false);
    let need = if enabled == Some(true) { Need::RequiredWhen("lineage.enabled is true") } else { Need::Optional };
    let lineage_config = l.object(cx, "lineageConfig", need).map(|mut c| {
        let table_filter = c.parsed(cx, "tableFilter", Need::Optional, Pattern::parse);
        let tag_filter_regex = c.parsed(cx, "tagFilterRegex", Need::Optional, Pattern::parse);
        let ingest_batch_size = if c.has("ingestBatchSize") {
            c.integer(cx, "ingestBatchSize", Need::Optional, 1, 1_000_000)
        } else {
            Some(1000)
        };
        c.finish(cx);
        ingest_batch_size.map(|ingest_batch_size| LineageConfig { table_filter, tag_filter_regex, ingest_batch_size })
    });
    l.finish(cx);
    let lineage_config = match lineage_config {
        Some(None) => return None,
        Some(Some(c)) => Some(c),
        None => None,
    };
    Some(Lineage { enabled: enabled?, lineage_config })
}

pub(crate) fn read(cx: &mut Cx<'_>, o: &mut Obj<'_>, auto_bootstrap: bool) -> Option<SnowflakeConfig> {
    let host = o.parsed(cx, "host", Need::Required, Hostname::parse);
    let warehouse = o.text(cx, "warehouse", Need::Required);
    let database = o.text(cx, "database", Need::Required);
    let authentication = read_authentication(cx, o, auto_bootstrap);
    let role = if auto_bootstrap {
        o.text(cx, "role", Need::RequiredWhen("autoBootstrap is true"))
    } else {
        // The reference accepts the privileged role and its connect arguments on a manual
        // integration and ignores them; so does Warden, and they are never stored.
        o.skip(&["role", "privilegedConnectArgs"]);
        None
    };
    let privileged_connect_args =
        if auto_bootstrap { o.text(cx, "privilegedConnectArgs", Need::Optional) } else { None };
    let port = o.port(cx, 443);
    let audit = Toggle::read(cx, o, "audit");
    let impersonation = Impersonation::read(cx, o, "WARDEN_IMPERSONATION");
    let user_role_pattern = if o.has("userRolePattern") {
        o.object(cx, "userRolePattern", Need::Optional).and_then(|mut u| {
            let exclude = u.text_list(cx, "exclude", |s| Ok(s.to_owned()));
            u.finish(cx);
            exclude.map(|exclude| UserRolePattern { exclude })
        })
    } else {
        Some(UserRolePattern::default())
    };
    let workspaces = if o.has("workspaces") {
        o.object(cx, "workspaces", Need::Optional).and_then(|mut w| {
            let enabled = w.flag(cx, "enabled", false);
            let warehouses = w.text_list(cx, "warehouses", |s| Ok(s.to_owned()));
            w.finish(cx);
            Some(Workspaces { enabled: enabled?, warehouses: warehouses? })
        })
    } else {
        Some(Workspaces::default())
    };
    let connect_args = o.text(cx, "connectArgs", Need::Optional);
    let lineage = read_lineage(cx, o);
    if let (Some(l), Some(a)) = (&lineage, &audit)
        && l.enabled
        && !a.enabled
    {
        cx.report(
            &o.path_of("lineage.enabled"),
            "needs config.audit.enabled to be true (lineage is read from the audit history)",
        );
    }
    Some(SnowflakeConfig {
        host: host?,
        warehouse: warehouse?,
        database: database?,
        authentication: authentication?,
        role,
        port: port?,
        audit: audit?,
        impersonation: impersonation?,
        user_role_pattern: user_role_pattern?,
        workspaces: workspaces?,
        connect_args,
        privileged_connect_args,
        lineage: lineage?,
    })
}
