// Validates deploy/'s manifests offline against the Kubernetes API schema,
// with kubernetes-models (npm; the OpenAPI schema of Kubernetes compiled
// into validators: types, enums, required fields, formats; it does not
// reject unknown fields). The Job and DaemonSet are rendered by
// deploy/run-on-cluster itself. Beyond the schema it checks what crisp
// relies on: every mount names a declared volume, the CRI socket is at
// /run/crisp/cri.sock, the pod log root is a node path crisp is told about,
// nothing asks for privileges, and no @TOKEN@ is left unrendered. Last, a
// broken copy of each manifest must fail, so a validator that passes
// everything would not go unnoticed.
// Usage: node validate.mjs REPO
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments, parse } from 'yaml';
import { Namespace } from 'kubernetes-models/v1';
import { Job } from 'kubernetes-models/batch/v1';
import { DaemonSet } from 'kubernetes-models/apps/v1';
import { validate as validateContainer } from 'kubernetes-models/_schemas/IoK8sApiCoreV1Container';
import { validate as validateVolume } from 'kubernetes-models/_schemas/IoK8sApiCoreV1Volume';

const repo = process.argv[2];
if (!repo) { console.error('usage: node validate.mjs REPO'); process.exit(2); }
let failures = 0;
const check = (what, ok, detail = '') => {
  console.log(`${ok ? 'ok' : 'FAIL'}: ${what}${ok ? '' : ': ' + detail}`);
  if (!ok) failures++;
};
const schemaErrors = (model) => { try { model.validate(); return ''; } catch (e) { return e.message; } };
const fnErrors = (fn, data) => fn(data) ? '' : JSON.stringify(fn.errors).slice(0, 400);
const runOnCluster = (...args) => execFileSync(join(repo, 'deploy/run-on-cluster'), args, { encoding: 'utf8' });
const clone = (o) => JSON.parse(JSON.stringify(o));

// What crisp in the pod needs, on a pod spec and its crisp container.
function crispPodChecks(name, podSpec, container, extraVolumes = []) {
  const volumes = new Set([...(podSpec.volumes || []), ...extraVolumes].map(v => v.name));
  const mounts = container.volumeMounts || [];
  const unknown = mounts.filter(m => !volumes.has(m.name) && !(extraVolumes.length && m.name === 'results'));
  check(`${name}: every mount names a declared volume`, unknown.length === 0, JSON.stringify(unknown));
  const at = (path) => mounts.find(m => m.mountPath === path);
  const volumeOf = (mount) => [...(podSpec.volumes || []), ...extraVolumes].find(v => v.name === mount?.name);
  check(`${name}: the CRI socket is a hostPath Socket at /run/crisp/cri.sock`,
        volumeOf(at('/run/crisp/cri.sock'))?.hostPath?.type === 'Socket');
  check(`${name}: /tmp/crisp/pods is the node's, and crisp is told so`,
        volumeOf(at('/tmp/crisp/pods'))?.hostPath?.path === '/tmp/crisp/pods' &&
        (container.env || []).some(e => e.name === 'CRISP_NODE_PATHS' && e.value === '/tmp/crisp/pods'));
  check(`${name}: the node's name comes from spec.nodeName`,
        (container.env || []).some(e => e.name === 'CRISP_NODE_NAME' && e.valueFrom?.fieldRef?.fieldPath === 'spec.nodeName'));
  const sc = container.securityContext || {};
  check(`${name}: no privileges: not privileged, no escalation, every capability dropped`,
        !sc.privileged && sc.allowPrivilegeEscalation === false && JSON.stringify(sc.capabilities?.drop) === '["ALL"]');
  // (Sonobuoy makes its plugin's pod itself: nothing to check there.)
  if (name !== 'sonobuoy') {
    check(`${name}: no host namespaces asked for`, !podSpec.hostNetwork && !podSpec.hostPID && !podSpec.hostIPC);
  }
}

// namespace.yaml
const namespace = parse(readFileSync(join(repo, 'deploy/namespace.yaml'), 'utf8'));
check('namespace.yaml is a valid v1 Namespace', schemaErrors(new Namespace(namespace)) === '', schemaErrors(new Namespace(namespace)));

