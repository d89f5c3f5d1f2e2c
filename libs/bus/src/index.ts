export * from './connection';
export * from './naming';
export * from './streams';
export * from './publish';
export * from './consume';
export { classifyFailure, isPermanent, type FailureKind } from './failures';
export { listDeadLetters, readDeadLetter, replayDeadLetter, REPLAYED_FROM_HEADER, type DeadLetterEntry, type ReplayResult } from './deadLetters';
export * from './requests';
export * from './subscribe';
