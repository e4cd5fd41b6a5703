/**
 * Live state on data/hoziron.db (operator role): per-agent key-value pairs and session
 * messages. Each write is one committed SQLite transaction (WAL, synchronous=FULL) before the
 * answer is sent, so an acknowledged write is durable and is in any backup started after it.
 */
import type { FastifyInstance } from 'fastify';
import type { KvEntryResponse, KvListResponse, KvPutRequest, SessionAppendRequest, SessionMessageResponse } from '../../api/daemon.js';
import { HozironError } from '../../errors.js';
import type { DaemonContext } from '../context.js';

const agentParam = { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$' } as const;
const keyParam = { type: 'string', minLength: 1, maxLength: 512 } as const;

const agentParams = {
  type: 'object',
  required: ['agent'],
  properties: { agent: agentParam },
} as const;

const keyParams = {
  type: 'object',
  required: ['agent', 'key'],
  properties: { agent: agentParam, key: keyParam },
} as const;

type AgentParams = { agent: string };
type KeyParams = { agent: string; key: string };

export function registerKvRoutes(app: FastifyInstance, ctx: DaemonContext): void {
  const config = { role: 'operator' } as const;

  app.put<{ Params: KeyParams; Body: KvPutRequest }>(
    '/v1/agents/:agent/kv/:key',
    {
      config,
      schema: {
        params: keyParams,
        body: { type: 'object', required: ['value'], properties: { value: {} }, additionalProperties: false },
      },
    },
    async (request): Promise<KvEntryResponse> => {
      const { agent, key } = request.params;
      return ctx.memory.put(agent, key, request.body.value);
    },
  );

  app.get<{ Params: KeyParams }>(
    '/v1/agents/:agent/kv/:key',
    { config, schema: { params: keyParams } },
    async (request): Promise<KvEntryResponse> => {
      const { agent, key } = request.params;
      const entry = ctx.memory.get(agent, key);
      if (!entry) throw new HozironError('not_found', `agent ${agent} has no key ${JSON.stringify(key)}`);
      return entry;
    },
  );

  app.delete<{ Params: KeyParams }>('/v1/agents/:agent/kv/:key', { config, schema: { params: keyParams } }, async (request, reply) => {
    const { agent, key } = request.params;
    if (!ctx.memory.delete(agent, key)) throw new HozironError('not_found', `agent ${agent} has no key ${JSON.stringify(key)}`);
    return reply.status(204).send();
  });

  app.get<{ Params: AgentParams }>(
    '/v1/agents/:agent/kv',
    { config, schema: { params: agentParams } },
    async (request): Promise<KvListResponse> => ({
      agent: request.params.agent,
      entries: ctx.memory.list(request.params.agent),
    }),
  );

  app.post<{ Params: AgentParams; Body: SessionAppendRequest }>(
    '/v1/agents/:agent/sessions',
    {
      config,
      schema: {
        params: agentParams,
        body: {
          type: 'object',
          required: ['session', 'role', 'content'],
          properties: {
            session: { type: 'string', minLength: 1, maxLength: 128 },
            role: { type: 'string', minLength: 1, maxLength: 32 },
            content: { type: 'string' },
          },
          additionalProperties: false,
        },
      },
    },
    async (request, reply): Promise<SessionMessageResponse> => {
      const { session, role, content } = request.body;
      const message = ctx.memory.appendMessage(request.params.agent, session, role, content);
      void reply.status(201);
      return message;
    },
  );
}
