export * from './connection';
export * from './naming';
export * from './streams';
export * from './publish';
export * from './consume';
export * from './requests';
export * from './subscribe';
