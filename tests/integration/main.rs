//! The one integration-test binary: real `pgroster` runs against throwaway PostgreSQL clusters.
//!
//! `harness` starts the clusters and scenario dirs and holds every shared helper; every other module is
//! the scenarios of one behaviour. Each scenario starts its own cluster (roles are cluster-wide),
//! asserts on the binary's exit code and streams and on the catalog read directly, and closes the
//! loop: after a change, `plan --detailed-exitcode` exits 0. Scenarios whose outcome depends on the
//! admin run with the superuser and with the CREATEROLE admin; version-dependent expectations branch
//! on `Cluster::major_version`. Run against another PostgreSQL major with
//! `PGROSTER_PG_BIN=$(scripts/pg-bin.sh 18) cargo test`.
#![allow(clippy::unwrap_used)]

mod harness;
mod harness_selftest;

mod adoption;
mod apply_safety;
mod audit;
mod ci_output;
mod concurrency;
mod convergence;
mod crash;
mod drift;
mod fleet;
mod grants;
mod hostile_names;
mod import;
mod inspect;
mod lifecycle;
mod membership_cascade;
mod memberships;
mod multi_cluster;
mod multi_runner;
mod notifications;
mod passwords;
mod plan_output;
mod privilege_classes;
mod profiles;
mod public_privileges;
mod report;
mod revocation;
mod saved_plans;
mod tls;
mod validation;
