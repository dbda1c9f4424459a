//! TLS to the clusters: libpq's sslmode semantics, on a server that only accepts TLS.

use crate::harness::{registry_toml, with_settings, AdminKind, Cluster, Scenario};
use std::fs;
use std::path::Path;
use std::process::Command;

fn openssl(dir: &Path, args: &[&str]) {
    let status = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "openssl {args:?} failed");
}

/// A CA, a server certificate it signed for IP 127.0.0.1, and an unrelated CA.
fn make_certificates(dir: &Path) {
    let ca = |name: &str| {
        openssl(
            dir,
            &[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "2",
                "-subj",
                &format!("/CN={name}"),
                "-keyout",
                &format!("{name}.key"),
                "-out",
                &format!("{name}.crt"),
            ],
        )
    };
    ca("ca");
    ca("other-ca");
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=127.0.0.1",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
        ],
    );
    fs::write(dir.join("san.ext"), "subjectAltName=IP:127.0.0.1\n").unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "san.ext",
            "-out",
            "server.crt",
        ],
    );
}

/// Turns TLS on and makes every TCP connection require it (`hostssl` only). False when the
/// server was built without TLS (the PyPI builds of 16 and 18 are), where there is nothing to test.
fn require_tls(cluster: &Cluster) -> bool {
    let built_with_tls = cluster.query_strings(
        "postgres",
        "SELECT setting FROM pg_settings WHERE name = 'ssl_library'",
    );
    if built_with_tls
        .first()
        .and_then(|r| r[0].as_deref())
        .unwrap_or("")
        .is_empty()
    {
        eprintln!(
            "PostgreSQL {} here has no TLS support; nothing to test",
            cluster.major_version()
        );
        return false;
    }
    let data = cluster.data_dir();
    make_certificates(data);
    if Command::new("id").arg("-u").output().unwrap().stdout == b"0\n" {
        // The server runs as postgres and insists its key is private to it.
        for file in ["server.key", "server.crt"] {
            assert!(Command::new("chown")
                .args(["postgres", &data.join(file).to_string_lossy()])
                .status()
                .unwrap()
                .success());
        }
    }
    let hba = data.join("pg_hba.conf");
    let rules = fs::read_to_string(&hba).unwrap();
    let only_tls: String = rules
        .lines()
        .map(|l| match l.strip_prefix("host ") {
            Some(rest) => format!("hostssl {rest}\n"),
            None => format!("{l}\n"),
        })
        .collect();
    fs::write(&hba, only_tls).unwrap();
    let mut client = cluster.client("postgres");
    for statement in [
        "ALTER SYSTEM SET ssl = on",
        "ALTER SYSTEM SET ssl_cert_file = 'server.crt'",
        "ALTER SYSTEM SET ssl_key_file = 'server.key'",
        "SELECT pg_reload_conf()",
    ] {
        client.batch_execute(statement).unwrap();
    }
    // The reload is asynchronous: wait until new sessions see it (a readiness poll, bounded).
    let reloaded = (0..200).any(|attempt| {
        if attempt > 0 {
            std::thread::sleep(std::time::Duration::from_millis(25));
        }
        cluster.query_strings("postgres", "SHOW ssl")[0][0].as_deref() == Some("on")
    });
    assert!(reloaded, "the server did not turn TLS on");
    true
}

fn scenario(cluster: &Cluster, settings: &str) -> Scenario {
    let registry = with_settings(&registry_toml(&[("dev", "postgres", cluster)]), settings);
    let mut s = Scenario::new();
    s.with_admin(cluster, AdminKind::Superuser);
    s.file("registry.toml", &registry).file(
        "roles.yaml",
        "roles:\n  - name: tls_group\n    targets: [dev]\n",
    );
    s
}

#[test]
fn sslmode_follows_libpq_on_a_tls_only_server() {
    let cluster = Cluster::start();
    if !require_tls(&cluster) {
        return;
    }
    let ca = cluster.data_dir().join("ca.crt");
    let other_ca = cluster.data_dir().join("other-ca.crt");

    let plain = scenario(&cluster, "sslmode = \"disable\"").run(&["plan"]);
    assert_eq!(plain.code, 1, "{}{}", plain.stdout, plain.stderr);
    assert!(
        plain.stderr.contains("no encryption") || plain.stderr.contains("pg_hba.conf"),
        "{}",
        plain.stderr
    );

    for mode in ["prefer", "require"] {
        let out = scenario(&cluster, &format!("sslmode = \"{mode}\""))
            .run(&["plan", "--detailed-exitcode"]);
        assert_eq!(out.code, 2, "{mode}: {}{}", out.stdout, out.stderr);
    }

    let verified = scenario(
        &cluster,
        &format!(
            "sslmode = \"verify-full\"\nsslrootcert = \"{}\"",
            ca.display()
        ),
    );
    let out = verified.run(&["apply", "--auto-approve"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert_eq!(verified.run(&["plan", "--detailed-exitcode"]).code, 0);

    let untrusted = scenario(
        &cluster,
        &format!(
            "sslmode = \"verify-ca\"\nsslrootcert = \"{}\"",
            other_ca.display()
        ),
    )
    .run(&["plan"]);
    assert_eq!(
        untrusted.code, 1,
        "{}{}",
        untrusted.stdout, untrusted.stderr
    );
    assert!(
        untrusted.stderr.to_lowercase().contains("certificate"),
        "{}",
        untrusted.stderr
    );
}

#[test]
fn verify_full_rejects_a_certificate_for_another_host() {
    let cluster = Cluster::start();
    if !require_tls(&cluster) {
        return;
    }
    let ca = cluster.data_dir().join("ca.crt");
    // The certificate names 127.0.0.1; "localhost" reaches the same server under another name.
    let registry = registry_toml(&[("dev", "postgres", &cluster)])
        .replace("host = \"127.0.0.1\"", "host = \"localhost\"")
        .replace(
            "[settings]\n",
            &format!(
                "[settings]\nsslmode = \"verify-full\"\nsslrootcert = \"{}\"\n",
                ca.display()
            ),
        );
    let mut s = Scenario::new();
    s.with_admin(&cluster, AdminKind::Superuser);
    s.file("registry.toml", &registry).file(
        "roles.yaml",
        "roles:\n  - name: tls_group\n    targets: [dev]\n",
    );
    let out = s.run(&["plan"]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    // verify-ca accepts the same certificate: the chain is fine, only the name differs.
    let relaxed = registry.replace("verify-full", "verify-ca");
    s.file("registry.toml", &relaxed);
    let out = s.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
}
