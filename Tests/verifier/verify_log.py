#!/usr/bin/env python3
"""An independent verifier of ParStore's tamper-evident log, written from the specifications alone
(RFC 6962/9162 Merkle trees, c2sp.org/signed-note, c2sp.org/tlog-checkpoint), with Python's hashlib and the
`cryptography` package: it shares no code with ParStore.

    verify_log.py --key VKEY --checkpoint NOTE [--export JSONL] [--proof JSON]

Checks the checkpoint's Ed25519 signature with the verifier key; with --export, recomputes the tree's root from
the exported leaves (indices 0..size-1, each leaf hashed as exported) and compares it with the checkpoint's; with
--proof, checks every inclusion proof of `parstore log prove` against the checkpoint. Prints OK and exits 0, or
prints what failed and exits 1.
"""
import argparse
import base64
import hashlib
import json
import sys

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey


def fail(message):
    print("FAIL: " + message)
    sys.exit(1)


def parse_verifier_key(text):
    name, key_id, key = text.strip().split("+", 2)
    raw = base64.b64decode(key)
    if len(raw) != 33 or raw[0] != 1:
        fail("the verifier key is not an Ed25519 note key")
    public_key = raw[1:]
    expected_id = hashlib.sha256(name.encode() + b"\n\x01" + public_key).digest()[:4]
    if expected_id.hex() != key_id.lower():
        fail("the verifier key's ID does not match its key")
    return name, expected_id, Ed25519PublicKey.from_public_bytes(public_key)


def open_note(note, name, key_id, public_key):
    """Returns the signed text of `note` if a signature line by the key verifies."""
    split = note.rfind("\n\n")
    if split < 0 or not note.endswith("\n"):
        fail("the checkpoint is not a signed note")
    text = note[: split + 1]
    for line in note[split + 2 : -1].split("\n"):
        if not line.startswith("\u2014 "):
            fail("malformed signature line")
        signer, signature = line[2:].split(" ", 1)
        raw = base64.b64decode(signature)
        if signer == name and raw[:4] == key_id:
            try:
                public_key.verify(raw[4:], text.encode())
            except InvalidSignature:
                fail("the checkpoint's signature does not verify")
            return text
    fail("no signature by the key " + name)


def leaf_hash(leaf):
    return hashlib.sha256(b"\x00" + leaf).digest()


def node_hash(left, right):
    return hashlib.sha256(b"\x01" + left + right).digest()


def root_of(hashes):
    """RFC 6962 §2.1: MTH of a list of leaf hashes."""
    if not hashes:
        return hashlib.sha256(b"").digest()
    if len(hashes) == 1:
        return hashes[0]
    k = 1
    while k * 2 < len(hashes):
        k *= 2
    return node_hash(root_of(hashes[:k]), root_of(hashes[k:]))


def verify_inclusion(leaf, index, size, path, root):
    """RFC 9162 §2.1.3.2."""
    if index >= size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--key", required=True)
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--export")
    parser.add_argument("--proof")
    args = parser.parse_args()

    name, key_id, public_key = parse_verifier_key(args.key)
    with open(args.checkpoint, encoding="utf-8") as f:
        text = open_note(f.read(), name, key_id, public_key)
    lines = text.split("\n")
    if lines[0] != name:
        fail("the checkpoint's origin is not the key's name")
    size = int(lines[1])
    root = base64.b64decode(lines[2])

    if args.export:
        hashes = []
        with open(args.export, encoding="utf-8") as f:
            for number, line in enumerate(f):
                entry = json.loads(line)
                if entry["index"] != number:
                    fail("export line %d has index %d" % (number, entry["index"]))
                # A leaf whose event retention took out is exported as its hash alone.
                if entry.get("pruned"):
                    hashes.append(base64.b64decode(entry["leaf_hash"]))
                else:
                    hashes.append(leaf_hash(base64.b64decode(entry["leaf"])))
        if len(hashes) < size:
            fail("the export has %d leaves, the checkpoint %d" % (len(hashes), size))
        if root_of(hashes[:size]) != root:
            fail("the exported leaves do not give the checkpoint's root")

    if args.proof:
        with open(args.proof, encoding="utf-8") as f:
            proof = json.load(f)
        if proof["tree_size"] != size or base64.b64decode(proof["root"]) != root:
            fail("the proof is for another tree")
        for entry in proof["entries"]:
            leaf = base64.b64decode(entry["leaf"])
            if base64.b64decode(entry["leaf_hash"]) != leaf_hash(leaf):
                fail("a proof's leaf hash is not its leaf's")
            path = [base64.b64decode(p) for p in entry["proof"]]
            if not verify_inclusion(leaf_hash(leaf), entry["index"], size, path, root):
                fail("the inclusion proof of leaf %d does not verify" % entry["index"])

    print("OK: checkpoint of %d leaves signed by %s" % (size, name))


if __name__ == "__main__":
    main()
