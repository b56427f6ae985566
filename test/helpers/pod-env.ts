import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';

// The environment a Deployment's container gets, worked out the way the kubelet does it, for the parts a
// test or a benchmark on this machine can reproduce: literal values with $(VAR) references and the downward
// API's resourceFieldRef. Values from Secrets, ConfigMaps and fieldRefs are left out: nothing here needs them.
// Plain TypeScript without relative imports, so the benchmarks (plain Node) can import it too.

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface ContainerSpec {
  name: string;
  env?: EnvVar[];
  resources?: { limits?: Record<string, string>; requests?: Record<string, string> };
}

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { resourceFieldRef?: { resource: string; divisor?: string; containerName?: string } };
}

const SUFFIXES: Record<string, number> = {
  '': 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
};

/** A Kubernetes quantity ("384Mi", "1G", "402653184") as a number (bytes for memory). */
export function parseQuantity(quantity: string): number {
  const m = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|k|M|G|T)?$/.exec(quantity.trim());
  if (!m) throw new Error(`unsupported quantity ${JSON.stringify(quantity)}`);
  return Number(m[1]) * SUFFIXES[m[2] ?? '']!;
}

/** `resources.limits.memory` of a container, in bytes. */
export function memoryLimitOf(container: ContainerSpec): number {
  const limit = container.resources?.limits?.memory;
  if (limit === undefined) throw new Error(`container ${container.name} has no memory limit`);
  return parseQuantity(limit);
}

/**
 * The container's env as the kubelet sets it: resourceFieldRef is ceil(quantity ÷ divisor) of this
 * container's own resources; `$(NAME)` expands a variable defined earlier in the list, `$$` is a literal `$`.
 */
export function kubeletEnv(container: ContainerSpec): Record<string, string> {
  const env: Record<string, string> = {};
  for (const v of container.env ?? []) {
    if (v.value !== undefined) {
      env[v.name] = v.value.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (whole, name?: string) =>
        name === undefined ? '$' : (env[name] ?? whole),
      );
      continue;
    }
    const ref = v.valueFrom?.resourceFieldRef;
    if (ref === undefined) continue;
    if (ref.containerName !== undefined && ref.containerName !== container.name) {
      throw new Error(`${v.name}: resourceFieldRef names another container (${ref.containerName})`);
    }
    const [kind, resource] = ref.resource.split('.') as ['limits' | 'requests', string];
    const quantity = container.resources?.[kind]?.[resource];
    // Without the limit the kubelet would hand over the node's allocatable memory: no stand-in for that here.
    if (quantity === undefined)
      throw new Error(`${v.name}: container ${container.name} sets no ${ref.resource}`);
    env[v.name] = String(Math.ceil(parseQuantity(quantity) / parseQuantity(ref.divisor ?? '1')));
  }
  return env;
}

/** The container `name` of the (first) Deployment in YAML text, e.g. `helm template` output or a manifest. */
export function deploymentContainer(yamlText: string, name = 'latchkey'): ContainerSpec {
  for (const doc of parseAllDocuments(yamlText)) {
    const obj = doc.toJS() as {
      kind?: string;
      spec?: { template?: { spec?: { containers?: ContainerSpec[] } } };
    } | null;
    if (obj?.kind !== 'Deployment') continue;
    const container = obj.spec?.template?.spec?.containers?.find((c) => c.name === name);
    if (container) return container;
  }
  throw new Error(`no Deployment with a container named ${name}`);
}

/** The latchkey container of manifests/30-deployment.yaml. */
export async function manifestContainer(): Promise<ContainerSpec> {
  return deploymentContainer(await readFile(join(REPO_ROOT, 'manifests/30-deployment.yaml'), 'utf8'));
}
