"""Sets up the local AWS emulator (moto, server mode) for the AWS tests, once per run (the
xtask runs it right after starting moto and hands the key to the tests): an IAM user with an
access key allowed redshift:*, s3:*, secretsmanager:* (the secretRef tests), sts:GetCallerIdentity and sts:AssumeRole, and a Redshift cluster. moto
is started with INITIAL_NO_AUTH_ACTION_COUNT=4, so these four calls are the only unsigned
ones it accepts; from then on it checks every request's SigV4 signature (and the user's
policy) against the key created here.

Usage: python moto_setup.py <endpoint-url>; prints the access key id and the secret key,
separated by a space.
"""

import boto3, json, sys
url = sys.argv[1]
kw = dict(endpoint_url=url, region_name="us-east-1", aws_access_key_id="AKIAIOSFODNN7EXAMPLE", aws_secret_access_key="x")
iam = boto3.client("iam", **kw)
iam.create_user(UserName="warden")
key = iam.create_access_key(UserName="warden")["AccessKey"]
iam.put_user_policy(UserName="warden", PolicyName="warden-tests", PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["redshift:*", "s3:*", "secretsmanager:*", "sts:GetCallerIdentity", "sts:AssumeRole"], "Resource": "*"}]}))
rs = boto3.client("redshift", **kw)
rs.create_cluster(ClusterIdentifier="warden-test", NodeType="dc2.large", MasterUsername="awsuser", MasterUserPassword="Passw0rd!", ClusterType="single-node")
print(key["AccessKeyId"], key["SecretAccessKey"])
