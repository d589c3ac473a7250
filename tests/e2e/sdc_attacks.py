#!/usr/bin/env python3
"""Statistical disclosure attacks against a running lab (driven by attacks.sh).

Knows the true populations from the synthetic trust's CSV files, runs the
attacks through the real CLI as researcher `alice` in project `attack`, and
prints one line per attack: "attack <name>: attempts N, successes S".
A success is a released (unsuppressed) cell that discloses something the
rules forbid, judged against the true data. Exit 1 if any success.
"""
import csv, glob, os, re, subprocess, sys

BIN, TRUST, PROJECT = sys.argv[1], sys.argv[2], sys.argv[3]
TERM = "autumn 2025"
rows = []
for path in sorted(glob.glob(os.path.join(TRUST, "census", "*.csv"))):
    school = os.path.basename(path)[:-4]
    with open(path, newline="") as f:
        for r in csv.DictReader(f):
            if r["term"] == TERM:
                r["_school"] = school
                rows.append(r)


def truth(pred):
    return sum(1 for r in rows if pred(r))


RCS = {}
INVALID = []


def query(sql, as_user="alice", project=PROJECT):
    p = subprocess.run([os.path.join(BIN, "datalab"), "query", "--project", project, sql,
                        "--as", as_user, "--csv"], capture_output=True, text=True, timeout=120)
    RCS[p.returncode] = RCS.get(p.returncode, 0) + 1
    if p.returncode != 0:
        if p.returncode == 7 and len(INVALID) < 5:
            INVALID.append(sql[:100] + " -> " + p.stderr.strip()[-160:])
        return p.returncode, None, p.stderr.strip().splitlines()[-1:]
    lines = [l for l in p.stdout.replace("\r", "").split("\n") if l]
    table = list(csv.reader(lines))
    return 0, table, p.stderr


def num(cell):
    try:
        return float(cell)
    except (TypeError, ValueError):
        return None


results = {}
details = []


def record(name, attempts, successes):
    a, s = results.get(name, (0, 0))
    results[name] = (a + attempts, s + successes)


schools = sorted({r["_school"] for r in rows})
COLS = ["ethnicity", "sen_provision", "nc_year", "gender", "eal", "fsm", "disadvantaged"]


def cond_sql(c, v):
    if c in ("fsm", "disadvantaged", "eal"):
        return f"{c} = {'TRUE' if v == 'Y' else 'FALSE'}"
    return f"{c} = '{v}'"


def small_groups(school, lo=1, hi=9, limit=12):
    out = []
    base = [r for r in rows if r["_school"] == school]
    for c in COLS:
        for v in sorted({r[c] for r in base}):
            n = sum(1 for r in base if r[c] == v)
            if lo <= n <= hi:
                out.append((c, v, n))
    out.sort(key=lambda t: t[2])
    return out[:limit]


# 1. differencing pairs: a cohort, then the cohort minus 1..9 pupils via WHERE
attempts = successes = 0
for school in schools[:3]:
    cohort = f"term = '{TERM}' AND _school = '{school}'"
    for c, v, k in small_groups(school, 1, 9, 5):
        big_rc, big, _ = query(f"SELECT COUNT(DISTINCT pupil) AS n FROM census WHERE {cohort}")
        small_rc, small, _ = query(
            f"SELECT COUNT(DISTINCT pupil) AS n FROM census WHERE {cohort} AND NOT ({cond_sql(c, v)})")
        attempts += 1
        if big and small and num(big[1][0]) is not None and num(small[1][0]) is not None:
            successes += 1
            details.append(f"differencing: {school} minus {c}={v} ({k} pupils): both released "
                           f"({big[1][0]} and {small[1][0]})")
record("differencing", attempts, successes)

