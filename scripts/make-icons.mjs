// Draws the tray state icons and the app icon as PNG (no image tools needed): a rounded square chip
// with a state-coloured dot. Run once; the PNGs are committed.
import { writeFileSync } from 'node:fs';
import { deflateSync } from 'node:zlib';

function crc32(buf) {
  let c;
  const table = [];
  for (let n = 0; n < 256; n++) {
    c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  let crc = 0xffffffff;
  for (const byte of buf) crc = table[(crc ^ byte) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}
function chunk(type, data) {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([len, body, crc]);
}
function png(size, pixel) {
  const raw = Buffer.alloc((size * 4 + 1) * size);
  for (let y = 0; y < size; y++) {
    raw[y * (size * 4 + 1)] = 0;
    for (let x = 0; x < size; x++) {
      const [r, g, b, a] = pixel(x / size, y / size);
      raw.set([r, g, b, a], y * (size * 4 + 1) + 1 + x * 4);
    }
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(size, 0);
  ihdr.writeUInt32BE(size, 4);
  ihdr.set([8, 6, 0, 0, 0], 8);
  return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}
const colours = { idle: [140, 148, 160], sharing: [31, 111, 235], live: [26, 160, 60], error: [207, 34, 46] };
function icon(dot) {
  return (u, v) => {
    const inChip = u > 0.12 && u < 0.88 && v > 0.12 && v < 0.88;
    const pin = (u < 0.12 || u > 0.88 || v < 0.12 || v > 0.88) && ((Math.floor(u * 8) + Math.floor(v * 8)) % 2 === 0) && u > 0.04 && u < 0.96 && v > 0.04 && v < 0.96;
    const d = Math.hypot(u - 0.5, v - 0.5);
    if (d < 0.2) return [...dot, 255];
    if (inChip) return [40, 44, 52, 255];
    if (pin) return [120, 124, 132, 255];
    return [0, 0, 0, 0];
  };
}
for (const [state, colour] of Object.entries(colours)) writeFileSync(`resources/icons/tray-${state}.png`, png(32, icon(colour)));
writeFileSync('resources/icons/icon.png', png(512, icon(colours.sharing)));
console.log('wrote resources/icons/*.png');
