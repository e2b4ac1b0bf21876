//! What the engine counts for `GET /metrics` (Prometheus' `prometheus-client`): jobs by
//! platform, operation and outcome (the status the integration settled in) with their
//! durations, and validation tests by platform, test and status. The api registers these
//! beside its own (requests) and the gauges it reads at scrape time.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// A job's labels.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct JobLabels {
    /// The integration type (`Redshift`).
    pub platform: String,
    /// The job (`create`, `edit`, `delete`, ...).
    pub operation: String,
    /// The status the integration settled in (`enabled`, `createError`, ...), or `failed`
    /// when the job failed inside Warden.
    pub outcome: String,
}

/// A validation test's labels.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TestLabels {
    /// The integration type.
    pub platform: String,
    /// The test's name.
    pub test: String,
    /// `passed`, `failed`, `warning` or `skipped`.
    pub status: String,
}

fn job_duration() -> Histogram {
    // 10 ms to about 10 minutes.
    Histogram::new(exponential_buckets(0.01, 2.5, 13))
}

/// The engine's counters.
#[derive(Debug)]
pub struct EngineMetrics {
    jobs: Family<JobLabels, Counter>,
    job_seconds: Family<JobLabels, Histogram, fn() -> Histogram>,
    tests: Family<TestLabels, Counter>,
}

impl Default for EngineMetrics {
    fn default() -> Self {
        Self {
            jobs: Family::default(),
            job_seconds: Family::new_with_constructor(job_duration),
            tests: Family::default(),
        }
    }
}

impl EngineMetrics {
    /// Registers the counters (each registry gets them once).
    pub fn register(&self, registry: &mut Registry) {
        registry.register("warden_jobs", "Jobs run, by platform, operation and outcome", self.jobs.clone());
        registry.register("warden_job_duration_seconds", "How long jobs took", self.job_seconds.clone());
        registry.register(
            "warden_validation_tests",
            "Validation tests run, by platform, test and status",
            self.tests.clone(),
        );
    }

    /// Counts a finished job.
    pub(crate) fn job(&self, labels: &JobLabels, seconds: f64) {
        self.jobs.get_or_create(labels).inc();
        self.job_seconds.get_or_create(labels).observe(seconds);
    }

    /// Counts a validation test's result.
    pub(crate) fn test(&self, platform: &str, test: &str, status: &str) {
        let labels = TestLabels { platform: platform.to_owned(), test: test.to_owned(), status: status.to_owned() };
        self.tests.get_or_create(&labels).inc();
    }
}
