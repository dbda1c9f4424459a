//! The audit log in a PostgreSQL database that many runners share (CI runners are ephemeral,
//! and a file dies with its runner). Reached through `connection::Connector`, like a managed
//! cluster; its own SQL lives here, every value bound. Each write is one statement, prepared
//! once per connection and committed on its own (synchronously): one round trip to a sink that
//! is often far from the runner. The server's MVCC
//! and row locks do what SQLite's file lock does: concurrent runs insert side by side, each
//! updates only its own rows, and a change locked while it takes an outcome gets only one.

use std::collections::HashMap;

use postgres::types::ToSql;
use postgres::{Client, Statement};

use super::postgres_schema as schema;
use super::resolve::{RunRow, RunRows};
use super::{
    AuditEntry, AuditError, ChangeRecord, Narrow, Outcome, PgSink, RunId, RUN_ID_ATTEMPTS,
};
use crate::connection::{describe_error, Connection, Connector};

/// Times as SQLite writes them, so that both logs export the same text.
const TIME_TEXT: &str = "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'";

const START_RUN: &str = "INSERT INTO pgroster_audit.runs
    (run_id, started_at, actor, command, status, records_xid)
    VALUES ($1, date_trunc('second', now()), $2, $3, 'started', true)
    ON CONFLICT (run_id) DO NOTHING";

const RECORD_STARTED: &str = "WITH r AS (
       SELECT id FROM pgroster_audit.runs WHERE run_id = $1 AND status = 'started'
    ), u AS (
       SELECT nextval(pg_get_serial_sequence('pgroster_audit.changes', 'id')) AS id,
              x.*
         FROM unnest($2::text[], $3::text[], $4::text[], $5::int[], $6::text[],
                     $7::text[], $8::text[])
              WITH ORDINALITY AS x (env, dbname, host, port, role, action, detail, ord)
        WHERE EXISTS (SELECT FROM r)
    ), inserted AS (
       INSERT INTO pgroster_audit.changes
              (id, run, time, env, dbname, host, port, role, action, detail, outcome)
       SELECT u.id, r.id, date_trunc('second', now()), u.env, u.dbname, u.host,
              u.port, u.role, u.action, u.detail, 'started'
         FROM u, r
    )
    SELECT id FROM u ORDER BY ord";

const RECORD_XID: &str = "WITH started AS (
       SELECT id FROM pgroster_audit.changes
        WHERE id = ANY($1) AND outcome = 'started' FOR UPDATE
    )
    UPDATE pgroster_audit.changes c SET xid = $2
      FROM started
     WHERE c.id = started.id
       AND (SELECT count(*) FROM started) = cardinality($1::bigint[])";

const RECORD_OUTCOMES: &str = "WITH started AS (
       SELECT id FROM pgroster_audit.changes
        WHERE id = ANY($1) AND outcome = 'started' FOR UPDATE
    )
    UPDATE pgroster_audit.changes c SET outcome = u.outcome
      FROM unnest($1::bigint[], $2::text[]) AS u (id, outcome), started
     WHERE c.id = u.id AND c.id = started.id
       AND (SELECT count(*) FROM started) = cardinality($1::bigint[])";

const FINISH_RUN: &str = "UPDATE pgroster_audit.runs
      SET status = $2, finished_at = date_trunc('second', now())
    WHERE run_id = $1 AND status = 'started'";

const RUN_CHANGES: &str = "SELECT c.id, c.host, c.port, c.dbname, c.xid, c.outcome
     FROM pgroster_audit.changes c JOIN pgroster_audit.runs r ON r.id = c.run
    WHERE r.run_id = $1 ORDER BY c.id";

pub(super) struct Postgres {
    client: Connection,
    /// The URL, as errors name it; it holds no password.
    pub(super) log: String,
    /// Each write's statement, prepared on first use: a query given as text costs a round trip
    /// to prepare before the one that runs it, and a sink is often far from the runner.
    statements: HashMap<&'static str, Statement>,
}

impl Postgres {
    pub(super) fn connect(sink: &PgSink, connector: &Connector) -> Result<Postgres, AuditError> {
        let log = sink.url.clone();
        let mut client = connector
            .connect(&sink.cluster, &sink.database)
            .map_err(|error| AuditError::Connect {
                log: log.clone(),
                error: Box::new(error),
            })?;
        let pg = pg_error(&log);
        // The `started` rows and transaction ids are the write-ahead evidence: their commits
        // must reach the disk whatever the database's default is.
        client
            .batch_execute("SET synchronous_commit = on")
            .map_err(&pg)?;
        schema::migrate(&mut client).map_err(|e| match e {
            schema::MigrateError::Postgres(error) => pg(error),
            schema::MigrateError::Unknown(found) => AuditError::UnknownSchema {
                log: log.clone(),
                found,
                supported: schema::CURRENT_VERSION,
            },
        })?;
        Ok(Postgres {
            client,
            log: log.clone(),
            statements: HashMap::new(),
        })
    }

