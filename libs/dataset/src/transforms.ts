/** Image transforms that make drifted digits from MNIST ones (drift tests and the demo loop). */
const SIDE = 28;

/** 3×3 max filter: strokes about two pixels thicker. */
export function dilate(img: Uint8Array): Uint8Array {
  const out = new Uint8Array(img.length);
  for (let y = 0; y < SIDE; y++) {
    for (let x = 0; x < SIDE; x++) {
      let m = 0;
      for (let dy = -1; dy <= 1; dy++) {
        for (let dx = -1; dx <= 1; dx++) {
          const yy = y + dy;
          const xx = x + dx;
          if (yy >= 0 && yy < SIDE && xx >= 0 && xx < SIDE) m = Math.max(m, img[yy * SIDE + xx] as number);
        }
      }
      out[y * SIDE + x] = m;
    }
  }
  return out;
}

/** Rotation about the centre by `degrees` (nearest neighbour). */
export function rotate(img: Uint8Array, degrees: number): Uint8Array {
  const out = new Uint8Array(img.length);
  const r = (degrees * Math.PI) / 180;
  const c = (SIDE - 1) / 2;
  for (let y = 0; y < SIDE; y++) {
    for (let x = 0; x < SIDE; x++) {
      const sx = Math.round(Math.cos(r) * (x - c) + Math.sin(r) * (y - c) + c);
      const sy = Math.round(-Math.sin(r) * (x - c) + Math.cos(r) * (y - c) + c);
      if (sx >= 0 && sx < SIDE && sy >= 0 && sy < SIDE) out[y * SIDE + x] = img[sy * SIDE + sx] as number;
    }
  }
  return out;
}
