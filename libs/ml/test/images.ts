/** Centre of a 28×28 image's ink, [x, y] in pixels: where a shift or a recentring should have moved it. */
export function centreOfMass(p: Uint8Array): [number, number] {
  let m = 0;
  let x = 0;
  let y = 0;
  p.forEach((v, i) => {
    m += v;
    x += v * (i % 28);
    y += v * Math.floor(i / 28);
  });
  return [x / m, y / m];
}
