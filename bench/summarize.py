#!/usr/bin/env python3
"""Markdown tables from bench/run.sh's raw TSV (n, rep, phase, wall_s, hires_s, rss_kb, rc, load1, ok).

    summarize.py RAW.tsv [--binary TEXT] [--postgres TEXT] [--reps R] [--cap S]
"""
import argparse
import csv
import datetime
import os
import platform
import statistics


def host():
    cpu = "?"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        mem = [l for l in open("/proc/meminfo") if l.startswith("MemTotal")][0].split()[1]
        mem = "%.1f GiB" % (int(mem) / 1048576)
    except OSError:
        mem = "?"
    return "%d vCPU, %s, %s, kernel %s" % (os.cpu_count(), mem, cpu, platform.release())


def main():
    p = argparse.ArgumentParser()
    p.add_argument("raw")
    p.add_argument("--binary", default="pgroster")
    p.add_argument("--postgres", default="PostgreSQL")
    p.add_argument("--reps", default="?")
    p.add_argument("--cap", type=float, default=300)
    a = p.parse_args()

    rows = list(csv.DictReader(open(a.raw), delimiter="\t"))
    ns = sorted({int(r["n"]) for r in rows})
    by = {}
    for r in rows:
        by.setdefault((int(r["n"]), r["phase"]), []).append(r)

    def good(n, phase):
        return [r for r in by.get((n, phase), []) if r["ok"] == "ok"]

    def med(n, phase, key="wall_s"):
        rs = good(n, phase)
        return statistics.median(float(r[key]) for r in rs) if rs else None

    def capped(n, phase):
        return any(r["ok"].startswith("CAPPED") for r in by.get((n, phase), []))

    def cell(n, phase, key="wall_s", fmt="%.2f"):
        v = med(n, phase, key)
        if v is not None:
            return fmt % v
        if capped(n, phase):
            return "> %g (capped)" % a.cap
        if by.get((n, phase)):
            return "failed (see below)"
        if phase == "apply_pw" and capped(n, "apply"):
            return "not run (apply capped)"
        if phase == "apply_pw" and by.get((n, "apply")) and not good(n, "apply"):
            return "not run (apply failed)"
        return "–"

    def span(n, phase):
        rs = good(n, phase)
        if not rs:
            return cell(n, phase)
        v = sorted(float(r["hires_s"]) for r in rs)
        m = statistics.median(v)
        return "%.3f" % m if len(v) == 1 else "%.3f (%.3f–%.3f)" % (m, v[0], v[-1])

    def peak_rss(n):
        # per repetition: max over its phases; then the median over repetitions
        per_rep = {}
        for ph in ("apply", "plan", "validate"):
            for r in by.get((n, ph), []):
                if r["rss_kb"]:
                    per_rep[r["rep"]] = max(per_rep.get(r["rep"], 0), int(r["rss_kb"]))
        return "%.1f" % (statistics.median(per_rep.values()) / 1024) if per_rep else "–"

    def rss(n, phase):
        v = [int(r["rss_kb"]) for r in by.get((n, phase), []) if r["rss_kb"]]
        return "%.1f" % (max(v) / 1024) if v else "–"

    out = []
    out.append("# pgroster benchmark (bench/run.sh)")
    out.append("")
    out.append("%s; %s; %s; %s repetitions per N, each on a fresh cluster (stock settings, fsync on); "
               "run %s." % (a.binary, a.postgres, host(), a.reps,
                            datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")))
    out.append("")
    out.append("Workload: 3 NOLOGIN groups + N login roles (odd -> app_rw, even -> app_ro, every 10th also "
               "app_admin, every 4th CREATEDB), one database. Login roles use `password: none`, "
               "because the peer tools (ldap2pg, pgbedrock, pgroles) set no passwords either; the last "
               "column is the same roles with generated passwords (a SCRAM-SHA-256 verifier, 4096 "
               "PBKDF2 rounds, computed per role), measured once per N.")
    out.append("")
    out.append("Whole process, `/usr/bin/time -f '%e %M'` (10 ms resolution), median of the repetitions:")
    out.append("")
    out.append("| N | apply s | no-change plan s | validate s | peak RSS MiB | apply with generated passwords s |")
    out.append("|---|---|---|---|---|---|")
    for n in ns:
        out.append("| %s | %s | %s | %s | %s | %s |" % (
            "{:,}".format(n), cell(n, "apply"), cell(n, "plan"), cell(n, "validate"), peak_rss(n),
            cell(n, "apply_pw")))
    out.append("")
    out.append("Details: high-resolution wall seconds (`date +%s%N` around the same command), median "
               "(min–max); peak RSS MiB per phase (max over repetitions); cost per role:")
    out.append("")
    out.append("| N | apply | no-change plan | validate | apply, generated pw | RSS apply / plan / validate / apply-pw MiB | apply µs/role | plan µs/role | validate µs/role | SCRAM extra ms/role |")
    out.append("|---|---|---|---|---|---|---|---|---|---|")
    for n in ns:
        def per(ph):
            v = med(n, ph, "hires_s")
            return "%.0f" % (v / n * 1e6) if v is not None else "–"
        a_, pw = med(n, "apply", "hires_s"), med(n, "apply_pw", "hires_s")
        extra = "%.2f" % ((pw - a_) / n * 1e3) if a_ is not None and pw is not None else "–"
        out.append("| %s | %s | %s | %s | %s | %s / %s / %s / %s | %s | %s | %s | %s |" % (
            "{:,}".format(n), span(n, "apply"), span(n, "plan"), span(n, "validate"), span(n, "apply_pw"),
            rss(n, "apply"), rss(n, "plan"), rss(n, "validate"), rss(n, "apply_pw"),
            per("apply"), per("plan"), per("validate"), extra))
    out.append("")

    # linearity: marginal cost per added role between consecutive N
    out.append("Linearity (marginal µs per added role between consecutive N, hi-res medians; "
               "linear cost keeps these roughly constant):")
    out.append("")
    for ph in ("apply", "plan", "validate", "apply_pw"):
        pts = [(n, med(n, ph, "hires_s")) for n in ns if med(n, ph, "hires_s") is not None]
        if len(pts) < 2:
            continue
        steps = []
        for (n1, t1), (n2, t2) in zip(pts, pts[1:]):
            steps.append(((t2 - t1) / (n2 - n1)) * 1e6)
        desc = ", ".join("%s→%s: %.0f" % ("{:,}".format(x[0]), "{:,}".format(y[0]), s)
                         for (x, y, s) in zip(pts, pts[1:], steps))
        verdict = ""
        if len(steps) >= 2 and steps[0] > 0:
            r = steps[-1] / steps[0]
            verdict = " — ratio last/first step %.2f: %s" % (
                r, "roughly linear" if r < 2 else "SUPERLINEAR (grows faster than N)")
        elif steps and pts[0][1] > 0:
            # one step: compare the marginal cost with the smaller N's average cost per role
            r = steps[0] / (pts[0][1] / pts[0][0] * 1e6)
            verdict = " — %.2f× the average per role at N=%s: %s" % (
                r, "{:,}".format(pts[0][0]),
                "linear or better" if r < 2 else "SUPERLINEAR (grows faster than N)")
        capped_ns = [n for n in ns if med(n, ph, "hires_s") is None and capped(n, ph)]
        for n in capped_ns:
            verdict += "; N=%s capped: > %.0f µs per role on average" % ("{:,}".format(n), a.cap / n * 1e6)
        out.append("- %s: %s%s" % (ph, desc, verdict))
    out.append("")

    bad = [r for r in rows if r["ok"] != "ok" and not r["ok"].startswith("CAPPED")]
    caps = [r for r in rows if r["ok"].startswith("CAPPED")]
    loads = [float(r["load1"]) for r in rows if r["load1"]]
    out.append("Correctness checks: %d of %d completed commands passed (apply: catalog role/membership/"
               "CREATEDB/SCRAM counts as declared; no-change plan: exit 0 with --detailed-exitcode; "
               "generated passwords: one credentials entry per role)."
               % (len(rows) - len(caps) - len(bad), len(rows) - len(caps)))
    for r in bad:
        out.append("- FAILED n=%s rep=%s %s (rc %s): %s" % (r["n"], r["rep"], r["phase"], r["rc"], r["ok"]))
    for r in caps:
        out.append("- CAPPED n=%s rep=%s %s: killed after %g s (did not finish)" % (r["n"], r["rep"], r["phase"], a.cap))
    if loads:
        out.append("")
        out.append("1-minute load average before each command: median %.2f, max %.2f (on %d vCPU; "
                   "anything near or above that means other work shared the machine)."
                   % (statistics.median(loads), max(loads), os.cpu_count()))
    print("\n".join(out))


if __name__ == "__main__":
    main()
