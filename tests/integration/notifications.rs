//! `[[notify]]` webhooks and commands, and `deliver_command`: what a local HTTP server started by
//! the test and recording scripts receive (never a password, never the webhook's token in
//! pgroster's output), failing notifications that leave the apply standing, and passwords
//! delivered through a command that then log in.

use crate::harness::{
    assert_has, assert_nowhere, dump, free_port, logs_in, read_credentials, role_exists, run_id,
    single_cluster, with_settings, AdminKind, Cluster, Output, Scenario, ADMIN_PASS_ENV,
};
use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::thread;

/// The token a webhook URL carries in its path: it must never appear in pgroster's output.
const TOKEN: &str = "T0KEN-5ecret-9f3a";

/// Two roles with generated passwords and a group without one.
const ROLES: &str = "roles:
  - name: app_owner
    targets: [\"dev/*\"]
  - name: alice
    login: true
    targets: [\"dev/*\"]
  - name: bob
    login: true
    targets: [\"dev/*\"]
";

/// A request the hook received.
#[derive(Debug)]
struct Received {
    path: String,
    content_type: String,
    body: Value,
}

/// An HTTP server on 127.0.0.1 that records each request, then answers 200. It records before
/// it answers and pgroster waits for the answer, so all is recorded once pgroster has exited.
struct Hook {
    addr: SocketAddr,
    received: Arc<Mutex<Vec<Received>>>,
}

impl Hook {
    fn start() -> Hook {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let received = Arc::new(Mutex::new(Vec::new()));
        let record = Arc::clone(&received);
        // Lives as long as the test process: accept blocks, and nothing else needs it.
        thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let request = read_request(&stream);
                record.lock().unwrap().push(request);
                let _ = stream.write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
                );
            }
        });
        Hook { addr, received }
    }

    /// `http://127.0.0.1:PORT/<path>/<TOKEN>`.
    fn url(&self, path: &str) -> String {
        format!("http://{}/{path}/{TOKEN}", self.addr)
    }

    /// What was received since the last call.
    fn take(&self) -> Vec<Received> {
        std::mem::take(&mut *self.received.lock().unwrap())
    }
}

fn read_request(stream: &TcpStream) -> Received {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    let mut parts = line.split_whitespace();
    assert_eq!(parts.next(), Some("POST"), "{line}");
    let path = parts.next().unwrap().to_owned();
    let (mut length, mut content_type) = (0, String::new());
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).unwrap();
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        let (name, value) = header.split_once(':').unwrap();
        match name.to_ascii_lowercase().as_str() {
            "content-length" => length = value.trim().parse().unwrap(),
            "content-type" => content_type = value.trim().to_owned(),
            _ => {}
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).unwrap();
    Received {
        path,
        content_type,
        body: serde_json::from_slice(&body).unwrap(),
    }
}

