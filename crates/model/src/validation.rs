//! Validation results (the API reference §4): one result per test and the aggregation rule.

use serde::Serialize;

/// The outcome of one validation test, and of a whole run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum TestStatus {
    /// The check held.
    Passed,
    /// The check failed; the integration cannot be created or kept as is.
    Failed,
    /// Something the user should look at, not blocking.
    Warning,
    /// The test does not apply, or could not run because an earlier one failed.
    Skipped,
}

impl TestStatus {
    /// The wire name (`passed`, `failed`, `warning`, `skipped`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Passed => "passed",
            Self::Failed => "failed",
            Self::Warning => "warning",
            Self::Skipped => "skipped",
        }
    }
}

/// Why a failed test failed (a Warden extension): a fault that may pass by itself — the
/// platform could not be reached, did not answer in time or asked Warden to slow down — or
/// one a user must fix (a wrong password, a missing grant). Recurring validation retries a
/// run whose failures are all transient before it turns an integration red.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Fault {
    /// May pass on a later try: unreachable, timed out, throttled.
    Transient,
    /// Needs a change by a user: the platform refused, or a check did not hold.
    Configuration,
}

/// One validation test's result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TestResult {
    /// The test's name, exactly as the API reference lists it.
    pub name: String,
    /// Its outcome.
    pub status: TestStatus,
    /// What to do (and, after it, what the platform said).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Structured detail, where a test has any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<serde_json::Value>,
    /// How long the check took, in milliseconds to the microsecond (a Warden extension;
    /// absent for a test that did not run).
    #[serde(rename = "durationMs", skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<f64>,
    /// What the platform itself said, for a failed test where it said something (a Warden
    /// extension; the message ends with the same text).
    #[serde(rename = "platformError", skip_serializing_if = "Option::is_none")]
    pub platform_error: Option<String>,
    /// For a failed test, whether the fault is transient or the configuration's (a Warden
    /// extension).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fault: Option<Fault>,
}

impl TestResult {
    /// A result with no detail, duration, platform error or fault.
    pub fn new(name: impl Into<String>, status: TestStatus, message: Option<String>) -> Self {
        Self { name: name.into(), status, message, result: None, duration_ms: None, platform_error: None, fault: None }
    }
}

/// A validation run: the aggregate status and each test.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ValidationResults {
    /// `failed` if any failed, else `warning` if any warned, else `skipped` if every test
    /// was skipped, else `passed`. A run with no tests (Trino) has passed.
    pub status: TestStatus,
    /// The tests in the order they are listed for the platform.
    pub validation_tests: Vec<TestResult>,
}

impl ValidationResults {
    /// Aggregates a run.
    pub fn from_tests(validation_tests: Vec<TestResult>) -> Self {
        let any = |s: TestStatus| validation_tests.iter().any(|t| t.status == s);
        let status = if any(TestStatus::Failed) {
            TestStatus::Failed
        } else if any(TestStatus::Warning) {
            TestStatus::Warning
        } else if !validation_tests.is_empty() && validation_tests.iter().all(|t| t.status == TestStatus::Skipped) {
            TestStatus::Skipped
        } else {
            TestStatus::Passed
        };
        Self { status, validation_tests }
    }

    /// Whether the run blocks the operation.
    pub fn failed(&self) -> bool {
        self.status == TestStatus::Failed
    }

    /// Whether the run failed only on transient faults (worth another try).
    pub fn failed_transiently(&self) -> bool {
        let mut failed = self.validation_tests.iter().filter(|t| t.status == TestStatus::Failed).peekable();
        failed.peek().is_some() && failed.all(|t| t.fault == Some(Fault::Transient))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(statuses: &[TestStatus]) -> TestStatus {
        let tests = statuses.iter().enumerate().map(|(i, s)| TestResult::new(format!("t{i}"), *s, None)).collect();
        ValidationResults::from_tests(tests).status
    }

    #[test]
    fn aggregation_rule() {
        use TestStatus::*;
        assert_eq!(run(&[Passed, Warning, Failed, Skipped]), Failed);
        assert_eq!(run(&[Passed, Warning, Skipped]), Warning);
        assert_eq!(run(&[Passed, Skipped]), Passed);
        assert_eq!(run(&[Skipped, Skipped]), Skipped);
        assert_eq!(run(&[]), Passed);
    }
}
