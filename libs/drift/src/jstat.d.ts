// jstat ships no types; this is the part of its API the drift tests use.
declare module 'jstat' {
  const jstat: { jStat: { chisquare: { cdf(x: number, degreesOfFreedom: number): number } } };
  export default jstat;
}
