//! The error-code table: every error the API answers with, its HTTP status and its message,
//! in one place. The api crate maps an `ErrorCode` to a response once; nothing else invents
//! an error text. Messages follow the API reference §2 word for word where it gives them.

use crate::integration_type::IntegrationType;
use crate::status::{IntegrationId, Status};

/// An error the API can answer with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorCode {
    /// The payload decoded but has problems (the list travels as `errors`).
    InvalidPayload {
        /// How many problems.
        count: usize,
    },
    /// The body is not JSON/YAML, nests too deep, or trips the YAML alias budget.
    MalformedBody {
        /// What is wrong with it.
        detail: String,
    },
    /// The body is over 1 MiB.
    PayloadTooLarge,
    /// A content type that is neither JSON nor YAML.
    UnsupportedMediaType {
        /// The content type sent.
        content_type: String,
    },
    /// A path id that is not a positive integer.
    InvalidId {
        /// The path parameter's name.
        parameter: &'static str,
    },
    /// A query parameter that is not `true` or `false`.
    InvalidQuery {
        /// The parameter.
        parameter: String,
    },
    /// A request header whose value is not one the route takes (`Last-Event-ID: x`).
    InvalidHeaderValue {
        /// The header.
        header: &'static str,
        /// What it must be.
        expected: String,
    },
    /// A query parameter whose value is not one the route takes (`limit=0`, `type=Nope`).
    InvalidQueryValue {
        /// The parameter.
        parameter: &'static str,
        /// What it must be.
        expected: String,
    },
    /// A query parameter the route does not take.
    UnknownQuery {
        /// The parameter.
        parameter: String,
        /// The parameters the route takes.
        accepted: String,
    },
    /// No or unknown API key.
    Unauthorized,
    /// The key lacks the permission the route needs.
    Forbidden {
        /// The permission needed.
        permission: &'static str,
    },
    /// GET of a missing integration.
    IntegrationNotFound {
        /// The id asked for.
        id: IntegrationId,
    },
    /// PUT, DELETE, scripts or status of a missing integration.
    NoIntegrationFound {
        /// The id asked for.
        id: IntegrationId,
    },
    /// POST for a host whose integration failed to create.
    PreviouslyFailedToCreate {
        /// Its type.
        integration_type: IntegrationType,
        /// The host (workspace, project, S3 name) in conflict.
        host: String,
        /// The failed integration.
        id: IntegrationId,
    },
    /// POST for a host that already has an integration.
    AlreadyExists {
        /// Its type.
        integration_type: IntegrationType,
        /// The host in conflict.
        host: String,
        /// The existing integration.
        id: IntegrationId,
    },
    /// POST whose validation failed (with `validationResults`).
    CreateValidationFailed,
    /// Databricks metastore lookup failed.
    MetastoreLookupFailed,
    /// PUT in a status that does not allow it.
    EditRefused {
        /// The integration.
        id: IntegrationId,
        /// Its status.
        status: Status,
    },
    /// PUT that changes non-editable attributes (with `attributes`).
    NonEditableAttributes,
    /// PUT whose validation failed (with `validationResults`).
    EditValidationFailed {
        /// The integration.
        id: IntegrationId,
    },
    /// DELETE in a status that does not allow it.
    DeleteRefused {
        /// The integration.
        id: IntegrationId,
        /// Its status.
        status: Status,
    },
    /// DELETE with credentials for an integration set up by hand.
    CredentialsNotRequired,
    /// DELETE with credentials for Databricks.
    DatabricksCredentialsNotRequired,
    /// DELETE without the privileged credentials an automatic integration needs.
    PrivilegedCredentialsRequired,
    /// DELETE whose validation failed (with `validationResults`).
    DeleteValidationFailed {
        /// The integration.
        id: IntegrationId,
    },
    /// Regenerate on an integration that is not Trino.
    RegenerateNotTrino {
        /// The integration.
        id: IntegrationId,
        /// Its type.
        integration_type: IntegrationType,
    },
    /// A script endpoint called for a type it does not serve.
    ScriptTypeNotAccepted {
        /// The types the endpoint serves.
        accepted: Vec<IntegrationType>,
    },
    /// An S3 data-source prefix outside the integration's location.
    PrefixOutsideLocation {
        /// The prefix sent.
        prefix: String,
        /// The integration's `awsLocationPath`.
        location: String,
    },
    /// An S3 data-source name already taken.
    DataSourceNameTaken {
        /// The name.
        name: String,
    },
    /// Data sources asked of an integration whose platform has none.
    NoDataSources {
        /// The integration.
        id: IntegrationId,
        /// Its type.
        integration_type: IntegrationType,
    },
    /// Data sources asked of an integration that is not enabled.
    DataSourcesRefused {
        /// The integration.
        id: IntegrationId,
        /// Its status.
        status: Status,
    },
    /// The platform refused to register a data source.
    DataSourceRegistrationFailed {
        /// The data source's name.
        name: String,
        /// What the platform said.
        detail: String,
    },
    /// A missing data source.
    DataSourceNotFound {
        /// The id asked for.
        id: u64,
    },
    /// A stored integration's cleanup script asked for when its create did not fail.
    CleanupNotApplicable {
        /// The integration.
        id: IntegrationId,
        /// Its status.
        status: Status,
    },
    /// PUT on a Trino integration: there is no config to edit.
    TrinoNotEditable {
        /// The integration.
        id: IntegrationId,
    },
    /// POST raced another change of the same host's integrations and could not settle.
    HostBusy {
        /// Its type.
        integration_type: IntegrationType,
        /// The host in conflict.
        host: String,
    },
    /// The request line's URI is too long (answered before routing).
    UriTooLong,
    /// The request's headers are too large (answered before routing).
    HeadersTooLarge,
    /// The request is not valid HTTP: a bad header or Content-Length (answered before routing).
    BadRequest,
    /// The request took longer than the server's request timeout.
    RequestTimeout,
    /// The server holds as many connections as it accepts.
    TooManyConnections,
    /// No such route.
    RouteNotFound,
    /// `GET /schemas/{file}` names no integration type's schema.
    SchemaNotFound,
    /// The route exists but not with this method.
    MethodNotAllowed,
    /// This build of Warden has no adapter for the platform yet.
    PlatformNotSupported {
        /// The type asked for.
        integration_type: IntegrationType,
    },
    /// Anything unexpected; the detail is in the log under the request id.
    Internal,
    /// The store is unreachable or the server is shutting down.
    Unavailable,
}

