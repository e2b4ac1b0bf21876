//! The Databricks Unity Catalog config, with its OAuth, proxy and additional-workspace parts.

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;

use super::{Toggle, text_or};
use crate::names::{CatalogName, Hostname, HttpPath, HttpsUrl, Port};
use crate::payload::reader::{Cx, Need, Obj, kind};
use crate::secret::Secret;

/// The config of a Databricks Unity Catalog integration.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(deny_unknown_fields)]
pub struct DatabricksConfig {
    /// The workspace host.
    #[schemars(schema_with = "crate::schema::workspace_url")]
    pub workspace_url: Hostname,
    /// HTTP path of the SQL warehouse or cluster.
    pub http_path: HttpPath,
    /// How the service principal authenticates.
    #[serde(flatten)]
    pub authentication: DatabricksAuthentication,
    /// HTTPS port.
    #[schemars(default = "default_port")]
    pub port: Port,
    /// Warden's own catalog.
    #[schemars(default = "default_catalog")]
    pub catalog: CatalogName,
    /// Query audit from the system tables.
    #[schemars(default)]
    pub audit: Toggle,
    /// Workspaces whose activity audit ingests; empty means all.
    #[schemars(default, schema_with = "crate::schema::workspace_ids")]
    pub workspace_ids: Vec<u64>,
    /// The group excluded from data policies.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group_pattern: Option<GroupPattern>,
    /// Proxy in front of the workspace.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proxy_options: Option<ProxyOptions>,
    /// Connections to other workspaces, one per bound catalog.
    #[schemars(default, length(max = 1000))]
    pub additional_workspace_connections: Vec<AdditionalWorkspaceConnection>,
}

fn default_port() -> Port {
    Port::new(443).unwrap_or_else(|| unreachable!("443 is not zero"))
}

fn default_catalog() -> CatalogName {
    CatalogName::parse("warden").unwrap_or_else(|_| unreachable!("warden is a catalog name"))
}

/// How the Databricks service principal authenticates.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(tag = "authenticationType")]
pub enum DatabricksAuthentication {
    /// A personal access token.
    #[serde(rename = "token")]
    Token {
        /// The token.
        token: Secret<String>,
    },
    /// OAuth machine-to-machine.
    #[serde(rename = "oAuthM2M")]
    OAuthM2M {
        /// The OAuth client.
        #[serde(rename = "oAuthClientConfig")]
        o_auth_client_config: DatabricksOAuth,
    },
}

/// The OAuth client of a Databricks service principal.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(deny_unknown_fields)]
pub struct DatabricksOAuth {
    /// The service principal's application id.
    pub client_id: String,
    /// Its OAuth secret.
    pub client_secret: Secret<String>,
    /// The token endpoint's authority.
    pub authority_url: HttpsUrl,
    /// Token scope, default `all-apis`.
    #[schemars(default = "default_scope")]
    pub scope: String,
    /// Whether a certificate is used.
    #[schemars(default)]
    pub use_certificate: bool,
}

fn default_scope() -> String {
    "all-apis".to_owned()
}

/// The group excluded from data policies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct GroupPattern {
    /// The account-level group name.
    pub deny: String,
}

/// A proxy in front of the workspace.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct ProxyOptions {
    /// Proxy host.
    pub host: Hostname,
    /// Proxy port, default 443.
    #[schemars(default = "default_port")]
    pub port: Port,
    /// Proxy user.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// Proxy password.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<Secret<String>>,
}

/// A connection to another workspace that serves the listed catalogs.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(deny_unknown_fields)]
pub struct AdditionalWorkspaceConnection {
    /// The other workspace's host.
    #[schemars(schema_with = "crate::schema::workspace_url")]
    pub workspace_url: Hostname,
    /// HTTP path of its compute.
    pub http_path: HttpPath,
    /// How to authenticate there.
    #[serde(flatten)]
    pub authentication: DatabricksAuthentication,
    /// Catalogs reached through this connection.
    #[schemars(length(min = 1, max = 1000))]
    pub catalogs: Vec<CatalogName>,
}

fn read_authentication(cx: &mut Cx<'_>, o: &mut Obj<'_>) -> Option<DatabricksAuthentication> {
    match o.choice(cx, "authenticationType", Need::Required, &["token", "oAuthM2M"]) {
        Some("token") => {
            o.unused(cx, &["oAuthClientConfig"], "authenticationType is token");
            let token = o.secret(cx, "token", Need::RequiredWhen("authenticationType is token"));
            Some(DatabricksAuthentication::Token { token: token? })
        }
        Some(_) => {
            o.unused(cx, &["token"], "authenticationType is oAuthM2M");
            let mut c = o.object(cx, "oAuthClientConfig", Need::RequiredWhen("authenticationType is oAuthM2M"))?;
            let client_id = c.text(cx, "clientId", Need::Required);
            let client_secret = c.secret(cx, "clientSecret", Need::Required);
            let authority_url = c.parsed(cx, "authorityUrl", Need::Required, HttpsUrl::parse);
            let scope = text_or(cx, &mut c, "scope", "all-apis");
            let use_certificate = c.flag(cx, "useCertificate", false);
            c.finish(cx);
            Some(DatabricksAuthentication::OAuthM2M {
                o_auth_client_config: DatabricksOAuth {
                    client_id: client_id?,
                    client_secret: client_secret?,
                    authority_url: authority_url?,
                    scope: scope?,
                    use_certificate: use_certificate?,
                },
            })
        }
        None => {
            o.skip(&["token", "oAuthClientConfig"]);
            None
        }
    }
}

