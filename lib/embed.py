#!/usr/bin/env python3
"""embed.py IN OUT NAME: write IN's text as `static const char NAME[]` into OUT."""
import sys

src, out, name = sys.argv[1:4]
text = open(src, encoding="utf-8").read()
lines = "".join('\t"%s\\n"\n' % l.replace("\\", "\\\\").replace('"', '\\"')
                for l in text.splitlines())
with open(out, "w", encoding="utf-8") as f:
    f.write("/* Generated from %s by lib/embed.py: do not edit. */\n" % src.split("/")[-1])
    f.write("static const char %s[] =\n%s;\n" % (name, lines))