    fn prepared(&mut self, sql: &'static str) -> Result<Statement, AuditError> {
        if let Some(statement) = self.statements.get(sql) {
            return Ok(statement.clone());
        }
        let statement = self.client.prepare(sql).map_err(pg_error(&self.log))?;
        self.statements.insert(sql, statement.clone());
        Ok(statement)
    }

    pub(super) fn start_run(&mut self, actor: &str, command: &str) -> Result<RunId, AuditError> {
        for _ in 0..RUN_ID_ATTEMPTS {
            let run = RunId::random();
            let statement = self.prepared(START_RUN)?;
            let inserted = self
                .client
                .execute(&statement, &[&run.as_str(), &actor, &command])
                .map_err(pg_error(&self.log))?;
            if inserted == 1 {
                return Ok(run);
            }
        }
        Err(AuditError::Postgres {
            log: self.log.clone(),
            error: format!("no unused run id after {RUN_ID_ATTEMPTS} random tries"),
        })
    }

    /// One statement, so one round trip to a sink that may be far away: the run is checked,
    /// the ids taken from the sequence row by row (so that they pair with the changes, which an
    /// INSERT's RETURNING order does not promise) and the rows inserted, all or none.
    pub(super) fn record_started(
        &mut self,
        run: &RunId,
        changes: &[ChangeRecord],
    ) -> Result<Vec<i64>, AuditError> {
        if changes.is_empty() {
            running(&mut self.client, &self.log, run)?;
            return Ok(Vec::new());
        }
        let column = |f: fn(&ChangeRecord) -> &str| changes.iter().map(f).collect::<Vec<_>>();
        let ports: Vec<i32> = changes.iter().map(|c| i32::from(c.port)).collect();
        let (env, dbname, host) = (
            column(|c| &c.env),
            column(|c| &c.database),
            column(|c| &c.host),
        );
        let (role, action, detail) = (
            column(|c| &c.role),
            column(|c| &c.action),
            column(|c| &c.detail),
        );
        let params: [&(dyn ToSql + Sync); 8] = [
            &run.as_str(),
            &env,
            &dbname,
            &host,
            &ports,
            &role,
            &action,
            &detail,
        ];
        // One time for the whole batch (`now()` is the statement's transaction's start): these
        // changes are about to run together.
        let statement = self.prepared(RECORD_STARTED)?;
        let ids: Vec<i64> = self
            .client
            .query(&statement, &params)
            .map_err(pg_error(&self.log))?
            .iter()
            .map(|row| row.get(0))
            .collect();
        if ids.len() != changes.len() {
            // Nothing was inserted: the run is unknown or finished.
            running(&mut self.client, &self.log, run)?;
            return Err(AuditError::UnknownRun {
                log: self.log.clone(),
                run: run.to_string(),
            });
        }
        Ok(ids)
    }

    /// One statement: every change must still be `started`, or none is written.
    pub(super) fn record_xid(&mut self, ids: &[i64], xid: &str) -> Result<(), AuditError> {
        self.update_started(RECORD_XID, &[&ids, &xid], ids)
    }

    /// One statement for every outcome of the batch, all or none.
    pub(super) fn record_outcomes(
        &mut self,
        outcomes: &[(i64, Outcome)],
    ) -> Result<(), AuditError> {
        if outcomes.is_empty() {
            return Ok(());
        }
        let ids: Vec<i64> = outcomes.iter().map(|(id, _)| *id).collect();
        let texts: Vec<String> = outcomes.iter().map(|(_, o)| o.to_string()).collect();
        self.update_started(RECORD_OUTCOMES, &[&ids, &texts], &ids)
    }

    /// Runs `sql`, an UPDATE of the `started` changes among `ids`: unless it reached every one
    /// of them, it wrote nothing (one statement, one transaction) and the error says which
    /// change was not `started`.
    fn update_started(
        &mut self,
        sql: &'static str,
        params: &[&(dyn ToSql + Sync)],
        ids: &[i64],
    ) -> Result<(), AuditError> {
        let statement = self.prepared(sql)?;
        let updated = self
            .client
            .execute(&statement, params)
            .map_err(pg_error(&self.log))?;
        if updated != ids.len() as u64 {
            return Err(not_started(&mut self.client, &self.log, ids));
        }
        Ok(())
    }

    pub(super) fn finish_run(&mut self, run: &RunId, ok: bool) -> Result<(), AuditError> {
        let statement = self.prepared(FINISH_RUN)?;
        let updated = self
            .client
            .execute(
                &statement,
                &[&run.as_str(), &if ok { "ok" } else { "failed" }],
            )
            .map_err(pg_error(&self.log))?;
        if updated != 1 {
            running(&mut self.client, &self.log, run)?;
            return Err(AuditError::UnknownRun {
                log: self.log.clone(),
                run: run.to_string(),
            });
        }
        Ok(())
    }