impl ErrorCode {
    /// The HTTP status code.
    pub const fn http_status(&self) -> u16 {
        match self {
            Self::InvalidPayload { .. }
            | Self::MalformedBody { .. }
            | Self::InvalidId { .. }
            | Self::InvalidQuery { .. }
            | Self::InvalidQueryValue { .. }
            | Self::InvalidHeaderValue { .. }
            | Self::UnknownQuery { .. }
            | Self::PreviouslyFailedToCreate { .. }
            | Self::NonEditableAttributes
            | Self::CredentialsNotRequired
            | Self::DatabricksCredentialsNotRequired
            | Self::PrivilegedCredentialsRequired
            | Self::RegenerateNotTrino { .. }
            | Self::TrinoNotEditable { .. }
            | Self::BadRequest
            | Self::ScriptTypeNotAccepted { .. }
            | Self::PrefixOutsideLocation { .. }
            | Self::NoDataSources { .. } => 400,
            Self::Unauthorized => 401,
            Self::Forbidden { .. } => 403,
            Self::IntegrationNotFound { .. }
            | Self::NoIntegrationFound { .. }
            | Self::DataSourceNotFound { .. }
            | Self::RouteNotFound
            | Self::SchemaNotFound => 404,
            Self::MethodNotAllowed => 405,
            Self::AlreadyExists { .. }
            | Self::EditRefused { .. }
            | Self::DeleteRefused { .. }
            | Self::HostBusy { .. }
            | Self::CleanupNotApplicable { .. }
            | Self::DataSourceNameTaken { .. }
            | Self::DataSourcesRefused { .. } => 409,
            Self::RequestTimeout => 408,
            Self::UriTooLong => 414,
            Self::HeadersTooLarge => 431,
            Self::PayloadTooLarge => 413,
            Self::UnsupportedMediaType { .. } => 415,
            Self::CreateValidationFailed
            | Self::MetastoreLookupFailed
            | Self::EditValidationFailed { .. }
            | Self::DeleteValidationFailed { .. } => 422,
            Self::Internal => 500,
            Self::PlatformNotSupported { .. } => 501,
            Self::DataSourceRegistrationFailed { .. } => 502,
            Self::Unavailable | Self::TooManyConnections => 503,
        }
    }

