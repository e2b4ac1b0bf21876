//! The seven "Validate manual" checks, done for real: a throwaway dataset
//! (`warden_check_<random>`, in the integration's location, labelled `managed-by:
//! warden-check`) and a table in it are created, read, written, changed and deleted, each
//! step proving one permission of the custom role (`bigquery.datasets.create`,
//! `tables.create`, `tables.get`, `tables.updateData`, `tables.update`, `tables.delete`,
//! `datasets.delete`). The steps run once per validation run, whichever check asks first;
//! each check reports its own step. Whatever a failed step leaves is removed afterwards (the
//! dataset with its contents); when even that fails, the dataset-delete check says what to
//! remove by hand.

use reqwest::Method;
use serde_json::json;
use warden_platform::{CheckOutcome, PlatformError};

use crate::client::Client;

/// One step of the probe, in the order they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// `datasets.insert`.
    DatasetCreate,
    /// `tables.insert`.
    TableCreate,
    /// `tables.get`.
    TableGet,
    /// `tabledata.insertAll`.
    TableInsert,
    /// `tables.patch`.
    TableUpdate,
    /// `tables.delete`.
    TableDelete,
    /// `datasets.delete`.
    DatasetDelete,
}

const STEPS: [Step; 7] = [
    Step::DatasetCreate,
    Step::TableCreate,
    Step::TableGet,
    Step::TableInsert,
    Step::TableUpdate,
    Step::TableDelete,
    Step::DatasetDelete,
];

impl Step {
    /// The catalogue's name of the step's check (`[table - insert]`).
    pub const fn name(self) -> &'static str {
        match self {
            Self::DatasetCreate => "[dataset - create]",
            Self::TableCreate => "[table - create]",
            Self::TableGet => "[table - get]",
            Self::TableInsert => "[table - insert]",
            Self::TableUpdate => "[table - update]",
            Self::TableDelete => "[table - delete]",
            Self::DatasetDelete => "[dataset - delete]",
        }
    }

    /// The IAM permission the step needs.
    pub const fn permission(self) -> &'static str {
        match self {
            Self::DatasetCreate => "bigquery.datasets.create",
            Self::TableCreate => "bigquery.tables.create",
            Self::TableGet => "bigquery.tables.get",
            Self::TableInsert => "bigquery.tables.updateData",
            Self::TableUpdate => "bigquery.tables.update",
            Self::TableDelete => "bigquery.tables.delete",
            Self::DatasetDelete => "bigquery.datasets.delete",
        }
    }

    /// The step that must have succeeded before this one can be tried, given which steps
    /// `passed`: the dataset for everything, the table for the table steps, and the table's
    /// removal for the dataset's (a dataset that still holds a table cannot be deleted
    /// without deleting its contents, which takes `bigquery.tables.delete` again).
    fn needs(self, passed: impl Fn(Self) -> bool) -> Option<Self> {
        match self {
            Self::DatasetCreate => None,
            Self::TableCreate => Some(Self::DatasetCreate),
            Self::DatasetDelete if !passed(Self::DatasetCreate) => Some(Self::DatasetCreate),
            Self::DatasetDelete => {
                (passed(Self::TableCreate) && !passed(Self::TableDelete)).then_some(Self::TableDelete)
            }
            Self::TableGet | Self::TableInsert | Self::TableUpdate | Self::TableDelete => Some(Self::TableCreate),
        }
    }
}

/// What each step found.
#[derive(Debug, Clone)]
pub struct Probe {
    outcomes: Vec<(Step, CheckOutcome)>,
}

impl Probe {
    /// What `step` found.
    pub fn outcome(&self, step: Step) -> CheckOutcome {
        self.outcomes
            .iter()
            .find(|(s, _)| *s == step)
            .map_or_else(|| CheckOutcome::failed("(the step did not run)"), |(_, outcome)| outcome.clone())
    }
}

/// A name no other run's objects have: `warden_check_` and 12 random hex digits.
fn throwaway_dataset() -> Result<String, PlatformError> {
    let mut bytes = [0u8; 6];
    getrandom::fill(&mut bytes).map_err(|e| PlatformError::other(format!("no randomness for a dataset name: {e}")))?;
    Ok(format!("warden_check_{}", bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()))
}

