// validate.js — offline checks of the deploy/ files, run by
// tests/integration/test_deploy.c (and by hand) with the npm packages
// kubernetes-models, @kubernetes-models/prometheus-operator and yaml on
// NODE_PATH (the test installs them into a temporary directory):
//
//   node validate.js k8s DIR          every manifest in DIR and DIR/optional
//                                     against the Kubernetes API's JSON schemas;
//                                     kustomization.yaml lists every top-level
//                                     manifest and nothing missing
//   node validate.js compose FILE     the compose file as written: only 3000
//                                     and 9090 published, memory limits, restart
//                                     policy, one network, no inline password
//                                     (`docker-compose config` checks the rest)
//   node validate.js exprs DASHBOARD  print every panel and variable query of
//                                     a Grafana dashboard, one per line
//
// Exit status 0 when valid; 1 with one line per problem on stderr.
'use strict';
const fs = require('fs');
const path = require('path');
const YAML = require('yaml');

const problems = [];
const problem = (msg) => problems.push(msg);

// apiVersion "apps/v1" + kind "DaemonSet" -> the kubernetes-models class.
function modelFor(apiVersion, kind) {
  const mod = apiVersion.startsWith('monitoring.coreos.com/')
    ? `@kubernetes-models/prometheus-operator/${apiVersion}/${kind}`
    : `kubernetes-models/${apiVersion}/${kind}`;
  try {
    return require(mod)[kind];
  } catch (e) {
    return null;
  }
}

function validateManifest(file) {
  const docs = YAML.parseAllDocuments(fs.readFileSync(file, 'utf8'));
  let n = 0;
  for (const doc of docs) {
    if (doc.errors.length) {
      problem(`${file}: YAML: ${doc.errors[0].message}`);
      continue;
    }
    const obj = doc.toJS();
    if (obj === null) continue;
    n++;
    const where = `${file}: ${obj.kind || '?'} ${(obj.metadata && obj.metadata.name) || '?'}`;
    if (!obj.apiVersion || !obj.kind) {
      problem(`${where}: no apiVersion or kind`);
      continue;
    }
    const Model = modelFor(obj.apiVersion, obj.kind);
    if (!Model) {
      problem(`${where}: unknown apiVersion/kind ${obj.apiVersion} ${obj.kind}`);
      continue;
    }
    try {
      new Model(obj).validate();
    } catch (e) {
      problem(`${where}: ${e.message}`);
    }
    if (!obj.metadata || !obj.metadata.name) problem(`${where}: no metadata.name`);
  }
  return n;
}

function yamlFiles(dir) {
  return fs.existsSync(dir)
    ? fs.readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).sort()
    : [];
}

function checkK8s(dir) {
  const manifests = yamlFiles(dir).filter((f) => f !== 'kustomization.yaml');
  const kust = YAML.parse(fs.readFileSync(path.join(dir, 'kustomization.yaml'), 'utf8'));
  if (kust.kind !== 'Kustomization') problem('kustomization.yaml: kind is not Kustomization');
  const listed = kust.resources || [];
  for (const r of listed)
    if (!fs.existsSync(path.join(dir, r))) problem(`kustomization.yaml lists ${r}, which does not exist`);
  for (const m of manifests)
    if (!listed.includes(m)) problem(`kustomization.yaml does not list ${m}`);
  let n = 0;
  for (const m of manifests) n += validateManifest(path.join(dir, m));
  const opt = path.join(dir, 'optional');
  for (const m of yamlFiles(opt)) n += validateManifest(path.join(opt, m));
  console.log(`${n} Kubernetes objects checked, ${listed.length} resources in kustomization.yaml`);
}

function checkCompose(file) {
  const c = YAML.parse(fs.readFileSync(file, 'utf8'), { merge: true });
  const nets = Object.keys(c.networks || {});
  if (nets.length !== 1) problem(`compose: ${nets.length} networks, want one bridge network`);
  const allowedPorts = new Set(['3000', '9090']);
  for (const [name, s] of Object.entries(c.services || {})) {
    if (!s.mem_limit) problem(`compose: ${name} has no memory limit`);
    if (s.restart !== 'unless-stopped') problem(`compose: ${name} restart is ${s.restart}`);
    for (const p of s.ports || []) {
      const published = String(typeof p === 'object' ? p.published : p.split(':').slice(-2)[0]);
      if (!allowedPorts.has(published)) problem(`compose: ${name} publishes port ${published}`);
    }
    for (const k of Object.keys(s.environment || {}))
      if (/PASS/.test(k)) problem(`compose: ${name} sets ${k} inline, not from the env file`);
  }
  console.log(`${Object.keys(c.services || {}).length} compose services checked`);
}

function printExprs(file) {
  const d = JSON.parse(fs.readFileSync(file, 'utf8'));
  const walk = (panels) => {
    for (const p of panels || []) {
      for (const t of p.targets || []) if (t.expr) console.log(t.expr);
      walk(p.panels);
    }
  };
  walk(d.panels);
  // label_values(SELECTOR, label) is Grafana's, not PromQL: print the selector.
  for (const v of (d.templating && d.templating.list) || []) {
    const q = typeof v.query === 'object' ? v.query.query : v.query;
    const m = /^label_values\((.*),\s*\w+\)$/.exec(q || '');
    if (v.type === 'query') {
      if (m) console.log(m[1]);
      else problem(`dashboard: variable ${v.name} query is not label_values(...): ${q}`);
    }
  }
}

const [cmd, arg] = process.argv.slice(2);
if (cmd === 'k8s') checkK8s(arg);
else if (cmd === 'compose') checkCompose(arg);
else if (cmd === 'exprs') printExprs(arg);
else {
  console.error('usage: node validate.js k8s DIR | compose FILE | exprs DASHBOARD');
  process.exit(2);
}
for (const p of problems) console.error(p);
process.exit(problems.length ? 1 : 0);
