import type { FastifyInstance } from 'fastify';
import type { RouteContext } from './context';

/** The sweeps page's API (none yet: the page is being built). */
export function registerSweepRoutes(_app: FastifyInstance, _ctx: RouteContext): void {}