    pub(super) fn query(
        &mut self,
        conditions: &[(Narrow, String)],
    ) -> Result<Vec<AuditEntry>, AuditError> {
        let pg = pg_error(&self.log);
        let mut sql = format!(
            "SELECT r.run_id, to_char(c.time AT TIME ZONE 'UTC', {TIME_TEXT}), r.actor,
                    r.command, c.env, c.dbname, c.host, c.port, c.role, c.action, c.detail,
                    c.outcome
               FROM pgroster_audit.changes c JOIN pgroster_audit.runs r ON r.id = c.run"
        );
        let clauses: Vec<String> = conditions
            .iter()
            .enumerate()
            .map(|(i, (narrow, _))| match narrow {
                // The text is `validate_since`'s normal form, which PostgreSQL reads as UTC.
                Narrow::Since => format!("c.time >= ${}::text::timestamptz", i + 1),
                Narrow::Role => format!("c.role = ${}", i + 1),
                Narrow::Env => format!("c.env = ${}", i + 1),
            })
            .collect();
        if !clauses.is_empty() {
            sql.push_str(" WHERE ");
            sql.push_str(&clauses.join(" AND "));
        }
        sql.push_str(" ORDER BY c.time, c.id");
        let values: Vec<&(dyn ToSql + Sync)> = conditions
            .iter()
            .map(|(_, value)| value as &(dyn ToSql + Sync))
            .collect();
        let rows = self.client.query(&sql, &values).map_err(&pg)?;
        rows.iter()
            .map(|row| {
                Ok(AuditEntry {
                    run_id: row.get(0),
                    time: row.get(1),
                    actor: row.get(2),
                    command: row.get(3),
                    env: row.get(4),
                    database: row.get(5),
                    host: row.get(6),
                    port: port(&self.log, row.get(7))?,
                    role: row.get(8),
                    action: row.get(9),
                    detail: row.get(10),
                    outcome: row.get(11),
                })
            })
            .collect()
    }

    pub(super) fn run_rows(&mut self, run: &str) -> Result<Option<RunRows>, AuditError> {
        let pg = pg_error(&self.log);
        let Some(found) = self
            .client
            .query_opt(
                "SELECT records_xid FROM pgroster_audit.runs WHERE run_id = $1",
                &[&run],
            )
            .map_err(&pg)?
        else {
            return Ok(None);
        };
        let rows = self.client.query(RUN_CHANGES, &[&run]).map_err(&pg)?;
        let rows = rows
            .iter()
            .map(|row| {
                Ok(RunRow {
                    id: row.get(0),
                    host: row.get(1),
                    port: port(&self.log, row.get(2))?,
                    database: row.get(3),
                    xid: row.get(4),
                    outcome: row.get(5),
                })
            })
            .collect::<Result<_, AuditError>>()?;
        Ok(Some(RunRows {
            records_xid: found.get(0),
            rows,
        }))
    }
}

fn pg_error(log: &str) -> impl Fn(postgres::Error) -> AuditError + '_ {
    move |error| AuditError::Postgres {
        log: log.to_string(),
        error: describe_error(&error),
    }
}

/// The table's CHECK keeps ports in range; a row edited past it is reported, not wrapped.
fn port(log: &str, port: i32) -> Result<u16, AuditError> {
    u16::try_from(port).map_err(|_| AuditError::Postgres {
        log: log.to_string(),
        error: format!("a change has the port {port}"),
    })
}

/// The run's key, if the run exists and is not finished.
fn running(client: &mut Client, log: &str, run: &RunId) -> Result<i64, AuditError> {
    let found = client
        .query_opt(
            "SELECT id, status FROM pgroster_audit.runs WHERE run_id = $1",
            &[&run.as_str()],
        )
        .map_err(pg_error(log))?;
    super::running_key(log, run, found.map(|row| (row.get(0), row.get(1))))
}

/// Why some change of `ids` could not take an outcome or a transaction id.
fn not_started(client: &mut Client, log: &str, ids: &[i64]) -> AuditError {
    let outcomes: HashMap<i64, String> = match client.query(
        "SELECT id, outcome FROM pgroster_audit.changes WHERE id = ANY($1)",
        &[&ids],
    ) {
        Ok(rows) => rows.iter().map(|row| (row.get(0), row.get(1))).collect(),
        Err(e) => return pg_error(log)(e),
    };
    let outcome_of = |id| Ok::<_, AuditError>(outcomes.get(&id).cloned());
    super::not_started(log, ids.iter().copied(), outcome_of, |e| e)
}
