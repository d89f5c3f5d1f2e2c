import type { FastifyInstance } from 'fastify';
import type { RouteContext } from './context';

/** The data page's API (none yet: the page is being built). */
export function registerDataRoutes(_app: FastifyInstance, _ctx: RouteContext): void {}
