//! `pgroster apply`: plan -> confirm -> for each cluster: audit started -> run -> audit outcome.

use crate::cli::args::ApplyArgs;
use crate::cli::credentials;
use crate::cli::output::Output;
use crate::cli::{context, EXIT_ERROR, EXIT_OK};
use anyhow::{bail, Result};
use pgroster::apply::{self, PreparedCluster};
use pgroster::audit::{AuditLog, ChangeRecord, Outcome};
use pgroster::fleet::plan_fleet;
use pgroster::render;
use std::path::Path;

pub fn run(config: &Path, args: &ApplyArgs, output: &Output) -> Result<i32> {
    let ctx = context::load(config)?;
    let selection = super::selection(&args.selection.targets)?;
    let mut fleet = plan_fleet(&ctx.lowered, &ctx.credentials, &selection);
    let plan = &fleet.plan;
    output.print(&render::text::plan(plan, output.color));
    if !plan.has_changes() {
        return Ok(if plan.has_errors() {
            EXIT_ERROR
        } else {
            EXIT_OK
        });
    }
    if !args.auto_approve {
        if !output.stdin_is_terminal {
            bail!("apply needs --auto-approve when stdin is not a terminal (nothing was changed)");
        }
        if !output.confirm("Do you want to perform these actions?") {
            output.print("Apply cancelled; nothing was changed.");
            return Ok(EXIT_ERROR);
        }
    }

    // Everything that can fail without touching a cluster happens first.
    let runnable: Vec<_> = plan
        .clusters
        .iter()
        .filter(|c| c.errors.is_empty() && !c.roles.is_empty())
        .collect();
    let prepared: Vec<PreparedCluster> = runnable
        .iter()
        .map(|c| apply::prepare(c, &context::lookup_env))
        .collect::<Result<_, _>>()?;
    let generated: usize = prepared.iter().map(|p| p.credentials.len()).sum();
    let delivery = credentials::prepare(
        generated,
        args.credentials_out.as_deref(),
        output.stdout_is_terminal,
    )?;
    let mut audit = AuditLog::open(&ctx.config.audit_log_path())?;
    let run = audit.start_run(&context::actor(), "apply")?;

    let mut failed_clusters = 0;
    let mut applied_credentials = Vec::new();
    let (mut added, mut changed) = (0, 0);
    for (cluster_plan, cluster) in runnable.iter().zip(prepared) {
        let records: Vec<ChangeRecord> = cluster
            .changes
            .iter()
            .map(|c| ChangeRecord {
                env: c.target.as_ref().map(|t| t.env.clone()).unwrap_or_default(),
                database: c
                    .target
                    .as_ref()
                    .map(|t| t.database.clone())
                    .unwrap_or_default(),
                host: cluster.cluster.host.clone(),
                port: cluster.cluster.port,
                role: c.role.to_string(),
                action: c.action.to_string(),
                detail: c.detail.clone(),
            })
            .collect();
        let ids = audit.record_started(&run, &records)?;
        let result = match fleet.connections.get_mut(&cluster.cluster) {
            Some(client) => apply::execute(client, &cluster),
            None => Err(apply::ExecuteError {
                failed_index: None,
                message: "no connection to the cluster".into(),
            }),
        };
        let outcomes: Vec<(i64, Outcome)> = match &result {
            Ok(()) => ids.iter().map(|id| (*id, Outcome::Ok)).collect(),
            Err(e) => ids
                .iter()
                .enumerate()
                .map(|(i, id)| {
                    let outcome = if e.failed_index == Some(i)
                        || (e.failed_index.is_none() && i == 0)
                    {
                        Outcome::Failed(e.message.clone())
                    } else {
                        Outcome::RolledBack(format!("another change on {} failed", cluster.cluster))
                    };
                    (*id, outcome)
                })
                .collect(),
        };
        audit.record_outcomes(&outcomes)?;
        match result {
            Ok(()) => {
                for role in &cluster_plan.roles {
                    match role.action {
                        pgroster::plan::RoleAction::Create => added += 1,
                        _ => changed += 1,
                    }
                }
                applied_credentials.extend(cluster.credentials);
            }
            Err(e) => {
                failed_clusters += 1;
                let statement = e
                    .failed_index
                    .and_then(|i| cluster.changes.get(i))
                    .map(|c| format!(" while running `{}` for role \"{}\"", c.statement, c.role))
                    .unwrap_or_default();
                eprintln!(
                    "Error: {}: {}{statement}; the cluster's transaction was rolled back",
                    cluster.cluster, e.message
                );
            }
        }
    }
    audit.finish_run(&run, failed_clusters == 0)?;
    let delivered = credentials::deliver(delivery, &applied_credentials)?;
    output.print(&format!(
        "Apply {}! Roles: {added} added, {changed} changed, 0 destroyed. Audit run {run}.{}",
        if failed_clusters == 0 {
            "complete"
        } else {
            "finished with errors"
        },
        if failed_clusters > 0 {
            format!(" {failed_clusters} cluster(s) failed and were rolled back.")
        } else {
            String::new()
        }
    ));
    if !delivered.is_empty() {
        output.print(&delivered);
    }
    Ok(if failed_clusters > 0 || fleet.plan.has_errors() {
        EXIT_ERROR
    } else {
        EXIT_OK
    })
}
