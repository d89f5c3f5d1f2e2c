export * from './backend';
export * from './conv2dBackpropFilterWasm';
export * from './models';
export * from './preprocess';
export * from './metrics';
export * from './random';
export * from './train';
export * from './serialize';
