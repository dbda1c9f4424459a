//! `pgroster apply`: plan -> confirm -> for each cluster: audit started -> run -> audit outcome.

use crate::cli::args::ApplyArgs;
use crate::cli::credentials;
use crate::cli::output::Output;
use crate::cli::{context, EXIT_ERROR, EXIT_OK};
use anyhow::{bail, Result};
use pgroster::apply::{self, PreparedChange, PreparedCluster, Unit, UnitKind};
use pgroster::audit::{AuditLog, ChangeRecord, Outcome};
use pgroster::fleet::plan_fleet;
use pgroster::fleet::ClusterRead;
use pgroster::model::ClusterKey;
use pgroster::render;
use std::path::Path;

pub fn run(config: &Path, args: &ApplyArgs, output: &Output) -> Result<i32> {
    let selection = super::selection(&args.selection.targets)?;
    let (mut ctx, reads) = context::load_and_read(config, &selection)?;
    let audit_log_path = ctx.config.audit_log_path();
    // Nobody is asked, so the audit log is opened (and on first use created) while the
    // clusters are read, not after: a new log's setup is several fsyncs. A run that ends
    // without applying does not wait for it: the setup (the WAL switch, then one schema
    // transaction) is redone by the next open if the exit cuts it short.
    let early_audit = args.auto_approve.then(|| {
        let path = audit_log_path.clone();
        std::thread::spawn(move || AuditLog::open(&path))
    });
    let mut fleet = plan_fleet(&ctx.lowered, reads, &selection);
    // The plan has all apply needs: the desired and current state are freed on another thread
    // while this one renders and prepares, which reuse the memory (~20 MB at 10,000 roles).
    let desired = std::mem::take(&mut ctx.lowered.desired);
    let catalog = std::mem::take(&mut fleet.catalog);
    std::thread::spawn(move || drop((desired, catalog)));
    let plan = &fleet.plan;
    let connections = &mut fleet.connections;
    let code = std::thread::scope(|scope| -> Result<i32> {
        // Rendering the plan and preparing statements and passwords do not depend on each
        // other; at 10,000 roles each takes tens of ms.
        let mut text = Some(scope.spawn(|| {
            output.print_streamed(|out| render::text::write_plan(out, plan, output.color));
        }));
        // The plan (and its errors, again on stderr) is printed in full before anything else
        // is said or asked; only an unattended apply starts while it is still being printed.
        let mut shown = || -> Result<()> {
            if let Some(text) = text.take() {
                joined(text)?;
                super::report_plan_errors(plan);
            }
            Ok(())
        };
        let has_changes = plan.has_changes();
        let runnable: Vec<_> = plan
            .clusters
            .iter()
            .filter(|c| c.errors.is_empty() && !c.roles.is_empty())
            .collect();
        let prepared: Result<Vec<PreparedCluster>, _> = runnable
            .iter()
            .map(|c| apply::prepare(c, &context::lookup_env))
            .collect();
        if !has_changes {
            shown()?;
            return Ok(if plan.has_errors() {
                EXIT_ERROR
            } else {
                EXIT_OK
            });
        }
        // Everything that can fail without touching a cluster happens first.
        let prepared = match prepared {
            Ok(prepared) => prepared,
            Err(e) => {
                shown()?;
                return Err(e.into());
            }
        };
        if !args.auto_approve {
            shown()?;
            if !output.stdin_is_terminal {
                bail!(
                    "apply needs --auto-approve when stdin is not a terminal (nothing was changed)"
                );
            }
            if !output.confirm("Do you want to perform these actions?") {
                output.print("Apply cancelled; nothing was changed.");
                return Ok(EXIT_ERROR);
            }
        }
        let generated: usize = prepared.iter().map(|p| p.credentials.len()).sum();
        let delivery = credentials::prepare(
            generated,
            args.credentials_out.as_deref(),
            output.stdout_is_terminal,
        )?;
        let mut audit = match early_audit {
            Some(opened) => thread_result(opened.join())??,
            None => AuditLog::open(&audit_log_path)?,
        };
        let run = audit.start_run(&context::actor(), "apply")?;

        // Clusters with plan errors are not run; they count as failed.
        let mut failed_clusters = plan
            .clusters
            .iter()
            .filter(|c| !c.errors.is_empty())
            .count();
        let mut applied_credentials = Vec::new();
        let mut errors = Vec::new();
        let (mut added, mut changed) = (0, 0);
        for (cluster_plan, cluster) in runnable.iter().zip(prepared) {
            let read = connections.get_mut(&cluster.cluster);
            let (cluster_errors, roles_committed) = run_cluster(&mut audit, &run, read, &cluster)?;
            if roles_committed {
                for role in &cluster_plan.roles {
                    match role.action {
                        pgroster::plan::RoleAction::Create => added += 1,
                        _ => changed += 1,
                    }
                }
            }
            if !cluster_errors.is_empty() {
                failed_clusters += 1;
                errors.extend(cluster_errors);
            }
            // Role changes commit first; passwords of roles created there are live even when
            // a database's grants failed afterwards, so they are delivered whenever roles
            // committed.
            let PreparedCluster {
                units, credentials, ..
            } = cluster;
            if roles_committed {
                applied_credentials.extend(credentials);
            }
            super::leave_to_exit(units);
        }
        audit.finish_run(&run, failed_clusters == 0)?;
        shown()?;
        for error in errors {
            eprintln!("Error: {error}");
        }
        let delivered = credentials::deliver(delivery, &applied_credentials)?;
        output.print(&format!(
            "Apply {}! Roles: {added} added, {changed} changed, 0 destroyed. Audit run {run}.{}",
            if failed_clusters == 0 {
                "complete"
            } else {
                "finished with errors"
            },
            if failed_clusters > 0 {
                format!(" {failed_clusters} cluster(s) failed or were not run; see the errors.")
            } else {
                String::new()
            }
        ));
        if !delivered.is_empty() {
            output.print(&delivered);
        }
        Ok(if failed_clusters > 0 || plan.has_errors() {
            EXIT_ERROR
        } else {
            EXIT_OK
        })
    });
    super::finish(ctx, fleet);
    code
}

