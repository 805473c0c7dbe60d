"""Interop and tamper tests: aigis sign/verify against the real `model-signing` package.

Every signature made by either tool must verify with both, and every tampering must be rejected
by both. Run by .ci/run (which installs the pinned requirements into a virtualenv):

    python tests/interop/oms_interop.py --aigis target/debug/aigis

Exit 0 when every expectation held; 1 otherwise, with a table of what went wrong.
"""

import argparse
import base64
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import gen_pki  # noqa: E402

FAILURES = []
CHECKS = 0


def run(cmd, env=None):
    p = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, env=env)
    return p.returncode, p.stdout + p.stderr


def expect(label, ok_expected, code, out):
    global CHECKS
    CHECKS += 1
    ok = code == 0
    if ok != ok_expected:
        FAILURES.append(f"{label}: expected {'success' if ok_expected else 'failure'}, got exit {code}: {out.strip()[-300:]}")
    elif not ok_expected and code not in (1,):
        FAILURES.append(f"{label}: rejected with exit {code}, expected 1: {out.strip()[-300:]}")


class Tools:
    def __init__(self, aigis, ms, home):
        self.aigis = aigis
        self.ms = ms
        self.env = dict(os.environ, AIGIS_HOME=str(home))

    def aigis_sign(self, model, key, sig, extra=()):
        return run([self.aigis, "sign", model, "--key", key, "--signature", sig, "-q", *extra], self.env)

    def aigis_verify(self, model, pub, sig, extra=()):
        return run([self.aigis, "verify", model, "--key", pub, "--signature", sig, "-q", *extra], self.env)

    def ms_sign(self, model, key, sig):
        return run([self.ms, "sign", "key", model, "--private_key", key, "--signature", sig])

    def ms_verify(self, model, pub, sig):
        return run([self.ms, "verify", "key", model, "--public_key", pub, "--signature", sig])


def make_model(d, names=None):
    d.mkdir(parents=True)
    files = names or {
        "weights.bin": b"\x00\x01" * 5000,
        "config.json": b'{"layers": 2}',
        "empty.txt": b"",
        ".hidden": b"dot",
        "sub/b.bin": b"bbbb",
        "sub/.git/HEAD": b"nested git dir is covered",
    }
    for n, data in files.items():
        p = d / n
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
    (d / ".git").mkdir()
    (d / ".git" / "HEAD").write_bytes(b"ignored")
    return d


def edit_bundle(sig, fn):
    b = json.loads(sig.read_text())
    fn(b)
    sig.write_text(json.dumps(b, separators=(",", ":")))


def edit_payload(b):
    payload = json.loads(base64.b64decode(b["dsseEnvelope"]["payload"]))
    payload["predicate"]["resources"][0]["digest"] = "00" * 32
    b["dsseEnvelope"]["payload"] = base64.b64encode(json.dumps(payload).encode()).decode()


def flip_sig(b):
    raw = bytearray(base64.b64decode(b["dsseEnvelope"]["signatures"][0]["sig"]))
    raw[-3] ^= 1
    b["dsseEnvelope"]["signatures"][0]["sig"] = base64.b64encode(bytes(raw)).decode()


TAMPERS = {
    "changed byte": lambda m: (m / "weights.bin").write_bytes(b"\x00\x02" + (m / "weights.bin").read_bytes()[2:]),
    "added file": lambda m: (m / "extra.py").write_text("import os\n"),
    "removed file": lambda m: (m / "sub" / "b.bin").unlink(),
    "renamed file": lambda m: (m / "config.json").rename(m / "config2.json"),
    "swapped files": lambda m: (
        (m / "tmp").write_bytes((m / "config.json").read_bytes()),
        (m / "config.json").write_bytes((m / "sub" / "b.bin").read_bytes()),
        (m / "sub" / "b.bin").write_bytes((m / "tmp").read_bytes()),
        (m / "tmp").unlink(),
    ),
    "added symlink": lambda m: os.symlink("weights.bin", m / "link.bin"),
    "filled empty file": lambda m: (m / "empty.txt").write_bytes(b"x"),
}