/// Runs the steps with `client`, then removes what they left.
pub async fn run(client: &Client) -> Probe {
    let dataset = match throwaway_dataset() {
        Ok(dataset) => dataset,
        Err(error) => {
            return Probe { outcomes: STEPS.iter().map(|s| (*s, CheckOutcome::failed(error.to_string()))).collect() };
        }
    };
    let table = format!("/datasets/{dataset}/tables/probe");
    let mut outcomes: Vec<(Step, CheckOutcome)> = Vec::new();
    // For each step not tried, the failed step that stopped it.
    let mut stopped_by: Vec<(Step, Step)> = Vec::new();
    for step in STEPS {
        let passed = |step: Step| outcomes.iter().any(|(s, o)| *s == step && matches!(o, CheckOutcome::Passed));
        let blocked = step
            .needs(passed)
            .filter(|needed| !passed(*needed))
            .map(|needed| stopped_by.iter().find(|(s, _)| *s == needed).map_or(needed, |(_, root)| *root));
        if let Some(root) = blocked {
            stopped_by.push((step, root));
        }
        let outcome = match blocked {
            Some(root) => CheckOutcome::failed(format!("(not tried: {} failed)", root.name())),
            None => match perform(client, step, &dataset, &table).await {
                Ok(()) => CheckOutcome::Passed,
                Err(error) => CheckOutcome::failed(format!("({} needs {}: {error})", step.name(), step.permission())),
            },
        };
        outcomes.push((step, outcome));
    }
    let created = matches!(outcomes[0].1, CheckOutcome::Passed);
    let deleted = outcomes.iter().any(|(s, o)| *s == Step::DatasetDelete && matches!(o, CheckOutcome::Passed));
    if created
        && !deleted
        && let Err(error) = client.delete_dataset(&dataset, true).await
    {
        tracing::warn!(%dataset, %error, "the validation's throwaway dataset could not be removed");
        let project = &client.key().project_id;
        if let Some((_, CheckOutcome::Failed(failure))) = outcomes.iter_mut().find(|(s, _)| *s == Step::DatasetDelete) {
            failure.detail.push_str(&format!(
                " The throwaway dataset {project}:{dataset} is still there: remove it with `bq rm -r -f -d {project}:{dataset}`."
            ));
        }
    }
    Probe { outcomes }
}

/// Performs one step.
async fn perform(client: &Client, step: Step, dataset: &str, table: &str) -> Result<(), PlatformError> {
    match step {
        Step::DatasetCreate => client.create_dataset(dataset, &json!({"managed-by": "warden-check"})).await.map(drop),
        Step::TableCreate => {
            let body = json!({"tableReference": {"projectId": client.key().project_id, "datasetId": dataset,
                "tableId": "probe"}, "schema": {"fields": [{"name": "checked", "type": "STRING"}]}});
            client.call(Method::POST, &format!("/datasets/{dataset}/tables"), Some(&body)).await.map(drop)
        }
        Step::TableGet => client.call(Method::GET, table, None).await.map(drop),
        Step::TableInsert => {
            let body = json!({"rows": [{"insertId": "warden-check", "json": {"checked": "by Warden"}}]});
            let answer = client.call(Method::POST, &format!("{table}/insertAll"), Some(&body)).await?;
            match answer["insertErrors"].as_array().filter(|errors| !errors.is_empty()) {
                None => Ok(()),
                Some(errors) => Err(PlatformError::other(format!("the row was refused: {}", errors[0]["errors"]))),
            }
        }
        Step::TableUpdate => {
            let body = json!({"description": "Checked by Warden's validation; removed right after."});
            client.call(Method::PATCH, table, Some(&body)).await.map(drop)
        }
        Step::TableDelete => client.call(Method::DELETE, table, None).await.map(drop),
        Step::DatasetDelete => client.call(Method::DELETE, &format!("/datasets/{dataset}"), None).await.map(drop),
    }
}

#[cfg(test)]
mod tests {
    use super::STEPS;

    /// The setup script's custom role holds every permission a check needs.
    #[test]
    fn the_setup_scripts_role_holds_every_permission_the_checks_need() {
        for step in STEPS {
            assert!(warden_scripts::BIGQUERY_PERMISSIONS.contains(&step.permission()), "{}", step.permission());
        }
        assert!(warden_scripts::BIGQUERY_PERMISSIONS.contains(&"bigquery.jobs.create"), "SESSION_USER() is a query");
    }
}
