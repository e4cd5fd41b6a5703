/**
 * deploy/kubernetes/hoziron.yaml validates offline against the Kubernetes API schemas (the
 * OpenAPI definitions compiled into the kubernetes-models package: types, required fields,
 * enums), and holds what makes it work: the daemon listens on the pod address its probes
 * call, the image is the one the Dockerfile builds, and the CronJob asks the daemon's API for
 * the backup instead of running a second hoziron on the volume.
 */
import { CronJob } from 'kubernetes-models/batch/v1/CronJob';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { PersistentVolumeClaim } from 'kubernetes-models/v1/PersistentVolumeClaim';
import { Secret } from 'kubernetes-models/v1/Secret';
import { Service } from 'kubernetes-models/v1/Service';
import { describe, expect, it } from 'vitest';
import { daemonContainer, find, loadManifests, type Container, type K8sObject } from './manifests.js';

const MODELS: Record<string, new (data: never) => { validate(): void }> = {
  'apps/v1 Deployment': Deployment,
  'batch/v1 CronJob': CronJob,
  'v1 PersistentVolumeClaim': PersistentVolumeClaim,
  'v1 Secret': Secret,
  'v1 Service': Service,
};

const objects = loadManifests();

/** Validate against the schema of the object's apiVersion and kind; the error names the path. */
function validate(o: K8sObject): void {
  const Model = MODELS[`${o.apiVersion} ${o.kind}`];
  if (!Model) throw new Error(`no schema here for ${o.apiVersion} ${o.kind}`);
  new Model(o as never).validate();
}

interface CronJobSpec {
  schedule: string;
  concurrencyPolicy: string;
  startingDeadlineSeconds?: number;
  jobTemplate: { spec: { template: { spec: { initContainers: (Container & { command: string[] })[]; containers: Container[] } } } };
}

describe('deploy/kubernetes/hoziron.yaml', () => {
  it('validates every document against the Kubernetes schemas', () => {
    expect(objects.map((o) => `${o.kind}/${o.metadata.name}`)).toEqual([
      'PersistentVolumeClaim/hoziron-home',
      'Secret/hoziron-api',
      'Secret/hoziron-offsite',
      'Deployment/hoziron',
      'Service/hoziron',
      'CronJob/hoziron-backup',
    ]);
    for (const o of objects) expect(() => validate(o), `${o.kind}/${o.metadata.name}`).not.toThrow();
  });

  it('the schema check is real: a string where a port number belongs is refused', () => {
    const broken = structuredClone(find(objects, 'Service', 'hoziron')) as K8sObject & { spec: { ports: { port: unknown }[] } };
    broken.spec.ports[0]!.port = 'http';
    expect(() => validate(broken)).toThrow(/port must be integer/);
  });

  it('makes the daemon listen on the pod address, on the port its probes call', () => {
    const { container, probePort } = daemonContainer(objects);
    const listen = container.env?.find((e) => e.name === 'HOZIRON_LISTEN')?.value;
    expect(listen).toBe(`0.0.0.0:${probePort}`);
    expect(container.readinessProbe?.httpGet?.path).toBe('/v1/health');
    expect(container.livenessProbe?.httpGet?.path).toBe('/v1/health');
    // tini stays PID 1: the image's entry point is kept, only its arguments are given.
    expect(container).not.toHaveProperty('command');
    expect(container.args).toEqual(['start', '--foreground']);
  });

  it('uses the image the Dockerfile builds, not a registry path that does not exist', () => {
    const text = JSON.stringify(objects);
    expect(text).not.toContain('ghcr.io/example');
    const { container } = daemonContainer(objects);
    expect(container.image).toMatch(/^hoziron:\d+\.\d+\.\d+$/);
  });

  it('backs up through the daemon API once a night, never two at once, failing on a non-2xx answer', () => {
    const cron = find(objects, 'CronJob', 'hoziron-backup').spec as CronJobSpec;
    expect(cron.concurrencyPolicy).toBe('Forbid');
    expect(cron.startingDeadlineSeconds).toBeGreaterThan(0);
    const pod = cron.jobTemplate.spec.template.spec;
    const backup = pod.initContainers.find((c) => c.name === 'backup')!;
    const script = [...backup.command, ...(backup.args ?? [])].join(' ');
    expect(script).toMatch(/curl --fail-with-body/);
    expect(script).toMatch(/-X POST/);
    expect(script).toContain('http://hoziron:4200/v1/backup/create');
    expect(script).toContain('Authorization: Bearer $HOZIRON_TOKEN');
    // No container of the Job runs hoziron itself on the home volume.
    for (const c of [...pod.initContainers, ...pod.containers]) expect(c.image).not.toMatch(/^hoziron:/);
  });

  it("switches the daemon's own schedule off, so the CronJob alone drives backups", () => {
    const deployment = find(objects, 'Deployment', 'hoziron') as K8sObject & {
      spec: { template: { spec: { initContainers: (Container & { command: string[] })[] } } };
    };
    const init = deployment.spec.template.spec.initContainers.find((c) => c.name === 'init')!;
    expect(init.args?.join('\n')).toMatch(/hoziron init\n.*schedule = ""/);
  });
});
