/**
 * A small image data set made on the spot, so that the examples run on a
 * fresh machine with nothing downloaded: PNG files of drawn shapes (circle,
 * square, triangle, cross) in random places, sizes and colours, on noisy
 * backgrounds, in `DIR/<class>/<n>.png`.
 *
 * @module
 */

import { encode } from "fast-png";

/** The classes, in label order. */
export const CLASSES = ["circle", "cross", "square", "triangle"] as const;

/** Writes `perClass` images of each class into `dir`, unless already there. */
export async function makeShapes(dir: string, perClass: number, size = 32): Promise<void> {
  const marker = `${dir}/.complete-v2-${perClass}-${size}`;
  try {
    await Deno.stat(marker);
    return;
  } catch {
    // Not made yet, or made with other settings: start afresh.
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
  let seed = 1;
  const random = () => {
    seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
    return seed / 0x1_0000_0000;
  };
  for (const name of CLASSES) {
    await Deno.mkdir(`${dir}/${name}`, { recursive: true });
    for (let n = 0; n < perClass; n++) {
      // fast-png writes plain 8-bit RGB; upng-js's encoder turns small images
      // into palettes that neither decoder reads back.
      const png = encode({
        width: size,
        height: size,
        data: draw(name, size, random),
        channels: 3,
      });
      await Deno.writeFile(`${dir}/${name}/${n}.png`, png);
    }
  }
  await Deno.writeTextFile(marker, "");
}

/** Draws one shape of class `name` on a noisy background, as RGB. */
function draw(name: (typeof CLASSES)[number], size: number, random: () => number): Uint8Array {
  const pixels = new Uint8Array(size * size * 3);
  const background = [random() * 90, random() * 90, random() * 90];
  const colour = [130 + random() * 125, 130 + random() * 125, 130 + random() * 125];
  const radius = size * (0.2 + random() * 0.15);
  const cx = radius + random() * (size - 2 * radius);
  const cy = radius + random() * (size - 2 * radius);
  const inside = (dx: number, dy: number): boolean => {
    switch (name) {
      case "circle":
        return dx * dx + dy * dy <= radius * radius;
      case "cross":
        return (Math.abs(dx) <= radius * 0.3 && Math.abs(dy) <= radius) ||
          (Math.abs(dy) <= radius * 0.3 && Math.abs(dx) <= radius);
      case "square":
        return Math.abs(dx) <= radius * 0.85 && Math.abs(dy) <= radius * 0.85;
      case "triangle":
        return dy <= radius * 0.8 && dy >= -radius && Math.abs(dx) <= (dy + radius) * 0.6;
    }
  };
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const base = inside(x + 0.5 - cx, y + 0.5 - cy) ? colour : background;
      for (let c = 0; c < 3; c++) {
        pixels[(y * size + x) * 3 + c] = Math.min(255, base[c]! + random() * 30);
      }
    }
  }
  return pixels;
}

/** The image files a class folder may hold. */
const IMAGE = /\.(png|jpe?g)$/i;

/**
 * Lists `dir/<class>/<image>` files (PNG or JPEG): paths, labels (classes in
 * name order), and how many other files were skipped. Hidden folders and
 * folders without images are not classes.
 */
export async function listImages(
  dir: string,
): Promise<{ x: string[]; y: number[]; classes: string[]; skipped: number }> {
  const folders: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    if (entry.isDirectory && !entry.name.startsWith(".")) folders.push(entry.name);
  }
  folders.sort();
  const x: string[] = [];
  const y: number[] = [];
  const classes: string[] = [];
  let skipped = 0;
  for (const name of folders) {
    const files: string[] = [];
    for await (const entry of Deno.readDir(`${dir}/${name}`)) {
      if (entry.isFile && IMAGE.test(entry.name)) files.push(`${dir}/${name}/${entry.name}`);
      else skipped++;
    }
    if (files.length === 0) continue;
    files.sort();
    for (const file of files) {
      x.push(file);
      y.push(classes.length);
    }
    classes.push(name);
  }
  return { x, y, classes, skipped };
}
