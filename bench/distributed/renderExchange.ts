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
const { rows, projections } = JSON.parse(readFileSync(file, 'utf8')) as { rows: Row[]; projections: Projection[] };
const ms = (x: number | null) => (x === null ? '–' : x >= 100 ? x.toFixed(0) : x.toFixed(1));
console.log('| link | gradient | members | compression | exchange ms/step | of it: reduction ms | samples/s | exchange share |');
console.log('|---|---|---|---|---|---|---|---|');
for (const r of rows) {
  console.log(`| ${r.rate} | ${r.gradient} | ${r.members} | ${r.compression} | ${ms(r.exchangeMs)} | ${ms(r.reduceMs)} | ${r.samplesPerSec.toFixed(0)} | ${(r.exchangeShare * 100).toFixed(0)}% |`);
}
console.log('\n| link | gradient | each added member, ms | 8 members, ms/step | 32 members, ms/step | 32: coordinator link alone, ms | 32: ring over the same links, ms |');
console.log('|---|---|---|---|---|---|---|');
for (const p of projections) {
  console.log(`| ${p.rate} | ${p.gradient} | ${ms(p.perMemberMs)} | ${ms(p.at8Ms)} | ${ms(p.at32Ms)} | ${ms(p.linkBound32Ms)} | ${ms(p.ring32Ms)} |`);
}
