// What a kubelet would ask of the runtime for the crisp container of a
// rendered deploy/job.yaml, as CRI requests: prints
// {"sandbox": PodSandboxConfig, "container": ContainerConfig} in
// api.proto's JSON form. hostPath volumes keep their paths; each emptyDir
// becomes EMPTYDIR_ROOT/<volume name> (the caller makes it, as the kubelet
// does); spec.nodeName is NODE. Only what job.yaml uses is translated; any
// other volume kind or env source is an error, not a silent gap.
// Usage: node job-to-cri.mjs JOB_YAML NODE EMPTYDIR_ROOT
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';

const [file, node, emptyRoot] = process.argv.slice(2);
if (!file || !node || !emptyRoot) { console.error('usage: node job-to-cri.mjs JOB_YAML NODE EMPTYDIR_ROOT'); process.exit(2); }
const job = parse(readFileSync(file, 'utf8'));
const pod = job.spec.template.spec;
const container = pod.containers.find(c => c.name === 'crisp');
const fail = (why) => { console.error(`job-to-cri: ${why}`); process.exit(1); };
const uid = `uid-${job.metadata.name}`;
const sandbox = {
  metadata: { name: job.metadata.name, namespace: job.metadata.namespace, uid, attempt: 0 },
  hostname: job.metadata.name,
  log_directory: `/tmp/crisp/pods/${job.metadata.namespace}_${job.metadata.name}_${uid}`,
  labels: { ...job.spec.template.metadata.labels, 'io.kubernetes.pod.name': job.metadata.name,
            'io.kubernetes.pod.namespace': job.metadata.namespace, 'io.kubernetes.pod.uid': uid },
  linux: { security_context: { namespace_options: {
    network: pod.hostNetwork ? 'NODE' : 'POD', pid: pod.hostPID ? 'NODE' : 'CONTAINER', ipc: pod.hostIPC ? 'NODE' : 'POD' } } },
};
const volumes = new Map((pod.volumes || []).map(v => [v.name, v]));
const mounts = (container.volumeMounts || []).map(m => {
  const v = volumes.get(m.name) || fail(`mount ${m.name} names no volume`);
  const host = v.hostPath ? v.hostPath.path : v.emptyDir ? `${emptyRoot}/${v.name}` : fail(`volume ${v.name}: only hostPath and emptyDir`);
  return { container_path: m.mountPath, host_path: host, readonly: !!m.readOnly };
});
const envs = (container.env || []).map(e => {
  if (e.value !== undefined) return { key: e.name, value: e.value };
  if (e.valueFrom?.fieldRef?.fieldPath === 'spec.nodeName') return { key: e.name, value: node };
  return fail(`env ${e.name}: only values and spec.nodeName`);
});
const sc = container.securityContext || {};
const config = {
  metadata: { name: container.name, attempt: 0 },
  image: { image: container.image },
  command: container.command || [],
  args: container.args || [],
  envs,
  mounts,
  labels: { 'io.kubernetes.container.name': container.name, 'io.kubernetes.pod.name': job.metadata.name,
            'io.kubernetes.pod.namespace': job.metadata.namespace, 'io.kubernetes.pod.uid': uid },
  log_path: `${container.name}/0.log`,
  linux: { security_context: {
    run_as_user: sc.runAsUser !== undefined ? { value: sc.runAsUser } : undefined,
    readonly_rootfs: !!sc.readOnlyRootFilesystem,
    no_new_privs: sc.allowPrivilegeEscalation === false,
    privileged: !!sc.privileged,
    capabilities: { drop_capabilities: sc.capabilities?.drop || [] },
    namespace_options: sandbox.linux.security_context.namespace_options,
  } },
};
console.log(JSON.stringify({ sandbox, container: config }));
