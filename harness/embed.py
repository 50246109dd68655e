"""Build step: turns a text file into a C source defining one string.

Used by meson to compile Python glue (bootstrap.py) into the pyab binary,
the way wrk embeds wrk.lua: the glue reads as Python, ships as C.
usage: embed.py INPUT OUTPUT SYMBOL
"""
import sys


def main():
    src, dst, symbol = sys.argv[1:4]
    with open(src, "rb") as f:
        data = f.read()
    lines = []
    for i in range(0, len(data), 16):
        chunk = data[i:i + 16]
        lines.append("    " + ", ".join("0x%02x" % b for b in chunk) + ",")
    with open(dst, "w") as f:
        f.write("/* Generated from %s by embed.py; do not edit. */\n" % src.split("/")[-1])
        f.write("const char %s[] = {\n%s\n    0x00\n};\n" % (symbol, "\n".join(lines)))
        f.write("const unsigned long %s_len = %d;\n" % (symbol, len(data)))


if __name__ == "__main__":
    main()