// job.yaml, as run-on-cluster renders it for a node.
const jobText = runOnCluster('--render', 'node-1.example', '--', '--suite', 'suites/seed', '--focus', "it's: #1");
check('the rendered Job has no @TOKEN@ left', !/@[A-Z_]+@/.test(jobText), jobText.match(/@[A-Z_]+@/)?.[0]);
const jobDocs = parseAllDocuments(jobText);
check('the rendered Job is one YAML document without errors', jobDocs.length === 1 && jobDocs[0].errors.length === 0);
const job = jobDocs[0].toJS();
check('job.yaml renders to a valid batch/v1 Job', schemaErrors(new Job(job)) === '', schemaErrors(new Job(job)));
const jobPod = job.spec.template.spec;
check("the Job runs on its node only (node affinity by the node's name)",
      JSON.stringify(jobPod.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0]
        .matchFields[0]) === JSON.stringify({ key: 'metadata.name', operator: 'In', values: ['node-1.example'] }));
check('the Job name is a valid DNS label', /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(job.metadata.name), job.metadata.name);
const jobCrisp = jobPod.containers.find(c => c.name === 'crisp');
check("crisp run's arguments reach the pod as a list, unquoted",
      JSON.stringify(jobCrisp.args) === JSON.stringify(['--suite', 'suites/seed', '--focus', "it's: #1"]), JSON.stringify(jobCrisp.args));
crispPodChecks('job', jobPod, jobCrisp);

// daemonset.yaml
const dsText = runOnCluster('--render-daemonset', '--image', 'registry.example/crisp:1', '--socket', '/var/run/crio/crio.sock', '--runtime', 'crio');
check('the rendered DaemonSet has no @TOKEN@ left', !/@[A-Z_]+@/.test(dsText));
const ds = parse(dsText);
check('daemonset.yaml renders to a valid apps/v1 DaemonSet', schemaErrors(new DaemonSet(ds)) === '', schemaErrors(new DaemonSet(ds)));
const dsCrisp = ds.spec.template.spec.containers[0];
check('the DaemonSet takes --image and --socket', dsCrisp.image === 'registry.example/crisp:1' &&
      ds.spec.template.spec.volumes.find(v => v.name === 'cri-socket').hostPath.path === '/var/run/crio/crio.sock');
crispPodChecks('daemonset', ds.spec.template.spec, dsCrisp);

// sonobuoy-crisp.yaml: Sonobuoy's own format around a core/v1 Container.
const plugin = parse(readFileSync(join(repo, 'deploy/sonobuoy-crisp.yaml'), 'utf8'));
const config = plugin['sonobuoy-config'] || {};
check('the Sonobuoy plugin runs on every node and reports JUnit',
      config.driver === 'DaemonSet' && config['plugin-name'] === 'crisp' && config['result-format'] === 'junit');
check('its spec is a valid core/v1 Container', fnErrors(validateContainer, plugin.spec) === '', fnErrors(validateContainer, plugin.spec));
for (const volume of plugin['extra-volumes'] || []) {
  check(`its extra volume ${volume.name} is a valid core/v1 Volume`, fnErrors(validateVolume, volume) === '', fnErrors(validateVolume, volume));
}
check("it packs results.json with junit.xml and names the pack in Sonobuoy's done file",
      /tar -czf "\$RESULTS_DIR\/crisp\.tar\.gz" .*results\.json/.test(plugin.spec.args.join(' ')) &&
      plugin.spec.args.join(' ').includes(`printf '%s' "$RESULTS_DIR/crisp.tar.gz" > "$RESULTS_DIR/done"`));
// Sonobuoy makes the pod; only its container and volumes are ours.
crispPodChecks('sonobuoy', { volumes: [] }, plugin.spec, plugin['extra-volumes']);

// The validator bites: a broken copy of each must fail.
const brokenJob = clone(job);
brokenJob.spec.template.spec.containers[0].securityContext.allowPrivilegeEscalation = 'no';
check('a Job with a string for a boolean is refused', schemaErrors(new Job(brokenJob)) !== '');
const brokenDs = clone(ds);
brokenDs.spec.template.spec.volumes[0].hostPath.type = 'Sockett';
delete brokenDs.spec.selector;
check('a DaemonSet without a selector is refused', schemaErrors(new DaemonSet(brokenDs)) !== '');
const brokenContainer = clone(plugin.spec);
brokenContainer.imagePullPolicy = 'Sometimes';
check('a container with an unknown pull policy is refused', fnErrors(validateContainer, brokenContainer) !== '');

console.log(failures === 0 ? 'deploy manifests: all checks passed' : `deploy manifests: ${failures} check(s) failed`);
process.exit(failures === 0 ? 0 : 1);