/// An executable script in the scenario dir that appends its stdin, then a newline, to the file
/// named by its first argument, and what it sees of the admin password's variable (`unset`, it
/// should be) to that file's name plus `.env`; then exits with `code`.
fn recording_script(scenario: &Scenario, name: &str, code: i32) -> PathBuf {
    scenario.file(
        name,
        &format!(
            "#!/bin/sh\ncat >> \"$1\"\necho >> \"$1\"\n\
             printf '%s\\n' \"${{{ADMIN_PASS_ENV}-unset}}\" >> \"$1.env\"\nexit {code}\n"
        ),
    );
    let path = scenario.path().join(name);
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// The JSON lines a recording script wrote (none when it never ran), after checking that it
/// never saw the admin password.
#[track_caller]
fn recorded(path: &Path) -> Vec<Value> {
    let env = std::fs::read_to_string(format!("{}.env", path.display())).unwrap_or_default();
    assert!(
        env.lines().all(|l| l == "unset"),
        "a command saw {ADMIN_PASS_ENV}: {env}"
    );
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// A cluster with `dev/app_dev`, the roles above, and `extra` (`[[notify]]` entries) appended to
/// the registry file.
fn scenario(extra: &str) -> (Cluster, Scenario) {
    let (cluster, scenario) = single_cluster(&[("dev", "app_dev")], AdminKind::Superuser);
    let registry = std::fs::read_to_string(scenario.path().join("registry.toml")).unwrap();
    scenario
        .file("registry.toml", &format!("{registry}\n{extra}"))
        .file("roles.yaml", ROLES);
    (cluster, scenario)
}

/// The scenario above with `deliver_command` set to a recording script that exits with `code`;
/// returns the script and the file it appends what it receives to.
fn delivering_scenario(code: i32) -> (Cluster, Scenario, PathBuf, PathBuf) {
    let (cluster, s) = scenario("");
    let script = recording_script(&s, "deliver.sh", code);
    let store = s.path().join("delivered.jsonl");
    let registry = std::fs::read_to_string(s.path().join("registry.toml")).unwrap();
    s.file(
        "registry.toml",
        &with_settings(
            &registry,
            &format!(
                "deliver_command = [\"{}\", \"{}\"]",
                script.display(),
                store.display()
            ),
        ),
    );
    (cluster, s, script, store)
}

fn role_names(event: &Value) -> Vec<String> {
    let mut names: Vec<String> = event["credentials"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["role"].as_str().unwrap().to_owned())
        .collect();
    names.sort();
    names
}

#[track_caller]
fn assert_no_token(scenario: &Scenario) {
    assert!(
        !scenario.transcript().contains(TOKEN),
        "the webhook token was printed:\n{}",
        scenario.transcript()
    );
}

#[test]
fn webhooks_receive_drift_apply_and_credential_events_without_any_secret() {
    let hook = Hook::start();
    let notify = format!(
        "[[notify]]\nwebhook = \"{}\"\n\n[[notify]]\nwebhook = \"{}\"\nformat = \"slack\"\n\
         events = [\"apply_finished\", \"drift\"]\n",
        hook.url("json"),
        hook.url("slack")
    );
    let (cluster, s) = scenario(&notify);
    let cluster_key = format!("127.0.0.1:{}", cluster.port);

    // A plain plan sends nothing; with --detailed-exitcode, drift goes to both hooks.
    s.run(&["plan"]).expect_success();
    assert!(hook.take().is_empty());
    s.plan_changes();
    let drift = hook.take();
    assert_eq!(drift.len(), 2, "{drift:?}");
    let json = &drift[0];
    assert_eq!(json.path, format!("/json/{TOKEN}"));
    assert_eq!(json.content_type, "application/json");
    assert_eq!(json.body["event"], "drift");
    assert_eq!(json.body["totals"]["added"], 3);
    assert_eq!(json.body["clusters"][0]["cluster"], cluster_key.as_str());
    assert_eq!(json.body["clusters"][0]["added"], 3);
    let slack = &drift[1];
    assert_eq!(slack.path, format!("/slack/{TOKEN}"));
    let text = slack.body["text"].as_str().unwrap();
    assert_has(text, "pgroster drift: 3 to add, 0 to change, 0 to destroy");
    let blocks = slack.body["blocks"].as_array().unwrap();
    assert_eq!(blocks[0]["type"], "section");
    assert_has(
        blocks[1]["text"]["text"].as_str().unwrap(),
        &format!("{cluster_key}: 3 to add"),
    );

    let out = s.apply(Some("creds.json"));
    out.expect_success();
    let run = run_id(&out);
    let received = hook.take();
    // apply_finished to both, then credentials_delivered to the JSON hook only.
    let events: Vec<(&str, &str)> = received
        .iter()
        .map(|r| {
            let event = r.body["event"].as_str().unwrap_or("(slack)");
            (r.path.split('/').nth(1).unwrap(), event)
        })
        .collect();
    assert_eq!(
        events,
        [
            ("json", "apply_finished"),
            ("slack", "(slack)"),
            ("json", "credentials_delivered")
        ]
    );
    let finished = &received[0].body;
    assert_eq!(finished["run"], run.as_str());
    assert_eq!(finished["succeeded"], true);
    assert!(!finished["actor"].as_str().unwrap().is_empty());
    assert_eq!(finished["totals"]["added"], 3);
    assert_eq!(finished["clusters"][0]["cluster"], cluster_key.as_str());
    assert_eq!(finished["clusters"][0]["failures"], serde_json::json!([]));
    assert_has(
        received[1].body["text"].as_str().unwrap(),
        &format!(
            "pgroster apply complete by {}",
            finished["actor"].as_str().unwrap()
        ),
    );
    let delivered = &received[2].body;
    assert_eq!(delivered["run"], run.as_str());
    assert_eq!(role_names(delivered), ["alice", "bob"]);
    assert_eq!(delivered["credentials"][0]["cluster"], cluster_key.as_str());
    assert_eq!(
        delivered["credentials"][0]["targets"],
        serde_json::json!(["dev/app_dev"])
    );

    // No password in any event, and none of them is anything but names and counts.
    let passwords = read_credentials(&s.path().join("creds.json"));
    assert_eq!(passwords.len(), 2);
    for request in &received {
        let body = request.body.to_string();
        for c in &passwords {
            assert!(!body.contains(&c.password), "a password was sent: {body}");
        }
        assert!(
            !body.contains("SCRAM-SHA-256"),
            "a verifier was sent: {body}"
        );
    }
    // Converged: a plan with --detailed-exitcode finds no drift and sends nothing.
    s.assert_converged();
    assert!(hook.take().is_empty());
    assert_no_token(&s);
}

#[test]
fn a_command_notifier_gets_each_event_as_json_on_stdin() {
    let (cluster, s) = scenario("");
    let script = recording_script(&s, "record.sh", 0);
    let log = s.path().join("events.jsonl");
    s.file(
        "notify.toml",
        &format!(
            "[[notify]]\ncommand = [\"{}\", \"{}\"]\ntimeout = \"20s\"\n",
            script.display(),
            log.display()
        ),
    );
    let out = s.apply(Some("creds.json"));
    out.expect_success();
    let events = recorded(&log);
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["apply_finished", "credentials_delivered"]);
    assert_eq!(events[0]["run"], run_id(&out).as_str());
    assert_eq!(role_names(&events[1]), ["alice", "bob"]);
    let text = std::fs::read_to_string(&log).unwrap();
    for c in read_credentials(&s.path().join("creds.json")) {
        assert!(
            !text.contains(&c.password),
            "a password reached the command"
        );
    }
    assert!(role_exists(&cluster, "alice"));
    s.assert_converged();
}

#[test]
fn failing_notifications_are_reported_and_never_fail_or_undo_the_apply() {
    // A port nothing listens on, a listener that never answers, a command that exits 3.
    let refused = free_port();
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_port = silent.local_addr().unwrap().port();
    let (cluster, s) = scenario("");
    let script = recording_script(&s, "fail.sh", 3);
    let log = s.path().join("failed.jsonl");
    s.file(
        "notify.yaml",
        &format!(
            "notify:
  - webhook: http://127.0.0.1:{refused}/refused/{TOKEN}
  - webhook: http://127.0.0.1:{silent_port}/silent/{TOKEN}?token={TOKEN}
    timeout: 300ms
    events: [apply_finished]
  - command: [\"{}\", \"{}\"]
    events: [apply_finished]
",
            script.display(),
            log.display()
        ),
    );
    let started = std::time::Instant::now();
    let out = s.apply(Some("creds.json"));
    out.expect_success();
    // Bounded by the timeouts: 300 ms for the silent hook, well under the defaults.
    assert!(started.elapsed() < std::time::Duration::from_secs(60));
    assert_has(&out.stdout, "Apply complete!");
    for role in ["app_owner", "alice", "bob"] {
        assert!(
            role_exists(&cluster, role),
            "{role} missing\n{}",
            dump(&out)
        );
    }
    let refused_at = format!("webhook http://127.0.0.1:{refused}/(redacted) failed");
    assert_has(
        &out.stderr,
        &format!("notification apply_finished to {refused_at}"),
    );
    assert_has(
        &out.stderr,
        &format!("notification credentials_delivered to {refused_at}"),
    );
    assert_has(
        &out.stderr,
        &format!(
            "notification apply_finished to webhook http://127.0.0.1:{silent_port}/(redacted) \
             failed: no answer within 0.3s"
        ),
    );
    assert_has(&out.stderr, "fail.sh exited with exit status: 3");
    assert_eq!(recorded(&log).len(), 1, "the failing command ran once");
    assert_no_token(&s);
    for c in read_credentials(&s.path().join("creds.json")) {
        assert_nowhere(&out, &c.password);
    }
    s.assert_converged();
    drop(silent);
}

#[test]
fn deliver_command_receives_each_password_once_and_each_logs_in() {
    let (cluster, s, script, store) = delivering_scenario(0);
    // Stdout is not a terminal and there is no --credentials-out: the command is the way.
    let out = s.apply(None);
    out.expect_success();
    assert_has(
        &out.stdout,
        &format!(
            "2 generated password(s) delivered to deliver_command {}",
            script.display()
        ),
    );
    let entries = recorded(&store);
    assert_eq!(entries.len(), 2, "one call per password: {entries:?}");
    let run = run_id(&out);
    let mut roles = Vec::new();
    for entry in &entries {
        let role = entry["role"].as_str().unwrap();
        let password = entry["password"].as_str().unwrap();
        assert_eq!(entry["run"], run.as_str());
        assert_eq!(
            entry["cluster"],
            format!("127.0.0.1:{}", cluster.port).as_str()
        );
        assert_eq!(entry["targets"], serde_json::json!(["dev/app_dev"]));
        assert!(logs_in(&cluster, role, password, "app_dev"), "{role}");
        assert_nowhere(&out, password);
        roles.push(role.to_owned());
    }
    roles.sort();
    assert_eq!(roles, ["alice", "bob"]);
    s.assert_converged();
}

#[test]
fn a_failing_deliver_command_stops_the_apply_before_anything_changes() {
    let (cluster, s, _, store) = delivering_scenario(1);
    let out: Output = s.apply(None);
    out.expect_code(1);
    assert_has(
        &out.stderr,
        "delivering the generated passwords failed, so nothing was changed",
    );
    assert_has(
        &out.stderr,
        "deliver_command failed for role alice on 127.0.0.1:",
    );
    assert_has(&out.stderr, "deliver.sh exited with exit status: 1");
    for role in ["app_owner", "alice", "bob"] {
        assert!(!role_exists(&cluster, role), "{role} was created");
    }
    // It stopped at the first failure: one password reached the command, and it is not live.
    let entries = recorded(&store);
    assert_eq!(entries.len(), 1);
    assert_nowhere(&out, entries[0]["password"].as_str().unwrap());
}

#[test]
fn notify_entries_are_checked_with_their_location_and_never_quote_the_token() {
    let s = Scenario::new();
    s.file(
        "pgroster.toml",
        &format!(
            "[settings]\ndeliver_command = []\n\n\
             [[notify]]\nwebhook = \"ftp://hooks.example.com/{TOKEN}\"\n\n\
             [[notify]]\nwebhook = \"https://hooks.example.com/{TOKEN}\"\ncommand = [\"x\"]\n\n\
             [[notify]]\ncommand = [\"/bin/true\"]\ntimeout = \"forever\"\n\n\
             [[notify]]\n\n\
             [[notify]]\ncommand = [\"/bin/true\"]\nevents = [\"aply_finished\"]\n"
        ),
    );
    let out = s.run(&["validate"]);
    out.expect_code(1);
    let at = |line: usize, column: usize| {
        format!(
            "{}:{line}:{column}",
            s.path().join("pgroster.toml").display()
        )
    };
    // serde's error on the unknown event stops the file's parse; the rest is found once fixed.
    assert_has(
        &out.stderr,
        &format!("{}:19:", s.path().join("pgroster.toml").display()),
    );
    assert_has(&out.stderr, "aply_finished");
    s.file(
        "pgroster.toml",
        &std::fs::read_to_string(s.path().join("pgroster.toml"))
            .unwrap()
            .replace("aply_finished", "apply_finished"),
    );
    let out = s.run(&["validate"]);
    out.expect_code(1);
    assert_has(
        &out.stderr,
        &format!("{}: deliver_command: the command is empty", at(2, 1)),
    );
    assert_has(
        &out.stderr,
        &format!(
            "{}: notify: a webhook URL starts with https:// or http://",
            at(5, 1)
        ),
    );
    assert_has(
        &out.stderr,
        &format!(
            "{}: notify: give `webhook` or `command`, not both",
            at(9, 1)
        ),
    );
    assert_has(
        &out.stderr,
        &format!("{}: notify: timeout `forever`", at(13, 1)),
    );
    assert_has(
        &out.stderr,
        &format!("{}: notify: give a `webhook` URL or a `command`", at(15, 1)),
    );
    assert!(!out.stderr.contains(TOKEN), "{}", dump(&out));
}
