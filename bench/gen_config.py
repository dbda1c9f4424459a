#!/usr/bin/env python3
"""Writes a pgroster config dir for bench/run.sh.

    gen_config.py N OUTDIR --port PORT [--database DB] [--passwords none|generated]

OUTDIR/registry.toml: one database (env "bench") on 127.0.0.1:PORT; admin credentials from the
environment variables PGROSTER_BENCH_ADMIN_USER / PGROSTER_BENCH_ADMIN_PASS.
OUTDIR/roles.yaml: group roles app_rw, app_ro, app_admin (NOLOGIN) and N login roles
u000001..: odd i member of app_rw, even i of app_ro, i % 10 == 0 also app_admin,
i % 4 == 0 CREATEDB; `password: none` (the peer tools set no passwords), or with
--passwords generated the key is omitted, so pgroster generates one per role on creation.
Prints the expected counts as JSON (roles, memberships, createdb).
"""
import argparse
import json
import os

GROUPS = ["app_rw", "app_ro", "app_admin"]


def role_name(i):
    return "u%06d" % i


def main():
    p = argparse.ArgumentParser()
    p.add_argument("n", type=int)
    p.add_argument("out")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--database", default="benchdb")
    p.add_argument("--passwords", choices=["none", "generated"], default="none")
    a = p.parse_args()
    os.makedirs(a.out, exist_ok=True)

    with open(os.path.join(a.out, "registry.toml"), "w") as f:
        f.write(
            "[settings]\n"
            'audit_log = "pgroster-audit.db"\n'
            'admin_user_env = "PGROSTER_BENCH_ADMIN_USER"\n'
            'admin_password_env = "PGROSTER_BENCH_ADMIN_PASS"\n'
            'ignore_roles = ["pg_*", "postgres"]\n'
            "\n"
            "[[databases]]\n"
            'env = "bench"\n'
            'name = "%s"\n'
            'host = "127.0.0.1"\n'
            "port = %d\n" % (a.database, a.port)
        )

    out = ["roles:"]
    for g in GROUPS:
        out += ["  - name: %s" % g, '    targets: ["bench/*"]']
    memberships = createdb = 0
    pw = "    password: none" if a.passwords == "none" else None
    for i in range(1, a.n + 1):
        parents = ["app_rw" if i % 2 else "app_ro"]
        if i % 10 == 0:
            parents.append("app_admin")
        memberships += len(parents)
        out += ["  - name: %s" % role_name(i), "    login: true",
                "    member_of: [%s]" % ", ".join(parents)]
        if i % 4 == 0:
            out.append("    createdb: true")
            createdb += 1
        if pw:
            out.append(pw)
        out.append('    targets: ["bench/*"]')
    with open(os.path.join(a.out, "roles.yaml"), "w") as f:
        f.write("\n".join(out) + "\n")
    print(json.dumps(dict(roles=a.n + len(GROUPS), login=a.n, memberships=memberships,
                          createdb=createdb)))


if __name__ == "__main__":
    main()
