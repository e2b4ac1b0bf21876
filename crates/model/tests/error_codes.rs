//! The error-code table in one place: every code with its HTTP status, its name and its
//! message, snapshot-tested as one table. `every_code` must name each variant (the match in
//! `covered` fails to compile when a new one is added without a row here).

#![allow(clippy::unwrap_used)] // a panic is a failed test

use warden_model::{ErrorCode, IntegrationId, IntegrationType, Status};

fn covered(code: &ErrorCode) {
    use ErrorCode as E;
    match code {
        E::InvalidPayload { .. }
        | E::MalformedBody { .. }
        | E::PayloadTooLarge
        | E::UnsupportedMediaType { .. }
        | E::InvalidId { .. }
        | E::InvalidQuery { .. }
        | E::InvalidQueryValue { .. }
        | E::UnknownQuery { .. }
        | E::Unauthorized
        | E::Forbidden { .. }
        | E::IntegrationNotFound { .. }
        | E::NoIntegrationFound { .. }
        | E::PreviouslyFailedToCreate { .. }
        | E::AlreadyExists { .. }
        | E::CreateValidationFailed
        | E::MetastoreLookupFailed
        | E::EditRefused { .. }
        | E::NonEditableAttributes
        | E::EditValidationFailed { .. }
        | E::DeleteRefused { .. }
        | E::CredentialsNotRequired
        | E::DatabricksCredentialsNotRequired
        | E::PrivilegedCredentialsRequired
        | E::DeleteValidationFailed { .. }
        | E::RegenerateNotTrino { .. }
        | E::ScriptTypeNotAccepted { .. }
        | E::PrefixOutsideLocation { .. }
        | E::DataSourceNameTaken { .. }
        | E::DataSourceNotFound { .. }
        | E::NoDataSources { .. }
        | E::DataSourcesRefused { .. }
        | E::DataSourceRegistrationFailed { .. }
        | E::CleanupNotApplicable { .. }
        | E::TrinoNotEditable { .. }
        | E::HostBusy { .. }
        | E::UriTooLong
        | E::HeadersTooLarge
        | E::BadRequest
        | E::RequestTimeout
        | E::TooManyConnections
        | E::RouteNotFound
        | E::SchemaNotFound
        | E::InvalidHeaderValue { .. }
        | E::MethodNotAllowed
        | E::PlatformNotSupported { .. }
        | E::Internal
        | E::Unavailable => {}
    }
}

fn every_code() -> Vec<ErrorCode> {
    use ErrorCode as E;
    let id = IntegrationId::new(7).unwrap();
    let host = "acme.example.com".to_owned();
    let redshift = IntegrationType::Redshift;
    vec![
        E::InvalidPayload { count: 2 },
        E::MalformedBody { detail: "the body is not valid JSON: expected value at line 1 column 1".into() },
        E::PayloadTooLarge,
        E::UnsupportedMediaType { content_type: "text/csv".into() },
        E::InvalidId { parameter: "id" },
        E::InvalidQuery { parameter: "dryRun".into() },
        E::InvalidQueryValue { parameter: "limit", expected: "a whole number from 1 to 1000".into() },
        E::UnknownQuery { parameter: "dryrun".into(), accepted: "dryRun".into() },
        E::UnknownQuery { parameter: "x".into(), accepted: String::new() },
        E::Unauthorized,
        E::Forbidden { permission: "APPLICATION_ADMIN" },
        E::IntegrationNotFound { id },
        E::NoIntegrationFound { id },
        E::PreviouslyFailedToCreate { integration_type: redshift, host: host.clone(), id },
        E::AlreadyExists { integration_type: redshift, host: host.clone(), id },
        E::CreateValidationFailed,
        E::MetastoreLookupFailed,
        E::EditRefused { id, status: Status::Editing },
        E::EditRefused { id, status: Status::Deleted },
        E::NonEditableAttributes,
        E::EditValidationFailed { id },
        E::DeleteRefused { id, status: Status::Creating },
        E::CredentialsNotRequired,
        E::DatabricksCredentialsNotRequired,
        E::PrivilegedCredentialsRequired,
        E::DeleteValidationFailed { id },
        E::RegenerateNotTrino { id, integration_type: redshift },
        E::ScriptTypeNotAccepted { accepted: vec![IntegrationType::AzureSynapseAnalytics] },
        E::PrefixOutsideLocation { prefix: "s3://other/x".into(), location: "s3://lake/raw".into() },
        E::DataSourceNameTaken { name: "sales".into() },
        E::DataSourceNotFound { id: 3 },
        E::NoDataSources { id, integration_type: redshift },
        E::DataSourcesRefused { id, status: Status::Creating },
        E::DataSourceRegistrationFailed { name: "sales".into(), detail: "not allowed: AccessDenied".into() },
        E::CleanupNotApplicable { id, status: Status::Enabled },
        E::TrinoNotEditable { id },
        E::HostBusy { integration_type: redshift, host },
        E::UriTooLong,
        E::HeadersTooLarge,
        E::BadRequest,
        E::RequestTimeout,
        E::TooManyConnections,
        E::RouteNotFound,
        E::SchemaNotFound,
        E::InvalidHeaderValue { header: "Last-Event-ID", expected: "an event id".into() },
        E::MethodNotAllowed,
        E::PlatformNotSupported { integration_type: IntegrationType::Snowflake },
        E::Internal,
        E::Unavailable,
    ]
}

#[test]
fn every_error_code_has_one_row_status_name_and_message() {
    let codes = every_code();
    let mut names = std::collections::BTreeSet::new();
    let table: Vec<String> = codes
        .iter()
        .map(|code| {
            covered(code);
            let status = code.http_status();
            assert!((400..600).contains(&status), "{code:?}");
            names.insert(code.name());
            format!("{status} {:<36} {}", code.name(), code.message())
        })
        .collect();
    assert_eq!(names.len(), 47, "each code has a name of its own");
    insta::assert_snapshot!(table.join("\n"));
}
