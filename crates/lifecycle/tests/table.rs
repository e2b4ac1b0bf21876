//! The whole lifecycle table, (status x operation) -> decision and the API message a refusal
//! gives, as one insta snapshot; plus the invariants the table must keep.

#![allow(clippy::unwrap_used)] // test helpers may panic: a panic is a failed test

use std::fmt::Write as _;

use warden_lifecycle::{Decision, INITIAL, Operation, Setup, Subject, decide, recovery_message, withdraw};
use warden_model::{IntegrationId, IntegrationType, Status};

fn describe(status: Status, op: Operation) -> String {
    match decide(status, op) {
        Decision::MoveTo(next) => format!("-> {next}"),
        Decision::Stay => "stay".into(),
        Decision::Refuse(refusal) => {
            let subject = Subject {
                id: IntegrationId::new(7).unwrap(),
                status,
                integration_type: IntegrationType::Snowflake,
                host: "acme.snowflakecomputing.com",
            };
            match refusal.error(&subject) {
                Some(err) => format!("refused {}: {}", err.http_status(), err.message()),
                None => format!("dropped ({refusal:?})"),
            }
        }
    }
}

#[test]
fn every_status_and_operation_has_a_decided_outcome() {
    let mut table = String::new();
    for status in Status::ALL {
        writeln!(table, "{status}").unwrap();
        for op in Operation::ALL {
            writeln!(table, "  {op:?}: {}", describe(status, op)).unwrap();
        }
    }
    insta::assert_snapshot!(table);
}

#[test]
fn nothing_starts_while_an_operation_runs() {
    for status in Status::ALL.into_iter().filter(|s| s.is_transitional()) {
        for op in [Operation::Edit, Operation::Delete, Operation::ForceDisable, Operation::Migrate] {
            assert!(matches!(decide(status, op), Decision::Refuse(_)), "{status} x {op:?}");
        }
    }
}

#[test]
fn every_running_operation_ends_in_a_settled_status_either_way() {
    for status in Status::ALL.into_iter().filter(|s| s.is_transitional()) {
        for op in [Operation::Succeeded, Operation::Failed, Operation::RecoverAfterCrash] {
            let Decision::MoveTo(next) = decide(status, op) else { panic!("{status} x {op:?} must move") };
            assert!(!next.is_transitional(), "{status} x {op:?} -> {next}");
        }
    }
}

#[test]
fn recovery_leaves_no_integration_in_a_transitional_status_and_explains_each() {
    for status in Status::ALL {
        let after = match decide(status, Operation::RecoverAfterCrash) {
            Decision::MoveTo(next) => next,
            Decision::Stay => status,
            Decision::Refuse(r) => panic!("recovery refused {status}: {r:?}"),
        };
        assert!(!after.is_transitional(), "{status} -> {after}");
        let id = IntegrationId::new(42).unwrap();
        for setup in [Setup::WithPrivilegedCredentials, Setup::Otherwise] {
            let message = recovery_message(status, id, setup);
            assert_eq!(message.is_some(), status.is_transitional(), "{status}");
            if let Some(text) = message {
                assert!(!text.contains('{') && text.contains("Warden stopped while"), "{text}");
                // The edit script refuses integrations set up automatically (issue 11, item 7).
                if setup == Setup::WithPrivilegedCredentials {
                    assert!(!text.contains("scripts/edit"), "{text}");
                }
            }
        }
    }
}

#[test]
fn settled_statuses_have_no_operation_to_finish() {
    for status in Status::ALL.into_iter().filter(|s| !s.is_transitional()) {
        for op in [Operation::Succeeded, Operation::Failed] {
            assert!(matches!(decide(status, op), Decision::Refuse(_)), "{status} x {op:?}");
        }
    }
}

#[test]
fn deleted_is_final() {
    for op in Operation::ALL {
        assert!(!matches!(decide(Status::Deleted, op), Decision::MoveTo(_)), "{op:?}");
    }
}

#[test]
fn every_status_is_reachable_from_the_initial_one() {
    let mut seen = vec![INITIAL];
    let mut frontier = vec![INITIAL];
    while let Some(status) = frontier.pop() {
        for op in Operation::ALL {
            if let Decision::MoveTo(next) = decide(status, op)
                && !seen.contains(&next)
            {
                seen.push(next);
                frontier.push(next);
            }
        }
    }
    for status in Status::ALL {
        assert!(seen.contains(&status), "{status} is unreachable");
    }
}

#[test]
fn a_withdrawn_claim_goes_back_only_along_a_move_the_machine_made() {
    for previous in Status::ALL {
        for claimed in Status::ALL {
            if let Some(back) = withdraw(claimed, previous) {
                assert!(claimed.is_transitional() && !back.is_transitional(), "{previous} -> {claimed} -> {back}");
            }
        }
    }
    assert_eq!(withdraw(Status::Editing, Status::Enabled), Some(Status::Enabled));
    assert_eq!(withdraw(Status::Creating, Status::CreateError), Some(Status::CreateError));
    assert_eq!(withdraw(Status::Deleting, Status::RecurringValidationError), Some(Status::RecurringValidationError));
    assert_eq!(withdraw(Status::Enabled, Status::Editing), None);
    assert_eq!(withdraw(Status::Editing, Status::Deleted), None);
}
