export * from './common';
export * from './data';
export * from './train';
export * from './model';
export * from './catalogue';
export * from './requests';
export * from './keys';
export * from './dp';
