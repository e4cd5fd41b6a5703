/**
 * What a reference home holds at a given scale (README.md#performance). At scale 1: a ~300 MB memory
 * database, a ~50 MB audit log, 20,000 memory files across 200 agents, 500 agent folders,
 * ~100 MB of incompressible skill packages and a few hundred other data files (~470 MB).
 * Counts and byte targets scale linearly; every count stays at least 1 so that even a tiny
 * home has every kind of content.
 */

const MiB = 1024 * 1024;

export interface HomePlan {
  scale: number;
  seed: number;
  /** Target size of data/hoziron.db (session messages plus key-value pairs). */
  memoryDbBytes: number;
  /** Target size of audit.db. */
  auditDbBytes: number;
  agents: number;
  /** Agents that own memory files and sessions (the first `memoryAgents` of `agents`). */
  memoryAgents: number;
  memoryFiles: number;
  skillPackages: number;
  skillPackageBytes: number;
  workflows: number;
  schedules: number;
  competencies: number;
  integrations: number;
}

const atLeastOne = (n: number): number => Math.max(1, Math.round(n));

export function planHome(scale: number, seed: number): HomePlan {
  if (!(scale > 0) || !Number.isFinite(scale)) throw new RangeError(`scale must be a positive number, not ${scale}`);
  const agents = atLeastOne(500 * scale);
  const skillPackages = atLeastOne(50 * scale);
  return {
    scale,
    seed,
    memoryDbBytes: Math.round(300 * MiB * scale),
    auditDbBytes: Math.round(50 * MiB * scale),
    agents,
    memoryAgents: Math.min(agents, atLeastOne(200 * scale)),
    memoryFiles: atLeastOne(20_000 * scale),
    skillPackages,
    skillPackageBytes: Math.max(1024, Math.round((100 * MiB * scale) / skillPackages)),
    workflows: atLeastOne(120 * scale),
    schedules: atLeastOne(60 * scale),
    competencies: atLeastOne(80 * scale),
    integrations: atLeastOne(40 * scale),
  };
}

/** Agent ids are stable for a given index: `<role>-<nnnn>`. */
const AGENT_ROLES = ['analyst', 'assistant', 'planner', 'researcher', 'reviewer', 'scheduler', 'support', 'writer'];
export function agentId(index: number): string {
  return `${AGENT_ROLES[index % AGENT_ROLES.length]}-${String(index).padStart(4, '0')}`;
}
