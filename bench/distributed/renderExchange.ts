/**
 * Prints the markdown tables of docs/distributed.md ("Exchange across hosts") from a result file of
 * bench/distributed/exchange.ts.
 * Usage: npx tsx bench/distributed/renderExchange.ts bench/results/distributed-exchange-<date>.json
 */
import { readFileSync } from 'node:fs';

interface Row {
  rate: string;
  gradient: string;
  members: number;
  compression: string;
  scheme?: string;
  exchangeMs: number;
  reduceMs: number;
  bytesOutPerStep: number;
  samplesPerSec: number;
  exchangeShare: number;
}
interface Projection {
  rate: string;
  gradient: string;
  perMemberMs: number;
  at8Ms: number;
  at32Ms: number;
  linkBound32Ms: number | null;
  ring32Ms: number | null;
}

const file = process.argv[2];
if (!file) {
  console.error('renderExchange: give the result file (bench/results/distributed-exchange-<date>.json)');
  process.exit(2);
}
interface RingProjection {
  rate: string;
  gradient: string;
  hopFixedMs: number;
  gradientPerHopMs: number;
  at8Ms: number;
  at32Ms: number;
}
const { rows, projections, ringProjections = [] } = JSON.parse(readFileSync(file, 'utf8')) as { rows: Row[]; projections: Projection[]; ringProjections?: RingProjection[] };
const ms = (x: number | null) => (x === null ? '–' : x >= 100 ? x.toFixed(0) : x.toFixed(1));
console.log('| link | gradient | members | scheme | compression | exchange ms/step | of it: reduction ms | sent per member per step | samples/s | exchange share |');
console.log('|---|---|---|---|---|---|---|---|---|---|');
const mb = (b: number) => (b >= 1e6 ? `${(b / 1e6).toFixed(1)} MB` : `${(b / 1e3).toFixed(0)} kB`);
for (const r of rows) {
  console.log(`| ${r.rate} | ${r.gradient} | ${r.members} | ${r.scheme ?? 'coordinator'} | ${r.compression} | ${ms(r.exchangeMs)} | ${r.scheme === 'ring' ? '–' : ms(r.reduceMs)} | ${mb(r.bytesOutPerStep)} | ${r.samplesPerSec.toFixed(0)} | ${(r.exchangeShare * 100).toFixed(0)}% |`);
}
console.log('\n| link | gradient | each added member, ms | 8 members, ms/step | 32 members, ms/step | 32: coordinator link alone, ms | 32: ring over the same links, ms |');
console.log('|---|---|---|---|---|---|---|');
for (const p of projections) {
  console.log(`| ${p.rate} | ${p.gradient} | ${ms(p.perMemberMs)} | ${ms(p.at8Ms)} | ${ms(p.at32Ms)} | ${ms(p.linkBound32Ms)} | ${ms(p.ring32Ms)} |`);
}
if (ringProjections.length > 0) {
  console.log('\n| link | gradient | ring: fixed cost per hop, ms | ring: a gradient per hop, ms | ring, 8 members, ms/step | ring, 32 members, ms/step |');
  console.log('|---|---|---|---|---|---|');
  for (const p of ringProjections) console.log(`| ${p.rate} | ${p.gradient} | ${ms(p.hopFixedMs)} | ${ms(p.gradientPerHopMs)} | ${ms(p.at8Ms)} | ${ms(p.at32Ms)} |`);
}
