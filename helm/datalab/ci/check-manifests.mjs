// Offline checks of rendered datalab manifests, run by scripts/checks/helm.sh.
//
//   node check-manifests.mjs unzip ZIP ENTRY OUT      extract one zip entry (no unzip/python needed)
//   node check-manifests.mjs check RENDERED.yaml      schema + security posture; exit 1 on failure
//
// "check" needs NODE_PATH-style resolution of kubernetes-models,
// @kubernetes-models/cert-manager, @kubernetes-models/prometheus-operator and
// yaml: the caller passes their node_modules as DATALAB_CHECK_MODULES.
//
// Schema validation: every object is validated against the Kubernetes API
// OpenAPI schemas compiled into kubernetes-models (types, formats, enums,
// required fields) or the cert-manager / prometheus-operator CRD schemas. An
// object of any other kind is an error, so nothing escapes validation.
// These validators do not reject unknown fields; the posture checks below
// read the fields that matter, so a misspelt security field fails there.
import fs from "node:fs";
import path from "node:path";
import zlib from "node:zlib";
import { pathToFileURL } from "node:url";

const [, , cmd, ...args] = process.argv;

if (cmd === "unzip") {
  unzipEntry(...args);
} else if (cmd === "check") {
  await check(args[0]);
} else {
  console.error("usage: check-manifests.mjs unzip ZIP ENTRY OUT | check FILE");
  process.exit(2);
}

// --- zip ---------------------------------------------------------------
// Reads the central directory and inflates one entry (stored or deflated).
function unzipEntry(zipPath, entry, out) {
  const buf = fs.readFileSync(zipPath);
  let eocd = -1;
  for (let i = buf.length - 22; i >= Math.max(0, buf.length - 65557); i--) {
    if (buf.readUInt32LE(i) === 0x06054b50) { eocd = i; break; }
  }
  if (eocd < 0) throw new Error(`${zipPath}: not a zip file (no end of central directory)`);
  const count = buf.readUInt16LE(eocd + 10);
  let p = buf.readUInt32LE(eocd + 16);
  for (let n = 0; n < count; n++) {
    if (buf.readUInt32LE(p) !== 0x02014b50) throw new Error(`${zipPath}: bad central directory`);
    const method = buf.readUInt16LE(p + 10);
    const csize = buf.readUInt32LE(p + 20);
    const usize = buf.readUInt32LE(p + 24);
    const nlen = buf.readUInt16LE(p + 28), xlen = buf.readUInt16LE(p + 30), clen = buf.readUInt16LE(p + 32);
    const local = buf.readUInt32LE(p + 42);
    const name = buf.toString("utf8", p + 46, p + 46 + nlen);
    p += 46 + nlen + xlen + clen;
    if (name !== entry) continue;
    const lnlen = buf.readUInt16LE(local + 26), lxlen = buf.readUInt16LE(local + 28);
    const start = local + 30 + lnlen + lxlen;
    const raw = buf.subarray(start, start + csize);
    const data = method === 0 ? raw : method === 8 ? zlib.inflateRawSync(raw) : null;
    if (!data) throw new Error(`${entry}: unsupported compression method ${method}`);
    if (data.length !== usize) throw new Error(`${entry}: size ${data.length}, expected ${usize}`);
    fs.mkdirSync(path.dirname(out), { recursive: true });
    fs.writeFileSync(out + ".part", data, { mode: 0o755 });
    fs.renameSync(out + ".part", out);
    return;
  }
  throw new Error(`${zipPath}: no entry ${entry}`);
}

