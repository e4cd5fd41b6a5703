/**
 * deploy/kubernetes/hoziron.yaml, parsed once for the tests that check it: every document,
 * and the Deployment's daemon container (its environment, ports and probes).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { REPO_ROOT } from '../support/cli.js';

const KUBERNETES_YAML = join(REPO_ROOT, 'deploy', 'kubernetes', 'hoziron.yaml');

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string };
  spec?: unknown;
  [key: string]: unknown;
}

export interface Container {
  name: string;
  image: string;
  args?: string[];
  env?: { name: string; value?: string }[];
  ports?: { name?: string; containerPort: number }[];
  readinessProbe?: { httpGet?: { path: string; port: string | number } };
  livenessProbe?: { httpGet?: { path: string; port: string | number } };
}

export function loadManifests(): K8sObject[] {
  const docs = parseAllDocuments(readFileSync(KUBERNETES_YAML, 'utf8'));
  return docs.map((d) => {
    if (d.errors.length > 0) throw new Error(`${KUBERNETES_YAML}: ${d.errors[0]!.message}`);
    return d.toJS() as K8sObject;
  });
}

export function find(objects: K8sObject[], kind: string, name: string): K8sObject {
  const found = objects.find((o) => o.kind === kind && o.metadata.name === name);
  if (!found) throw new Error(`${KUBERNETES_YAML}: no ${kind} ${name}`);
  return found;
}

/** The daemon's container in the Deployment, and the port number its probes name. */
export function daemonContainer(objects: K8sObject[]): { container: Container; probePort: number } {
  const deployment = find(objects, 'Deployment', 'hoziron') as K8sObject & {
    spec: { template: { spec: { containers: Container[] } } };
  };
  const container = deployment.spec.template.spec.containers.find((c) => c.name === 'hoziron')!;
  const port = container.readinessProbe!.httpGet!.port;
  const probePort = typeof port === 'number' ? port : container.ports!.find((p) => p.name === port)!.containerPort;
  return { container, probePort };
}