/// A scoped thread's result; a panic becomes an error.
fn joined<T>(handle: std::thread::ScopedJoinHandle<'_, T>) -> Result<T> {
    thread_result(handle.join())
}

/// A joined thread's result; a panic becomes an error.
fn thread_result<T>(result: std::thread::Result<T>) -> Result<T> {
    result.map_err(|_| anyhow::anyhow!("internal error: a worker thread panicked"))
}

/// Runs one cluster's units (roles, then each database) with their audit rows; returns the
/// errors, each saying what was rolled back, and whether the role changes committed.
///
/// Another thread runs the units one after the other while this one records every change as
/// started, chunk by chunk and unit after unit, and writes each unit's outcomes once it
/// reports back. A statement still reaches the server only after its `started` row is
/// committed, but the log keeps ahead of the server instead of making each unit wait for its
/// own rows: the SQLite writes (~10 us a row) overlap with the server's work.
fn run_cluster(
    audit: &mut AuditLog,
    run: &pgroster::audit::RunId,
    read: Option<&mut ClusterRead>,
    cluster: &PreparedCluster,
) -> Result<(Vec<String>, bool)> {
    let units: Vec<&Unit> = cluster
        .units
        .iter()
        .filter(|u| !u.changes.is_empty())
        .collect();
    // How many changes, counted across the units in order, are recorded.
    let (progress, recorded) = std::sync::mpsc::channel::<usize>();
    let (report, reports) = std::sync::mpsc::channel::<(usize, Result<(), apply::ExecuteError>)>();
    let mut results: Vec<Option<Result<(), apply::ExecuteError>>> = vec![None; units.len()];
    let mut ids: Vec<Vec<i64>> = units
        .iter()
        .map(|u| Vec::with_capacity(u.changes.len()))
        .collect();
    let audit_result = std::thread::scope(|scope| -> Result<()> {
        let executor_units = &units;
        scope.spawn(move || {
            let mut read = read;
            let mut confirmed = 0;
            let mut offset = 0;
            let mut log_failed = false;
            for (index, unit) in executor_units.iter().enumerate() {
                let result = execute_unit(read.as_deref_mut(), unit, |needed| {
                    while confirmed < offset + needed {
                        match recorded.recv() {
                            Ok(count) => confirmed = count,
                            Err(_) => {
                                log_failed = true;
                                return false;
                            }
                        }
                    }
                    true
                });
                offset += unit.changes.len();
                // Later units build on the role changes: none runs once those failed, nor
                // once the log stopped recording.
                let stop = log_failed || (result.is_err() && unit.kind == UnitKind::Roles);
                if report.send((index, result)).is_err() || stop {
                    break;
                }
            }
        });
        // The first chunk is small so that the server starts early; later ones grow, since
        // each chunk is one fsync'd SQLite commit.
        let mut chunk = apply::BATCH;
        let mut total = 0;
        for (index, unit) in units.iter().enumerate() {
            for batch in unit.changes.chunks(RECORDED_PER_COMMIT) {
                for part in batch.chunks(chunk) {
                    let records: Vec<ChangeRecord> = part
                        .iter()
                        .map(|c| audit_record(&cluster.cluster, c))
                        .collect();
                    // On an error the executor, no longer confirmed, rolls back what it runs.
                    ids[index].extend(audit.record_started(run, &records)?);
                    total += part.len();
                    // The executor may have stopped on an error; it reads no more.
                    let _ = progress.send(total);
                    chunk = (chunk * 2).min(RECORDED_PER_COMMIT);
                    while let Ok((done, result)) = reports.try_recv() {
                        audit.record_outcomes(&outcomes(&cluster.cluster, &ids[done], &result))?;
                        results[done] = Some(result);
                    }
                }
            }
        }
        drop(progress);
        while let Ok((done, result)) = reports.recv() {
            audit.record_outcomes(&outcomes(&cluster.cluster, &ids[done], &result))?;
            results[done] = Some(result);
        }
        Ok(())
    });
    audit_result?;
    let mut errors = Vec::new();
    let mut roles_failed = false;
    for (index, unit) in units.iter().enumerate() {
        match results[index].take() {
            Some(Ok(())) => {}
            Some(Err(e)) => {
                roles_failed |= unit.kind == UnitKind::Roles;
                errors.push(describe_failure(&cluster.cluster, unit, &e));
            }
            // Recorded, never run: the cluster's role changes failed.
            None => {
                let not_run =
                    Outcome::RolledBack("not run: the cluster's role changes failed".into());
                audit.record_outcomes(
                    &ids[index]
                        .iter()
                        .map(|id| (*id, not_run.clone()))
                        .collect::<Vec<_>>(),
                )?;
            }
        }
    }
    Ok((errors, !roles_failed))
}