    /// A stable name for logs and for clients that branch on the kind of error.
    pub const fn name(&self) -> &'static str {
        match self {
            Self::InvalidPayload { .. } => "invalid_payload",
            Self::MalformedBody { .. } => "malformed_body",
            Self::PayloadTooLarge => "payload_too_large",
            Self::UnsupportedMediaType { .. } => "unsupported_media_type",
            Self::InvalidId { .. } => "invalid_id",
            Self::InvalidQuery { .. } => "invalid_query",
            Self::InvalidQueryValue { .. } => "invalid_query_value",
            Self::InvalidHeaderValue { .. } => "invalid_header_value",
            Self::UnknownQuery { .. } => "unknown_query",
            Self::Unauthorized => "unauthorized",
            Self::Forbidden { .. } => "forbidden",
            Self::IntegrationNotFound { .. } => "integration_not_found",
            Self::NoIntegrationFound { .. } => "no_integration_found",
            Self::PreviouslyFailedToCreate { .. } => "previously_failed_to_create",
            Self::AlreadyExists { .. } => "already_exists",
            Self::CreateValidationFailed => "create_validation_failed",
            Self::MetastoreLookupFailed => "metastore_lookup_failed",
            Self::EditRefused { .. } => "edit_refused",
            Self::NonEditableAttributes => "non_editable_attributes",
            Self::EditValidationFailed { .. } => "edit_validation_failed",
            Self::DeleteRefused { .. } => "delete_refused",
            Self::TrinoNotEditable { .. } => "trino_not_editable",
            Self::CleanupNotApplicable { .. } => "cleanup_not_applicable",
            Self::HostBusy { .. } => "host_busy",
            Self::UriTooLong => "uri_too_long",
            Self::HeadersTooLarge => "headers_too_large",
            Self::BadRequest => "bad_request",
            Self::RequestTimeout => "request_timeout",
            Self::TooManyConnections => "too_many_connections",
            Self::CredentialsNotRequired => "credentials_not_required",
            Self::DatabricksCredentialsNotRequired => "databricks_credentials_not_required",
            Self::PrivilegedCredentialsRequired => "privileged_credentials_required",
            Self::DeleteValidationFailed { .. } => "delete_validation_failed",
            Self::RegenerateNotTrino { .. } => "regenerate_not_trino",
            Self::ScriptTypeNotAccepted { .. } => "script_type_not_accepted",
            Self::PrefixOutsideLocation { .. } => "prefix_outside_location",
            Self::DataSourceNameTaken { .. } => "data_source_name_taken",
            Self::DataSourceNotFound { .. } => "data_source_not_found",
            Self::NoDataSources { .. } => "no_data_sources",
            Self::DataSourcesRefused { .. } => "data_sources_refused",
            Self::DataSourceRegistrationFailed { .. } => "data_source_registration_failed",
            Self::RouteNotFound => "route_not_found",
            Self::SchemaNotFound => "schema_not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::Internal => "internal",
            Self::PlatformNotSupported { .. } => "platform_not_supported",
            Self::Unavailable => "unavailable",
        }
    }

    /// The message of the error body.
    pub fn message(&self) -> String {
        match self {
            Self::InvalidPayload { count } => {
                format!("The payload has {count} problem(s); each is listed in errors with the field's path.")
            }
            Self::MalformedBody { detail } => format!("Unable to read the request body: {detail}."),
            Self::PayloadTooLarge => "The request body is larger than 1 MiB.".into(),
            Self::UnsupportedMediaType { content_type } => format!(
                "Content type {content_type} is not accepted: send application/json or application/yaml."
            ),
            Self::InvalidId { parameter } => format!("{parameter} must be a positive integer."),
            Self::InvalidQuery { parameter } => format!("Query parameter {parameter} must be true or false."),
            Self::InvalidQueryValue { parameter, expected } => format!("Query parameter {parameter} must be {expected}."),
            Self::InvalidHeaderValue { header, expected } => format!("Header {header} must be {expected}."),
            Self::UnknownQuery { parameter, accepted } if accepted.is_empty() => {
                format!("Query parameter {parameter} is not accepted: this route takes no query parameters.")
            }
            Self::UnknownQuery { parameter, accepted } => {
                format!("Query parameter {parameter} is not accepted: this route takes {accepted}.")
            }
            Self::Unauthorized => {
                "A valid API key is required in the Authorization header (Authorization: <key> or Bearer <key>).".into()
            }
            Self::Forbidden { permission } => format!("This API key does not have the {permission} permission."),
            Self::IntegrationNotFound { id } => format!("No Integration found with ID {id}."),
            Self::NoIntegrationFound { id } => format!("No integration found with ID {id}."),
            Self::PreviouslyFailedToCreate { integration_type, host, id } => format!(
                "Use PUT /integrations/{id} endpoint to update connection information for {integration_type} integration on host {host} (id = {id}) that previously failed to create."
            ),
            Self::AlreadyExists { integration_type, host, id } => {
                format!("{integration_type} integration already exists on {host} (id = {id}).")
            }
            Self::CreateValidationFailed => "Validation of prerequisite setup failed. Unable to create integration.".into(),
            Self::MetastoreLookupFailed => "Processing Error: Error trying to get the current metastore info.".into(),
            Self::EditRefused { id, status } => {
                let base = format!("Unable to edit integration with ID {id} in current state {status}.");
                if status.is_not_in_use() { format!("{base} {}", not_in_use_hint()) } else { base }
            }
            Self::NonEditableAttributes => "Unable to edit integration due to changes of non-editable attribute(s).".into(),
            Self::EditValidationFailed { id } => format!("Unable to edit integration with ID {id}, validation failed."),
            // the API reference §2.4: DELETE's 409 uses PUT's text.
            Self::DeleteRefused { id, status } => {
                let base = format!("Unable to edit integration with ID {id} in current state {status}.");
                if status.is_not_in_use() { format!("{base} {}", not_in_use_hint()) } else { base }
            }
            Self::CredentialsNotRequired => "Credentials are not required for disable unless the integration was configured automatically. If you need to update your integration credentials, use PUT to update the integration before disabling.".into(),
            Self::DatabricksCredentialsNotRequired => "Credentials are not required to disable a Databricks Unity Catalog integration. If you need to update your integration credentials, use PUT to update the integration before disabling.".into(),
            Self::PrivilegedCredentialsRequired => "Integrations that are automatically configured require privileged credentials to disable. Please provide them in your payload.".into(),
            Self::DeleteValidationFailed { id } => format!("Unable to delete integration with ID {id}, validation failed."),
            Self::RegenerateNotTrino { id, integration_type } => format!(
                "Only Trino integrations have an API key to regenerate; integration {id} is a {integration_type} integration."
            ),
            Self::ScriptTypeNotAccepted { accepted } => {
                let names: Vec<&str> = accepted.iter().map(|t| t.wire_name()).collect();
                format!("type must be one of: {} for this script.", names.join(", "))
            }
            Self::PrefixOutsideLocation { prefix, location } => {
                format!("The prefix {prefix} is not under the integration's awsLocationPath {location}.")
            }
            Self::DataSourceNameTaken { name } => format!("A data source named {name} already exists."),
            Self::DataSourceNotFound { id } => format!("No data source found with ID {id}."),
            Self::NoDataSources { id, integration_type } => {
                format!("Integration {id} is a {integration_type} integration, which has no data sources.")
            }
            Self::DataSourcesRefused { id, status } => format!(
                "Data sources are registered under an enabled integration; integration {id} is {status}. Check GET /integrations/{id}/status, and register them once it is enabled."
            ),
            Self::DataSourceRegistrationFailed { name, detail } => format!(
                "Registering data source {name} on the platform failed: {detail}. Data sources listed before it were registered; fix the cause and send the rest again."
            ),
            Self::CleanupNotApplicable { id, status } => format!(
                "The cleanup scripts are for an integration whose creation failed; integration {id} is in state {status}. For one that was created, use POST /integrations/{id}/scripts/delete."
            ),
            Self::TrinoNotEditable { id } => format!(
                "A Trino integration has no configuration to edit. To replace its API key, send POST /integrations/{id}/regenerate."
            ),
            Self::HostBusy { integration_type, host } => format!(
                "Another request is changing the {integration_type} integration on {host} right now. Send the request again."
            ),
            Self::UriTooLong => "The request URI is too long.".into(),
            Self::HeadersTooLarge => "The request headers are too large.".into(),
            Self::BadRequest => "The request is not valid HTTP (a malformed header or Content-Length).".into(),
            Self::RequestTimeout => "The request took too long and was stopped. Retry it.".into(),
            Self::TooManyConnections => "Warden holds as many connections as it accepts. Retry shortly.".into(),
            Self::RouteNotFound => "No such route.".into(),
            Self::SchemaNotFound => {
                let files: Vec<String> = IntegrationType::ALL.iter().map(|t| format!("/schemas/{}.json", t.slug())).collect();
                format!(
                    "No such schema: there is one per integration type, {} (and <Type>.document.json for a warden apply document).",
                    files.join(", ")
                )
            }
            Self::MethodNotAllowed => "This route does not accept that method.".into(),
            Self::PlatformNotSupported { integration_type } => format!(
                "This version of Warden cannot connect to {integration_type} yet, so it cannot validate or set up this integration. The payload itself is valid."
            ),
            Self::Internal => "Warden hit an internal error. The log holds the detail under this request's requestId.".into(),
            Self::Unavailable => "Warden cannot serve this request right now (its store is unreachable or it is shutting down). Retry shortly.".into(),
        }
    }
}

fn not_in_use_hint() -> &'static str {
    "It is no longer in use: POST /integrations creates it again."
}
