/**
 * A small image data set made on the spot, so that the examples run on a
 * fresh machine with nothing downloaded: PNG files of drawn shapes (circle,
 * square, triangle) in `DIR/<class>/<n>.png`.
 *
 * @module
 */

import { encode } from "fast-png";

/** The classes, in label order. */
export const CLASSES = ["circle", "square", "triangle"] as const;

/** Writes `perClass` images of each class into `dir`, unless already there. */
export async function makeShapes(dir: string, perClass: number, size = 48): Promise<void> {
  const marker = `${dir}/.complete-${perClass}-${size}`;
  try {
    await Deno.stat(marker);
    return;
  } catch {
    // not made yet
  }
  let seed = 1;
  const random = () => {
    seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
    return seed / 0x1_0000_0000;
  };
  for (const [label, name] of CLASSES.entries()) {
    await Deno.mkdir(`${dir}/${name}`, { recursive: true });
    for (let n = 0; n < perClass; n++) {
      const pixels = draw(label, size, random);
      await Deno.writeFile(
        `${dir}/${name}/${n}.png`,
        encode({ width: size, height: size, data: pixels, channels: 3 }),
      );
    }
  }
  await Deno.writeTextFile(marker, "");
}

/** Draws one shape of class `label` on a noisy background. */
function draw(label: number, size: number, random: () => number): Uint8Array {
  const pixels = new Uint8Array(size * size * 3);
  const background = [random() * 90, random() * 90, random() * 90];
  const colour = [130 + random() * 125, 130 + random() * 125, 130 + random() * 125];
  const radius = size * (0.18 + random() * 0.17);
  const cx = radius + random() * (size - 2 * radius);
  const cy = radius + random() * (size - 2 * radius);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const dx = x + 0.5 - cx;
      const dy = y + 0.5 - cy;
      const inside = label === 0
        ? dx * dx + dy * dy <= radius * radius
        : label === 1
        ? Math.abs(dx) <= radius * 0.85 && Math.abs(dy) <= radius * 0.85
        : dy <= radius * 0.8 && dy >= -radius && Math.abs(dx) <= (dy + radius) * 0.6;
      const base = inside ? colour : background;
      for (let c = 0; c < 3; c++) {
        pixels[(y * size + x) * 3 + c] = Math.min(255, base[c]! + random() * 30);
      }
    }
  }
  return pixels;
}

/** Lists `dir/<class>/<image>` files: paths and labels (class order by name). */
export async function listImages(
  dir: string,
): Promise<{ x: string[]; y: number[]; classes: string[] }> {
  const classes: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    if (entry.isDirectory) classes.push(entry.name);
  }
  classes.sort();
  const x: string[] = [];
  const y: number[] = [];
  for (const [label, name] of classes.entries()) {
    const files: string[] = [];
    for await (const entry of Deno.readDir(`${dir}/${name}`)) {
      if (entry.isFile && /\.png$/i.test(entry.name)) files.push(`${dir}/${name}/${entry.name}`);
    }
    files.sort();
    for (const file of files) {
      x.push(file);
      y.push(label);
    }
  }
  return { x, y, classes };
}