/// Each change's outcome once its unit reported `result`: the failing change failed, the
/// others of the unit were rolled back with it.
fn outcomes(
    cluster: &ClusterKey,
    ids: &[i64],
    result: &Result<(), apply::ExecuteError>,
) -> Vec<(i64, Outcome)> {
    ids.iter()
        .enumerate()
        .map(|(i, id)| {
            let outcome = match result {
                Ok(()) => Outcome::Ok,
                Err(e) if e.failed_index == Some(i) || (e.failed_index.is_none() && i == 0) => {
                    Outcome::Failed(e.message.clone())
                }
                Err(_) => Outcome::RolledBack(format!("another change on {cluster} failed")),
            };
            (*id, outcome)
        })
        .collect()
}

/// What failed in `unit` and what was rolled back, for the user.
fn describe_failure(cluster: &ClusterKey, unit: &Unit, error: &apply::ExecuteError) -> String {
    let statement = error
        .failed_index
        .and_then(|i| unit.changes.get(i))
        .map(|c| {
            format!(
                " while running `{}` for role \"{}\"",
                c.statement(),
                c.role.role
            )
        })
        .unwrap_or_default();
    let scope = match &unit.kind {
        UnitKind::Roles => "role changes".to_string(),
        UnitKind::Markers => {
            "markers (the next apply adopts and marks those roles again)".to_string()
        }
        UnitKind::Privileges(db) => format!("privilege changes in database {db}"),
    };
    format!(
        "{cluster}: {}{statement}; its {scope} were rolled back",
        error.message
    )
}

/// Most rows recorded in one audit commit.
const RECORDED_PER_COMMIT: usize = 4 * apply::BATCH;

/// What the audit log says about one change.
fn audit_record(cluster: &ClusterKey, change: &PreparedChange<'_>) -> ChangeRecord {
    let target = change.target();
    ChangeRecord {
        env: target.map(|t| t.env.clone()).unwrap_or_default(),
        database: target.map(|t| t.database.clone()).unwrap_or_default(),
        host: cluster.host.clone(),
        port: cluster.port,
        role: change.role.role.to_string(),
        action: change.action().to_string(),
        detail: change.detail(),
    }
}

fn execute_unit(
    read: Option<&mut ClusterRead>,
    unit: &Unit,
    recorded: impl FnMut(usize) -> bool,
) -> Result<(), apply::ExecuteError> {
    let no_connection = |what: &str| apply::ExecuteError {
        failed_index: None,
        message: format!("no connection to {what}"),
    };
    let read = read.ok_or_else(|| no_connection("the cluster"))?;
    let database = unit
        .kind
        .database()
        .map_or_else(|| read.role_database.clone(), str::to_string);
    let client = read
        .connections
        .get_mut(&database)
        .ok_or_else(|| no_connection(&format!("database {database}")))?;
    apply::execute_recorded(client, unit, recorded)
}
