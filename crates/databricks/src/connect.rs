//! From a Databricks config to the workspaces Warden calls: the main one (`workspaceUrl`,
//! `port`, the service principal's token or OAuth client, `proxyOptions`) and each of
//! `additionalWorkspaceConnections` with its own credentials (through the same proxy, on the
//! same `port`: the reference gives an additional connection no port of its own), and
//! the SQL warehouse `httpPath` names, when it names one.

use warden_http::Proxy;
use warden_model::config::{DatabricksAuthentication, DatabricksConfig, ProxyOptions};
use warden_platform::PlatformError;

use crate::client::{Credential, Workspace};

fn credential(authentication: &DatabricksAuthentication) -> Credential {
    match authentication {
        DatabricksAuthentication::Token { token } => Credential::Token(token.clone()),
        DatabricksAuthentication::OAuthM2M { o_auth_client_config } => Credential::OAuth(o_auth_client_config.clone()),
    }
}

fn proxy(options: Option<&ProxyOptions>) -> Option<Proxy> {
    options.map(|p| Proxy {
        address: format!("{}:{}", p.host.as_str(), p.port.get()),
        basic_auth: p
            .username
            .clone()
            .map(|user| (user, p.password.clone().unwrap_or_else(|| warden_model::Secret::new(String::new())))),
    })
}

/// The main workspace.
pub(crate) fn main_workspace(config: &DatabricksConfig) -> Result<Workspace, PlatformError> {
    Workspace::new(
        config.workspace_url.as_str(),
        config.port.get(),
        credential(&config.authentication),
        proxy(config.proxy_options.as_ref()).as_ref(),
    )
}

/// Each additional workspace, with the catalogs it serves.
pub(crate) fn additional_workspaces(
    config: &DatabricksConfig,
) -> Result<Vec<(String, Workspace, Vec<String>)>, PlatformError> {
    let proxy = proxy(config.proxy_options.as_ref());
    config
        .additional_workspace_connections
        .iter()
        .map(|connection| {
            let workspace = Workspace::new(
                connection.workspace_url.as_str(),
                config.port.get(),
                credential(&connection.authentication),
                proxy.as_ref(),
            )?;
            let catalogs = connection.catalogs.iter().map(|c| c.as_str().to_owned()).collect();
            Ok((connection.workspace_url.as_str().to_owned(), workspace, catalogs))
        })
        .collect()
}

/// The SQL warehouse id of an `httpPath` (`/sql/1.0/warehouses/<id>`), if it names one
/// (a cluster's path does not).
pub(crate) fn warehouse_id(http_path: &str) -> Option<&str> {
    let id = http_path.trim_end_matches('/').strip_prefix("/sql/1.0/warehouses/")?;
    (!id.is_empty() && !id.contains('/')).then_some(id)
}

#[cfg(test)]
mod tests {
    use super::warehouse_id;

    #[test]
    fn a_warehouse_path_names_its_warehouse() {
        assert_eq!(warehouse_id("/sql/1.0/warehouses/abc123"), Some("abc123"));
        assert_eq!(warehouse_id("/sql/1.0/warehouses/abc123/"), Some("abc123"));
        assert_eq!(warehouse_id("/sql/protocolv1/o/123/0123-456789-abc"), None);
        assert_eq!(warehouse_id("/sql/1.0/warehouses/"), None);
    }
}
