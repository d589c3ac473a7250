// DuckDB peer for bench/run.sh (see /work/shared/PEERS.md): loads the bench
// CSVs into an in-memory database with 2 threads, then times each query
// (warm-up runs first, then --runs timed runs, wall time of runAndReadAll,
// which includes materialising the result in JavaScript).
//
//   node bench/duckdb_bench.mjs --pupils FILE --outcomes FILE --queries FILE.json
//                               [--runs 20] [--warmup 1] [--threads 2]
// where FILE.json is {"name": "SQL", ...} over tables `pupils` and `outcomes`.
// Prints `name value unit` lines: duckdb_load_rows_per_second,
// duckdb_<name>_p50 / _p95 (ms).
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { DuckDBInstance } from '@duckdb/node-api';

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

// Nearest-rank percentile, the same definition as the other bench clients.
function percentile(values, p) {
  const v = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * v.length));
  return v[Math.min(rank, v.length) - 1];
}

const pupils = arg('pupils');
const outcomes = arg('outcomes');
const queries = JSON.parse(readFileSync(arg('queries'), 'utf8'));
const runs = Number(arg('runs', '20'));
const warmup = Number(arg('warmup', '1'));
const threads = arg('threads', '2');
const quote = (s) => `'${s.replaceAll("'", "''")}'`;

const instance = await DuckDBInstance.create(':memory:', { threads });
const con = await instance.connect();

// Explicit column types, the same as the PostgreSQL table, so neither peer
// pays for type sniffing differences.
const pupilCols = `{'pupil_id': 'VARCHAR', 'school_urn': 'INTEGER', 'nc_year': 'VARCHAR',
  'gender': 'VARCHAR', 'fsm': 'VARCHAR', 'sen': 'VARCHAR', 'ethnicity': 'VARCHAR',
  'attendance_pct': 'DOUBLE', 'grade_maths': 'INTEGER', 'grade_english': 'INTEGER'}`;
let t0 = performance.now();
await con.run(`CREATE TABLE pupils AS SELECT * FROM read_csv(${quote(pupils)}, header = true,
  columns = ${pupilCols})`);
const loadSeconds = (performance.now() - t0) / 1000;
const n = Number((await con.runAndReadAll('SELECT COUNT(*) FROM pupils')).getRows()[0][0]);
console.log(`duckdb_load_rows_per_second ${(n / loadSeconds).toFixed(0)} rows/s`);
console.log(`duckdb_load_seconds ${loadSeconds.toFixed(3)} s`);

if (outcomes) {
  await con.run(`CREATE TABLE outcomes AS SELECT * FROM read_csv(${quote(outcomes)}, header = true,
    columns = {'pupil_id': 'VARCHAR', 'ks4_maths': 'INTEGER', 'ks4_english': 'INTEGER'})`);
}

for (const [name, sql] of Object.entries(queries)) {
  let rows = 0;
  for (let i = 0; i < warmup; i++) await con.runAndReadAll(sql);
  const ms = [];
  for (let i = 0; i < runs; i++) {
    t0 = performance.now();
    const r = await con.runAndReadAll(sql);
    rows = r.getRows().length;
    ms.push(performance.now() - t0);
  }
  console.log(`duckdb_${name}_p50 ${percentile(ms, 50).toFixed(2)} ms`);
  console.log(`duckdb_${name}_p95 ${percentile(ms, 95).toFixed(2)} ms`);
  console.log(`duckdb_${name}_rows ${rows} rows`);
}
