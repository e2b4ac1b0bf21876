//! From a Snowflake config to a session: the endpoint (`https://<host>:<port>`, or
//! `http://` when `connectArgs` says `protocol=http`, the name Snowflake's own connectors use,
//! which Warden allows only towards a loopback address, for a local emulator), the account
//! (the host's first label), the login (the system account's, or for an automatic setup
//! before or during its setup the privileged one with `role`; a password, a key-pair token
//! signed for the account and user, or an OAuth access token), and the other `connectArgs` keys as session
//! parameters (named as given; Snowflake reads their names without regard to case).

use serde_json::{Map, Value};
use warden_model::config::{SnowflakeAuthentication, SnowflakeConfig};
use warden_model::{IntegrationSpec, Problem};
use warden_platform::{Phase, PlatformError, reach};

use crate::client::{self, Credential, Endpoint, Login};
use crate::key_pair::{self, PrivateKey};
use crate::oauth;

/// `connectArgs`, read: `key=value` pairs separated by `&` or `;`.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct ConnectArgs {
    /// `protocol=http`.
    pub plain_http: bool,
    /// Every other key, as a session parameter.
    pub session_parameters: Map<String, Value>,
}

/// Reads `connectArgs` (an error names the pair it cannot read).
pub(crate) fn connect_args(text: Option<&str>) -> Result<ConnectArgs, String> {
    let mut args = ConnectArgs::default();
    for pair in text.unwrap_or_default().split(['&', ';']).map(str::trim).filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').ok_or_else(|| format!("{pair:?} is not key=value"))?;
        let (key, value) = (key.trim(), value.trim());
        if key.eq_ignore_ascii_case("protocol") {
            args.plain_http = match value.to_ascii_lowercase().as_str() {
                "http" => true,
                "https" => false,
                _ => return Err(format!("protocol {value:?} is not http or https")),
            };
        } else {
            args.session_parameters.insert(key.to_owned(), session_value(value));
        }
    }
    Ok(args)
}

/// A session parameter's value as Snowflake's connectors send it: a number, `true`/`false` or
/// a JSON array as that JSON value, anything else as a string.
fn session_value(text: &str) -> Value {
    match serde_json::from_str::<Value>(text) {
        Ok(value @ (Value::Number(_) | Value::Bool(_) | Value::Array(_))) => value,
        _ => Value::String(text.to_owned()),
    }
}

/// The rules a request's `connectArgs` and `privilegedConnectArgs` must keep: they read,
/// and `protocol=http` only towards a loopback address.
pub(crate) fn check(config: &SnowflakeConfig) -> Vec<Problem> {
    let mut problems = Vec::new();
    for (field, text) in [
        ("config.connectArgs", &config.connect_args),
        ("config.privilegedConnectArgs", &config.privileged_connect_args),
    ] {
        match connect_args(text.as_deref()) {
            Err(message) => problems.push(Problem { path: field.into(), message }),
            Ok(args) if args.plain_http => {
                problems.extend(reach::refuse_plaintext(field, "protocol=http", config.host.as_str()).err());
            }
            Ok(_) => {}
        }
    }
    problems
}

/// Whether a check in `phase` logs in with the privileged account (an automatic setup not
/// yet there, or being removed) rather than the system account.
pub(crate) fn privileged_phase(spec: &IntegrationSpec, phase: Phase) -> bool {
    spec.auto_bootstrap && phase != Phase::Installed
}

/// The endpoint and login a session for `spec` in `phase` uses.
pub(crate) async fn session_for(
    spec: &IntegrationSpec,
    config: &SnowflakeConfig,
    phase: Phase,
) -> Result<(Endpoint, Login), PlatformError> {
    let privileged = privileged_phase(spec, phase);
    let text = if privileged { &config.privileged_connect_args } else { &config.connect_args };
    let args = connect_args(text.as_deref()).map_err(|e| PlatformError::unsupported(format!("connectArgs: {e}")))?;
    let host = config.host.as_str();
    if args.plain_http && !reach::plaintext_allowed(host) {
        return Err(PlatformError::unsupported(format!(
            "connectArgs says protocol=http, which Warden allows only to a loopback address; {host} is not one: send the integration's PUT with protocol=http taken out and the credentials given again (for an automatic setup the privileged credentials), since Warden sends no stored secret over connection settings that changed"
        )));
    }
    let scheme = if args.plain_http { "http" } else { "https" };
    let account = host.split('.').next().unwrap_or(host).to_ascii_uppercase();
    let endpoint = Endpoint { base_url: format!("{scheme}://{host}:{}", config.port.get()), account };
    let (user, credential) = match &config.authentication {
        SnowflakeAuthentication::UserPassword { username, password } => {
            (username.clone(), Credential::Password(password.clone()))
        }
        SnowflakeAuthentication::KeyPair { username, private_key, private_key_password } => {
            let key = PrivateKey::from_pem(private_key, private_key_password.as_ref())?;
            (username.clone(), Credential::KeyPairJwt(key_pair::token_now(&key, &endpoint.account, username)?))
        }
        SnowflakeAuthentication::OAuthClientCredentials { o_auth_client_config } => {
            let token = oauth::access_token(&client::http_client()?, o_auth_client_config).await?;
            (String::new(), Credential::OAuth(token))
        }
    };
    let login = Login {
        user,
        credential,
        warehouse: Some(config.warehouse.clone()),
        database: None,
        // The privileged role is taken after the login (`USE ROLE`), so that a role the user
        // does not have fails its own check, not the connection.
        role: None,
        session_parameters: args.session_parameters,
    };
    Ok((endpoint, login))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // a panic is a failed test

    use super::connect_args;

    #[test]
    fn connect_args_are_session_parameters_but_the_protocol() {
        let args = connect_args(Some(
            "protocol=http&QUERY_TAG=warden; TIMEZONE=UTC&STATEMENT_TIMEOUT_IN_SECONDS=60&nop_regexes=[\"^GRANT .*\"]",
        ))
        .unwrap();
        assert!(args.plain_http);
        assert_eq!(args.session_parameters["QUERY_TAG"], "warden");
        assert_eq!(args.session_parameters["TIMEZONE"], "UTC");
        assert_eq!(args.session_parameters["STATEMENT_TIMEOUT_IN_SECONDS"], 60);
        assert_eq!(args.session_parameters["nop_regexes"], serde_json::json!(["^GRANT .*"]));
        assert!(!args.session_parameters.contains_key("protocol"));
        assert!(connect_args(Some("protocol=ftp")).is_err());
        assert!(connect_args(Some("nonsense")).is_err());
        assert!(!connect_args(None).unwrap().plain_http);
    }
}
