/**
 * The logger's type only: pure code takes a logger as a parameter and never creates one
 * (`createLogger` lives in @mlpipe/runtime). A type import loads nothing at run time.
 */
export type { Logger } from 'pino';