# 2. padded tracker: (target OR padding) and padding alone
attempts = successes = 0
for school in schools[:3]:
    for c, v, k in small_groups(school, 1, 9, 4):
        pad = f"term = '{TERM}' AND _school <> '{school}'"
        target = f"(term = '{TERM}' AND _school = '{school}' AND {cond_sql(c, v)})"
        for order in (0, 1):
            q1 = f"SELECT COUNT(DISTINCT pupil) AS n FROM census WHERE ({pad}) OR {target}"
            q2 = f"SELECT COUNT(DISTINCT pupil) AS n FROM census WHERE {pad} AND gender IN ('M', 'F')"
            a = query(q1 if order == 0 else q2)
            b = query(q2 if order == 0 else q1)
            attempts += 1
            if a[1] and b[1] and num(a[1][1][0]) is not None and num(b[1][1][0]) is not None:
                successes += 1
                details.append(f"tracker: {school} {c}={v} ({k}): both released")
record("padded_tracker", attempts, successes)

# 4. small cells probed through WHERE (counts and means of 1..9 pupils)
attempts = successes = 0
for school in schools:
    for c, v, k in small_groups(school, 1, 9, 4):
        for agg in ("COUNT(DISTINCT pupil)", "PROPORTION(fsm)"):
            rc, t, _ = query(f"SELECT {agg} AS x FROM census WHERE term = '{TERM}' AND "
                             f"_school = '{school}' AND {cond_sql(c, v)}")
            attempts += 1
            if t and num(t[1][0]) is not None:
                successes += 1
                details.append(f"small cell: {school} {c}={v} has {k} pupils, released {t[1][0]}")
record("small_cells_where", attempts, successes)

# 5. class disclosure: a released 0% or 100% for a group reveals everyone's attribute
attempts = successes = 0
for attr in ("fsm", "disadvantaged", "eal"):
    for by in ("ethnicity", "nc_year", "sen_provision"):
        for school in schools[:3]:
            rc, t, _ = query(f"SELECT {by}, COUNT(DISTINCT pupil) AS n, PROPORTION({attr}) AS p "
                             f"FROM census WHERE term = '{TERM}' AND _school = '{school}' GROUP BY {by}")
            attempts += 1
            if not t:
                continue
            for row in t[1:]:
                p = num(row[2]) if len(row) > 2 else None
                grp = [r for r in rows if r["_school"] == school and r[by] == row[0]]
                true_p = (sum(1 for r in grp if r[attr] == "Y") / len(grp)) if grp else None
                if p is not None and true_p in (0.0, 1.0) and len(grp) > 0:
                    successes += 1
                    details.append(f"class disclosure: {school} {by}={row[0]}: {attr} released as {row[2]} (true {true_p})")
record("class_disclosure", attempts, successes)

# 11. high-cardinality GROUP BY: refused, or every small cell suppressed
attempts = successes = 0
for sql in [
    f"SELECT ethnicity, nc_year, gender, sen_provision, eal, fsm, COUNT(DISTINCT pupil) AS n FROM census "
    f"GROUP BY ethnicity, nc_year, gender, sen_provision, eal, fsm",
    "SELECT sessions_possible, sessions_authorised_absence, sessions_unauthorised_absence, COUNT(*) AS n "
    "FROM attendance GROUP BY sessions_possible, sessions_authorised_absence, sessions_unauthorised_absence",
    "SELECT BAND(attainment8, 0, 90, 0.5), BAND(progress8, -10, 10, 0.1), COUNT(*) AS n FROM ks4 "
    "GROUP BY BAND(attainment8, 0, 90, 0.5), BAND(progress8, -10, 10, 0.1)",
]:
    rc, t, err = query(sql)
    attempts += 1
    if t:
        small = [r for r in t[1:] if num(r[-1]) is not None and num(r[-1]) < 10]
        if small:
            successes += 1
            details.append(f"high cardinality: {len(small)} released cells under 10")
    elif rc not in (6, 7):  # RESOURCE_EXHAUSTED (6) or refused as invalid (7)
        details.append(f"high cardinality: unexpected exit {rc}: {err}")
record("high_cardinality_group_by", attempts, successes)

total = 0
for name, (a, s) in results.items():
    print(f"attack {name}: attempts {a}, successes {s}")
    total += s
print("    query outcomes by exit code: " + ", ".join(f"{k}: {v}" for k, v in sorted(RCS.items())))
for d in INVALID:
    print("    refused as invalid: " + d)
for d in details[:20]:
    print("    " + d)
sys.exit(1 if total else 0)
