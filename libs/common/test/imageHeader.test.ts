import { describe, expect, it } from 'vitest';
import { PNG } from 'pngjs';
import jpeg from 'jpeg-js';
import { pngDeclaring } from '@mlpipe/testing';
import { readImageHeader } from '../src';

function realPng(width: number, height: number): Uint8Array {
  return new Uint8Array(PNG.sync.write(new PNG({ width, height })));
}

function realJpeg(width: number, height: number): Uint8Array {
  return new Uint8Array(jpeg.encode({ width, height, data: Buffer.alloc(width * height * 4, 128) }, 80).data);
}

describe('readImageHeader', () => {
  it('reads the size of real PNG and JPEG files', () => {
    expect(readImageHeader(realPng(40, 30))).toEqual({ ok: true, format: 'png', width: 40, height: 30 });
    expect(readImageHeader(realJpeg(33, 17))).toEqual({ ok: true, format: 'jpeg', width: 33, height: 17 });
  });

  it('reads what a bomb declares from its header alone', () => {
    expect(readImageHeader(pngDeclaring(20000, 20000))).toEqual({ ok: true, format: 'png', width: 20000, height: 20000 });
    // SOI, an APP0 segment, fill bytes, then SOF2 (progressive) declaring 60000×50000.
    const jpg = new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x04, 0x4a, 0x46, 0xff, 0xff, 0xff, 0xc2, 0x00, 0x0b, 0x08, 0xc3, 0x50, 0xea, 0x60, 0x01, 0x01, 0x11, 0x00]);
    expect(readImageHeader(jpg)).toEqual({ ok: true, format: 'jpeg', width: 60000, height: 50000 });
  });

  it('skips DHT, JPG and DAC, which share the SOF marker range', () => {
    const dht = [0xff, 0xc4, 0x00, 0x04, 0x00, 0x00];
    const sof0 = [0xff, 0xc0, 0x00, 0x0b, 0x08, 0x00, 0x10, 0x00, 0x20, 0x01, 0x01, 0x11, 0x00];
    expect(readImageHeader(new Uint8Array([0xff, 0xd8, ...dht, ...sof0]))).toEqual({ ok: true, format: 'jpeg', width: 32, height: 16 });
  });

  it('refuses truncated headers with a reason', () => {
    const png = realPng(8, 8);
    for (const cut of [4, 8, 12, 16, 23]) expect(readImageHeader(png.subarray(0, cut))).toMatchObject({ ok: false, reason: expect.stringMatching(/PNG ends before its IHDR/) });
    const jpg = realJpeg(8, 8);
    const sofAt = jpg.findIndex((b, i) => b === 0xff && jpg[i + 1] === 0xc0);
    expect(sofAt).toBeGreaterThan(0);
    for (const cut of [2, 3, 5, sofAt + 2, sofAt + 6]) expect(readImageHeader(jpg.subarray(0, cut))).toMatchObject({ ok: false, reason: expect.stringMatching(/JPEG ends before its frame header/) });
  });

  it('refuses garbage with a reason', () => {
    expect(readImageHeader(new Uint8Array([]))).toMatchObject({ ok: false, reason: expect.stringMatching(/neither a PNG nor a JPEG/) });
    expect(readImageHeader(new Uint8Array([0x47, 0x49, 0x46, 0x38, 0x39, 0x61]))).toMatchObject({ ok: false, reason: expect.stringMatching(/neither/) });
    const damaged = pngDeclaring(10, 10);
    damaged[6] = 0;
    expect(readImageHeader(damaged)).toMatchObject({ ok: false, reason: expect.stringMatching(/signature is damaged/) });
    const notIhdr = pngDeclaring(10, 10);
    notIhdr.set([0x49, 0x44, 0x41, 0x54], 12);
    expect(readImageHeader(notIhdr)).toMatchObject({ ok: false, reason: expect.stringMatching(/"IDAT", not IHDR/) });
    const badLength = pngDeclaring(10, 10);
    badLength[11] = 14;
    expect(readImageHeader(badLength)).toMatchObject({ ok: false, reason: expect.stringMatching(/length 13/) });
    expect(readImageHeader(pngDeclaring(0, 10))).toMatchObject({ ok: false, reason: expect.stringMatching(/impossible size 0×10/) });
    expect(readImageHeader(pngDeclaring(0x80000000, 1))).toMatchObject({ ok: false, reason: expect.stringMatching(/impossible size/) });
    // JPEG: no marker where one must be; a zero-length segment; image data before any frame header; a DNL height.
    expect(readImageHeader(new Uint8Array([0xff, 0xd8, 0x12, 0x34]))).toMatchObject({ ok: false, reason: expect.stringMatching(/no marker at byte 2/) });
    expect(readImageHeader(new Uint8Array([0xff, 0xd8, 0xff, 0xe1, 0x00, 0x00]))).toMatchObject({ ok: false, reason: expect.stringMatching(/impossible length 0/) });
    expect(readImageHeader(new Uint8Array([0xff, 0xd8, 0xff, 0xda, 0x00, 0x08]))).toMatchObject({ ok: false, reason: expect.stringMatching(/no frame header/) });
    expect(readImageHeader(new Uint8Array([0xff, 0xd8, 0xff, 0xc0, 0x00, 0x0b, 0x08, 0x00, 0x00, 0x00, 0x20, 0x01]))).toMatchObject({ ok: false, reason: expect.stringMatching(/DNL/) });
    // A segment whose length runs past the end is a truncated file, never a read past it.
    expect(readImageHeader(new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 0xff, 0xf0, 0x00]))).toMatchObject({ ok: false, reason: expect.stringMatching(/ends before/) });
  });
});
