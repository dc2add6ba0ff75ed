#!/usr/bin/env python3
"""Writes the tray's four icons (live, backoff, stopped, error) as .ico files into
OUT_DIR: a filled disc on a transparent ground, 16x16 and 32x32, 32-bit BGRA. Made
at build time so that git holds no binary that nobody can review.

Usage: gen_icons.py OUT_DIR"""
import os
import struct
import sys

COLOURS = {  # name: (r, g, b), the colours people read as go, wait, off, alarm
    'live': (0x2e, 0xa0, 0x43),
    'backoff': (0xe0, 0xa0, 0x10),
    'stopped': (0x80, 0x80, 0x80),
    'error': (0xd0, 0x30, 0x30),
}


def image(size, rgb):
    """One ICO image: BITMAPINFOHEADER, BGRA rows bottom-up, an all-zero AND mask."""
    r, g, b = rgb
    c = (size - 1) / 2.0
    rad = size * 0.42
    rows = []
    for y in range(size - 1, -1, -1):
        row = b''
        for x in range(size):
            d = ((x - c) ** 2 + (y - c) ** 2) ** 0.5
            a = max(0.0, min(1.0, rad - d + 0.5))  # anti-aliased edge
            edge = d > rad - 1.5  # a darker rim, so the disc shows on any taskbar
            k = 0.6 if edge else 1.0
            row += bytes((int(b * k), int(g * k), int(r * k), int(255 * a)))
        rows.append(row)
    mask_row = ((size + 31) // 32) * 4
    header = struct.pack('<IiiHHIIiiII', 40, size, size * 2, 1, 32, 0, 0, 0, 0, 0, 0)
    return header + b''.join(rows) + b'\0' * (mask_row * size)


def ico(rgb):
    sizes = (16, 32)
    images = [image(s, rgb) for s in sizes]
    out = struct.pack('<HHH', 0, 1, len(sizes))
    offset = 6 + 16 * len(sizes)
    for s, data in zip(sizes, images):
        out += struct.pack('<BBBBHHII', s, s, 0, 0, 1, 32, len(data), offset)
        offset += len(data)
    return out + b''.join(images)


def main():
    out_dir = sys.argv[1]
    os.makedirs(out_dir, exist_ok=True)
    for name, rgb in COLOURS.items():
        with open(os.path.join(out_dir, f'tray-{name}.ico'), 'wb') as fh:
            fh.write(ico(rgb))


if __name__ == '__main__':
    main()
