//! The Amazon Redshift config.

use schemars::JsonSchema;
use serde::Serialize;

use super::Impersonation;
use crate::names::{Hostname, Port, REDSHIFT_MAX_NAME_BYTES, fold_redshift_name};
use crate::payload::reader::{Cx, Need, Obj};
use crate::secret::Secret;

/// The config of a Redshift integration.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(deny_unknown_fields)]
pub struct RedshiftConfig {
    /// Cluster or workgroup endpoint.
    pub host: Hostname,
    /// Warden's database (new, for automatic setup).
    pub database: String,
    /// Existing database the setup connects to first.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub initial_database: Option<String>,
    /// How Warden authenticates.
    #[serde(flatten)]
    pub authentication: RedshiftAuthentication,
    /// Port, default 5439.
    #[schemars(default = "default_port")]
    pub port: Port,
    /// User impersonation (a group).
    #[schemars(default = "default_impersonation")]
    pub impersonation: Impersonation,
    /// Extra connection arguments.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connect_args: Option<String>,
}

fn default_port() -> Port {
    Port::new(5439).unwrap_or_else(|| unreachable!("5439 is not zero"))
}

fn default_impersonation() -> Impersonation {
    Impersonation { enabled: false, role: "warden_impersonation".to_owned() }
}

/// How Warden authenticates to Redshift.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(tag = "authenticationType", rename_all = "camelCase", rename_all_fields = "camelCase")]
pub enum RedshiftAuthentication {
    /// Database user and password.
    UserPassword {
        /// User name.
        username: String,
        /// Password.
        password: Secret<String>,
    },
    /// Temporary credentials from GetClusterCredentials with an AWS access key.
    AccessKey {
        /// The database user the credentials are for.
        database_user: String,
        /// AWS access key id.
        access_key_id: String,
        /// AWS secret access key.
        secret_key: Secret<String>,
        /// AWS session token for temporary keys.
        #[serde(skip_serializing_if = "Option::is_none")]
        session_token: Option<Secret<String>>,
    },
    /// Okta federation: Okta, its AWS app's SAML response, STS, then temporary credentials.
    Okta {
        /// The Okta settings.
        okta: OktaConfig,
    },
}

/// Okta federation settings.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(deny_unknown_fields)]
pub struct OktaConfig {
    /// Okta user.
    pub username: String,
    /// Okta password.
    pub password: Secret<String>,
    /// Okta application id.
    pub app_id: String,
    /// Okta host.
    pub idp_host: Hostname,
    /// IAM role to assume.
    pub role: String,
}

pub(crate) const AUTH_FIELDS: &[&str] =
    &["username", "password", "databaseUser", "accessKeyId", "secretKey", "sessionToken", "okta"];

fn read_authentication(cx: &mut Cx<'_>, o: &mut Obj<'_>) -> Option<RedshiftAuthentication> {
    let kind = o.choice(cx, "authenticationType", Need::Required, &["userPassword", "accessKey", "okta"]);
    let Some(kind) = kind else {
        o.skip(AUTH_FIELDS);
        return None;
    };
    let because = format!("authenticationType is {kind}");
    let when = Need::RequiredWhen(&because);
    let (used, auth): (&[&str], _) = match kind {
        "userPassword" => {
            let username = o.parsed(cx, "username", when, fold_redshift_name);
            let password = o.secret(cx, "password", when);
            (
                &["username", "password"],
                (|| Some(RedshiftAuthentication::UserPassword { username: username?, password: password? }))(),
            )
        }
        "accessKey" => {
            let database_user = o.parsed(cx, "databaseUser", when, fold_redshift_name);
            let access_key_id = o.text(cx, "accessKeyId", when);
            let secret_key = o.secret(cx, "secretKey", when);
            let session_token = o.secret(cx, "sessionToken", Need::Optional);
            let auth = (|| {
                Some(RedshiftAuthentication::AccessKey {
                    database_user: database_user?,
                    access_key_id: access_key_id?,
                    secret_key: secret_key?,
                    session_token,
                })
            })();
            (&["databaseUser", "accessKeyId", "secretKey", "sessionToken"], auth)
        }
        _ => {
            let okta = o.object(cx, "okta", when).and_then(|mut k| {
                let username = k.text(cx, "username", Need::Required);
                let password = k.secret(cx, "password", Need::Required);
                let app_id = k.text(cx, "appId", Need::Required);
                let idp_host = k.parsed(cx, "idpHost", Need::Required, Hostname::parse);
                let role = k.text(cx, "role", Need::Required);
                k.finish(cx);
                Some(OktaConfig {
                    username: username?,
                    password: password?,
                    app_id: app_id?,
                    idp_host: idp_host?,
                    role: role?,
                })
            });
            (&["okta"], okta.map(|okta| RedshiftAuthentication::Okta { okta }))
        }
    };
    let others: Vec<&'static str> = AUTH_FIELDS.iter().copied().filter(|f| !used.contains(f)).collect();
    o.unused(cx, &others, &because);
    auth
}

/// What an automatic setup appends to the database name to name its system account.
pub const SYSTEM_ACCOUNT_SUFFIX: &str = "_system";

pub(crate) fn read(cx: &mut Cx<'_>, o: &mut Obj<'_>, auto_bootstrap: bool) -> Option<RedshiftConfig> {
    let host = o.parsed(cx, "host", Need::Required, Hostname::parse);
    let database = o.parsed(cx, "database", Need::Required, |name| {
        let folded = fold_redshift_name(name)?;
        if auto_bootstrap && folded.len() + SYSTEM_ACCOUNT_SUFFIX.len() > REDSHIFT_MAX_NAME_BYTES {
            return Err(format!(
                "is too long for an automatic setup: its system account {folded}{SYSTEM_ACCOUNT_SUFFIX} must fit in the {REDSHIFT_MAX_NAME_BYTES} bytes Redshift allows"
            ));
        }
        Ok(folded)
    });
    let initial_database = o.parsed(
        cx,
        "initialDatabase",
        if auto_bootstrap { Need::RequiredWhen("autoBootstrap is true") } else { Need::Optional },
        fold_redshift_name,
    );
    let authentication = read_authentication(cx, o);
    let port = o.port(cx, 5439);
    let impersonation = Impersonation::read(cx, o, "warden_impersonation").and_then(|mut impersonation| {
        let path = o.path_of("impersonation.role");
        let checked = fold_redshift_name(&impersonation.role).and_then(|role| {
            if role.contains("$$") {
                Err("must not contain \"$$\": the impersonation procedures quote it inside a $$ block".to_owned())
            } else {
                Ok(role)
            }
        });
        match checked {
            Ok(role) => {
                impersonation.role = role;
                Some(impersonation)
            }
            Err(why) => {
                cx.report(&path, why);
                None
            }
        }
    });
    let connect_args = o.text(cx, "connectArgs", Need::Optional);
    Some(RedshiftConfig {
        host: host?,
        database: database?,
        initial_database,
        authentication: authentication?,
        port: port?,
        impersonation: impersonation?,
        connect_args,
    })
}