fn read_workspace_ids(cx: &mut Cx<'_>, o: &mut Obj<'_>) -> Option<Vec<u64>> {
    let items = o.list(cx, "workspaceIds", Need::Optional)?;
    let mut ids = Vec::with_capacity(items.len());
    for (path, item) in items {
        let id = match item {
            Value::Number(n) => n.as_u64(),
            Value::String(s) if !s.is_empty() && s.len() <= 20 && s.bytes().all(|b| b.is_ascii_digit()) => {
                s.parse().ok()
            }
            _ => None,
        };
        match id {
            Some(id) if id > 0 => ids.push(id),
            _ => {
                let got = if item.is_number() { item.to_string() } else { kind(item).to_owned() };
                cx.report(&path, format!("must be a workspace id (a positive integer), not {got}"));
            }
        }
    }
    Some(ids)
}

fn read_proxy(cx: &mut Cx<'_>, o: &mut Obj<'_>) -> Option<Option<ProxyOptions>> {
    if !o.has("proxyOptions") {
        return Some(None);
    }
    let mut p = o.object(cx, "proxyOptions", Need::Optional)?;
    let host = p.parsed(cx, "host", Need::Required, Hostname::parse);
    let port = p.port(cx, 443);
    let username = p.text(cx, "username", Need::Optional);
    let password = p.secret(cx, "password", Need::Optional);
    p.finish(cx);
    Some(Some(ProxyOptions { host: host?, port: port?, username, password }))
}

fn read_connections(cx: &mut Cx<'_>, o: &mut Obj<'_>) -> Option<Vec<AdditionalWorkspaceConnection>> {
    let items = o.list(cx, "additionalWorkspaceConnections", Need::Optional)?;
    let mut out = Vec::with_capacity(items.len());
    let mut served: Vec<(CatalogName, usize)> = Vec::new();
    let mut ok = true;
    for (index, (path, item)) in items.into_iter().enumerate() {
        let Some(mut c) = Obj::from_value(cx, &path, item) else {
            ok = false;
            continue;
        };
        let workspace_url = c.parsed(cx, "workspaceUrl", Need::Required, Hostname::parse_url_host);
        let http_path = c.parsed(cx, "httpPath", Need::Required, HttpPath::parse);
        let authentication = read_authentication(cx, &mut c);
        let catalogs = c.text_list(cx, "catalogs", CatalogName::parse);
        if matches!(&catalogs, Some(list) if list.is_empty()) {
            cx.report(&c.path_of("catalogs"), "must name at least one catalog");
        }
        for (i, catalog) in catalogs.iter().flatten().enumerate() {
            if let Some((_, first)) = served.iter().find(|(name, _)| name == catalog) {
                cx.report(
                    &format!("{}[{i}]", c.path_of("catalogs")),
                    format!(
                        "is already served by additionalWorkspaceConnections[{first}]: use one connection per catalog"
                    ),
                );
            } else {
                served.push((catalog.clone(), index));
            }
        }
        c.finish(cx);
        match (workspace_url, http_path, authentication, catalogs) {
            (Some(workspace_url), Some(http_path), Some(authentication), Some(catalogs)) => {
                out.push(AdditionalWorkspaceConnection { workspace_url, http_path, authentication, catalogs });
            }
            _ => ok = false,
        }
    }
    ok.then_some(out)
}

pub(crate) fn read(cx: &mut Cx<'_>, o: &mut Obj<'_>) -> Option<DatabricksConfig> {
    let workspace_url = o.parsed(cx, "workspaceUrl", Need::Required, Hostname::parse_url_host);
    let http_path = o.parsed(cx, "httpPath", Need::Required, HttpPath::parse);
    let authentication = read_authentication(cx, o);
    let port = o.port(cx, 443);
    let catalog = if o.has("catalog") {
        o.parsed(cx, "catalog", Need::Optional, CatalogName::parse)
    } else {
        CatalogName::parse("warden").ok()
    };
    let audit = Toggle::read(cx, o, "audit");
    let workspace_ids = read_workspace_ids(cx, o);
    let group_pattern = if o.has("groupPattern") {
        o.object(cx, "groupPattern", Need::Optional).and_then(|mut g| {
            let deny = g.text(cx, "deny", Need::Required);
            g.finish(cx);
            deny.map(|deny| Some(GroupPattern { deny }))
        })
    } else {
        Some(None)
    };
    let proxy_options = read_proxy(cx, o);
    let additional_workspace_connections = read_connections(cx, o);
    Some(DatabricksConfig {
        workspace_url: workspace_url?,
        http_path: http_path?,
        authentication: authentication?,
        port: port?,
        catalog: catalog?,
        audit: audit?,
        workspace_ids: workspace_ids?,
        group_pattern: group_pattern?,
        proxy_options: proxy_options?,
        additional_workspace_connections: additional_workspace_connections?,
    })
}
