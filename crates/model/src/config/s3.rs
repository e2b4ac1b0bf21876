//! The Native S3 (Access Grants) config.

use schemars::JsonSchema;
use serde::Serialize;

use crate::names::{AwsAccountId, AwsRegion, IamRoleArn, Port, S3Path};
use crate::payload::reader::{Cx, Need, Obj};
use crate::secret::Secret;

/// The config of a Native S3 integration.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(deny_unknown_fields)]
pub struct S3Config {
    /// Integration name, unique among S3 integrations.
    pub name: String,
    /// The AWS account that owns the Access Grants instance.
    #[schemars(schema_with = "crate::schema::aws_account_id")]
    pub aws_account_id: AwsAccountId,
    /// The region of the Access Grants instance.
    pub aws_region: AwsRegion,
    /// The role the Access Grants service assumes for the location.
    pub aws_location_role: IamRoleArn,
    /// The registered location; unique and non-overlapping across S3 integrations.
    pub aws_location_path: S3Path,
    /// How Warden authenticates to AWS.
    #[serde(flatten)]
    pub authentication: S3Authentication,
    /// Port of the S3 Control endpoint.
    #[schemars(default = "default_port")]
    pub port: Port,
}

fn default_port() -> Port {
    Port::new(443).unwrap_or_else(|| unreachable!("443 is not zero"))
}

/// How Warden authenticates to AWS.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(tag = "authenticationType", rename_all = "camelCase", rename_all_fields = "camelCase")]
pub enum S3Authentication {
    /// Warden's own AWS credential chain, which assumes `awsRoleToAssume` when one is given.
    Auto {
        /// The role Warden assumes, if any.
        #[serde(skip_serializing_if = "Option::is_none")]
        aws_role_to_assume: Option<IamRoleArn>,
    },
    /// An access key pair, optionally followed by assuming a role.
    AccessKey {
        /// Access key id.
        aws_access_key_id: String,
        /// Secret access key.
        aws_secret_access_key: Secret<String>,
        /// Optional role to assume with the key.
        #[serde(skip_serializing_if = "Option::is_none")]
        aws_role_to_assume: Option<IamRoleArn>,
    },
}

pub(crate) const AUTH_FIELDS: &[&str] = &["awsRoleToAssume", "awsAccessKeyId", "awsSecretAccessKey"];

pub(crate) fn read(cx: &mut Cx<'_>, o: &mut Obj<'_>) -> Option<S3Config> {
    let name = o.text(cx, "name", Need::Required);
    let aws_account_id = o.digits(cx, "awsAccountId", 12).and_then(|digits| match AwsAccountId::parse(&digits) {
        Ok(id) => Some(id),
        Err(why) => {
            cx.report(&o.path_of("awsAccountId"), why);
            None
        }
    });
    let aws_region = o.parsed(cx, "awsRegion", Need::Required, AwsRegion::parse);
    let aws_location_role = o.parsed(cx, "awsLocationRole", Need::Required, IamRoleArn::parse);
    let aws_location_path = o.parsed(cx, "awsLocationPath", Need::Required, S3Path::parse);
    let port = o.port(cx, 443);
    let authentication = match o.choice(cx, "authenticationType", Need::Required, &["auto", "accessKey"]) {
        Some("auto") => {
            o.unused(cx, &["awsAccessKeyId", "awsSecretAccessKey"], "authenticationType is auto");
            let given = o.has("awsRoleToAssume");
            let role = o.parsed(cx, "awsRoleToAssume", Need::Optional, IamRoleArn::parse);
            (role.is_some() || !given).then_some(S3Authentication::Auto { aws_role_to_assume: role })
        }
        Some(_) => {
            let when = Need::RequiredWhen("authenticationType is accessKey");
            let key_id = o.text(cx, "awsAccessKeyId", when);
            let secret = o.secret(cx, "awsSecretAccessKey", when);
            let role = o.parsed(cx, "awsRoleToAssume", Need::Optional, IamRoleArn::parse);
            Some(S3Authentication::AccessKey {
                aws_access_key_id: key_id?,
                aws_secret_access_key: secret?,
                aws_role_to_assume: role,
            })
        }
        None => {
            o.skip(AUTH_FIELDS);
            None
        }
    };
    Some(S3Config {
        name: name?,
        aws_account_id: aws_account_id?,
        aws_region: aws_region?,
        aws_location_role: aws_location_role?,
        aws_location_path: aws_location_path?,
        authentication: authentication?,
        port: port?,
    })
}
