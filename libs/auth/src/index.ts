// Who may do what: roles and their order (pure), API tokens hashed in PostgreSQL, optional OIDC,
// and the fastify guard every HTTP edge uses. One public entry; nothing here runs at import.
export * from './core/roles';
export * from './core/tokens';
export * from './core/claims';
export * from './errors';
export * from './resolver';
export * from './fastify';
export * from './routes';
export * from './adapters/tokenStore';
export * from './adapters/oidc';
export * from './adapters/remoteResolver';