BUNDLE_EDITS = {
    "edited payload": edit_payload,
    "flipped signature": flip_sig,
    "unknown bundle field": lambda b: b.__setitem__("extra", 1),
    "wrong media type": lambda b: b.__setitem__("mediaType", "application/vnd.dev.sigstore.bundle+json;version=0.2"),
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--aigis", default="target/debug/aigis")
    ap.add_argument("--model-signing", default=shutil.which("model_signing") or "model_signing")
    a = ap.parse_args()
    aigis = pathlib.Path(a.aigis).resolve()
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="aigis-interop-"))
    t = Tools(aigis, a.model_signing, tmp / "home")
    keys = {}
    for curve in ["p256", "p384", "p521"]:
        k = tmp / f"{curve}.pem"
        code, out = run([aigis, "keygen", "-o", k, "--curve", curve], t.env)
        assert code == 0, out
        keys[curve] = (k, tmp / f"{curve}.pub.pem")

    # 1. Round trips both ways, every curve, directory and single-file models.
    for curve, (key, pub) in keys.items():
        for kind in ["dir", "file"]:
            m = make_model(tmp / f"rt-{curve}-{kind}")
            target = m if kind == "dir" else m / "weights.bin"
            s1, s2 = tmp / f"a-{curve}-{kind}.sig", tmp / f"m-{curve}-{kind}.sig"
            expect(f"aigis sign {curve} {kind}", True, *t.aigis_sign(target, key, s1, ["--no-log"]))
            expect(f"model-signing verifies aigis {curve} {kind}", True, *t.ms_verify(target, pub, s1))
            expect(f"model-signing sign {curve} {kind}", True, *t.ms_sign(target, key, s2))
            expect(f"aigis verifies model-signing {curve} {kind}", True, *t.aigis_verify(target, pub, s2, ["--no-log"]))

    # 2. Names whose component order differs from byte order, signature inside the model.
    names = {n: n.encode() for n in ["A/z", "B", "a/b", "a/ü", "a b", "a-b", "a.txt", "b", "ä"]}
    m = make_model(tmp / "order", names)
    key, pub = keys["p256"]
    expect("aigis sign (ordering, sig inside)", True, *t.aigis_sign(m, key, m / "model.sig", ["--no-log"]))
    expect("model-signing verifies ordering", True, *t.ms_verify(m, pub, m / "model.sig"))
    (m / "model.sig").unlink()
    expect("model-signing sign ordering", True, *t.ms_sign(m, key, m / "model.sig"))
    expect("aigis verifies ordering", True, *t.aigis_verify(m, pub, m / "model.sig", ["--no-log"]))

    # 3. Tampering: both signatures, both verifiers.
    for name, tamper in TAMPERS.items():
        m = make_model(tmp / f"t-{name.replace(' ', '-')}")
        sa, sm = tmp / f"ta-{name}.sig", tmp / f"tm-{name}.sig"
        expect(f"[{name}] aigis sign", True, *t.aigis_sign(m, key, sa, ["--no-log"]))
        expect(f"[{name}] ms sign", True, *t.ms_sign(m, key, sm))
        tamper(m)
        for sig, who in [(sa, "aigis"), (sm, "model-signing")]:
            expect(f"[{name}] aigis rejects {who} signature", False, *t.aigis_verify(m, pub, sig, ["--no-log"]))
            expect(f"[{name}] model-signing rejects {who} signature", False, *t.ms_verify(m, pub, sig))
    m = make_model(tmp / "bundle-edits")
    for name, edit in BUNDLE_EDITS.items():
        for who, signer in [("aigis", t.aigis_sign), ("model-signing", t.ms_sign)]:
            sig = tmp / f"be-{who}-{name}.sig"
            args = (m, key, sig, ["--no-log"]) if who == "aigis" else (m, key, sig)
            expect(f"[{name}] {who} sign", True, *signer(*args))
            edit_bundle(sig, edit)
            expect(f"[{name}] aigis rejects {who} bundle", False, *t.aigis_verify(m, pub, sig, ["--no-log"]))
            expect(f"[{name}] model-signing rejects {who} bundle", False, *t.ms_verify(m, pub, sig))
    for who, signer in [("aigis", t.aigis_sign), ("model-signing", t.ms_sign)]:
        sig = tmp / f"wk-{who}.sig"
        args = (m, keys["p384"][0], sig, ["--no-log"]) if who == "aigis" else (m, keys["p384"][0], sig)
        expect(f"[wrong key] {who} sign", True, *signer(*args))
        expect(f"[wrong key] aigis rejects {who}", False, *t.aigis_verify(m, pub, sig, ["--no-log"]))
        expect(f"[wrong key] model-signing rejects {who}", False, *t.ms_verify(m, pub, sig))

    # 4. Certificate method, both ways, and chains that must fail.
    pki = tmp / "pki"
    gen_pki.main(pki)
    m = make_model(tmp / "cert")
    ca, cm = tmp / "cert-a.sig", tmp / "cert-m.sig"
    expect("aigis sign certificate", True, *run([aigis, "sign", m, "--key", pki / "leaf.key", "--cert", pki / "leaf.pem",
                                                 "--cert-chain", pki / "intermediate.pem", "--signature", ca, "--no-log"], t.env))
    expect("model-signing verifies aigis certificate", True, *run([t.ms, "verify", "certificate", m, "--signature", ca,
                                                                   "--certificate_chain", pki / "root.pem"]))
    expect("model-signing sign certificate", True, *run([t.ms, "sign", "certificate", m, "--private_key", pki / "leaf.key",
                                                         "--signing_certificate", pki / "leaf.pem", "--certificate_chain",
                                                         pki / "intermediate.pem", "--signature", cm]))
    for sig, who in [(ca, "aigis"), (cm, "model-signing")]:
        expect(f"aigis verifies {who} certificate", True, *run([aigis, "verify", m, "--cert-chain", pki / "root.pem",
                                                                "--signature", sig, "--no-log"], t.env))
        expect(f"aigis rejects {who} certificate under another root", False,
               *run([aigis, "verify", m, "--cert-chain", pki / "other-root.pem", "--signature", sig, "--no-log"], t.env))
        expect(f"model-signing rejects {who} certificate under another root", False,
               *run([t.ms, "verify", "certificate", m, "--signature", sig, "--certificate_chain", pki / "other-root.pem"]))
        expect(f"aigis rejects {who} certificate with an intermediate-only anchor", False,
               *run([aigis, "verify", m, "--cert-chain", pki / "intermediate.pem", "--signature", sig, "--no-log"], t.env))
    for bad, chain in [("nosign-leaf", "intermediate.pem"), ("notca-leaf", "notca.pem"), ("deep-leaf", "deep-chain.pem")]:
        sig = tmp / f"{bad}.sig"
        expect(f"aigis sign with {bad}", True, *run([aigis, "sign", m, "--key", pki / f"{bad}.key", "--cert", pki / f"{bad}.pem",
                                                     "--cert-chain", pki / chain, "--signature", sig, "--no-log"], t.env))
        expect(f"aigis rejects {bad}", False, *run([aigis, "verify", m, "--cert-chain", pki / "root.pem", "--signature", sig,
                                                    "--no-log"], t.env))
        expect(f"model-signing rejects {bad}", False, *run([t.ms, "verify", "certificate", m, "--signature", sig,
                                                            "--certificate_chain", pki / "root.pem"]))

    print(f"oms interop: {CHECKS} checks, {len(FAILURES)} failed")
    for f in FAILURES:
        print("  FAIL", f)
    shutil.rmtree(tmp, ignore_errors=True)
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