// --- checks --------------------------------------------------------------
async function check(file) {
  const mods = process.env.DATALAB_CHECK_MODULES;
  const load = (m) => import(pathToFileURL(path.join(mods, m, "index.js")).href);
  const YAML = (await import(pathToFileURL(path.join(mods, "yaml/dist/index.js")).href)).default;
  const docs = YAML.parseAllDocuments(fs.readFileSync(file, "utf8"))
    .map((d) => {
      if (d.errors.length) throw new Error(`${file}: YAML error: ${d.errors[0].message}`);
      return d.toJS();
    })
    .filter((o) => o && typeof o === "object");

  const errors = [];
  const fail = (obj, msg) => errors.push(`${obj?.kind}/${obj?.metadata?.name}: ${msg}`);

  // 1. Schemas.
  const registries = [];
  const models = async (group, version) => {
    const candidates = [];
    if (group === "") candidates.push(`kubernetes-models/${version}`);
    else {
      candidates.push(`kubernetes-models/${group}/${version}`);
      candidates.push(`@kubernetes-models/cert-manager/${group}/${version}`);
      candidates.push(`@kubernetes-models/prometheus-operator/${group}/${version}`);
    }
    for (const c of candidates) {
      if (fs.existsSync(path.join(mods, c, "index.js"))) return load(c);
    }
    return null;
  };
  for (const obj of docs) {
    if (!obj.apiVersion || !obj.kind || !obj.metadata?.name) {
      fail(obj, "missing apiVersion, kind or metadata.name");
      continue;
    }
    const [group, version] = obj.apiVersion.includes("/") ? obj.apiVersion.split("/") : ["", obj.apiVersion];
    const mod = await models(group, version);
    const Model = mod?.[obj.kind];
    if (!Model) {
      fail(obj, `no schema for ${obj.apiVersion} ${obj.kind}: cannot validate`);
      continue;
    }
    try {
      new Model(obj).validate();
    } catch (e) {
      fail(obj, `schema: ${e.message}`);
    }
  }
  registries.length = 0;

  // 2. Pods: restricted Pod Security, probes, resources, secrets as files.
  const podsOf = (obj) => {
    switch (obj.kind) {
      case "Deployment": case "StatefulSet": case "DaemonSet": case "ReplicaSet": case "Job":
        return obj.spec?.template;
      case "CronJob":
        return obj.spec?.jobTemplate?.spec?.template;
      case "Pod":
        return obj;
      default:
        return null;
    }
  };
  const allowedVolumes = new Set(["secret", "configMap", "emptyDir", "persistentVolumeClaim", "projected", "downwardAPI"]);
  const workloads = [];
  for (const obj of docs) {
    const tpl = podsOf(obj);
    if (!tpl) continue;
    workloads.push({ obj, tpl });
    const spec = tpl.spec || {};
    const psc = spec.securityContext || {};
    const component = tpl.metadata?.labels?.["app.kubernetes.io/component"];
    if (!component) fail(obj, "pod has no app.kubernetes.io/component label");
    if (psc.runAsNonRoot !== true) fail(obj, "pod securityContext.runAsNonRoot must be true");
    if (psc.runAsUser !== 10001) fail(obj, "pod securityContext.runAsUser must be 10001");
    if (psc.seccompProfile?.type !== "RuntimeDefault") fail(obj, "pod seccompProfile must be RuntimeDefault");
    for (const f of ["hostNetwork", "hostPID", "hostIPC"]) if (spec[f]) fail(obj, `${f} is set`);
    const wantsToken = component === "backup";
    if (!wantsToken && spec.automountServiceAccountToken !== false)
      fail(obj, "automountServiceAccountToken must be false (only backup jobs talk to the API)");
    const volumes = new Map((spec.volumes || []).map((v) => [v.name, v]));
    for (const t of obj.spec?.volumeClaimTemplates || []) volumes.set(t.metadata?.name, { persistentVolumeClaim: {} });
    for (const v of spec.volumes || []) {
      const type = Object.keys(v).find((k) => k !== "name");
      if (!allowedVolumes.has(type)) fail(obj, `volume ${v.name} of type ${type} is not allowed (restricted)`);
      if (v.secret) {
        const mode = v.secret.defaultMode ?? 0o644;
        if (mode & 0o007) fail(obj, `secret volume ${v.name} is world-readable (defaultMode ${mode.toString(8)})`);
      }
    }
    const containers = [...(spec.initContainers || []), ...(spec.containers || [])];
    for (const c of containers) {
      const where = `container ${c.name}`;
      const sc = c.securityContext || {};
      if (sc.allowPrivilegeEscalation !== false) fail(obj, `${where}: allowPrivilegeEscalation must be false`);
      if (sc.readOnlyRootFilesystem !== true) fail(obj, `${where}: readOnlyRootFilesystem must be true`);
      if (sc.privileged) fail(obj, `${where}: privileged`);
      if (!(sc.capabilities?.drop || []).includes("ALL")) fail(obj, `${where}: capabilities must drop ALL`);
      if ((sc.capabilities?.add || []).length) fail(obj, `${where}: adds capabilities`);
      if ((sc.runAsNonRoot ?? psc.runAsNonRoot) !== true) fail(obj, `${where}: runAsNonRoot`);
      if (sc.runAsUser !== undefined && sc.runAsUser === 0) fail(obj, `${where}: runs as root`);
      if ((sc.seccompProfile?.type ?? psc.seccompProfile?.type) !== "RuntimeDefault")
        fail(obj, `${where}: seccompProfile must be RuntimeDefault`);
      for (const k of ["cpu", "memory"]) {
        if (!c.resources?.requests?.[k]) fail(obj, `${where}: no ${k} request`);
        if (!c.resources?.limits?.[k]) fail(obj, `${where}: no ${k} limit`);
      }
      // Secrets only as files: no env from secrets, no key material in args.
      for (const e of c.env || []) {
        if (e.valueFrom?.secretKeyRef) fail(obj, `${where}: env ${e.name} comes from a Secret`);
      }
      for (const e of c.envFrom || []) if (e.secretRef) fail(obj, `${where}: envFrom a Secret`);
      for (const a of [...(c.command || []), ...(c.args || [])]) {
        if (/-----BEGIN|PRIVATE KEY/.test(a)) fail(obj, `${where}: key material on the command line`);
      }
      for (const m of c.volumeMounts || []) {
        const v = volumes.get(m.name);
        if (!v) { fail(obj, `${where}: mounts unknown volume ${m.name}`); continue; }
        if ((v.secret || v.configMap) && m.readOnly !== true) fail(obj, `${where}: ${m.name} must be mounted readOnly`);
        if (v.emptyDir && !["/tmp", "/var/lib/datalab"].includes(m.mountPath))
          fail(obj, `${where}: writable emptyDir at ${m.mountPath} (only /tmp and the data dir)`);
      }
      const isService = (c.command || [])[0]?.startsWith("/usr/local/bin/datalab-");
      if (isService) {
        for (const p of ["readinessProbe", "livenessProbe"]) {
          const port = c[p]?.grpc?.port;
          const health = (c.ports || []).find((x) => x.name === "health")?.containerPort;
          if (!port || port !== health) fail(obj, `${where}: ${p} must be a native gRPC probe on the health port`);
        }
      }
    }
  }
  if (workloads.length === 0) errors.push("no workloads rendered");

  // 3. Every namespace with pods is default-deny for ingress and egress.
  const nsOf = (o) => o.metadata?.namespace || "default";
  const policies = docs.filter((o) => o.kind === "NetworkPolicy");
  for (const ns of new Set(workloads.map((w) => nsOf(w.obj)))) {
    const deny = policies.find((p) => nsOf(p) === ns &&
      Object.keys(p.spec?.podSelector || {}).length === 0 &&
      (p.spec?.policyTypes || []).includes("Ingress") && (p.spec?.policyTypes || []).includes("Egress") &&
      !(p.spec?.ingress || []).length && !(p.spec?.egress || []).length);
    if (!deny) errors.push(`namespace ${ns}: no default-deny NetworkPolicy (empty podSelector, Ingress and Egress, no rules)`);
  }
  // No egress beyond the cluster: every egress rule names peers and ports,
  // and no peer is the whole internet.
  for (const p of policies) {
    for (const r of p.spec?.egress || []) {
      if (!(r.to || []).length) fail(p, "egress rule without 'to' allows every destination");
      if (!(r.ports || []).length) fail(p, "egress rule without ports");
      for (const peer of r.to || []) {
        const cidr = peer.ipBlock?.cidr;
        if (cidr && /\/([0-7])$/.test(cidr)) fail(p, `egress to ${cidr} leaves the cluster`);
      }
    }
    for (const r of p.spec?.ingress || []) {
      if (!(r.ports || []).length) fail(p, "ingress rule without ports allows every port");
    }
  }

  // 4. The service graph, exactly; audit accepts only the five services.
  const graph = {
    gateway: ["catalogue", "ingestion", "pseudonymisation", "query", "audit"],
    ingestion: ["catalogue", "pseudonymisation", "query", "audit"],
    query: ["catalogue", "audit"],
    pseudonymisation: ["query", "audit"],
    catalogue: ["audit"],
    audit: [],
  };
  const compOfPeer = (peer) => peer.podSelector?.matchLabels?.["app.kubernetes.io/component"];
  const policyFor = (svc) => policies.filter((p) => p.spec?.podSelector?.matchLabels?.["app.kubernetes.io/component"] === svc);
  if (policies.length) {
    for (const svc of Object.keys(graph)) {
      const own = policyFor(svc);
      if (!own.length) { errors.push(`NetworkPolicy: none selects ${svc}`); continue; }
      const callers = Object.keys(graph).filter((s) => graph[s].includes(svc)).sort();
      const inPeers = own.flatMap((p) => (p.spec.ingress || []).flatMap((r) => (r.from || [])
        .filter((peer) => !peer.namespaceSelector && !peer.ipBlock).map(compOfPeer))).sort();
      if (JSON.stringify(inPeers) !== JSON.stringify(callers))
        errors.push(`NetworkPolicy ${svc}: ingress from [${inPeers}] but the graph says [${callers}]`);
      const outPeers = own.flatMap((p) => (p.spec.egress || []).flatMap((r) => (r.to || []).map(compOfPeer))).sort();
      if (JSON.stringify(outPeers) !== JSON.stringify([...graph[svc]].sort()))
        errors.push(`NetworkPolicy ${svc}: egress to [${outPeers}] but the graph says [${graph[svc]}]`);
      const external = own.flatMap((p) => (p.spec.ingress || []).flatMap((r) => (r.from || []).filter((x) => x.ipBlock)));
      if (svc !== "gateway" && external.length) errors.push(`NetworkPolicy ${svc}: reachable from IP blocks`);
    }
  }

  // 5. Nothing but the gateway is exposed.
  for (const s of docs.filter((o) => o.kind === "Service")) {
    const comp = s.spec?.selector?.["app.kubernetes.io/component"];
    const type = s.spec?.type || "ClusterIP";
    if ((type === "LoadBalancer" || type === "NodePort" || s.spec?.externalIPs?.length) && comp !== "gateway")
      fail(s, `type ${type} exposes ${comp} outside the cluster`);
    if (type !== "ClusterIP" && comp === "gateway" && (s.spec.ports || []).some((p) => p.name !== "grpc"))
      fail(s, "the exposed gateway Service may carry only the gRPC port");
  }
  const svcComp = new Map(docs.filter((o) => o.kind === "Service")
    .map((s) => [s.metadata.name, s.spec?.selector?.["app.kubernetes.io/component"]]));
  for (const ing of docs.filter((o) => o.kind === "Ingress")) {
    const backends = [ing.spec?.defaultBackend, ...(ing.spec?.rules || [])
      .flatMap((r) => (r.http?.paths || []).map((p) => p.backend))].filter(Boolean);
    for (const b of backends) {
      if (svcComp.get(b.service?.name) !== "gateway") fail(ing, `routes to ${b.service?.name}, not the gateway`);
    }
  }
  for (const ns of docs.filter((o) => o.kind === "Namespace")) {
    if (ns.metadata?.labels?.["pod-security.kubernetes.io/enforce"] !== "restricted")
      fail(ns, "namespace must enforce the restricted Pod Security profile");
  }
  // No Secret objects are rendered: key material never goes through values.
  for (const s of docs.filter((o) => o.kind === "Secret")) fail(s, "the chart must not render Secrets");

  const kinds = {};
  for (const o of docs) kinds[o.kind] = (kinds[o.kind] || 0) + 1;
  if (errors.length) {
    console.error(`FAILED ${file}: ${errors.length} problem(s)`);
    for (const e of errors) console.error("  - " + e);
    process.exit(1);
  }
  console.log(`ok ${path.basename(file)}: ${docs.length} objects (${Object.entries(kinds).map(([k, n]) => `${n} ${k}`).join(", ")}) valid, restricted, default-deny`);
}
